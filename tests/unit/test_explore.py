"""The condition-space explorer: representative values, systematic cases, minimal witnesses.

Small policies are written to ``tmp_path``: a ``statutory`` layer declaring a few decisions and a
policy ``p`` built on it. Expected values are worked out here from the calendar and from the
constants written in the rules, not read back from the explorer.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal
from pathlib import Path

import pytest

from rxpolicy import RxError, api
from rxpolicy.engine.case import Case, case_to_yaml, parse_case
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.language.ast import walk
from rxpolicy.language.facts import FIELDS, INDICATION_CODES, ROUTES
from rxpolicy.tools.explore import ConditionSpace, base_case, condition_space, covering_array, minimise, rebuild

DAY = dt.date(2024, 3, 15)

LAYER = '''\
layer statutory
  kind statutory
end

decision covered: yes or no
  explain en "reimbursed"
end

decision max_supply: supply limit
  explain en "the longest period"
end

decision supply_ok: yes or no
  explain en "the supply fits"
end

decision preference_met: yes or no
  explain en "preference policy met"
end
'''

POLICY = '''\
policy p
  title "Test policy"
  built on statutory
  in force from 2023-01-01 until 2025-12-31
end
'''


def rule(rule_id: str, *body: str) -> str:
    """A rule with a source and a patient sentence."""
    return "\n".join([f"rule {rule_id}", '  source "seed"', *(f"  {b}" for b in body),
                      '  explain en "A sentence."', '  explain nl "Een zin."', "end", ""])


RULES = "\n".join([
    rule("cover/adults", "when insured.age >= 18 and dispensing.months_in_use >= 6", "then covered = yes"),
    rule("cover/young", "when insured.age < 18 or not (dispensing.months_in_use >= 6)", "then covered = no"),
    rule("cover/expensive", "exception to cover/adults",
         "when medicine.price > 20.00 EUR and medicine.appendix_2_added_on is known"
         " and medicine.appendix_2_added_on >= start_of_year", "then covered = no"),
    rule("cover/route", "exception to cover/adults",
         "when medicine.route is nasal and prescription.indication is depression and medicine.atc matches N05B*, N06AX27",
         "then covered = no"),
    rule("cover/not-insured", "exception to cover/adults",
         "when dispensed_on < insured.insured_from or dispensed_on > insured.insured_until", "then covered = no"),
    rule("period/any", "then max_supply = at most 1 month"),
    rule("supply/fits", "then supply_ok = dispensing.supply_days days fits within max_supply"),
    rule("preference/free", "then preference_met = yes"),
    rule("preference/cheapest", "exception to preference/free",
         "when medicine.preferred is unknown and medicine.cheapest_in_group is known"
         " and medicine.price > medicine.cheapest_in_group * 103 %", "then preference_met = no"),
])


def write_policy(root: Path, rules: str = RULES) -> CompiledPolicy:
    """Write the layer and the policy, and load it."""
    (root / "statutory").mkdir()
    (root / "p").mkdir()
    (root / "statutory" / "layer.rxp").write_text(LAYER, encoding="utf-8")
    (root / "p" / "policy.rxp").write_text(POLICY, encoding="utf-8")
    (root / "p" / "rules.rxp").write_text(rules, encoding="utf-8")
    return api.load_policy(str(root / "p"))


@pytest.fixture
def policy(tmp_path: Path) -> CompiledPolicy:
    return write_policy(tmp_path)


@pytest.fixture
def space(policy: CompiledPolicy) -> ConditionSpace:
    return condition_space(policy, DAY)


def ages(space: ConditionSpace) -> set[int]:
    """The ages the representative birth dates give on the space's day."""
    out = set()
    for born in space.values["insured.born_on"]:
        assert isinstance(born, dt.date)
        years = DAY.year - born.year - ((DAY.month, DAY.day) < (born.month, born.day))
        out.add(years)
    return out


# ------------------------------------------------------------------------------------ representative values

