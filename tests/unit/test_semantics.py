"""The engine's semantics, on small policies written for each test.

Each policy is a ``statutory`` layer (the decisions) and a policy directory ``p`` built on it, loaded
with :func:`rxpolicy.load_policy`. The behaviour under test is the one the design fixes
(../shared/design/anchors.md, ideas 1-5): an exception speaks only where its general rule applies and
beats it there; a table takes its first row that applies; rules at one level that agree are all
reasons, rules that disagree are a conflict (RX503); nothing deciding is a gap (RX502); the
dispensing date selects the rules and amounts in force (RX501, RX504); rounding is explicit; the
trace says what happened to every rule.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from rxpolicy import Case, CompiledPolicy, Evaluation, RxError, case_from_mapping, evaluate, load_policy
from rxpolicy.engine.trace import RuleStatus
from rxpolicy.explain.views import because
from rxpolicy.explain.words import json_value
from rxpolicy.language.values import MONEY_CONTEXT

LAYER = """
layer statutory
  title "Semantics test layer"
  kind statutory
end

decision level: number
  explain en "the level"
end

decision allowed: yes or no
  explain en "the prescription is allowed"
end

decision max_supply: supply limit
  explain en "the longest period one dispensing may cover"
end

decision supply_ok: yes or no
  explain en "the supply fits"
end

decision fee: money
  explain en "the fee"
end

decision limit: money
  explain en "the limit"
end

decision note: text, or not applicable
  explain en "a note"
end

decision half_up: money
  explain en "rounded half up"
end

decision half_even: money
  explain en "rounded half even"
end

decision down: money
  explain en "rounded down"
end

decision up: money
  explain en "rounded up"
end

decision euros: money
  explain en "rounded to whole euros"
end
"""

IN_FORCE = "in force from 2024-01-01 until 2025-12-31"


def write_policy(root: Path, rules: str, *, in_force: str = IN_FORCE) -> CompiledPolicy:
    """Write the test layer and a policy `p` with ``rules`` under ``root`` and load it."""
    (root / "statutory").mkdir(parents=True)
    (root / "statutory" / "layer.rxp").write_text(LAYER, encoding="utf-8")
    (root / "p").mkdir()
    declaration = f'policy p\n  title "P"\n  built on statutory\n  {in_force}\nend\n'
    (root / "p" / "policy.rxp").write_text(declaration + rules, encoding="utf-8")
    return load_policy(str(root / "p"))


def make_case(day: str = "2025-03-14", /, **changes: object) -> Case:
    """An adult's case; ``changes`` are dotted field paths written with ``__`` (``medicine__appendix_2``)."""
    case = case_from_mapping({
        "dispensed_on": day, "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
        "medicine": {"name": "test medicine", "atc": "C08CA01", "price": "10.00"},
        "dispensing": {"supply_days": 30}})
    return case.replace({path.replace("__", "."): value for path, value in changes.items()})


def decided(evaluation: Evaluation, name: str) -> tuple[object, tuple[str, ...]]:
    """A decision's value (contract JSON form) and the ids of the rules that decided it."""
    result = evaluation[name]
    return json_value(result.value), tuple(r.id for r in result.rules)


def codes(error: pytest.ExceptionInfo[RxError]) -> list[str]:
    """The diagnostic codes of a raised RxError."""
    return [d.code for d in error.value.diagnostics]


# ----------------------------------------------------------------------------- exceptions

NESTED = """
rule general
  source "test"
  when medicine.appendix_2
  then level = 1
  explain en "general"
end

rule special
  exception to general
  source "test"
  when prescription.chronic
  then level = 2
  explain en "special"
end

rule very-special
  exception to special
  source "test"
  when prescription.acute
  then level = 3
  explain en "very special"
end

rule outside
  source "test"
  when not medicine.appendix_2
  then level = 0
  explain en "outside"
end
"""


