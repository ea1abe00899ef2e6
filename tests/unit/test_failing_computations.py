"""A computation that fails for a case (a division by zero) is a fault of the rules, reported as RX505.

Each test writes a small policy that divides by ``dispensing.months_in_use`` (0 unless a case says
otherwise) somewhere: in a rule's condition, in its value, in a definition worked out where it is
used or ahead of the decisions that use it. Evaluating a case where it is 0 must stop with RX505
naming the decision, the rule or definition and what it divides by, with a fix that works; the
command line exits 2 without a traceback.
"""

from __future__ import annotations

import decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy import Case, CompiledPolicy, RxError, case_from_mapping, evaluate, load_policy
from rxpolicy.cli import cli
from rxpolicy.diagnostics import Diagnostic
from rxpolicy.explain.text import evaluation_text

LAYER = """
layer statutory
  kind statutory
end

decision covered: yes or no
  explain en "reimbursed"
end

decision fee: money
  explain en "the fee"
end
"""

COVERED = """
rule cover/all
  source "test"
  then covered = yes
  explain en "all"
end
"""


def rule(rule_id: str, *body: str) -> str:
    return "\n".join(["", f"rule {rule_id}", '  source "test"', *(f"  {b}" for b in body), '  explain en "x"',
                      "end", ""])


def write_policy(root: Path, rules: str) -> CompiledPolicy:
    """A policy `p` on the layer above: every case is covered, and ``rules`` decide the fee."""
    (root / "statutory").mkdir(parents=True)
    (root / "statutory" / "layer.rxp").write_text(LAYER, encoding="utf-8")
    (root / "p").mkdir()
    (root / "p" / "policy.rxp").write_text('policy p\n  title "P"\n  built on statutory\n'
                                           '  in force from 2024-01-01 until 2025-12-31\nend\n', encoding="utf-8")
    (root / "p" / "rules.rxp").write_text(COVERED + rules, encoding="utf-8")
    return load_policy(str(root / "p"))


def make_case(months_in_use: int) -> Case:
    return case_from_mapping({
        "dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
        "medicine": {"name": "test medicine", "atc": "C08CA01", "price": "10.00"},
        "dispensing": {"supply_days": 30, "months_in_use": months_in_use}})


def refused(policy: CompiledPolicy, case: Case, *, trace: bool = True) -> Diagnostic:
    with pytest.raises(RxError) as raised:
        evaluate(policy, case, trace=trace)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.code == "RX505"
    return diagnostic


def line_of(policy_root: Path, text: str) -> int:
    source = (policy_root / "p" / "rules.rxp").read_text(encoding="utf-8")
    return source[:source.index(text)].count("\n") + 1


FIRST_MONTH = rule("fee/none", "then fee = 0.00 EUR") + rule(
    "fee/first-month", "exception to fee/none", "when 100 / dispensing.months_in_use > 50", "then fee = 5.00 EUR")


def test_a_division_by_zero_in_a_condition_is_rx505_naming_the_rule_and_the_fix(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, FIRST_MONTH)
    diagnostic = refused(policy, make_case(0))
    assert "`fee`" in diagnostic.message and "2025-03-14" in diagnostic.message
    assert "the condition of the rule `fee/first-month`" in diagnostic.message
    assert "divides by `dispensing.months_in_use`, which is 0 in this case" in diagnostic.message
    assert diagnostic.span is not None and diagnostic.span.line == line_of(tmp_path, "when 100 /")
    assert diagnostic.field == "dispensing.months_in_use"
    assert "`when dispensing.months_in_use > 0 and …`" in (diagnostic.help or "")
    assert evaluate(policy, make_case(1))["fee"].rule.id == "fee/first-month"


def test_the_fix_the_help_gives_works(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, FIRST_MONTH.replace("when 100 /", "when dispensing.months_in_use > 0 and 100 /"))
    assert evaluate(policy, make_case(0))["fee"].rule.id == "fee/none"


def test_without_the_trace_and_in_another_decimal_context_it_is_rx505_too(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, FIRST_MONTH)
    assert "`fee/first-month`" in refused(policy, make_case(0), trace=False).message
    with decimal.localcontext(decimal.Context(prec=5)):
        assert "`fee/first-month`" in refused(policy, make_case(0)).message


def test_a_division_by_zero_in_a_value_names_the_rule_and_asks_for_a_guard_in_its_when(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, rule("fee/none", "then fee = 0.00 EUR") + rule(
        "fee/monthly", "exception to fee/none", "when dispensing.months_in_use < 3",
        "then fee = 10.00 EUR / dispensing.months_in_use"))
    diagnostic = refused(policy, make_case(0))
    assert "the value the rule `fee/monthly`" in diagnostic.message and "gives `fee`" in diagnostic.message
    assert diagnostic.span is not None and diagnostic.span.line == line_of(tmp_path, "then fee = 10.00 EUR /")
    assert "in the `when` of `fee/monthly`" in (diagnostic.help or "")


def test_a_division_by_zero_in_a_definition_names_it_and_the_rule_that_uses_it(tmp_path: Path) -> None:
    definition = "\ndefine per_month = 100 / dispensing.months_in_use\n  explain en \"per month\"\n"
    policy = write_policy(tmp_path, definition + FIRST_MONTH.replace("100 / dispensing.months_in_use", "per_month"))
    diagnostic = refused(policy, make_case(0))
    assert "the definition `per_month`" in diagnostic.message and "`fee/first-month`" in diagnostic.message
    assert diagnostic.span is not None and diagnostic.span.line == line_of(tmp_path, "define per_month")
    assert [label for label, _ in diagnostic.related] == ["`fee/first-month`"]
    assert "`define per_month = if dispensing.months_in_use > 0 then … else …`" in (diagnostic.help or "")