def test_each_threshold_and_one_step_either_side(space: ConditionSpace) -> None:
    assert {5, 6, 7} <= set(space.values["dispensing.months_in_use"])
    assert {17, 18, 19} <= ages(space)
    assert {Decimal("19.99"), Decimal("20.00"), Decimal("20.01")} <= set(space.values["medicine.price"])
    start = dt.date(DAY.year, 1, 1)
    one_day = dt.timedelta(days=1)
    assert {start - one_day, start, start + one_day} <= set(space.values["medicine.appendix_2_added_on"])
    assert {DAY - one_day, DAY, DAY + one_day} <= set(space.values["insured.insured_from"])
    assert {DAY - one_day, DAY, DAY + one_day} <= set(space.values["insured.insured_until"])


def test_supply_lengths_around_each_duration_laid_from_the_dispensing_date(space: ConditionSpace) -> None:
    # 15 March + 1 month = 15 April: 31 days (March has 31 days).
    assert {30, 31, 32} <= set(space.values["dispensing.supply_days"])
    # `or one course`: courses as long as the supplies tried, and no course at all.
    assert {None, 30, 31, 32} <= set(space.values["prescription.course_days"])


def test_every_choice_none_for_nullable_fields_and_a_text_outside_an_open_choice(space: ConditionSpace) -> None:
    assert set(ROUTES) <= set(space.values["medicine.route"])
    indications = set(space.values["prescription.indication"])
    assert set(INDICATION_CODES) <= indications and None in indications
    assert indications - set(INDICATION_CODES) - {None}, "a text outside the listed codes"
    assert set(space.values["medicine.preferred"]) == {None, True, False}
    assert None in space.values["medicine.appendix_2_added_on"]
    assert None in space.values["medicine.cheapest_in_group"]


def test_the_base_value_comes_first(policy: CompiledPolicy, space: ConditionSpace) -> None:
    base = base_case(policy, DAY)
    for path, values in space.values.items():
        assert values[0] == base.get(path), path
        assert len(set(map(repr, values))) == len(values), f"{path} repeats a value"


def test_atc_codes_are_well_formed_one_per_pattern_and_one_matching_none(space: ConditionSpace) -> None:
    codes = [str(c) for c in space.values["medicine.atc"]]
    assert all(re.fullmatch(r"[A-Z]\d\d[A-Z][A-Z]\d\d", code) for code in codes), codes
    assert any(code.startswith("N05B") for code in codes)
    assert "N06AX27" in codes
    assert any(not code.startswith("N05B") and code != "N06AX27" for code in codes)


def test_a_comparison_with_another_field_gets_values_from_the_other_side(space: ConditionSpace) -> None:
    prices = set(space.values["medicine.price"])
    known = [c for c in space.values["medicine.cheapest_in_group"] if c is not None]
    assert known, "a known cheapest price"
    for cheapest in known:
        assert isinstance(cheapest, Decimal)
        limit = (cheapest * Decimal("1.03")).quantize(Decimal("0.01"))
        assert {limit - Decimal("0.01"), limit, limit + Decimal("0.01")} <= prices, (cheapest, prices)


def test_a_space_says_whether_its_values_meet_every_outcome(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, RULES + rule("cover/short", "exception to cover/adults",
                                                 "when insured.days_insured * 2 < 100", "then covered = no"))
    space = condition_space(policy, DAY)
    assert not space.complete  # arithmetic on a fact worked out from two dates
    assert space.restricted([policy.rule("cover/expensive").index]).complete
    assert space.restricted([policy.rule("preference/cheapest").index]).complete  # price against cheapest * 103 %
    assert not space.restricted([policy.rule("cover/short").index]).complete
    # The price against 20.00 EUR and against 103 % of the cheapest price: which threshold is lower depends
    # on a cheapest price the values do not try.
    both = [policy.rule("cover/expensive").index, policy.rule("preference/cheapest").index]
    assert not space.restricted(both).complete


def test_fields_no_rule_reads_are_not_varied(space: ConditionSpace) -> None:
    assert "insured.plan" not in space.values
    assert "dispensing.ml_per_day" not in space.values


def test_relevant_fields_follow_decisions_and_definitions(space: ConditionSpace) -> None:
    supply = space.relevant_fields(["supply_ok"])
    assert "dispensing.supply_days" in supply and "dispensing.smallest_pack" in supply
    assert "insured.born_on" not in supply
    covered = space.relevant_fields(["covered"])
    assert {"insured.born_on", "dispensing.months_in_use", "medicine.route", "medicine.atc"} <= set(covered)
    assert "medicine.preferred" not in covered


