"""Stage 3, the checker: one planted fault per RX3xx code, checked through ``rxpolicy.api.check``.

Every test builds a small policy in ``tmp_path``: a ``statutory`` layer that declares a few
decisions, and a policy ``p`` built on it whose rules live in ``p/rules.rxp``. Line numbers in the
assertions count in the text written by the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rxpolicy import api
from rxpolicy.diagnostics import Diagnostic, RxError, Severity

LAYER = '''\
layer statutory
  title "Test layer"
end

decision max_supply: supply limit
  explain en "the longest period"
end

decision min_supply: duration, or not applicable
  explain en "the shortest period"
end

decision covered: yes or no
  explain en "reimbursed"
end

decision patient_pays: money
  explain en "what the insured pays"
end
'''
# line of each decision declaration in LAYER
LAYER_LINE = {"max_supply": 5, "min_supply": 9, "covered": 13, "patient_pays": 17}

POLICY = '''\
policy p
  title "Test policy"
  built on statutory
  in force from 2023-01-01 until 2025-12-31
end
'''


def rule(rule_id: str, *body: str, source: bool = True, en: bool = True, nl: bool = True) -> str:
    """A rule; with the defaults its clauses are: id (line 1), source (2), body lines, en, nl, end."""
    lines = [f"rule {rule_id}"]
    if source:
        lines.append('  source "seed, section"')
    lines.extend(f"  {line}" for line in body)
    if en:
        lines.append('  explain en "A sentence."')
    if nl:
        lines.append('  explain nl "Een zin."')
    return "\n".join(lines + ["end", ""])


class Policy:
    """A policy directory ``p`` beside its layer ``statutory`` in a temporary directory."""

    def __init__(self, root: Path, rules: str, *, layer: str = LAYER, policy: str = POLICY) -> None:
        self.root = root
        (root / "statutory").mkdir()
        (root / "p").mkdir()
        (root / "statutory" / "layer.rxp").write_text(layer, encoding="utf-8")
        (root / "p" / "policy.rxp").write_text(policy, encoding="utf-8")
        (root / "p" / "rules.rxp").write_text(rules, encoding="utf-8")

    def check(self) -> tuple[object, tuple[Diagnostic, ...]]:
        return api.check(str(self.root / "p"))

    def errors(self) -> list[Diagnostic]:
        with pytest.raises(RxError) as caught:
            self.check()
        found = list(caught.value.diagnostics)
        for d in found:
            assert d.message and d.help, d
        return found

    def where(self, d: Diagnostic) -> tuple[str, str, int, int]:
        """code, file (relative to the temporary directory), line, column."""
        assert d.span is not None, f"{d.code} names no place: {d.message}"
        relative = Path(d.span.path).resolve().relative_to(self.root.resolve()).as_posix()
        return d.code, relative, d.span.line, d.span.column


def only(policy: Policy) -> Diagnostic:
    found = policy.errors()
    assert len(found) == 1, [(d.code, d.message) for d in found]
    return found[0]


def clean(policy: Policy) -> tuple[Diagnostic, ...]:
    """The warnings of a policy that must check without errors."""
    try:
        _, warnings = policy.check()
    except RxError as error:
        raise AssertionError([(d.code, str(d.span), d.message) for d in error.diagnostics]) from None
    return warnings


# -------------------------------------------------------------------------------------- a clean policy

def test_a_correct_policy_checks_clean(tmp_path: Path) -> None:
    checked, warnings = Policy(tmp_path, rule("r/a", "when prescription.chronic", "then covered = yes")).check()
    assert warnings == ()
    assert checked.name == "p"  # type: ignore[attr-defined]
    assert [r.id for r in checked.rules] == ["r/a"]  # type: ignore[attr-defined]
    assert set(checked.decisions) == set(LAYER_LINE)  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------------- RX301 names

def test_rx301_definition_declared_twice(tmp_path: Path) -> None:
    policy = Policy(tmp_path, "define chronic_use = prescription.chronic\ndefine chronic_use = prescription.acute\n")
    found = only(policy)
    assert policy.where(found) == ("RX301", "p/rules.rxp", 2, 1)
    assert found.message.startswith("the definition `chronic_use` is already declared at ")
    assert found.message.endswith("rules.rxp:1:1")
    assert [(label, span.line) for label, span in found.related] == [("first declared here", 1)]


def test_rx301_policy_declares_a_decision_its_layer_declares(tmp_path: Path) -> None:
    policy = Policy(tmp_path, "decision covered: yes or no\n  explain en \"again\"\nend\n")
    found = only(policy)
    assert policy.where(found) == ("RX301", "p/rules.rxp", 1, 1)
    assert f"layer.rxp:{LAYER_LINE['covered']}:1" in found.message


def test_rx301_a_decision_named_like_a_case_field(tmp_path: Path) -> None:
    policy = Policy(tmp_path, "decision dispensed_on: date\n  explain en \"x\"\nend\n")
    found = only(policy)
    assert policy.where(found) == ("RX301", "p/rules.rxp", 1, 1)
    assert found.message == "`dispensed_on` is a case field"


# --------------------------------------------------------------------------------- RX302 rule versions

def test_rx302_same_rule_id_with_overlapping_periods(tmp_path: Path) -> None:
    first = rule("r/a", "in force from 2023-01-01 until 2024-06-30", "then covered = yes")
    second = rule("r/a", "in force from 2024-01-01 until 2025-12-31", "then covered = no")
    policy = Policy(tmp_path, first + second)
    found = only(policy)
    assert policy.where(found) == ("RX302", "p/rules.rxp", 8, 6)  # the id of the second version
    assert found.message.startswith("the rule id `r/a` is already used at ")
    assert "overlaps" in found.message
    assert [span.line for _, span in found.related] == [1]


def test_rx302_a_version_without_a_period_overlaps_every_other(tmp_path: Path) -> None:
    first = rule("r/a", "then covered = yes")
    second = rule("r/a", "in force from 2024-01-01 until 2025-12-31", "then covered = no")
    policy = Policy(tmp_path, first + second)
    assert policy.where(only(policy)) == ("RX302", "p/rules.rxp", 7, 6)


def test_versions_whose_periods_follow_each_other_are_fine(tmp_path: Path) -> None:
    first = rule("r/a", "in force from 2023-01-01 until 2023-12-31", "then covered = yes")
    second = rule("r/a", "in force from 2024-01-01 until 2025-12-31", "then covered = no")
    third = rule("r/a", "in force from 2026-01-01", "then covered = yes")
    assert clean(Policy(tmp_path, first + second + third)) == ()


def test_rx302_periods_sharing_one_day(tmp_path: Path) -> None:
    first = rule("r/a", "in force from 2023-01-01 until 2024-01-01", "then covered = yes")
    second = rule("r/a", "in force from 2024-01-01 until 2025-12-31", "then covered = no")
    policy = Policy(tmp_path, first + second)
    assert policy.where(only(policy))[0] == "RX302"


# -------------------------------------------------------------------------------- RX303 / RX304 layers

def test_rx304_the_layer_a_policy_is_built_on_does_not_exist(tmp_path: Path) -> None:
    policy_text = POLICY.replace("built on statutory", "built on statutory\n  built on statutry")
    policy = Policy(tmp_path, rule("r/a", "then covered = yes"), policy=policy_text)
    found = only(policy)
    code, file, line, _ = policy.where(found)
    assert (code, file) == ("RX304", "p/policy.rxp")
    assert found.span is not None and found.span.line <= 4 <= found.span.end_line  # covers `built on statutry`
    assert found.message == "the layer `statutry` this policy is built on is not found"
    assert "statutry" in (found.help or "") and "`built on`" in (found.help or "")


def test_rx303_a_layer_declared_under_another_name(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "then covered = yes"),
                    layer=LAYER.replace("layer statutory", "layer statutry"))
    found = only(policy)
    assert policy.where(found) == ("RX303", "statutory/layer.rxp", 1, 1)
    assert found.message == "`statutry` does not match the directory it is in"


# ----------------------------------------------------------------------- RX31x citations and sentences

def test_rx310_rule_without_source(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "then covered = yes", source=False))
    found = only(policy)
    assert policy.where(found) == ("RX310", "p/rules.rxp", 1, 6)
    assert found.message == "the rule `r/a` does not say where it comes from"
    assert 'source "' in (found.help or "")


def test_rx310_parameter_without_source(tmp_path: Path) -> None:
    text = "parameter cap: money\n  value 250.00 EUR in force from 2023-01-01 until 2025-12-31\nend\n"
    policy = Policy(tmp_path, text)
    found = only(policy)
    assert policy.where(found) == ("RX310", "p/rules.rxp", 1, 1)
    assert found.message == "the parameter `cap` does not say where it comes from"


@pytest.mark.parametrize("where", ['  source "Bzv art. 2.8"\n', '  interpretation "our reading"\n', ""])
def test_a_parameter_may_cite_itself_its_value_or_an_interpretation(tmp_path: Path, where: str) -> None:
    value_source = "" if where else ' according to "2024"'
    text = f"parameter cap: money\n{where}  value 250.00 EUR in force from 2023-01-01{value_source}\nend\n"
    assert clean(Policy(tmp_path, text)) == ()


def test_rx311_rule_without_english_sentence(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "then covered = yes", en=False))
    found = only(policy)
    assert policy.where(found) == ("RX311", "p/rules.rxp", 1, 6)
    assert found.message == "the rule `r/a` has no sentence a patient could read"
    assert "explain en" in (found.help or "")


def test_rx312_missing_dutch_sentence_is_a_warning_not_an_error(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "then covered = yes", nl=False))
    (warning,) = clean(policy)
    assert policy.where(warning) == ("RX312", "p/rules.rxp", 1, 6)
    assert warning.severity is Severity.WARNING
    assert warning.message == "the rule `r/a` has no Dutch sentence"


def test_rx313_explanation_in_an_unknown_language(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", 'explain de "Ein Satz."', "then covered = yes"))
    found = only(policy)
    assert policy.where(found) == ("RX313", "p/rules.rxp", 3, 3)


# ---------------------------------------------------------------------- RX32x decisions and exceptions

def test_rx320_unknown_decision_with_did_you_mean(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "when prescription.chronic", "then coverd = yes"))
    found = only(policy)
    assert policy.where(found) == ("RX320", "p/rules.rxp", 4, 8)
    assert found.message == "`coverd` is not a decision of this policy"
    assert found.help == "did you mean `covered`?"


def test_rx320_without_a_close_name_says_how_to_declare_one(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "then zzz = yes"))
    found = only(policy)
    assert policy.where(found) == ("RX320", "p/rules.rxp", 3, 8)
    assert "did you mean" not in (found.help or "") and "decision" in (found.help or "")


def test_rx321_rule_that_decides_nothing(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "when prescription.chronic"))
    found = only(policy)
    assert policy.where(found) == ("RX321", "p/rules.rxp", 1, 6)
    assert found.message == "the rule `r/a` does not decide anything"


TABLE_HEAD = '''\
table t
  decides max_supply, min_supply
  source "seed"
  explain en "A sentence."
  explain nl "Een zin."
'''


def test_rx322_table_row_missing_a_decision_or_deciding_another(tmp_path: Path) -> None:
    text = TABLE_HEAD + (
        "  row chronic\n"                             # 6
        "    when prescription.chronic\n"
        "    then max_supply = at most 3 months\n"
        "  row other\n"                               # 9
        "    then max_supply = at most 1 month\n"
        "         min_supply = not applicable\n"
        "         covered = yes\n"
        "end\n")
    policy = Policy(tmp_path, text)
    missing, extra = policy.errors()
    assert policy.where(missing) == ("RX322", "p/rules.rxp", 6, 7)
    assert missing.message == "the row `t/chronic` does not give a value to min_supply"
    assert "then min_supply" in (missing.help or "")
    assert policy.where(extra) == ("RX322", "p/rules.rxp", 9, 7)
    assert extra.message == "the row `t/other` decides covered, which its table does not"


def test_rx326_row_without_when_before_the_last_row(tmp_path: Path) -> None:
    text = TABLE_HEAD + (
        "  row first\n"                               # 6
        "    then max_supply = at most 1 month\n"
        "         min_supply = not applicable\n"
        "  row chronic\n"
        "    when prescription.chronic\n"
        "    then max_supply = at most 12 months\n"
        "         min_supply = 3 months\n"
        "end\n")
    policy = Policy(tmp_path, text)
    found = only(policy)
    assert policy.where(found) == ("RX326", "p/rules.rxp", 6, 7)
    assert found.message == "the row `t/first` has no `when`, so the rows after it never apply"


def test_a_table_whose_last_row_has_no_when_is_fine(tmp_path: Path) -> None:
    text = TABLE_HEAD + (
        "  row chronic\n    when prescription.chronic\n    then max_supply = at most 12 months\n"
        "         min_supply = 3 months\n"
        "  row other\n    then max_supply = at most 1 month\n         min_supply = not applicable\nend\n")
    assert clean(Policy(tmp_path, text)) == ()


def test_rx323_exception_to_unknown_rule_with_did_you_mean(tmp_path: Path) -> None:
    general = rule("r/general", "then covered = yes")                                              # 1-6
    special = rule("r/special", "exception to r/genral", "when prescription.chronic", "then covered = no")
    policy = Policy(tmp_path, general + special)
    found = only(policy)
    assert policy.where(found) == ("RX323", "p/rules.rxp", 9, 16)
    assert found.message == "there is no rule `r/genral` to be an exception to"
    assert found.help == "did you mean `r/general`?"


def test_an_exception_to_a_whole_table(tmp_path: Path) -> None:
    text = TABLE_HEAD + (
        "  row other\n    then max_supply = at most 1 month\n         min_supply = not applicable\nend\n")
    text += rule("r/benzo", "exception to t", "when medicine.atc matches N05B*",
                 "then max_supply = at most 15 days")
    assert clean(Policy(tmp_path, text)) == ()


def test_rx324_exception_that_decides_something_else(tmp_path: Path) -> None:
    general = rule("r/general", "then covered = yes")
    special = rule("r/special", "exception to r/general", "when prescription.chronic", "then patient_pays = 0 EUR")
    policy = Policy(tmp_path, general + special)
    found = only(policy)
    assert policy.where(found) == ("RX324", "p/rules.rxp", 9, 16)
    assert found.message == ("`r/special` and `r/general` decide different things, so one cannot be an exception "
                             "to the other")


def test_rx328_exceptions_in_a_circle(tmp_path: Path) -> None:
    a = rule("r/a", "exception to r/b", "when prescription.chronic", "then covered = yes")   # 1-8
    b = rule("r/b", "exception to r/a", "when prescription.acute", "then covered = no")      # 9-16
    policy = Policy(tmp_path, a + b)
    found = policy.errors()
    # One circle, one report: at its first rule, naming every rule in it, the others as related places.
    assert [policy.where(d) for d in found] == [("RX328", "p/rules.rxp", 1, 6)]
    assert "r/a → r/b → r/a" in found[0].message
    assert [(label, span.line) for label, span in found[0].related] == [("`r/b`", 9)]


def test_rx328_a_circle_through_a_second_parent(tmp_path: Path) -> None:
    # issue 13.1: the circle goes through r/a's second parent; the checker followed only the first and said ok,
    # after which every evaluation died with a RecursionError.
    a = rule("r/a", "exception to r/b, r/c", "when dispensing.new_to_patient", "then covered = yes")  # 1-8
    b = rule("r/b", "then covered = no")                                                           # 9-15
    c = rule("r/c", "exception to r/a", "when prescription.chronic", "then covered = no")          # 16-23
    policy = Policy(tmp_path, a + b + c)
    found = only(policy)
    assert policy.where(found) == ("RX328", "p/rules.rxp", 1, 6)
    assert found.message == ("the rules `r/a`, `r/c` are exceptions to each other in a circle: r/a → r/c → r/a")


def test_rx328_a_circle_through_a_table_lists_every_rule(tmp_path: Path) -> None:
    # `exception to t` names every row of t; a row that is itself an exception to the rule closes the circle.
    text = TABLE_HEAD + (
        "  row chronic\n    exception to r/x\n    when prescription.chronic\n"
        "    then max_supply = at most 3 months\n         min_supply = not applicable\n"
        "  row other\n    then max_supply = at most 1 month\n         min_supply = not applicable\nend\n")
    text += rule("r/x", "exception to r/y", "when medicine.atc matches N05B*", "then max_supply = at most 15 days")
    text += rule("r/y", "exception to t", "when prescription.acute", "then max_supply = at most 10 days")
    policy = Policy(tmp_path, text)
    found = only(policy)
    assert found.code == "RX328"
    assert "`r/x`, `r/y`, `t/chronic`" in found.message
    assert found.message.endswith("t/chronic → r/x → r/y → t/chronic")


def test_rx328_a_long_chain_of_exceptions_is_walked_without_recursion(tmp_path: Path) -> None:
    # 3,000 rules, each an exception to the next, the last to the first: one circle, no RecursionError.
    count = 3000
    text = "".join(rule(f"r/n{i}", f"exception to r/n{(i + 1) % count}", "when prescription.chronic",
                        "then covered = yes") for i in range(count))
    found = only(Policy(tmp_path, text))
    assert found.code == "RX328"
    assert len(found.related) == count - 1


def test_rx325_exception_to_itself(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "exception to r/a", "when prescription.chronic", "then covered = yes"))
    found = policy.errors()
    assert {d.code for d in found} == {"RX325"}
    assert ("RX325", "p/rules.rxp", 3, 16) in [policy.where(d) for d in found]
    assert "the rule `r/a` cannot be an exception to itself" in [d.message for d in found]


# --------------------------------------------------------------------------- RX33x values of decisions

def test_rx330_value_of_the_wrong_type(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "then max_supply = 3 EUR"))
    found = only(policy)
    assert policy.where(found) == ("RX330", "p/rules.rxp", 3, 21)
    assert found.message == "`max_supply` is a supply limit, but this is a money"


def test_a_duration_is_a_supply_limit(tmp_path: Path) -> None:
    assert clean(Policy(tmp_path, rule("r/a", "then max_supply = 3 months"))) == ()


def test_rx331_not_applicable_for_a_decision_that_always_has_a_value(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "then covered = not applicable"))
    found = only(policy)
    assert policy.where(found) == ("RX331", "p/rules.rxp", 3, 18)
    assert found.message == "`covered` must always have a value"


def test_rx331_a_field_that_may_be_unknown_into_a_decision_that_may_not(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "then patient_pays = medicine.reimbursement_limit"))
    found = only(policy)
    assert policy.where(found) == ("RX331", "p/rules.rxp", 3, 23)
    assert "`patient_pays` must always have one" in found.message


def test_not_applicable_for_a_nullable_decision_is_fine(tmp_path: Path) -> None:
    assert clean(Policy(tmp_path, rule("r/a", "then min_supply = not applicable"))) == ()


# ----------------------------------------------------------------------------------- RX34x expressions

@pytest.mark.parametrize(("written", "meant"), [
    ("medicine.act", "medicine.atc"),
    ("prescription.chronc", "prescription.chronic"),
    ("medicin.price", "medicine.price"),
])
def test_rx340_unknown_case_field_with_did_you_mean(tmp_path: Path, written: str, meant: str) -> None:
    condition = f"{written} matches N05B*" if meant == "medicine.atc" else (
        f"{written} > 10 EUR" if meant == "medicine.price" else written)
    policy = Policy(tmp_path, rule("r/a", f"when {condition}", "then covered = yes"))
    found = only(policy)
    assert policy.where(found) == ("RX340", "p/rules.rxp", 3, 8)
    assert found.message == f"`{written}` is not a case field, definition, parameter or decision"
    assert found.help == f"did you mean `{meant}`?"


def test_rx340_a_misspelt_definition_is_suggested_too(tmp_path: Path) -> None:
    text = "define long_use = dispensing.months_in_use >= 6\n" + rule("r/a", "when long_uze", "then covered = yes")
    policy = Policy(tmp_path, text)
    found = only(policy)
    assert policy.where(found) == ("RX340", "p/rules.rxp", 4, 8)
    assert found.help == "did you mean `long_use`?"


def test_rx341_condition_that_is_not_yes_or_no(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "when medicine.price", "then covered = yes"))
    found = only(policy)
    assert policy.where(found) == ("RX341", "p/rules.rxp", 3, 8)
    assert found.message == "this condition is a money, not a yes/no that is always known"


def test_rx341_condition_that_may_be_unknown(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "when prescription.challenge_test_done", "then covered = yes"))
    assert policy.where(only(policy)) == ("RX341", "p/rules.rxp", 3, 8)


def test_a_maybe_unknown_yes_no_tested_for_known_first_is_a_fine_condition(tmp_path: Path) -> None:
    condition = "when prescription.challenge_test_done is known and prescription.challenge_test_done"
    assert clean(Policy(tmp_path, rule("r/a", condition, "then covered = yes"))) == ()


@pytest.mark.parametrize(("condition", "message"), [
    ("medicine.price is 3 days", "a money is compared with a duration"),
    ("medicine.price > 3 days", "`>` cannot compare a money with a duration"),
    ("medicine.price is 3", "a money is compared with a number"),
])
def test_rx342_comparing_different_kinds(tmp_path: Path, condition: str, message: str) -> None:
    policy = Policy(tmp_path, rule("r/a", f"when {condition}", "then covered = yes"))
    found = only(policy)
    assert policy.where(found) == ("RX342", "p/rules.rxp", 3, 8)
    assert found.message == message


def test_a_date_field_compared_with_a_date_literal(tmp_path: Path) -> None:
    # Regression: the date was lexed as 2024 - 1 - 1, giving RX342 "cannot compare a date with a number".
    assert clean(Policy(tmp_path, rule("r/a", "when dispensed_on >= 2024-01-01", "then covered = yes"))) == ()


def test_rx343_maybe_unknown_field_in_arithmetic(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "then patient_pays = medicine.reimbursement_limit + 1 EUR"))
    found = only(policy)
    assert policy.where(found) == ("RX343", "p/rules.rxp", 3, 23)
    assert found.message == ("`medicine.reimbursement_limit` may be unknown in a case, so it cannot be used here "
                             "as it is")
    assert "`medicine.reimbursement_limit is known and …`" in (found.help or "")


def test_rx343_maybe_unknown_field_in_an_ordering(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "when medicine.price > medicine.reimbursement_limit", "then covered = yes"))
    assert policy.where(only(policy)) == ("RX343", "p/rules.rxp", 3, 25)


@pytest.mark.parametrize("body", [
    ("when medicine.reimbursement_limit is known and medicine.price > medicine.reimbursement_limit",
     "then covered = yes"),
    ("when not (medicine.reimbursement_limit is unknown) and medicine.price > medicine.reimbursement_limit",
     "then covered = yes"),
    ("when medicine.reimbursement_limit is unknown or medicine.price > medicine.reimbursement_limit",
     "then covered = yes"),
    ("then patient_pays = if medicine.reimbursement_limit is known "
     "then medicine.price - medicine.reimbursement_limit else 0 EUR",),
    ("then patient_pays = if medicine.reimbursement_limit is unknown "
     "then 0 EUR else medicine.price - medicine.reimbursement_limit",),
])
def test_no_rx343_when_guarded_by_is_known(tmp_path: Path, body: tuple[str, ...]) -> None:
    assert clean(Policy(tmp_path, rule("r/a", *body))) == ()


def test_rx343_a_guard_that_does_not_always_hold_does_not_count(tmp_path: Path) -> None:
    condition = ("when (medicine.reimbursement_limit is known or prescription.chronic) "
                 "and medicine.price > medicine.reimbursement_limit")
    policy = Policy(tmp_path, rule("r/a", condition, "then covered = yes"))
    assert policy.where(only(policy))[0] == "RX343"


def test_no_rx343_in_then_when_the_rules_when_guards_it(tmp_path: Path) -> None:
    # Regression (false positive): a rule's `then` is only evaluated when its `when` holds.
    body = ("when medicine.reimbursement_limit is known",
            "then patient_pays = medicine.price - medicine.reimbursement_limit")
    assert clean(Policy(tmp_path, rule("r/a", *body))) == ()


@pytest.mark.parametrize(("condition", "typo", "meant", "column"), [
    ("prescription.prescriber is gpp", "gpp", "gp", 35),
    ("prescription.prescriber is one of gp, specalist", "specalist", "specialist", 46),
    ("medicine.route is not orall", "orall", "oral", 30),
])
def test_rx344_unknown_choice_value_with_did_you_mean(tmp_path: Path, condition: str, typo: str, meant: str,
                                                      column: int) -> None:
    policy = Policy(tmp_path, rule("r/a", f"when {condition}", "then covered = yes"))
    found = only(policy)
    assert policy.where(found) == ("RX344", "p/rules.rxp", 3, column)
    assert found.message.startswith(f"`{typo}` is not a ")
    assert found.help == f"did you mean `{meant}`?"


def test_rx346_is_known_on_a_field_that_is_never_unknown_is_a_warning(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "when medicine.price is known", "then covered = yes"))
    (warning,) = clean(policy)
    assert policy.where(warning) == ("RX346", "p/rules.rxp", 3, 8)
    assert warning.severity is Severity.WARNING


@pytest.mark.parametrize("pattern", ["N05BA4*", "N0512", "N05BA0"])
def test_rx347_bad_atc_pattern(tmp_path: Path, pattern: str) -> None:
    policy = Policy(tmp_path, rule("r/a", f"when medicine.atc matches N05C*, {pattern}", "then covered = yes"))
    found = only(policy)
    code, file, line, column = policy.where(found)
    assert (code, file, line) == ("RX347", "p/rules.rxp", 3)
    pattern_column = len("  when medicine.atc matches N05C*, ") + 1
    assert found.span is not None and column <= pattern_column < found.span.end_column
    assert found.message == f"`{pattern}` is not an ATC code or prefix"


def test_good_atc_patterns_at_every_level(tmp_path: Path) -> None:
    condition = "when medicine.atc matches N05*, N05B*, N05BA*, N05BA04, J01"
    assert clean(Policy(tmp_path, rule("r/a", condition, "then covered = yes"))) == ()


@pytest.mark.parametrize(("value", "message"), [
    ("medicine.price + 3 days", "`+` cannot combine a money and a duration"),
    ("medicine.price * medicine.price", "`*` cannot combine a money and a money"),
])
def test_rx348_bad_arithmetic(tmp_path: Path, value: str, message: str) -> None:
    policy = Policy(tmp_path, rule("r/a", f"then patient_pays = {value}"))
    found = only(policy)
    assert policy.where(found) == ("RX348", "p/rules.rxp", 3, 23)
    assert found.message == message


# --------------------------------------------------------------------------------------- RX350 circles

def test_rx350_definitions_that_depend_on_each_other(tmp_path: Path) -> None:
    policy = Policy(tmp_path, "define a = b\ndefine b = a\n")
    found = policy.errors()
    assert {d.code for d in found} == {"RX350"}
    located = [policy.where(d) for d in found if d.span is not None]
    assert ("RX350", "p/rules.rxp", 1, 1) in located
    assert any("`a` depends on itself (a → b → a)" == d.message for d in found)


def test_rx350_every_report_of_a_circle_names_its_place(tmp_path: Path) -> None:
    # Regression: the circle was reported a second time by the ordering step, with no span.
    found = Policy(tmp_path, "define a = b\ndefine b = a\n").errors()
    assert all(d.span is not None for d in found), [(d.code, d.message) for d in found if d.span is None]


def test_rx350_decisions_that_depend_on_each_other(tmp_path: Path) -> None:
    text = (rule("r/a", "then covered = patient_pays > 0 EUR")
            + rule("r/b", "then patient_pays = if covered then 1 EUR else 0 EUR"))
    policy = Policy(tmp_path, text)
    found = only(policy)
    code, file, line, _ = policy.where(found)
    assert (code, file) == ("RX350", "statutory/layer.rxp")
    assert line in (LAYER_LINE["covered"], LAYER_LINE["patient_pays"])
    assert "covered" in found.message and "patient_pays" in found.message


# ------------------------------------------------------------------------------------ RX36x parameters

def parameter(*values: str, header: str = '  source "Bzv art. 2.8"') -> str:
    return "\n".join(["parameter cap: money", header, *(f"  value {v}" for v in values), "end", ""])


def test_parameter_values_that_follow_each_other_are_fine(tmp_path: Path) -> None:
    text = parameter("250.00 EUR in force from 2023-01-01 until 2023-12-31",
                     "300.00 EUR in force from 2024-01-01 until 2025-12-31")
    assert clean(Policy(tmp_path, text)) == ()


def test_rx360_parameter_values_with_overlapping_periods(tmp_path: Path) -> None:
    text = parameter("250.00 EUR in force from 2023-01-01 until 2024-06-30",
                     "300.00 EUR in force from 2024-01-01 until 2025-12-31")
    policy = Policy(tmp_path, text)
    found = only(policy)
    assert policy.where(found) == ("RX360", "p/rules.rxp", 4, 3)
    assert found.message == "the values of `cap` overlap: 2023-01-01–2024-06-30 and 2024-01-01–2025-12-31"


def test_rx360_a_value_without_a_period_overlaps_every_other(tmp_path: Path) -> None:
    policy = Policy(tmp_path, parameter("250.00 EUR", "300.00 EUR in force from 2024-01-01"))
    assert policy.where(only(policy)) == ("RX360", "p/rules.rxp", 4, 3)


def test_rx361_parameter_without_value(tmp_path: Path) -> None:
    policy = Policy(tmp_path, parameter())
    found = only(policy)
    assert policy.where(found) == ("RX361", "p/rules.rxp", 1, 1)
    assert found.message == "the parameter `cap` has no value"


def test_rx362_parameter_value_that_is_not_written_out(tmp_path: Path) -> None:
    policy = Policy(tmp_path, parameter("200.00 EUR + 50.00 EUR in force from 2023-01-01"))
    found = policy.errors()
    assert ("RX362", "p/rules.rxp", 3, 3) in [policy.where(d) for d in found]
    (rx362,) = [d for d in found if d.code == "RX362"]
    assert rx362.message == "a parameter value must be written out, like `250.00 EUR`"


def test_rx362_is_not_also_reported_as_a_missing_value(tmp_path: Path) -> None:
    # Regression: RX362 came with a spurious RX361 "the parameter `cap` has no value".
    found = Policy(tmp_path, parameter("200.00 EUR + 50.00 EUR in force from 2023-01-01")).errors()
    assert [d.code for d in found] == ["RX362"]


def test_rx330_parameter_value_of_the_wrong_type(tmp_path: Path) -> None:
    policy = Policy(tmp_path, parameter("30 days in force from 2023-01-01"))
    found = only(policy)
    assert policy.where(found) == ("RX330", "p/rules.rxp", 3, 3)
    assert found.message == "`cap` is a money, but this value is a duration"


# ------------------------------------------------------------------------------- every problem at once

def test_all_problems_of_a_file_come_in_one_error_in_line_order(tmp_path: Path) -> None:
    text = (
        rule("r/a", "when medicine.act matches N05B*", "then covered = yes")             # 1-7: RX340 at 3:8
        + rule("r/b", "then coverd = no", source=False)                                 # 8-12: RX310 8:6, RX320 9:8
        + rule("r/c", "then max_supply = 3 EUR", en=False, nl=False)                    # 13-16: RX311 13:6, RX330 15:21
        + parameter()                                                                    # 17-19: RX361 17:1
    )
    policy = Policy(tmp_path, text)
    found = policy.errors()
    assert [policy.where(d) for d in found] == [
        ("RX340", "p/rules.rxp", 3, 8),
        ("RX310", "p/rules.rxp", 8, 6),
        ("RX320", "p/rules.rxp", 9, 8),
        ("RX311", "p/rules.rxp", 13, 6),
        ("RX330", "p/rules.rxp", 15, 21),
        ("RX361", "p/rules.rxp", 17, 1),
    ]


def test_a_syntax_error_in_one_file_does_not_hide_problems_of_the_others(tmp_path: Path) -> None:
    policy = Policy(tmp_path, rule("r/a", "wehn prescription.chronic", "then covered = yes"))
    (tmp_path / "p" / "more.rxp").write_text("rule r/b\n  in force from 2025-02-30\nend\n", encoding="utf-8")
    found = policy.errors()
    assert [policy.where(d) for d in found] == [("RX201", "p/more.rxp", 2, 17), ("RX103", "p/rules.rxp", 3, 3)]


def test_warnings_do_not_stop_a_policy_and_errors_carry_them_along(tmp_path: Path) -> None:
    text = rule("r/a", "then covered = yes", nl=False) + rule("r/b", "then coverd = yes")
    found = Policy(tmp_path, text).errors()
    assert [(d.code, d.severity) for d in found] == [("RX312", Severity.WARNING), ("RX320", Severity.ERROR)]


# ------------------------------------------------------------------------------- the built-in policies

def test_the_built_in_policy_checks_clean() -> None:
    checked, warnings = api.check("hollandzorg")
    assert not [d for d in warnings if d.code in ("RX310", "RX311")]
    assert all(d.severity is Severity.WARNING for d in warnings)
    assert checked.name == "hollandzorg"
    assert len(checked.rules) > 0
    for info in checked.rules:
        assert info.rule.citations, info.id
        assert "en" in {e.lang for e in info.rule.explains}, info.id
