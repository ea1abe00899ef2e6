"""`rxpolicy check`'s findings (RX370-RX374), each planted in a small policy in ``tmp_path``.

Every finding's witness is taken from the printed diagnostic (the YAML under "for example, this
case:"), loaded as a case file and evaluated: it must really show the problem, a conflict (RX503),
a gap (RX502), a missing amount (RX504), a computation that fails (RX505) or a rule that applies
and still does not decide.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy import api
from rxpolicy.cli import cli
from rxpolicy.diagnostics import RxError, Severity
from rxpolicy.engine.case import Case, parse_case
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.evaluate import evaluate
from rxpolicy.language.load import builtin_policies
from rxpolicy.tools.analysis import Analysis, Finding, analyse

LAYER = '''\
layer statutory
  kind statutory
end

decision max_supply: supply limit
  explain en "the longest period"
end

decision covered: yes or no
  explain en "reimbursed"
end

decision authorisation_required: yes or no
  explain en "authorisation needed"
end

decision plan_pays: money
  explain en "what the plan pays"
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
    """A rule with a source and patient sentences."""
    return "\n".join([f"rule {rule_id}", '  source "seed"', *(f"  {b}" for b in body),
                      '  explain en "A sentence."', '  explain nl "Een zin."', "end", ""])


def row(row_id: str, *body: str) -> str:
    return "\n".join([f"  row {row_id}", *(f"    {b}" for b in body), '    explain en "A row."',
                      '    explain nl "Een rij."', ""])


def table(table_id: str, decides: str, *rows: str) -> str:
    return "\n".join([f"table {table_id}", f"  decides {decides}", '  source "seed"', *rows, "end", ""])


#: Rules deciding every decision of the layer for every case; each test replaces the ones it breaks.
PLAIN = {
    "max_supply": rule("period/any", "then max_supply = at most 1 month"),
    "covered": rule("cover/all", "then covered = yes"),
    "authorisation_required": rule("auth/none", "then authorisation_required = no"),
    "plan_pays": rule("plan/none", "then plan_pays = 0.00 EUR"),
}


class Planted:
    """A policy ``p`` on the layer ``statutory``, its rules the plain ones with some replaced."""

    def __init__(self, root: Path, policy: str = POLICY, **rules: str) -> None:
        self.root = root
        (root / "statutory").mkdir()
        (root / "p").mkdir()
        (root / "statutory" / "layer.rxp").write_text(LAYER, encoding="utf-8")
        (root / "p" / "policy.rxp").write_text(policy, encoding="utf-8")
        self.text = "\n".join({**PLAIN, **rules}.values())
        (root / "p" / "rules.rxp").write_text(self.text, encoding="utf-8")
        self.policy: CompiledPolicy = api.load_policy(str(root / "p"))
        self.analysis: Analysis = analyse(self.policy)

    @property
    def codes(self) -> list[str]:
        return sorted(f.code for f in self.analysis.findings)

    def only(self, code: str) -> Finding:
        assert self.codes == [code], [f.diagnostic.message for f in self.analysis.findings]
        finding = self.analysis.findings[0]
        diagnostic = finding.diagnostic
        assert diagnostic.code == code and diagnostic.severity is Severity.ERROR
        assert diagnostic.message and diagnostic.help and diagnostic.span is not None
        return finding

    def line(self, text: str) -> int:
        """The line of the rule file a piece of text is on."""
        return self.text[:self.text.index(text)].count("\n") + 1

    def witness(self, finding: Finding) -> Case:
        """The case printed under the finding, loaded as a case file."""
        notes = finding.diagnostic.notes
        start = notes.index("for example, this case:") + 1
        lines = []
        for note in notes[start:]:
            if not note.startswith("  "):
                break
            lines.append(note[2:])
        return parse_case("\n".join(lines) + "\n", path="witness.yaml", plans=self.policy.plans)

    def fails_with(self, case: Case) -> list[str]:
        with pytest.raises(RxError) as caught:
            evaluate(self.policy, case)
        return [d.code for d in caught.value.diagnostics]


# ---------------------------------------------------------------------------------------------- clean

def test_a_policy_whose_rules_fit_together_has_no_findings(tmp_path: Path) -> None:
    planted = Planted(tmp_path, max_supply=table(
        "period", "max_supply",
        row("pill", "when medicine.atc matches G03A* and medicine.route is oral", "then max_supply = at most 12 months"),
        row("benzodiazepines", "when medicine.atc matches N05BA*", "then max_supply = at most 15 days"),
        row("anxiolytics", "when medicine.atc matches N05B*", "then max_supply = at most 1 month"),
        row("other", "then max_supply = at most 3 months")),
        covered=rule("cover/treatment", "when prescription.purpose is treatment", "then covered = yes")
        + rule("cover/other", "when not (prescription.purpose is treatment)", "then covered = no"),
        authorisation_required=rule("auth/none", "then authorisation_required = no")
        + rule("auth/nasal", "exception to auth/none", "when medicine.route is nasal and insured.age >= 18",
               "then authorisation_required = yes")
        + rule("auth/nasal-children", "exception to auth/nasal", "when insured.age < 65",
               "then authorisation_required = no"))
    assert planted.analysis.findings == ()
    assert planted.analysis.cases > 0 and planted.analysis.periods == 1


def test_the_analysis_is_deterministic(tmp_path: Path) -> None:
    first = Planted(tmp_path, covered=rule("cover/a", "when prescription.purpose is treatment", "then covered = yes"))
    again = analyse(first.policy)
    assert [f.diagnostic for f in again.findings] == [f.diagnostic for f in first.analysis.findings]
    assert again.cases == first.analysis.cases


def test_a_policy_without_dates_is_explored_on_a_fixed_day_not_today(tmp_path: Path) -> None:
    """docs/tools/check.md: a policy without any date is explored as dispensed on 2025-01-01."""
    undated = POLICY.replace("  in force from 2023-01-01 until 2025-12-31\n", "")
    planted = Planted(tmp_path, undated, covered=rule("cover/a", "when prescription.purpose is treatment",
                                                      "then covered = yes"))
    finding = planted.only("RX372")
    assert finding.witness is not None and finding.witness.dispensed_on == dt.date(2025, 1, 1)
    assert planted.witness(finding).dispensed_on == dt.date(2025, 1, 1)


# ------------------------------------------------------------------------------------------ RX370

def test_rx370_a_row_below_a_row_that_always_applies_where_it_would(tmp_path: Path) -> None:
    planted = Planted(tmp_path, max_supply=table(
        "period", "max_supply",
        row("anxiolytics", "when medicine.atc matches N05B*", "then max_supply = at most 1 month"),
        row("benzodiazepines", "when medicine.atc matches N05BA*", "then max_supply = at most 15 days"),
        row("other", "then max_supply = at most 3 months")))
    finding = planted.only("RX370")
    assert finding.rules == ("period/benzodiazepines", "period/anxiolytics")
    assert finding.decision == "max_supply"
    message = finding.diagnostic.message
    assert f"rules.rxp:{planted.line('row benzodiazepines')})" in message and "`max_supply`" in message
    assert f"rules.rxp:{planted.line('row anxiolytics')})" in message
    case = planted.witness(finding)
    assert str(case.get("medicine.atc")).startswith("N05BA")  # the row's own condition holds
    assert [r.id for r in evaluate(planted.policy, case)["max_supply"].rules] == ["period/anxiolytics"]


def test_rx370_a_general_rule_whose_exception_has_the_same_condition(tmp_path: Path) -> None:
    planted = Planted(tmp_path, authorisation_required=(
        rule("auth/none", "then authorisation_required = no")
        + rule("auth/nasal", "exception to auth/none", "when medicine.route is nasal",
               "then authorisation_required = yes")
        + rule("auth/nasal-for-all", "exception to auth/nasal", "when medicine.route is nasal",
               "then authorisation_required = no")))
    finding = planted.only("RX370")
    assert finding.rules == ("auth/nasal", "auth/nasal-for-all")
    assert "exception" in finding.diagnostic.message and "auth/nasal-for-all" in (finding.diagnostic.help or "")
    case = planted.witness(finding)
    assert case.get("medicine.route") == "nasal"  # where the general rule applies ...
    decided = evaluate(planted.policy, case)["authorisation_required"]
    assert [r.id for r in decided.rules] == ["auth/nasal-for-all"]  # ... its exception decides


def test_rx370_a_condition_that_never_holds_has_no_witness_and_says_why(tmp_path: Path) -> None:
    planted = Planted(tmp_path, plan_pays=(
        rule("plan/none", "then plan_pays = 0.00 EUR")
        + rule("plan/children", "exception to plan/none", "when insured.age < 18 and insured.age >= 65",
               "then plan_pays = 5.00 EUR")))
    finding = planted.only("RX370")
    assert finding.rules == ("plan/children",) and finding.witness is None
    assert "never holds" in finding.diagnostic.message
    assert "for example, this case:" not in finding.diagnostic.notes
    (why,) = finding.diagnostic.notes
    assert "no case can show this" in why and "`insured.born_on`" in why


def test_a_row_that_decides_only_some_cases_below_another_is_not_reported(tmp_path: Path) -> None:
    planted = Planted(tmp_path, max_supply=table(
        "period", "max_supply",
        row("benzodiazepines", "when medicine.atc matches N05BA*", "then max_supply = at most 15 days"),
        row("chronic", "when prescription.chronic", "then max_supply = at most 3 months"),
        row("other", "then max_supply = at most 1 month")))
    assert planted.analysis.findings == ()


def test_a_condition_beyond_the_representative_values_is_not_reported(tmp_path: Path) -> None:
    """Days insured are worked out from two dates: no value below 100 is tried, and none is claimed impossible."""
    planted = Planted(tmp_path, plan_pays=(
        rule("plan/none", "then plan_pays = 0.00 EUR")
        + rule("plan/short-insurance", "exception to plan/none", "when insured.days_insured < 100",
               "then plan_pays = 5.00 EUR")))
    assert planted.analysis.findings == ()
    case = parse_case("dispensed_on: 2024-03-01\ninsured: {born_on: 1980-01-01, insured_from: 2024-02-01, insured_until: 2024-04-30}\n"
                      "prescription: {prescriber: gp}\nmedicine: {name: x, atc: C08CA01, price: 1.00}\n"
                      "dispensing: {supply_days: 30}\n")
    assert evaluate(planted.policy, case)["plan_pays"].rule.id == "plan/short-insurance"


# ------------------------------------------------------------------------------------------ RX371

def test_rx371_two_rules_overlap_on_one_choice(tmp_path: Path) -> None:
    planted = Planted(tmp_path, covered=(
        rule("cover/care", "when prescription.purpose is one of treatment, research", "then covered = yes")
        + rule("cover/excluded", "when prescription.purpose is one of research, travel_sickness, compassionate_use",
               "then covered = no")))
    finding = planted.only("RX371")
    assert set(finding.rules) == {"cover/care", "cover/excluded"} and finding.decision == "covered"
    assert f"rules.rxp:{planted.line('rule cover/care')})" in finding.diagnostic.message
    case = planted.witness(finding)
    assert case.get("prescription.purpose") == "research"
    assert planted.fails_with(case) == ["RX503"]


def test_rx371_a_sibling_exception_that_disagrees(tmp_path: Path) -> None:
    planted = Planted(tmp_path, plan_pays=(
        rule("plan/none", "then plan_pays = 0.00 EUR")
        + rule("plan/appendix-2", "exception to plan/none", "when medicine.appendix_2", "then plan_pays = 5.00 EUR")
        + rule("plan/chronic", "exception to plan/none", "when prescription.chronic", "then plan_pays = 7.50 EUR")))
    finding = planted.only("RX371")
    assert set(finding.rules) == {"plan/appendix-2", "plan/chronic"}
    case = planted.witness(finding)
    assert case.get("medicine.appendix_2") is True and case.get("prescription.chronic") is True
    assert planted.fails_with(case) == ["RX503"]


# ------------------------------------------------------------------------------------------ RX372

def test_rx372_no_rule_for_one_choice(tmp_path: Path) -> None:
    planted = Planted(tmp_path, covered=(
        rule("cover/care", "when prescription.purpose is treatment", "then covered = yes")
        + rule("cover/excluded", "when prescription.purpose is one of research, travel_sickness",
               "then covered = no")))
    finding = planted.only("RX372")
    assert finding.decision == "covered" and set(finding.rules) == {"cover/care", "cover/excluded"}
    case = planted.witness(finding)
    assert case.get("prescription.purpose") == "compassionate_use"
    assert planted.fails_with(case) == ["RX502"]


# ------------------------------------------------------------------------------------------ RX373

def test_rx373_a_parameter_whose_values_leave_a_hole_in_the_policy_period(tmp_path: Path) -> None:
    allowance = ('parameter allowance: money\n  source "seed"\n'
                 "  value 5.00 EUR in force from 2023-01-01 until 2023-12-31\n"
                 "  value 6.00 EUR in force from 2025-01-01 until 2025-12-31\nend\n")
    planted = Planted(tmp_path, plan_pays=allowance + rule("plan/allowance", "then plan_pays = allowance"))
    finding = planted.only("RX373")
    assert finding.parameter == "allowance" and finding.rules == ("plan/allowance",)
    assert (finding.start, finding.end) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    case = planted.witness(finding)
    assert case.dispensed_on.year == 2024
    assert planted.fails_with(case) == ["RX504"]


def test_rx373_a_decision_no_rule_decides_after_mid_period(tmp_path: Path) -> None:
    planted = Planted(tmp_path, plan_pays=rule("plan/none", "then plan_pays = 0.00 EUR",
                                               "in force from 2023-01-01 until 2024-06-30"))
    finding = planted.only("RX373")
    assert finding.decision == "plan_pays" and finding.rules == ("plan/none",)
    assert (finding.start, finding.end) == (dt.date(2024, 7, 1), dt.date(2025, 12, 31))
    case = planted.witness(finding)
    assert case.dispensed_on >= dt.date(2024, 7, 1)
    assert planted.fails_with(case) == ["RX502"]
    before = case.replace({"dispensed_on": dt.date(2024, 6, 30)})
    assert evaluate(planted.policy, before)["plan_pays"].rule.id == "plan/none"


def test_rx373_a_rule_that_ends_mid_period_leaves_its_cases_undecided(tmp_path: Path) -> None:
    planted = Planted(tmp_path, plan_pays=(
        rule("plan/children", "when insured.age < 18", "then plan_pays = 5.00 EUR",
             "in force from 2023-01-01 until 2024-06-30")
        + rule("plan/adults", "when insured.age >= 18", "then plan_pays = 0.00 EUR")))
    finding = planted.only("RX373")
    assert finding.rules == ("plan/children",)
    assert "2024-07-01" in finding.diagnostic.message
    case = planted.witness(finding)
    assert case.dispensed_on >= dt.date(2024, 7, 1) and case.get("insured.age") < 18  # type: ignore[operator]
    assert planted.fails_with(case) == ["RX502"]


def test_rx373_two_dated_versions_in_force_at_the_same_time(tmp_path: Path) -> None:
    planted = Planted(tmp_path, plan_pays=(
        rule("plan/old", "then plan_pays = 0.00 EUR", "in force from 2023-01-01 until 2024-06-30")
        + rule("plan/new", "then plan_pays = 5.00 EUR", "in force from 2024-01-01")))
    finding = planted.only("RX373")
    assert set(finding.rules) == {"plan/old", "plan/new"}
    assert "from 2024-01-01 to 2024-06-30" in finding.diagnostic.message
    case = planted.witness(finding)
    assert dt.date(2024, 1, 1) <= case.dispensed_on <= dt.date(2024, 6, 30)
    assert planted.fails_with(case) == ["RX503"]


# ------------------------------------------------------------------------------------------ RX374

def test_rx374_a_condition_that_divides_by_a_field_that_can_be_0(tmp_path: Path) -> None:
    planted = Planted(tmp_path, plan_pays=(
        rule("plan/none", "then plan_pays = 0.00 EUR")
        + rule("plan/first-month", "exception to plan/none", "when 100 / dispensing.months_in_use > 50",
               "then plan_pays = 5.00 EUR")))
    finding = planted.only("RX374")
    assert finding.rules == ("plan/first-month",) and finding.decision == "plan_pays"
    assert finding.definition is None
    message, span = finding.diagnostic.message, finding.diagnostic.span
    assert "`plan/first-month` (" in message and f"rules.rxp:{planted.line('rule plan/first-month')})" in message
    assert "`dispensing.months_in_use`" in message and "`plan_pays`" in message
    assert span is not None and span.line == planted.line("when 100 /")
    assert "`when dispensing.months_in_use > 0 and …`" in (finding.diagnostic.help or "")
    case = planted.witness(finding)
    assert case.get("dispensing.months_in_use") == 0
    assert planted.fails_with(case) == ["RX505"]
    assert evaluate(planted.policy, case.replace({"dispensing.months_in_use": 1}))["plan_pays"].rule.id \
        == "plan/first-month"


def test_rx374_a_definition_that_divides_names_the_definition_and_the_rule(tmp_path: Path) -> None:
    definition = 'define per_month = 10.00 EUR / dispensing.months_in_use\n  explain en "the amount per month"\n\n'
    planted = Planted(tmp_path, plan_pays=definition + (
        rule("plan/none", "then plan_pays = 0.00 EUR")
        + rule("plan/monthly", "exception to plan/none", "when per_month < 3.00 EUR", "then plan_pays = per_month")))
    finding = planted.only("RX374")
    assert finding.definition == "per_month" and finding.rules == ("plan/monthly",)
    assert "the definition `per_month`" in finding.diagnostic.message
    assert finding.diagnostic.span is not None and finding.diagnostic.span.line == planted.line("define per_month")
    assert [label for label, _ in finding.diagnostic.related] == ["`plan/monthly`"]
    assert planted.fails_with(planted.witness(finding)) == ["RX505"]


def test_a_division_guarded_as_the_help_says_is_not_a_finding(tmp_path: Path) -> None:
    planted = Planted(tmp_path, plan_pays=(
        rule("plan/none", "then plan_pays = 0.00 EUR")
        + rule("plan/first-month", "exception to plan/none",
               "when dispensing.months_in_use > 0 and 100 / dispensing.months_in_use > 50",
               "then plan_pays = 5.00 EUR")))
    assert planted.analysis.findings == ()


def test_check_reports_rx374_and_exits_2(tmp_path: Path) -> None:
    Planted(tmp_path, plan_pays=(
        rule("plan/none", "then plan_pays = 0.00 EUR")
        + rule("plan/first-month", "exception to plan/none", "when 100 / dispensing.months_in_use > 50",
               "then plan_pays = 5.00 EUR")))
    code, out, err = _run(tmp_path)
    assert code == 2 and out == ""
    assert ": RX374: the condition of the rule `plan/first-month`" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------ the command

def _run(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["check", *args, str(root / "p")])
    return result.exit_code, result.stdout, result.stderr


def test_check_prints_findings_with_their_case_and_exits_2(tmp_path: Path) -> None:
    Planted(tmp_path, covered=(
        rule("cover/care", "when prescription.purpose is one of treatment, research", "then covered = yes")
        + rule("cover/excluded", "when prescription.purpose is research", "then covered = no")))
    code, out, err = _run(tmp_path)
    assert code == 2 and out == ""
    assert ": RX371: the rules `cover/care`" in err
    assert "\n  for example, this case:\n    dispensed_on: 2023-01-01\n" in err
    assert "    prescription:\n      prescriber: gp\n      purpose: research\n" in err
    assert "Traceback" not in err


def test_check_without_analysis_only_checks(tmp_path: Path) -> None:
    Planted(tmp_path, covered=rule("cover/care", "when prescription.purpose is treatment", "then covered = yes"))
    code, out, err = _run(tmp_path, "--no-analysis")
    assert code == 0 and out.startswith("ok  p:") and "explored" not in out and "RX37" not in err
    code, out, err = _run(tmp_path)
    assert code == 2 and ": RX372: " in err


def test_check_of_a_clean_policy_says_how_much_it_explored(tmp_path: Path) -> None:
    Planted(tmp_path)
    code, out, err = _run(tmp_path)
    assert code == 0, err
    assert out.splitlines()[0].startswith("ok  p: 4 rules")
    assert out.splitlines()[1].startswith("    explored ")


def _unprovable(tmp_path: Path) -> Planted:
    """A rule whose exception applies wherever it does, on days insured: beyond what is explored exhaustively."""
    return Planted(tmp_path, plan_pays=(
        rule("plan/none", "then plan_pays = 0.00 EUR")
        + rule("plan/short-insurance", "exception to plan/none", "when insured.days_insured < 100",
               "then plan_pays = 5.00 EUR")
        + rule("plan/shorter-insurance", "exception to plan/short-insurance", "when insured.days_insured < 200",
               "then plan_pays = 6.00 EUR")))


def test_a_rule_that_could_not_be_checked_for_never_deciding_is_counted(tmp_path: Path) -> None:
    planted = _unprovable(tmp_path)
    assert planted.analysis.findings == ()
    assert planted.analysis.unproven == ("plan/short-insurance",)


def test_check_names_the_rules_it_could_not_check_instead_of_claiming_none_is_shadowed(tmp_path: Path) -> None:
    _unprovable(tmp_path)
    code, out, err = _run(tmp_path)
    assert code == 0, err
    summary = out.splitlines()[1]
    assert "no shadowed rules" not in summary
    assert summary.endswith(": no overlaps, gaps or holes in validity; 1 rule could not be checked for never "
                            "deciding: plan/short-insurance")


@pytest.mark.parametrize("name", [p.name for p in builtin_policies()])
def test_the_built_in_policies_come_out_clean(name: str) -> None:
    analysis = analyse(api.load_policy(name))
    assert [f.diagnostic.message for f in analysis.findings] == []
    assert analysis.unproven == ()
    assert analysis.cases > 1000


# ------------------------------------------------------------------------------------------ docs/tools/check.md

def test_the_example_in_the_guide_is_what_check_prints(tmp_path: Path) -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "tools" / "check.md").read_text(encoding="utf-8")
    files = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)^```", guide, re.MULTILINE | re.DOTALL)
    assert [path for path, _ in files] == ["statutory/layer.rxp", "demo/policy.rxp", "demo/rules.rxp"]
    for path, text in files:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    (shown,) = re.findall(r"<!-- output of: rxpolicy check demo -->\n```text\n(.*?)^```", guide,
                          re.MULTILINE | re.DOTALL)
    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(cli, ["check", "demo"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == shown, result.stderr
    assert {code for code in re.findall(r": (RX37\d): ", shown)} == {"RX370", "RX371", "RX372", "RX373"}