def test_every_comparison_meets_both_outcomes_in_the_product(policy: CompiledPolicy) -> None:
    """Why a product over representative values is complete for comparisons with constants."""
    space = condition_space(policy, DAY).restricted([policy.rule("cover/adults").index], values=False)
    cases = list(space.cases(base_case(policy, DAY)))
    assert len(cases) == space.size()
    seen = {(c.get("insured.age") >= 18, c.get("dispensing.months_in_use") >= 6) for c in cases}  # type: ignore
    assert seen == {(True, True), (True, False), (False, True), (False, False)}


def test_every_atc_pattern_of_the_built_in_rules_has_a_code_and_one_code_matches_none() -> None:
    policy = api.load_policy("hollandzorg")
    day = policy.epochs[0].start  # every rule is in force in the first period
    space = condition_space(policy, day)
    atc = [str(c) for c in space.values["medicine.atc"]]
    patterns = {p for r in policy.rules for e in (r.rule.when, *(a.value for a in r.rule.assignments)) if e
                for n in walk(e) for p in getattr(n, "patterns", ())}
    patterns |= {p for d in policy.checked.definitions.values() for n in walk(d.expr) for p in getattr(n, "patterns", ())}
    assert patterns
    for pattern in patterns:
        assert any(c.startswith(pattern[:-1]) if pattern.endswith("*") else c == pattern for c in atc), pattern
    assert any(not any(c.startswith(p.rstrip("*")) for p in patterns) for c in atc)


# ------------------------------------------------------------------------------------------- cases

def test_cases_are_exhaustive_when_they_fit_and_deterministic(policy: CompiledPolicy, space: ConditionSpace) -> None:
    fields = ["medicine.route", "prescription.indication", "dispensing.months_in_use"]
    base = base_case(policy, DAY)
    first = list(space.cases(base, fields))
    assert first == list(space.cases(base, fields))
    assert len(first) == space.size(fields) == len(space.values["medicine.route"]) * len(
        space.values["prescription.indication"]) * len(space.values["dispensing.months_in_use"])
    combos = {tuple(c.get(f) for f in fields) for c in first}
    assert combos == set(itertools.product(*(space.values[f] for f in fields)))
    for case in first:  # the other fields keep the base value
        assert case.get("medicine.price") == base.get("medicine.price")


def test_cases_cover_every_pair_when_the_product_is_too_large(policy: CompiledPolicy, space: ConditionSpace) -> None:
    base = base_case(policy, DAY)
    fields = list(space.values)
    limit = 100
    assert space.size(fields) > limit
    cases = list(space.cases(base, fields, limit=limit))
    assert cases == list(space.cases(base, fields, limit=limit))
    assert len(cases) < space.size(fields)
    seen = {(a, b, case.get(a), case.get(b)) for case in cases for a, b in itertools.combinations(fields, 2)}
    # Pairs no valid case can hold (an insurance ending before it starts) are the only ones missing.
    for a, b in itertools.combinations(fields, 2):
        for va, vb in itertools.product(space.values[a], space.values[b]):
            if (a, b, va, vb) not in seen:
                values = list(base.values)
                values[list(FIELDS).index(a)], values[list(FIELDS).index(b)] = va, vb
                assert rebuild(values, base.schema) is None, (a, va, b, vb)


@pytest.mark.parametrize("sizes", [[2], [3, 2], [2, 2, 2], [4, 3, 3, 2, 2], [11, 5, 3, 2, 2, 2, 2, 2, 2, 2]])
def test_covering_array_holds_every_pair(sizes: list[int]) -> None:
    rows = covering_array(sizes)
    assert rows == covering_array(sizes)
    for i, j in itertools.combinations(range(len(sizes)), 2):
        got = {(row[i], row[j]) for row in rows}
        assert got == set(itertools.product(range(sizes[i]), range(sizes[j]))), (i, j)
    for row in rows:
        assert all(0 <= v < s for v, s in zip(row, sizes))
    if len(sizes) > 2:
        product = 1
        for s in sizes:
            product *= s
        assert len(rows) < product