@pytest.fixture(scope="module")
def nested(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    """general ← special ← very-special, and `outside` where `general` does not apply."""
    return write_policy(tmp_path_factory.mktemp("nested"), NESTED)


@pytest.mark.parametrize(("appendix_2", "chronic", "acute", "level", "rule"), [
    (True, False, False, 1, "general"),
    (True, True, False, 2, "special"),
    (True, True, True, 3, "very-special"),
    (True, False, True, 1, "general"),     # an exception to an exception needs the middle rule to apply
    (False, True, True, 0, "outside"),     # exceptions say nothing where their general rule does not apply
    (False, True, False, 0, "outside"),
])
def test_an_exception_applies_only_where_its_general_rule_applies(
        nested: CompiledPolicy, appendix_2: bool, chronic: bool, acute: bool, level: int, rule: str) -> None:
    evaluation = evaluate(nested, make_case(medicine__appendix_2=appendix_2, prescription__chronic=chronic,
                                            prescription__acute=acute))
    assert decided(evaluation, "level") == (level, (rule,))


def test_an_exception_to_an_exception_sets_aside_the_whole_chain(nested: CompiledPolicy) -> None:
    evaluation = evaluate(nested, make_case(medicine__appendix_2=True, prescription__chronic=True,
                                            prescription__acute=True))
    fared = {t.rule.id: (t.status, tuple(r.id for r in t.beaten_by)) for t in evaluation.explain("level")}
    assert fared == {
        "very-special": (RuleStatus.DECIDED, ()),
        "special": (RuleStatus.OVERRIDDEN, ("very-special",)),
        "general": (RuleStatus.OVERRIDDEN, ("special",)),
        "outside": (RuleStatus.NOT_APPLICABLE, ()),
    }


TWO_PARENTS = """
rule by-appendix
  source "test"
  when medicine.appendix_2
  then level = 1
  explain en "by appendix"
end

rule by-chronic
  source "test"
  when prescription.chronic
  then level = 1
  explain en "by chronic"
end

rule by-rare
  source "test"
  when prescription.rare_condition
  then level = 2
  explain en "by rare condition"
end

rule acute
  exception to by-appendix, by-chronic
  source "test"
  when prescription.acute
  then level = 9
  explain en "acute"
end
"""


@pytest.fixture(scope="module")
def two_parents(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    """`acute` is an exception to two rules; `by-rare` disagrees with them at the top level."""
    return write_policy(tmp_path_factory.mktemp("two_parents"), TWO_PARENTS)


@pytest.mark.parametrize(("changes", "level", "rules"), [
    ({"medicine__appendix_2": True, "prescription__acute": True}, 9, ("acute",)),
    ({"prescription__chronic": True, "prescription__acute": True}, 9, ("acute",)),
    # both general rules apply: the exception beats both, and is one reason
    ({"medicine__appendix_2": True, "prescription__chronic": True, "prescription__acute": True}, 9, ("acute",)),
    # two rules at the top level that agree are both reasons
    ({"medicine__appendix_2": True, "prescription__chronic": True}, 1, ("by-appendix", "by-chronic")),
    ({"medicine__appendix_2": True}, 1, ("by-appendix",)),
])
def test_an_exception_to_two_rules(two_parents: CompiledPolicy, changes: Mapping[str, object], level: int,
                                   rules: tuple[str, ...]) -> None:
    assert decided(evaluate(two_parents, make_case(**changes)), "level") == (level, rules)


def test_an_exception_to_two_rules_beats_each_of_them(two_parents: CompiledPolicy) -> None:
    evaluation = evaluate(two_parents, make_case(medicine__appendix_2=True, prescription__chronic=True,
                                                 prescription__acute=True))
    fared = {t.rule.id: (t.status, tuple(r.id for r in t.beaten_by)) for t in evaluation.explain("level")}
    assert fared["by-appendix"] == (RuleStatus.OVERRIDDEN, ("acute",))
    assert fared["by-chronic"] == (RuleStatus.OVERRIDDEN, ("acute",))
    assert fared["by-rare"] == (RuleStatus.NOT_APPLICABLE, ())


def test_an_exception_whose_general_rule_does_not_apply_is_not_reached(nested: CompiledPolicy) -> None:
    evaluation = evaluate(nested, make_case(medicine__appendix_2=False, prescription__chronic=True,
                                            prescription__acute=True))
    fared = {t.rule.id: (t.status, t.facts) for t in evaluation.explain("level")}
    assert fared["outside"][0] is RuleStatus.DECIDED
    assert fared["general"][0] is RuleStatus.NOT_APPLICABLE
    # its condition is never tested: the exceptions below `general` are not reached
    assert fared["special"] == (RuleStatus.NOT_REACHED, ())
    assert fared["very-special"] == (RuleStatus.NOT_REACHED, ())


def test_two_rules_that_disagree_are_a_conflict_naming_both(two_parents: CompiledPolicy) -> None:
    with pytest.raises(RxError) as raised:
        evaluate(two_parents, make_case(medicine__appendix_2=True, prescription__rare_condition=True))
    assert codes(raised) == ["RX503"]
    message = raised.value.diagnostics[0].message
    assert "`by-appendix`" in message and "`by-rare`" in message and "`level`" in message


def test_an_exception_does_not_settle_a_conflict_it_does_not_cover(two_parents: CompiledPolicy) -> None:
    # `acute` beats by-appendix, but by-rare is not its general rule: 9 against 2 at the top level
    with pytest.raises(RxError) as raised:
        evaluate(two_parents, make_case(medicine__appendix_2=True, prescription__acute=True,
                                        prescription__rare_condition=True))
    assert codes(raised) == ["RX503"]
    assert "`acute`" in raised.value.diagnostics[0].message and "`by-rare`" in raised.value.diagnostics[0].message


def test_no_rule_applying_is_a_gap(two_parents: CompiledPolicy) -> None:
    # `acute` holds, but neither of its general rules applies, so it does not either
    with pytest.raises(RxError) as raised:
        evaluate(two_parents, make_case(prescription__acute=True))
    assert codes(raised) == ["RX502"]
    assert "`level`" in raised.value.diagnostics[0].message


# ----------------------------------------------------------------------------- tables and supply limits

PERIODS = """
table period
  decides max_supply
  source "test"
  row new
    when dispensing.new_to_patient
    then max_supply = at most 15 days or the smallest pack
    explain en "new"
  row chronic
    when prescription.chronic
    then max_supply = at most 12 months
    explain en "chronic"
  row other
    then max_supply = at most 1 month
    explain en "other"
end

rule acute
  exception to period
  source "test"
  when prescription.acute
  then max_supply = at most 1 month or one course
  explain en "acute"
end

rule legacy
  exception to period
  source "test"
  in force from 2024-01-01 until 2024-12-31
  when prescription.rare_condition
  then max_supply = at most 2 months
  explain en "legacy"
end

rule research
  exception to period
  source "test"
  when prescription.purpose is research
  then max_supply = at most 3 months
  explain en "research"
end

rule fits
  source "test"
  then supply_ok = dispensing.supply_days days fits within max_supply
  explain en "fits"
end
"""


@pytest.fixture(scope="module")
def periods(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    """A table of periods with exceptions to the whole table, one of them in force in 2024 only."""
    return write_policy(tmp_path_factory.mktemp("periods"), PERIODS)


@pytest.mark.parametrize(("changes", "period", "rule"), [
    ({}, "1 month", "period/other"),
    ({"prescription__chronic": True}, "12 months", "period/chronic"),
    ({"dispensing__new_to_patient": True}, "15 days", "period/new"),
    ({"dispensing__new_to_patient": True, "prescription__chronic": True}, "15 days", "period/new"),  # first match
])
def test_a_table_takes_its_first_row_that_applies(periods: CompiledPolicy, changes: Mapping[str, object],
                                                  period: str, rule: str) -> None:
    assert decided(evaluate(periods, make_case(**changes)), "max_supply") == (period, (rule,))


@pytest.mark.parametrize("row_facts", [{}, {"prescription__chronic": True}, {"dispensing__new_to_patient": True}])
def test_an_exception_to_a_table_beats_whichever_row_applied(periods: CompiledPolicy,
                                                             row_facts: Mapping[str, object]) -> None:
    evaluation = evaluate(periods, make_case(prescription__acute=True, **row_facts))
    assert decided(evaluation, "max_supply") == ("1 month", ("acute",))
    overridden = [t for t in evaluation.explain("max_supply") if t.status is RuleStatus.OVERRIDDEN]
    assert [(t.rule.table, [r.id for r in t.beaten_by]) for t in overridden] == [("period", ["acute"])]


def test_two_exceptions_to_one_table_that_disagree_are_a_conflict(periods: CompiledPolicy) -> None:
    with pytest.raises(RxError) as raised:
        evaluate(periods, make_case(prescription__acute=True, prescription__purpose="research"))
    assert codes(raised) == ["RX503"]
    message = raised.value.diagnostics[0].message
    assert "`acute`" in message and "`research`" in message and "`max_supply`" in message


@pytest.mark.parametrize(("changes", "ok"), [
    ({"dispensing__supply_days": 28}, True),     # 31 January + 1 month = 28 February
    ({"dispensing__supply_days": 29}, False),
    ({"dispensing__new_to_patient": True, "dispensing__supply_days": 15}, True),
    ({"dispensing__new_to_patient": True, "dispensing__supply_days": 16}, False),
    ({"dispensing__new_to_patient": True, "dispensing__supply_days": 28, "dispensing__smallest_pack": True}, True),
    ({"dispensing__smallest_pack": True, "dispensing__supply_days": 29}, False),
    ({"prescription__acute": True, "prescription__course_days": 40, "dispensing__supply_days": 40}, True),
    ({"prescription__acute": True, "prescription__course_days": 40, "dispensing__supply_days": 41}, False),
    ({"prescription__acute": True, "prescription__course_days": 10, "dispensing__supply_days": 28}, True),
    ({"prescription__acute": True, "dispensing__supply_days": 29}, False),
    ({"prescription__chronic": True, "dispensing__supply_days": 365}, True),   # to 2026-01-31
    ({"prescription__chronic": True, "dispensing__supply_days": 366}, False),
])
def test_fits_within_a_supply_limit(periods: CompiledPolicy, changes: Mapping[str, object], ok: bool) -> None:
    evaluation = evaluate(periods, make_case("2025-01-31", **changes))
    assert decided(evaluation, "supply_ok") == (ok, ("fits",))


# ----------------------------------------------------------------------------- dates: epochs, amounts, in force

DATED = """
parameter amount: money
  source "test"
  value 100.00 EUR in force from 2024-01-01 until 2024-12-31
  value 120.00 EUR in force from 2025-01-01 until 2025-06-30
end

rule fee-charged
  source "test"
  when medicine.appendix_1
  then fee = amount
  explain en "charged"
end

rule fee-waived
  source "test"
  when not medicine.appendix_1
  then fee = 0.00 EUR
  explain en "waived"
end

rule old-level
  source "test"
  in force from 2024-01-01 until 2024-12-31
  then level = 2024
  explain en "old"
end

rule new-level
  source "test"
  in force from 2025-01-01
  then level = 2025
  explain en "new"
end
"""


@pytest.fixture(scope="module")
def dated(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    """Rules and an amount with validity periods; the amount has no value after 2025-06-30."""
    return write_policy(tmp_path_factory.mktemp("dated"), DATED)


@pytest.mark.parametrize(("day", "level", "rule"), [
    ("2024-01-01", 2024, "old-level"), ("2024-12-31", 2024, "old-level"),
    ("2025-01-01", 2025, "new-level"), ("2025-12-31", 2025, "new-level")])
def test_the_dispensing_date_selects_the_rules_in_force(dated: CompiledPolicy, day: str, level: int,
                                                        rule: str) -> None:
    evaluation = evaluate(dated, make_case(day, medicine__appendix_1=False))
    assert decided(evaluation, "level") == (level, (rule,))
    other = next(t for t in evaluation.explain("level") if t.rule.id != rule)
    assert other.status is RuleStatus.NOT_IN_FORCE


def test_the_periods_split_where_a_rule_or_amount_starts_or_stops(dated: CompiledPolicy) -> None:
    starts = [epoch.start for epoch in dated.epochs]
    assert starts == [dt.date(2024, 1, 1), dt.date(2025, 1, 1), dt.date(2025, 7, 1)]
    assert dated.epochs[-1].end == dt.date(2025, 12, 31)


@pytest.mark.parametrize(("day", "fee"), [("2024-12-31", "100.00"), ("2025-01-01", "120.00"),
                                          ("2025-06-30", "120.00")])
def test_a_parameter_takes_the_value_in_force(dated: CompiledPolicy, day: str, fee: str) -> None:
    assert decided(evaluate(dated, make_case(day)), "fee") == (fee, ("fee-charged",))


def test_an_amount_without_a_value_on_the_date_is_refused_when_needed(dated: CompiledPolicy) -> None:
    with pytest.raises(RxError) as raised:
        evaluate(dated, make_case("2025-07-01"))
    assert codes(raised) == ["RX504"]
    message = raised.value.diagnostics[0].message
    assert "`amount`" in message and "2025-07-01" in message
    # where no rule needs the amount, the case is decided
    assert decided(evaluate(dated, make_case("2025-07-01", medicine__appendix_1=False)), "fee") == (
        "0.00", ("fee-waived",))


@pytest.mark.parametrize("day", ["2023-12-31", "2026-01-01"])
def test_a_date_outside_the_policy_is_refused(dated: CompiledPolicy, day: str) -> None:
    with pytest.raises(RxError) as raised:
        evaluate(dated, make_case(day, medicine__appendix_1=False))
    assert codes(raised) == ["RX501"]
    diagnostic = raised.value.diagnostics[0]
    assert day in diagnostic.message and "`p`" in diagnostic.message
    assert diagnostic.field == "dispensed_on"


# ----------------------------------------------------------------------------- unknown values

KNOWN = """
rule limit-known
  source "test"
  when medicine.reimbursement_limit is known
  then limit = medicine.reimbursement_limit
  explain en "known"
end

rule limit-unknown
  source "test"
  when medicine.reimbursement_limit is unknown
  then limit = 0.00 EUR
  explain en "unknown"
end

rule note
  source "test"
  then note = if medicine.reimbursement_limit is known and medicine.price > medicine.reimbursement_limit
              then "above the limit" else not applicable
  explain en "note"
end
"""


def test_is_known_narrows_a_value_that_may_be_unknown(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, KNOWN)
    assert decided(evaluate(policy, make_case(medicine__reimbursement_limit="8.00")), "limit") == (
        "8.00", ("limit-known",))
    assert decided(evaluate(policy, make_case()), "limit") == ("0.00", ("limit-unknown",))
    assert evaluate(policy, make_case(medicine__reimbursement_limit="8.00"))["note"].value == "above the limit"
    assert evaluate(policy, make_case(medicine__reimbursement_limit="12.00"))["note"].value is None
    assert evaluate(policy, make_case())["note"].value is None


def test_a_value_that_may_be_unknown_is_refused_without_is_known(tmp_path: Path) -> None:
    rules = KNOWN.replace("when medicine.reimbursement_limit is known\n", "")
    with pytest.raises(RxError) as raised:
        write_policy(tmp_path, rules)
    assert "RX331" in codes(raised)


# ----------------------------------------------------------------------------- percentages and rounding

ROUNDING = """
rule rounded
  source "test"
  then half_up = medicine.price * 109 % rounded half up to cents
       half_even = medicine.price * 109 % rounded half even to cents
       down = medicine.price * 109 % rounded down to cents
       up = medicine.price * 109 % rounded up to cents
       euros = (250.00 EUR * insured.days_insured / days_in_year) rounded half up to whole euros
  explain en "rounded"
end

rule cheap-enough
  source "test"
  when medicine.cheapest_in_group is known and medicine.price <= medicine.cheapest_in_group * 103 %
  then allowed = yes
  explain en "cheap enough"
end

rule too-expensive
  source "test"
  when not (medicine.cheapest_in_group is known and medicine.price <= medicine.cheapest_in_group * 103 %)
  then allowed = no
  explain en "too expensive"
end
"""


@pytest.fixture(scope="module")
def rounding(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    """Percentages, each rounding mode, and a pro-rated yearly amount."""
    return write_policy(tmp_path_factory.mktemp("rounding"), ROUNDING)


@pytest.mark.parametrize(("price", "expected"), [
    ("0.50", {"half_up": "0.55", "half_even": "0.54", "down": "0.54", "up": "0.55"}),         # 0.545
    ("0.70", {"half_up": "0.76", "half_even": "0.76", "down": "0.76", "up": "0.77"}),         # 0.763
    ("10.05", {"half_up": "10.95", "half_even": "10.95", "down": "10.95", "up": "10.96"}),    # 10.9545
    ("1.50", {"half_up": "1.64", "half_even": "1.64", "down": "1.63", "up": "1.64"}),         # 1.635
])
def test_percentages_and_rounding_modes(rounding: CompiledPolicy, price: str, expected: Mapping[str, str]) -> None:
    evaluation = evaluate(rounding, make_case(medicine__price=price, medicine__cheapest_in_group="1.00"))
    assert {name: json_value(evaluation[name].value) for name in expected} == expected


@pytest.mark.parametrize(("insured_from", "day", "euros"), [
    ("2025-01-01", "2025-03-14", "250.00"),
    ("2025-06-15", "2025-09-01", "137.00"),    # 250 x 200 / 365 = 136.99
    ("2024-06-15", "2024-09-01", "137.00"),    # 250 x 200 / 366 = 136.61
    ("2025-12-31", "2025-12-31", "1.00"),      # 250 / 365 = 0.68
    ("2025-07-02", "2025-09-01", "125.00"),    # 250 x 183 / 365 = 125.34
    ("2025-07-01", "2025-09-01", "126.00"),    # 250 x 184 / 365 = 126.03
])
def test_a_pro_rated_amount_is_rounded_to_whole_euros(rounding: CompiledPolicy, insured_from: str, day: str,
                                                      euros: str) -> None:
    evaluation = evaluate(rounding, make_case(day, insured__insured_from=insured_from))
    assert json_value(evaluation["euros"].value) == euros


@pytest.mark.parametrize(("price", "allowed", "rule"), [
    ("10.30", True, "cheap-enough"), ("10.31", False, "too-expensive"), ("10.00", True, "cheap-enough")])
def test_a_percentage_in_a_comparison(rounding: CompiledPolicy, price: str, allowed: bool, rule: str) -> None:
    evaluation = evaluate(rounding, make_case(medicine__price=price, medicine__cheapest_in_group="10.00"))
    assert decided(evaluation, "allowed") == (allowed, (rule,))


def test_money_keeps_cents_exact(rounding: CompiledPolicy) -> None:
    evaluation = evaluate(rounding, make_case(medicine__price="0.10", medicine__cheapest_in_group="0.10"))
    assert evaluation["half_up"].value == Decimal("0.11")   # 0.109, not 0.10900000000000001


def test_a_whole_euro_amount_given_as_an_int_stays_exact() -> None:
    # The largest amount a case may hold (12 digits, tests/unit/test_case_limits.py), read without a float.
    case = make_case(medicine__price=999999999999, medicine__cheapest_in_group="1.00")
    assert case.get("medicine.price") == Decimal("999999999999.00")


# ----------------------------------------------------------------------------- the trace

def test_the_trace_says_what_happened_to_every_rule(periods: CompiledPolicy) -> None:
    evaluation = evaluate(periods, make_case(dispensing__new_to_patient=True, prescription__acute=True))
    fared = {t.rule.id: (t.status, tuple(r.id for r in t.beaten_by)) for t in evaluation.explain("max_supply")}
    assert fared == {
        "acute": (RuleStatus.DECIDED, ()),
        "period/new": (RuleStatus.OVERRIDDEN, ("acute",)),
        "period/chronic": (RuleStatus.NOT_REACHED, ()),
        "period/other": (RuleStatus.NOT_REACHED, ()),
        "legacy": (RuleStatus.NOT_IN_FORCE, ()),
        "research": (RuleStatus.NOT_APPLICABLE, ()),
    }
    assert [t.rule.id for t in evaluation.explain("max_supply")][0] == "acute"   # deciding rules first


def test_a_rule_in_force_again_has_its_status_on_another_date(periods: CompiledPolicy) -> None:
    evaluation = evaluate(periods, make_case("2024-06-01", prescription__rare_condition=True))
    fared = {t.rule.id: t.status for t in evaluation.explain("max_supply")}
    assert fared["legacy"] is RuleStatus.DECIDED
    assert fared["period/other"] is RuleStatus.OVERRIDDEN


def test_because_says_why_earlier_rows_did_not_apply_then_the_rows_own_facts(periods: CompiledPolicy) -> None:
    evaluation = evaluate(periods, make_case(prescription__chronic=True))
    assert because(evaluation, "max_supply") == ("the medicine is not new to the patient",
                                                 "the prescriber states a chronic condition")
    evaluation = evaluate(periods, make_case())
    assert because(evaluation, "max_supply") == ("the medicine is not new to the patient",
                                                 "the prescriber does not state a chronic condition")


def test_because_of_an_exception_includes_what_made_its_general_rule_apply(periods: CompiledPolicy) -> None:
    sentences = because(evaluate(periods, make_case(prescription__chronic=True, prescription__acute=True)),
                        "max_supply")
    assert sentences == ("the medicine is not new to the patient", "the prescriber states a chronic condition",
                         "it treats an acute condition")


def test_explain_needs_the_trace(periods: CompiledPolicy) -> None:
    evaluation = evaluate(periods, make_case(), trace=False)
    with pytest.raises(ValueError, match="trace"):
        evaluation.explain("max_supply")
    assert because(evaluation, "max_supply") == ()


# ----------------------------------------------------------------------------- same results, any way evaluated

def _hollandzorg_cases() -> list[Case]:
    """A spread of HollandZorg cases over the facts the rules test (6 x 3 x 4 x 3 = 216 cases)."""
    base = make_case(dispensing__fees__dispensing="7.50")
    facts = itertools.product(
        ["C08CA01", "N05BA04", "G03AA07", "J01CA04", "J07AL02", "B01AC09"],
        [(False, 0, False), (True, 8, True), (True, 5, True)],
        [15, 31, 90, 400],
        [("1970-05-01", None, "10.00"), ("2010-01-01", "Compact", "8.00"), ("2004-06-01", "No Risk II", None)])
    cases = []
    for atc, (chronic, months_in_use, acute), supply, (born, plan, limit) in facts:
        cases.append(base.replace({
            "medicine.atc": atc, "medicine.route": "intravenous" if atc == "B01AC09" else "oral",
            "medicine.appendix_2": atc in ("G03AA07", "J07AL02"), "prescription.chronic": chronic,
            "prescription.acute": acute, "dispensing.months_in_use": months_in_use, "dispensing.adjusted": True,
            "dispensing.supply_days": supply, "insured.born_on": born, "insured.plan": plan,
            "medicine.reimbursement_limit": limit, "medicine.price": "12.40",
            "prescription.first_for_indication": supply == 15, "dispensing.new_to_patient": supply == 15}))
    return cases


@pytest.fixture(scope="module")
def hollandzorg() -> CompiledPolicy:
    """The built-in HollandZorg policy."""
    return load_policy("hollandzorg")


def _outcome(policy: CompiledPolicy, case: Case, trace: bool = True) -> tuple[object, ...]:
    evaluation = evaluate(policy, case, trace=trace)
    return evaluation.values, evaluation.deciders


def _explainers_agree(policy: CompiledPolicy, case: Case) -> None:
    """The trace's explainers, generated apart from the evaluate function, recompute what it decided.

    Evaluation (with or without the trace) runs one generated function; an explanation runs others,
    written per rule. Each deciding rule's condition must hold when its explainer recomputes it, and
    a rule giving one decision must give the value the evaluation has.
    """
    evaluation = evaluate(policy, case)
    assert evaluation.trace is not None
    epoch = evaluation.trace.epoch
    for index, (decision, value) in enumerate(zip(policy.decisions, evaluation.values)):
        for rule_index in evaluation.deciders[index]:
            rule = policy.rules[rule_index]
            assert evaluation.trace.outcome(rule) is True, (decision.name, rule.id)
            if len(rule.rule.assignments) == 1:
                with decimal.localcontext(MONEY_CONTEXT):
                    again = epoch.explainers[("value", rule_index)](case.values, evaluation.values, [])
                assert again == value, (decision.name, rule.id, again, value)


def test_the_explainers_recompute_what_the_evaluation_decided(hollandzorg: CompiledPolicy) -> None:
    cases = _hollandzorg_cases()
    outcomes = {_outcome(hollandzorg, case)[0] for case in cases}
    assert len(outcomes) > 20   # the cases do not all decide alike
    for case in cases:
        _explainers_agree(hollandzorg, case)


def test_the_explainers_of_small_policies_recompute_what_was_decided(periods: CompiledPolicy) -> None:
    for changes in ({}, {"prescription__acute": True}, {"dispensing__new_to_patient": True},
                    {"prescription__purpose": "research", "prescription__chronic": True}):
        for day in ("2024-06-01", "2025-06-01"):
            _explainers_agree(periods, make_case(day, **changes))


def test_a_compiled_policy_shared_by_threads_decides_as_one_thread_does(hollandzorg: CompiledPolicy) -> None:
    cases = _hollandzorg_cases()
    expected = [_outcome(hollandzorg, case) for case in cases]
    per_thread = 2000

    def run(offset: int) -> list[tuple[int, tuple[object, ...]]]:
        # each thread walks the cases from its own offset, so threads evaluate different cases at once
        order = [(offset * 31 + i) % len(cases) for i in range(per_thread)]
        return [(i, _outcome(hollandzorg, cases[i], trace=bool(offset % 2))) for i in order]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(8)))
    assert sum(len(r) for r in results) == 8 * per_thread
    for thread_results in results:
        for index, outcome in thread_results:
            assert outcome == expected[index]