def test_a_definition_used_twice_that_fails_names_it_and_the_rule_that_reaches_it(tmp_path: Path) -> None:
    """Used twice, the definition is computed by the first use evaluation reaches: that rule is named."""
    definition = "\ndefine per_month = 100 / dispensing.months_in_use\n  explain en \"per month\"\n"
    policy = write_policy(tmp_path, definition + rule("fee/none", "then fee = 0.00 EUR")
                          + rule("fee/many", "exception to fee/none", "when per_month > 50", "then fee = 5.00 EUR")
                          + rule("fee/some", "exception to fee/none", "when per_month > 20 and per_month <= 50",
                                 "then fee = 2.00 EUR"))
    diagnostic = refused(policy, make_case(0))
    assert "cannot decide `fee`" in diagnostic.message
    assert "the definition `per_month`" in diagnostic.message and "`fee/many`" in diagnostic.message
    assert evaluate(policy, make_case(1))["fee"].rule.id == "fee/many"


# A definition is computed only where a rule that needs it is reached, whatever its use count (issue 13.2,
# docs/language.md "When a definition is computed"). Before, one used twice was computed ahead of every
# decision, guard or not, so the second spelling below failed with RX505 where the first decided.
GUARDED_ONCE = rule("fee/none", "then fee = 0.00 EUR") + rule(
    "fee/first-month", "exception to fee/none", "when dispensing.months_in_use > 0 and per_month > 50",
    "then fee = 5.00 EUR")
GUARDED_TWICE = rule("fee/none", "then fee = 0.00 EUR") + rule(
    "fee/first-month", "exception to fee/none",
    "when dispensing.months_in_use > 0 and per_month > 50 and per_month < 1000", "then fee = 5.00 EUR")
GUARDED_IN_TWO_RULES = rule("fee/none", "then fee = 0.00 EUR") + rule(
    "fee/first-month", "exception to fee/none", "when dispensing.months_in_use > 0 and per_month > 50",
    "then fee = 5.00 EUR") + rule(
    "fee/later", "exception to fee/none", "when dispensing.months_in_use > 0 and per_month <= 50",
    "then fee = 1.00 EUR")
PER_MONTH = "\ndefine per_month = 100 / dispensing.months_in_use\n  explain en \"per month\"\n"


@pytest.mark.parametrize("rules", [GUARDED_ONCE, GUARDED_TWICE, GUARDED_IN_TWO_RULES],
                         ids=["used-once", "used-twice-in-one-rule", "used-in-two-rules"])
def test_a_definition_behind_a_guard_that_does_not_hold_is_never_computed(tmp_path: Path, rules: str) -> None:
    policy = write_policy(tmp_path, PER_MONTH + rules)
    for trace in (True, False):
        assert evaluate(policy, make_case(0), trace=trace)["fee"].rule.id == "fee/none"
    assert evaluate(policy, make_case(1))["fee"].rule.id == "fee/first-month"
    assert evaluation_text(evaluate(policy, make_case(0)), "en")  # the explanation does not compute it either


def test_a_definition_used_by_two_decisions_is_computed_where_the_first_is_reached(tmp_path: Path) -> None:
    # `covered` decides first; the fee's rules use the definition twice, only behind `covered`.
    rules = PER_MONTH + rule(
        "fee/none", "then fee = 0.00 EUR") + rule(
        "fee/many", "exception to fee/none", "when covered and dispensing.months_in_use > 0 and per_month > 50",
        "then fee = 5.00 EUR") + rule(
        "fee/some", "exception to fee/none", "when covered and dispensing.months_in_use > 0 and per_month > 1",
        "then fee = 5.00 EUR")
    policy = write_policy(tmp_path, rules)
    assert evaluate(policy, make_case(0))["fee"].value == decimal.Decimal("0.00")
    assert evaluate(policy, make_case(1))["fee"].rule.id in ("fee/many", "fee/some")


def test_eval_exits_2_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    write_policy(tmp_path, FIRST_MONTH)
    (tmp_path / "case.yaml").write_text(
        "dispensed_on: 2025-03-14\ninsured: {born_on: 1970-05-01}\nprescription: {prescriber: gp}\n"
        "medicine: {name: x, atc: C08CA01, price: 10.00}\ndispensing: {supply_days: 30, months_in_use: 0}\n",
        encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path / "case.yaml"), "--policy", str(tmp_path / "p")])
    assert result.exit_code == 2 and result.stdout == ""
    assert ": RX505: the policy `p` cannot decide `fee`" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_explaining_an_exception_does_not_compute_the_value_of_the_rule_it_sets_aside(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, rule("fee/monthly", "then fee = 10.00 EUR / dispensing.months_in_use") + rule(
        "fee/new", "exception to fee/monthly", "when dispensing.months_in_use < 1", "then fee = 0.00 EUR"))
    evaluation = evaluate(policy, make_case(0))
    assert evaluation["fee"].rule.id == "fee/new"  # evaluation itself is fine: the exception decides
    assert "fee/new" in evaluation_text(evaluation, "en")