def test_explored_cases_are_valid_cases_that_load_back_as_themselves(policy: CompiledPolicy,
                                                                    space: ConditionSpace) -> None:
    base = base_case(policy, DAY)
    for case in itertools.islice(space.cases(base, limit=200), 60):
        again = parse_case(case_to_yaml(case), plans=policy.plans)
        assert again.values == case.values


def test_rebuilt_derived_facts_agree_with_the_case_loader(policy: CompiledPolicy) -> None:
    base = base_case(policy, DAY)
    for born, start, until in [(dt.date(2006, 3, 16), dt.date(2024, 2, 1), dt.date(2024, 12, 31)),
                               (dt.date(2004, 2, 29), dt.date(2023, 6, 1), dt.date(2024, 3, 15)),
                               (dt.date(2024, 3, 15), dt.date(2024, 3, 15), dt.date(2030, 1, 1))]:
        changes = {"insured.born_on": born, "insured.insured_from": start, "insured.insured_until": until}
        values = list(base.values)
        for path, value in changes.items():
            values[list(FIELDS).index(path)] = value
        assert rebuild(values, base.schema) == base.replace(changes).values


@pytest.mark.parametrize("changes", [
    {"insured.insured_until": DAY - dt.timedelta(days=400)},
    {"insured.born_on": DAY + dt.timedelta(days=1)},
    {"authorisation.granted_on": DAY},
    {"authorisation.valid_until": DAY},
    {"authorisation.granted_on": DAY, "authorisation.valid_until": DAY - dt.timedelta(days=1)},
], ids=["insured-until-before-from", "born-after-dispensing", "only-granted-on", "only-valid-until",
        "authorisation-ends-before-granted"])
def test_rebuild_refuses_what_a_case_file_cannot_hold(policy: CompiledPolicy, changes: dict[str, object]) -> None:
    base = base_case(policy, DAY)
    values = list(base.values)
    for path, value in changes.items():
        values[list(FIELDS).index(path)] = value
    assert rebuild(values, base.schema) is None
    with pytest.raises(RxError):  # the case loader refuses the same facts
        base.replace(changes)


# ------------------------------------------------------------------------------------------- minimise

def test_minimise_keeps_the_predicate_with_fewer_changed_fields(policy: CompiledPolicy) -> None:
    base = base_case(policy, DAY)
    noisy = base.replace({"medicine.route": "nasal", "prescription.chronic": True, "dispensing.months_in_use": 7,
                          "medicine.price": Decimal("25.00"), "prescription.indication": "depression"})

    def keep(case: Case) -> bool:
        return case.get("medicine.route") == "nasal" and case.get("dispensing.months_in_use") >= 6  # type: ignore

    small = minimise(noisy, base, keep)
    assert keep(small)
    changed = {p for p in FIELDS if not FIELDS[p].derived and small.get(p) != base.get(p)}
    assert changed == {"medicine.route", "dispensing.months_in_use"}


def test_minimise_resets_an_authorisation_as_a_whole(policy: CompiledPolicy) -> None:
    base = base_case(policy, DAY)
    assert base.get("authorisation.granted_on") is None
    noisy = base.replace({"medicine.route": "nasal", "authorisation.granted_on": DAY,
                          "authorisation.valid_until": DAY + dt.timedelta(days=30)})
    witness = minimise(noisy, base, lambda c: c.get("medicine.route") == "nasal")
    assert witness == base.replace({"medicine.route": "nasal"})


def test_minimise_leaves_a_case_alone_when_every_field_matters(policy: CompiledPolicy) -> None:
    base = base_case(policy, DAY)
    case = base.replace({"medicine.route": "nasal"})
    assert minimise(case, base, lambda c: c.get("medicine.route") == "nasal") == case


def test_the_base_case_is_valid_on_its_day(policy: CompiledPolicy) -> None:
    base = base_case(policy, DAY)
    assert base.dispensed_on == DAY
    assert base.get("insured.age") >= 18  # type: ignore[operator]
    assert parse_case(case_to_yaml(base), plans=policy.plans).values == base.values
