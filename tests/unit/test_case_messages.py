"""The messages of the full case check, word for word, for each kind of problem it reports about a mapping.

The check works from tables built once per schema (the homes of every name, the required facts, the order
in which defaults and computed facts are filled in); these tests pin what it says, so that the tables say
what walking the schema for every case said (the expected texts are those the check gave before them).
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import MappingProxyType

import pytest

from rxpolicy import case_from_mapping, load_case, load_policy
from rxpolicy.diagnostics import RxError
from rxpolicy.engine.case_build import builder_for

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy("hollandzorg")
BASE: dict[str, object] = {
    "dispensed_on": "2025-03-04", "insured": {"born_on": "1961-07-02"}, "prescription": {"prescriber": "gp"},
    "medicine": {"atc": "N05BA04", "name": "oxazepam 10 mg", "price": "12.40"}, "dispensing": {"supply_days": 30}}


def variant(**changes: object) -> dict[str, object]:
    """BASE with fields set (``section__name=value``) or removed (``...``)."""
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        *sections, name = path.split("__")
        node: dict[str, object] = data
        for section in sections:
            node = node.setdefault(section, {})  # type: ignore[assignment]
        if value is ...:
            del node[name]
        else:
            node[name] = value
    return data


CASES = {
 "derived": variant(insured__age=63),
 "wrong_section": variant(medicine__chronic=True),
 "misspelt": variant(prescription__prescriber_kindd="gp"),
 "unknown": variant(dispensing__zzz=1),
 "top_unknown": variant(wibble=1),
 "missing": variant(medicine__atc=...),
 "half_given": variant(authorisation__granted_on="2025-01-01"),
 "half_null": variant(authorisation__granted_on=None, authorisation__valid_until="2025-12-31"),
 "born_after": variant(insured__born_on="2025-06-01"),
 "insured_until": variant(insured__insured_until="2024-01-01"),
 "auth_order": variant(authorisation__granted_on="2025-06-01", authorisation__valid_until="2025-01-01"),
 "not_section": variant(medicine=5),
 "several": variant(medicine__price="-1", prescription__prescriber="gpp", dispensing__supply_days=0),
}

EXPECTED: dict[str, list[tuple[str, str | None, str, str]]] = {
    'derived': [
        ('RX403', 'insured.age', '`age` is worked out from the other fields, so a case does not write it', 'remove the line `age: ...`'),
    ],
    'wrong_section': [
        ('RX403', 'medicine.chronic', '`chronic` belongs in `prescription`, not in `medicine`', 'move the line `chronic: ...` to `prescription`'),
    ],
    'misspelt': [
        ('RX403', 'prescription.prescriber_kindd', '`prescription` has no field `prescriber_kindd`; did you mean `prescriber`?', 'rename `prescriber_kindd` to `prescriber`'),
    ],
    'unknown': [
        ('RX403', 'dispensing.zzz', '`dispensing` has no field `zzz`', 'remove the line, or use one of the fields of `dispensing`: supply_days, smallest_pack, ml_per_day, new_to_patient, months_in_use, adjusted, during_admission, contracted, dispenser, fees'),
    ],
    'top_unknown': [
        ('RX403', 'wibble', 'the top level of a case has no field `wibble`', 'remove the line, or use one of the fields of the top level of a case: dispensed_on, insured, prescription, medicine, dispensing, authorisation'),
    ],
    'missing': [
        ('RX402', 'medicine.atc', 'the required field `medicine.atc` is missing', 'add the line `atc: N05BA04` under `medicine:`'),
    ],
    'half_given': [
        ('RX402', 'authorisation.valid_until', 'the required field `authorisation.valid_until` is missing', 'add the line `valid_until: 2025-12-31` under `authorisation:`'),
    ],
    'half_null': [
        ('RX402', 'authorisation.granted_on', '`authorisation.granted_on` is null, but an authorisation has both dates or none', 'write the date of `authorisation.granted_on`, or write `authorisation: null` when there is no authorisation'),
    ],
    'born_after': [
        ('RX405', 'insured.born_on', '`insured.born_on` (2025-06-01) is after `dispensed_on` (2025-03-04)', 'check both dates: a medicine cannot be dispensed before its patient is born'),
    ],
    'insured_until': [
        ('RX405', 'insured.insured_until', '`insured.insured_until` (2024-01-01) is before `insured.insured_from` (2025-01-01, the default)', 'check both dates: the insurance cannot end before it starts'),
    ],
    'auth_order': [
        ('RX405', 'authorisation.valid_until', '`authorisation.valid_until` (2025-01-01) is before `authorisation.granted_on` (2025-06-01)', 'check both dates: an authorisation cannot end before it is granted'),
    ],
    'not_section': [
        ('RX401', 'medicine', 'the section `medicine` must hold `name: value` lines, not `5`', 'write the fields of `medicine` indented under `medicine:`'),
    ],
    'several': [
        ('RX405', 'medicine.price', '`medicine.price` cannot be negative (-1)', 'write 0 or more, e.g. `price: 12.40`'),
        ('RX405', 'dispensing.supply_days', '`dispensing.supply_days` is 0, but a dispensing covers at least 1 day', 'write the days of use this dispensing covers, e.g. `supply_days: 30`'),
        ('RX406', 'prescription.prescriber', '`prescription.prescriber` is `gpp`, which is not a prescriber kind; did you mean `gp`?', 'write one of: gp, specialist, dietician, youth_doctor, elderly_care_physician, nurse_specialist, physician_assistant, dentist, orthodontist, midwife, other'),
    ],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_full_check_says_what_is_wrong_word_for_word(name: str) -> None:
    with pytest.raises(RxError) as raised:
        case_from_mapping(CASES[name], policy=POLICY)
    said = [(d.code, d.field, d.message, d.help) for d in raised.value.diagnostics]
    assert said == EXPECTED[name]


def test_every_kind_of_problem_here_is_one_the_generated_builder_leaves_to_the_full_check() -> None:
    build = builder_for(POLICY.facts)
    assert all(build(data, POLICY.plans) is None for data in CASES.values())


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "hollandzorg").glob("*.yaml")), ids=lambda p: p.name)
def test_a_valid_case_read_by_the_full_check_has_the_builders_values(path: Path) -> None:
    # A read-only mapping is not a dict: the builder leaves it to the full check, which fills in the defaults
    # and computed facts in its own order. Both must give the same values, computed facts included.
    data = load_case(path, policy=POLICY).to_mapping()
    built = case_from_mapping(data, policy=POLICY)
    checked = case_from_mapping(MappingProxyType(data), policy=POLICY)
    assert builder_for(POLICY.facts)(MappingProxyType(data), POLICY.plans) is None
    assert checked.values == built.values
