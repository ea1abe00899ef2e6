"""Absurd case values are named as faults of the case, with the limit, never blamed on a rule (issue 14.8).

Before, `supply_days: 3000000` passed validation and `eval` then reported RX505 at
`rules/model/dispensing_periods.rxp`, telling the user to fix that rule; a 5,000-digit integer through the
API gave a ValueError. The limits are those of the rule files (rxpolicy.language.limits): a count laid
from a date at most 100 years, a number at most 12 digits before the point, a date in 1900..2199.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy import RxError, case_from_mapping, evaluate, load_policy
from rxpolicy.cli import cli

BASE = {"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
        "medicine": {"name": "x", "atc": "C08CA01", "price": "10.00"}, "dispensing": {"supply_days": 30}}


def with_value(path: str, value: object) -> dict[str, object]:
    data = copy.deepcopy(BASE)
    section, name = path.split(".", 1)
    data.setdefault(section, {})[name] = value  # type: ignore[index]
    return data


@pytest.mark.parametrize(("path", "value", "words"), [
    ("dispensing.supply_days", 3_000_000, "at most 36600"),
    ("dispensing.supply_days", 10 ** 5000, "at most 12 digits"),
    ("prescription.course_days", 36_601, "at most 36600"),
    ("dispensing.months_in_use", 1_201, "at most 1200"),
    ("medicine.price", 10 ** 5000, "at most 12 digits"),
    ("medicine.price", "1" * 27, "at most 12 digits"),
    ("insured.excess_used", "1000000000000.00", "at most 12 digits"),
    ("insured.born_on", "0001-01-01", "1900-01-01 to 2199-12-31"),
    ("dispensed_on", "9999-12-31", "1900-01-01 to 2199-12-31"),
], ids=lambda v: "huge" if isinstance(v, int) and v.bit_length() > 64 else str(v)[:30])
def test_an_absurd_value_is_a_case_field_error_with_the_limit(path: str, value: object, words: str) -> None:
    data = BASE | {"dispensed_on": value} if path == "dispensed_on" else with_value(path, value)
    with pytest.raises(RxError) as raised:
        case_from_mapping(data)
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.code, diagnostic.field) == ("RX405", path)
    assert words in diagnostic.message and len(diagnostic.message) < 300


@pytest.mark.parametrize(("path", "value"), [("dispensing.supply_days", 36_600), ("dispensing.months_in_use", 1200),
                                             ("medicine.price", "999999999999.99"),
                                             ("insured.born_on", "1900-01-01")])
def test_values_at_the_limits_are_evaluated(path: str, value: object) -> None:
    evaluation = evaluate(load_policy("hollandzorg"), case_from_mapping(with_value(path, value)))
    assert evaluation.outcome in ("covered", "not_covered")


def test_eval_names_the_case_field_not_a_rule(tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(
        "dispensed_on: 2025-03-14\ninsured: {born_on: 1970-05-01}\nprescription: {prescriber: gp}\n"
        "medicine: {name: x, atc: C08CA01, price: 10.00}\ndispensing:\n  supply_days: 3000000\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "case.yaml"), "--policy", "hollandzorg"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "RX405" in result.stderr and "supply_days" in result.stderr and ":6:" in result.stderr
    assert "RX505" not in result.stderr and ".rxp" not in result.stderr


def test_the_counts_limits_are_declared_on_the_facts() -> None:
    # The limits live where the facts are declared (rules/statutory/facts.rxp: `at most … because "…"`),
    # so the case check, the generated case builder and the published JSON Schema all read them.
    from rxpolicy.language.facts import FIELDS, statutory_facts
    from rxpolicy.language.facts_publish import case_json_schema

    assert {p: int(FIELDS[p].at_most) for p in ("dispensing.supply_days", "prescription.course_days",
                                                 "dispensing.months_in_use")} == {
        "dispensing.supply_days": 36600, "prescription.course_days": 36600, "dispensing.months_in_use": 1200}
    published = json.dumps(case_json_schema(statutory_facts()))
    assert '"maximum": 36600' in published and '"maximum": 1200' in published


def _shapes() -> list[tuple[str, object]]:
    """Shapes at and just beyond each limit of a case of Python values, and some the quick check never passes."""
    from rxpolicy.engine.case_limits import CASE_LIMITS as L

    def nested(levels: int) -> object:
        value: object = "x"
        for _ in range(levels):
            value = {"a": value}
        return value

    looped: dict[str, object] = {"a": 1}
    looped["self"] = looped
    fanned: dict[str, object] = {}
    fanned["a"] = fanned["b"] = fanned
    shared = {"x": "y"}
    return [("deepest allowed", nested(L.max_depth)), ("one level too deep", nested(L.max_depth + 1)),
            ("most values allowed", {"a": ["v"] * (L.max_values - 2)}),
            ("one value too many", {"a": ["v"] * (L.max_values - 1)}),
            ("longest text", {"a": "t" * L.max_text}), ("text one too long", {"a": "t" * (L.max_text + 1)}),
            ("contains itself", looped), ("contains itself twice", fanned),
            ("a section given twice (not a loop)", {"a": shared, "b": shared}),
            ("a tuple and a list", {"a": ("x", ["y"])}), ("a set", {"a": {1}})]


@pytest.mark.parametrize(("name", "data"), _shapes(), ids=[name for name, _ in _shapes()])
def test_the_quick_shape_check_passes_only_what_the_full_walk_passes(
        name: str, data: object, monkeypatch: pytest.MonkeyPatch) -> None:
    # check_python_shape skips its walk for a record the quick check passes: that must be a record the walk
    # passes too. The walk alone (the quick check turned off) is the reference.
    from rxpolicy.engine import case_limits

    quick = case_limits._plainly_within(data, case_limits.CASE_LIMITS)
    monkeypatch.setattr(case_limits, "_plainly_within", lambda data, limits: False)
    try:
        case_limits.check_python_shape(data, case_limits.CASE_LIMITS)
        walked = True
    except RxError:
        walked = False
    assert walked or not quick
    assert quick == (name in ("deepest allowed", "most values allowed", "longest text",
                              "a section given twice (not a loop)", "a tuple and a list"))
