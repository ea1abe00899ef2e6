"""Rule tests (``*.test.yaml``): planted faults in test files, coverage, the command and the pytest plugin.

Test files are written to ``tmp_path``; line and column numbers in the assertions are found in the text
the test wrote, and expected failure texts are worked out through the public API (``evaluate``,
``because``), not copied from the runner's output.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy import CompiledPolicy, PolicyStore, RxError, evaluate, parse_case
from rxpolicy.cli import cli
from rxpolicy.diagnostics import Diagnostic
from rxpolicy.engine.trace import RuleStatus
from rxpolicy.explain.views import because
from rxpolicy.tools.pytest_plugin import RuleTestSession
from rxpolicy.language import ast
from rxpolicy.language.load import registry_beside
from rxpolicy.language.source import Span
from rxpolicy.language.sources import SourceSection, load_registry
from rxpolicy.tools.ruletest import TestResult, discover, find_test_files, for_each_policy, load_test_file, run
from rxpolicy.tools.ruletest_coverage import PolicyCoverage, cited_sections, coverage

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "seeds"

BASE = """\
policy: hollandzorg
base:
  dispensed_on: 2025-03-14
  insured: {born_on: 1970-05-01}
  prescription: {prescriber: gp}
  medicine: {name: amlodipine 5 mg tablet, atc: C08CA01, price: 10.00}
  dispensing: {supply_days: 30, fees: {dispensing: 7.50}}
tests:
"""
#: A benzodiazepine in chronic use: the benzodiazepine exception beats the chronic row.
BENZO = "    changes: {medicine.atc: N05BA04, prescription.chronic: true, dispensing.months_in_use: 8, " \
        "dispensing.adjusted: true}\n"
BENZO_CASE = """\
dispensed_on: 2025-03-14
insured: {born_on: 1970-05-01}
prescription: {prescriber: gp, chronic: true}
medicine: {name: amlodipine 5 mg tablet, atc: N05BA04, price: 10.00}
dispensing: {supply_days: 30, months_in_use: 8, adjusted: true, fees: {dispensing: 7.50}}
"""


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    return PolicyStore()


def write(directory: Path, text: str, name: str = "x.test.yaml") -> Path:
    (directory / "tests").mkdir(parents=True, exist_ok=True)
    path = directory / "tests" / name
    path.write_text(text, encoding="utf-8")
    return path


def run_text(tmp_path: Path, store: PolicyStore, tests: str) -> list[TestResult]:
    return run(load_test_file(write(tmp_path, BASE + tests)), store)


def problems(tmp_path: Path, store: PolicyStore, text: str) -> list[Diagnostic]:
    with pytest.raises(RxError) as caught:
        run(load_test_file(write(tmp_path, text)), store)
    for d in caught.value.diagnostics:
        assert d.message and d.help and d.span is not None, d
    return list(caught.value.diagnostics)


def position(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of ``needle`` in ``text``."""
    starts = [m.start() for m in re.finditer(re.escape(needle), text)]
    offset = starts[nth]
    return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)


def at(d: Diagnostic) -> tuple[str, int, int]:
    assert d.span is not None
    return d.code, d.span.line, d.span.column


# ------------------------------------------------------------------------------------------ running

def test_the_example_of_the_format_passes(tmp_path: Path, store: PolicyStore) -> None:
    [result] = run_text(tmp_path, store, "  - name: benzodiazepine beats the chronic rule\n"
                        "    rule: dispensing-period/benzodiazepines\n" + BENZO +
                        "    expect: {max_supply: 1 month, min_supply: null, covered: true, excess_charged: \"17.50\","
                        " outcome: covered}\n"
                        "    decided_by: {max_supply: dispensing-period/benzodiazepines}\n"
                        "    not_decided_by: {max_supply: dispensing-period/chronic}\n")
    assert result.passed, result.message
    assert result.message == ""


def test_a_wrong_expectation_names_the_decision_what_it_got_and_why(tmp_path: Path, store: PolicyStore) -> None:
    [result] = run_text(tmp_path, store, "  - name: wrong\n" + BENZO + "    expect: {max_supply: 12 months}\n")
    evaluation = evaluate(store.load("hollandzorg"), parse_case(BENZO_CASE))
    assert not result.passed
    assert result.failures[0].summary == 'max_supply: expected "12 months", got "1 month"'
    first_line = result.message.splitlines()[0]
    assert first_line.startswith(f"FAILED {result.where}: wrong: max_supply")
    assert evaluation["max_supply"].rule.id in result.message
    sentences = because(evaluation, "max_supply")
    assert sentences and all(s in result.message for s in sentences)


def test_money_compares_as_an_amount(tmp_path: Path, store: PolicyStore) -> None:
    results = run_text(tmp_path, store, "  - name: string\n    expect: {excess_charged: \"17.50\"}\n"
                                        "  - name: number\n    expect: {excess_charged: 17.5}\n"
                                        "  - name: off by a cent\n    expect: {excess_charged: \"17.49\"}\n")
    assert [r.passed for r in results] == [True, True, False]
    assert results[2].failures[0].summary == 'excess_charged: expected "17.49", got "17.50"'


def test_decided_by_mismatch_says_what_happened_to_the_expected_rule(tmp_path: Path, store: PolicyStore) -> None:
    [result] = run_text(tmp_path, store, "  - name: chronic decides\n" + BENZO +
                        "    decided_by: {max_supply: dispensing-period/chronic}\n")
    [failure] = result.failures
    assert failure.summary == ('max_supply: expected to be decided by dispensing-period/chronic, but '
                               'dispensing-period/benzodiazepines decided it ("1 month")')
    assert failure.details[0] == (f"dispensing-period/chronic: {RuleStatus.OVERRIDDEN.value} "
                                  "(dispensing-period/benzodiazepines)")


def test_decided_by_with_a_list_needs_exactly_those_rules(tmp_path: Path, store: PolicyStore) -> None:
    results = run_text(tmp_path, store, "  - name: one too many\n" + BENZO + "    decided_by: {max_supply: "
                       "[dispensing-period/benzodiazepines, dispensing-period/other]}\n")
    assert not results[0].passed
    assert "dispensing-period/other: " in results[0].message


def test_not_decided_by_violated(tmp_path: Path, store: PolicyStore) -> None:
    [result, fine] = run_text(tmp_path, store, "  - name: the neighbour decides\n" + BENZO +
                              "    not_decided_by: {max_supply: [dispensing-period/other, "
                              "dispensing-period/benzodiazepines]}\n"
                              "  - name: the neighbour does not\n" + BENZO +
                              "    not_decided_by: {max_supply: dispensing-period/chronic}\n")
    assert result.failures[0].summary.startswith(
        "max_supply: decided by dispensing-period/benzodiazepines, which the test says must not decide it")
    assert fine.passed, fine.message


def test_a_rule_that_did_not_apply_is_shown_with_the_test_that_failed(tmp_path: Path, store: PolicyStore) -> None:
    [result] = run_text(tmp_path, store, "  - name: chronic without use\n    rule: dispensing-period/chronic\n"
                        "    changes: {prescription.chronic: true, dispensing.months_in_use: 2, dispensing.adjusted: true}\n"
                        "    decided_by: {max_supply: dispensing-period/chronic}\n")
    status_line = result.failures[0].details[0]
    assert status_line.startswith(f"dispensing-period/chronic: {RuleStatus.NOT_APPLICABLE.value}: ")
    assert "2" in status_line  # the months in use, the test of its `when` that failed
    assert "the rule this test is about" not in result.message  # said once, above


def test_a_failure_says_what_happened_to_the_rule_the_test_is_about(tmp_path: Path, store: PolicyStore) -> None:
    [result] = run_text(tmp_path, store, "  - name: chronic\n    rule: dispensing-period/chronic\n" + BENZO +
                        "    expect: {max_supply: 12 months}\n")
    assert result.message.splitlines()[-1] == (f"    the rule this test is about: dispensing-period/chronic: "
                                                f"{RuleStatus.OVERRIDDEN.value} (dispensing-period/benzodiazepines)")


def test_error_expectations(tmp_path: Path, store: PolicyStore) -> None:
    results = run_text(tmp_path, store, "  - name: out of force\n    changes: {dispensed_on: 2026-01-01}\n"
                                        "    error: RX501\n"
                                        "  - name: another code\n    changes: {dispensed_on: 2026-01-01}\n"
                                        "    error: RX502\n"
                                        "  - name: no error at all\n    changes: {}\n    error: RX501\n"
                                        "  - name: a plan the policy does not know\n"
                                        "    changes: {insured.plan: Compakt}\n    error: RX407\n")
    assert [r.passed for r in results] == [True, False, False, True]
    assert results[1].failures[0].summary == "expected error RX502, but evaluating the case failed with RX501"
    assert results[2].failures[0].summary == "expected error RX501, but the case was evaluated (outcome: covered)"
    assert results[0].statuses == {}


def test_rule_statuses_are_recorded_per_test(tmp_path: Path, store: PolicyStore) -> None:
    [result] = run_text(tmp_path, store, "  - name: benzo\n" + BENZO + "    expect: {covered: true}\n")
    policy = result.policy
    by_id = {policy.rules[i].id: status for i, status in result.statuses.items()}
    assert len(by_id) == len(policy.rules)
    assert by_id["dispensing-period/benzodiazepines"] is RuleStatus.DECIDED
    assert by_id["dispensing-period/chronic"] is RuleStatus.OVERRIDDEN
    assert by_id["dispensing-period/other"] is RuleStatus.NOT_REACHED
    assert by_id["dispensing-period/contraceptive-pill"] is RuleStatus.NOT_APPLICABLE
    assert by_id["authorisation/esketamine-nasal-spray"] is RuleStatus.NOT_IN_FORCE


# ------------------------------------------------------------------------------------------ bad test files

def test_bad_yaml(tmp_path: Path, store: PolicyStore) -> None:
    text = "tests:\n  - name: x\n   expect: {covered: true}\n"
    [d] = problems(tmp_path, store, text)
    assert d.code == "RX701"
    assert d.span is not None and d.span.line == 3


def test_unknown_key_with_a_suggestion(tmp_path: Path, store: PolicyStore) -> None:
    text = BASE + "  - name: x\n    expected: {covered: true}\n"
    [d] = problems(tmp_path, store, text)
    assert at(d) == ("RX702", *position(text, "expected"))
    assert "did you mean `expect`?" in d.message


def test_unknown_decision_rule_and_field(tmp_path: Path, store: PolicyStore) -> None:
    text = BASE + ("  - name: x\n    rule: dispensing-period/chronc\n"
                   "    changes: {medicine.atcc: N05BA04}\n    expect: {coverd: true}\n"
                   "    decided_by: {max_supply: dispensing-period/benzodiazepine}\n")
    found = {d.code: d for d in problems(tmp_path, store, text)}
    assert at(found["RX403"]) == ("RX403", *position(text, "medicine.atcc"))
    assert "`atc`" in found["RX403"].message
    assert at(found["RX705"]) == ("RX705", *position(text, "coverd"))
    assert "did you mean `covered`?" in found["RX705"].message
    rule_problems = [d for d in problems(tmp_path, store, text) if d.code == "RX706"]
    assert [at(d) for d in rule_problems] == [("RX706", *position(text, "dispensing-period/chronc")),
                                             ("RX706", *position(text, "dispensing-period/benzodiazepine"))]
    assert "did you mean `dispensing-period/benzodiazepines`?" in rule_problems[1].message


def test_a_rule_under_a_decision_it_does_not_decide(tmp_path: Path, store: PolicyStore) -> None:
    text = BASE + "  - name: x\n    decided_by: {covered: dispensing-period/chronic}\n"
    [d] = problems(tmp_path, store, text)
    assert at(d) == ("RX706", *position(text, "dispensing-period/chronic"))
    assert "does not decide `covered`" in d.message


def test_expected_values_of_the_wrong_kind(tmp_path: Path, store: PolicyStore) -> None:
    text = BASE + "  - name: x\n    expect: {covered: \"yes\", max_supply: 1 mnth, excess_charged: lots}\n"
    assert [at(d) for d in problems(tmp_path, store, text)] == [
        ("RX707", *position(text, '"yes"')), ("RX707", *position(text, "1 mnth")), ("RX707", *position(text, "lots"))]


def test_shape_problems(tmp_path: Path, store: PolicyStore) -> None:
    text = BASE + ("  - name: twice\n    expect: {covered: true}\n"
                   "  - name: twice\n    expect: {covered: true}\n"
                   "  - name: both\n    error: RX501\n    expect: {covered: true}\n"
                   "  - name: nothing\n"
                   "  - name: bad code\n    error: 501\n")
    found = [at(d) for d in problems(tmp_path, store, text)]
    assert found == [("RX704", *position(text, "name: twice", 1)), ("RX703", *position(text, "error: RX501")),
                     ("RX703", *position(text, "nothing")), ("RX703", *position(text, "501", 1))]


def test_a_bad_base_is_reported_where_it_is_written(tmp_path: Path, store: PolicyStore) -> None:
    text = BASE.replace("supply_days: 30", "supply_days: 0") + "  - name: x\n    expect: {covered: true}\n"
    [d] = problems(tmp_path, store, text)
    line, column = position(text, "supply_days: 0")
    assert at(d) == ("RX405", line, column + len("supply_days: "))


def test_an_unknown_policy_points_at_its_name(tmp_path: Path, store: PolicyStore) -> None:
    text = BASE.replace("policy: hollandzorg", "policy: hollandzrg") + "  - name: x\n    expect: {covered: true}\n"
    [d] = problems(tmp_path, store, text)
    assert at(d) == ("RX601", *position(text, "hollandzrg"))


def test_paths_that_hold_no_tests(tmp_path: Path) -> None:
    with pytest.raises(RxError) as caught:
        find_test_files([tmp_path, tmp_path / "missing"])
    assert sorted(d.code for d in caught.value.diagnostics) == ["RX001", "RX708"]


def test_the_default_is_every_built_in_policys_tests() -> None:
    found = find_test_files()
    assert found and all(p.parent.name == "tests" and p.name.endswith(".test.yaml") for p in found)
    assert {p.parent.parent.name for p in found} <= {p.name for p in (ROOT / "rules").iterdir()}


# ------------------------------------------------------------------------------------------ coverage

LAYER = """\
layer statutory
  title "Test layer"
end

decision covered: yes or no
  explain en "reimbursed"
  explain nl "vergoed"
end
"""


def tiny_rule(rule_id: str, section: str, *body: str) -> str:
    return "\n".join([f"rule {rule_id}", f"  source tiny-text \"'{section}'\"",
                      *(f"  {line}" for line in body), '  explain en "A sentence."', '  explain nl "Een zin."',
                      "end", ""])


TINY = "\n".join([
    'policy tiny\n  title "Tiny"\n  built on statutory\n  in force from 2025-01-01 until 2025-12-31\nend\n',
    tiny_rule("covered/chronic", "Chronic use", "when prescription.chronic", "then covered = yes"),
    tiny_rule("covered/benzodiazepine", "Chronic use", "exception to covered/chronic",
              "when medicine.atc matches N05B*", "then covered = no"),
    tiny_rule("covered/acute", "Acute use", "when prescription.acute and not prescription.chronic",
              "then covered = yes"),
    tiny_rule("covered/otherwise", "Reimbursement for chronic use",
              "when not prescription.chronic and not prescription.acute", "then covered = no"),
])
SOURCES = """\
sources:
  tiny-text:
    kind: document
    title: Tiny's conditions
    cite_as: Tiny, conditions
    publisher: Tiny
    year: 2025
    policies: [tiny]
    sections:
      - {heading: Chronic use, rules_expected: true}
      - {heading: Reimbursement for chronic use, rules_expected: true}
      - {heading: Acute use, rules_expected: true}
      - {heading: Travel, rules_expected: true}
      - {heading: Contact, rules_expected: false, reason: a telephone number}
"""
TINY_TESTS = """\
base:
  dispensed_on: 2025-03-14
  insured: {born_on: 1970-05-01}
  prescription: {prescriber: gp}
  medicine: {name: amlodipine 5 mg tablet, atc: C08CA01, price: 10.00}
  dispensing: {supply_days: 30}
tests:
  - name: chronic use is covered
    changes: {prescription.chronic: true}
    expect: {covered: true}
  - name: a chronic benzodiazepine is not
    changes: {prescription.chronic: true, medicine.atc: N05BA04}
    decided_by: {covered: covered/benzodiazepine}
  - name: otherwise not covered
    expect: {covered: false}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A policy `tiny` of four rules, one of which (covered/acute) no test makes decide."""
    rules = tmp_path / "rules"
    (rules / "statutory").mkdir(parents=True)
    (rules / "statutory" / "layer.rxp").write_text(LAYER, encoding="utf-8")
    (rules / "tiny").mkdir()
    (rules / "tiny" / "policy.rxp").write_text(TINY, encoding="utf-8")
    (rules / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    write(rules / "tiny", TINY_TESTS, "covered.test.yaml")
    return rules


def tiny_coverage(tiny: Path) -> PolicyCoverage:
    store = PolicyStore()
    [report] = coverage([result for f in discover([tiny]) for result in run(f, store)])
    return report


def test_coverage_counts_what_each_rule_did(tiny: Path) -> None:
    report = tiny_coverage(tiny)
    rules = {r.label: r for r in report.rules}
    assert report.policy == "tiny" and report.tests == 3
    assert [r.label for r in report.rules if not r.covered] == ["covered/acute"]
    assert (report.decided, len(report.rules), report.percent) == (3, 4, 75.0)
    assert rules["covered/chronic"].counts[RuleStatus.DECIDED] == 1
    assert rules["covered/chronic"].counts[RuleStatus.OVERRIDDEN] == 1
    assert rules["covered/acute"].counts.get(RuleStatus.DECIDED, 0) == 0
    assert sum(rules["covered/acute"].counts.values()) == 3
    assert report.under(80) and not report.under(75)


def test_coverage_by_cited_text_and_by_source_section(tiny: Path) -> None:
    report = tiny_coverage(tiny)
    partly = [(c.citation, c.uncovered) for c in report.citations if c.uncovered]
    assert partly == [("Tiny, conditions, 'Acute use'", ("covered/acute",))]
    sections = {s.section.heading: s for s in report.sections}
    assert sections["Chronic use"].rules == ("covered/chronic", "covered/benzodiazepine")
    assert sections["Chronic use"].status == "covered"
    # The longer heading wins: `covered/otherwise` cites 'Reimbursement for chronic use', not 'Chronic use'.
    assert sections["Reimbursement for chronic use"].rules == ("covered/otherwise",)
    assert sections["Acute use"].status == "partly covered" and sections["Acute use"].uncovered == ("covered/acute",)
    assert sections["Travel"].status == "not cited"
    assert sections["Contact"].status == "no rules expected"


def cite(text: str, source: str | None = None) -> ast.Citation:
    where = Span(path="x.rxp", line=1, column=1, end_line=1, end_column=1)
    return ast.Citation(text=text, source=source, span=where, source_span=where)


def test_citations_are_matched_per_source() -> None:
    a = SourceSection(source="hz", heading="Consent", rules_expected=True)
    b = SourceSection(source="asr", heading="Consent", rules_expected=True)
    c = SourceSection(source="hz", heading="Reimbursement", rules_expected=True)
    d = SourceSection(source="hz", heading="Reimbursement for medicines", rules_expected=True)
    # 'Reimbursement' is inside the longer heading, which wins; 'Consent' only of the source cited.
    assert cited_sections(cite("'Reimbursement for medicines'", "hz"), [a, b, c, d]) == [d]
    assert cited_sections(cite("'Consent'", "asr"), [a, b, c, d]) == [b]
    assert cited_sections(cite("'Reimbursement', 'Consent'", "hz"), [a, b, c, d]) == [c, a]
    assert cited_sections(cite("Consent (no source named)"), [a, b, c, d]) == []


def test_the_source_registry_quotes_its_seed_texts() -> None:
    """Every heading and passage in rules/sources.yaml is written in its seed text."""
    if not SEEDS.is_dir():
        pytest.skip("the seed texts are not beside the checkout")
    registry = registry_beside(ROOT / "rules" / "hollandzorg")
    assert registry is not None
    # Which archived seed text holds each registry source (the product itself never names the files).
    seeds = {"hollandzorg-2025": "002_3f9fc1b668f8b9ea.txt", "asr-medicine-costs-2026": "000_3627760390af4ab4.txt",
             "asr-pharmacy-procurement-2026": "001_19b04a3ac8ec1b06.txt"}
    sections = [s for source in registry.sources.values() for s in source.sections]
    assert {s.source for s in sections} == set(seeds)
    for section in sections:
        text = " ".join((SEEDS / seeds[section.source]).read_text(encoding="utf-8").split())
        for quoted in section.texts:
            assert " ".join(quoted.split()) in text, (section.source, quoted)
    assert {s.heading for s in registry.sections_for("hollandzorg")} >= {
        "Reimbursement for medicines", "Medicinal care does not include", "How long do we reimburse medicines?",
        "What do I need to keep in mind?", "Consent", "Doctor's note and dispensing chemist's instruction",
        "Authorisation for (resold) chemist's preparations", "Is there a statutory personal contribution?",
        "Are the costs deducted from the compulsory excess?", "Do I have to pay extra for non-contracted care?",
        "Who can provide this type of care?", "Prior permission needed?"}


def test_a_section_that_needs_no_rules_says_why(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(SOURCES.replace(", reason: a telephone number", ""), encoding="utf-8")
    with pytest.raises(RxError) as caught:
        load_registry(path)
    assert caught.value.diagnostics[0].code == "RX709" and "Contact" in caught.value.diagnostics[0].message


# ------------------------------------------------------------------------------------------ the command

def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["test", *args])
    return result.exit_code, result.stdout, result.stderr


def test_command_exit_codes_and_summary(tmp_path: Path) -> None:
    passing = write(tmp_path / "a", BASE + "  - name: ok\n    expect: {covered: true}\n")
    failing = write(tmp_path / "b", BASE + "  - name: ok\n    expect: {covered: true}\n"
                                           "  - name: not ok\n    expect: {covered: false}\n")
    broken = write(tmp_path / "c", BASE + "  - name: x\n    expect: {coverd: true}\n")
    code, out, _ = invoke(str(passing))
    assert (code, out.splitlines()[-1]) == (0, "1 passed, 0 failed")
    code, out, _ = invoke(str(failing))
    lines = out.splitlines()
    assert (code, lines[-1]) == (1, "1 passed, 1 failed")
    assert lines[0].startswith("FAILED ") and "not ok: covered: expected false, got true" in lines[0]
    code, out, err = invoke(str(passing), str(broken))
    assert (code, out) == (2, "")
    assert "RX705" in err and "Traceback" not in err


def test_command_coverage_fail_under_and_json(tiny: Path) -> None:
    code, out, _ = invoke(str(tiny), "--coverage")
    assert code == 0 and "covered/acute" in out and "'Travel'" in out
    assert out.splitlines()[-1] == "3 passed, 0 failed"
    assert invoke(str(tiny), "--fail-under", "80")[0] == 1
    assert invoke(str(tiny), "--fail-under", "75")[0] == 0
    code, out, _ = invoke(str(tiny), "--coverage", "--format", "json")
    data = json.loads(out)
    assert (data["passed"], data["failed"], data["summary"]) == (3, 0, "3 passed, 0 failed")
    [policy] = data["coverage"]
    assert [u["rule"] for u in policy["uncovered"]] == ["covered/acute"]
    assert {s["heading"]: s["status"] for s in policy["sections"]}["Travel"] == "not cited"


# ------------------------------------------------------------------------------------------ pytest plugin

def test_the_plugin_collects_one_item_per_test(pytester: pytest.Pytester) -> None:
    pytester.makefile(".test.yaml", x=BASE + "  - name: passes\n    expect: {covered: true}\n"
                                             "  - name: fails\n    expect: {covered: false}\n")
    result = pytester.runpytest("-p", "no:rxpolicy", "-p", "rxpolicy.tools.pytest_plugin", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*x.test.yaml::passes PASSED*", "*x.test.yaml::fails FAILED*",
                                 "*fails: covered: expected false, got true*"])


def test_the_plugin_reports_a_bad_file_as_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".test.yaml", x=BASE + "  - name: x\n    expect: {coverd: true}\n")
    result = pytester.runpytest("-p", "no:rxpolicy", "-p", "rxpolicy.tools.pytest_plugin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*RX705: the policy `hollandzorg` has no decision `coverd`*"])


def test_the_plugin_leaves_other_projects_yaml_tests_alone(pytester: pytest.Pytester) -> None:
    # issue 13.5: installed anywhere, the plugin claimed every *.test.yaml and an unrelated one aborted the run.
    pytester.makefile(".test.yaml", k8s="apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n",
                      policyish="policy: {allow: all}\nrules: [a, b]\n",
                      broken="key: [unclosed\n")
    pytester.makepyfile(test_own="import yaml\n\ndef test_reads_its_yaml():\n"
                                 "    assert yaml.safe_load(open('k8s.test.yaml'))['kind'] == 'Pod'\n")
    pytester.makefile(".test.yaml", rules=BASE + "  - name: passes\n    expect: {covered: true}\n")
    result = pytester.runpytest("-p", "no:rxpolicy", "-p", "rxpolicy.tools.pytest_plugin", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*rules.test.yaml::passes PASSED*", "*test_own.py::test_reads_its_yaml PASSED*"])
    assert "k8s" not in result.stdout.str() and "broken" not in result.stdout.str()


def test_a_file_in_the_tests_directory_of_a_policy_is_a_rule_test_without_naming_its_policy(tmp_path: Path) -> None:
    from rxpolicy.tools.pytest_plugin import is_rule_test_file

    (tmp_path / "mine" / "tests").mkdir(parents=True)
    (tmp_path / "mine" / "policy.rxp").write_text("policy mine\nend\n", encoding="utf-8")
    beside_rules = tmp_path / "mine" / "tests" / "x.test.yaml"
    beside_rules.write_text("tests: []\n", encoding="utf-8")
    elsewhere = tmp_path / "x.test.yaml"
    elsewhere.write_text("tests: []\n", encoding="utf-8")
    assert is_rule_test_file(beside_rules) and not is_rule_test_file(elsewhere)
    assert all(is_rule_test_file(p) for p in ROOT.glob("rules/*/tests/*.test.yaml"))


def test_a_layers_tests_run_against_every_policy_built_on_it() -> None:
    # issue 13.6: the model layer had no tests; a.s.r. kept copies of HollandZorg's with the year changed.
    store = PolicyStore()
    (periods,) = discover([ROOT / "rules" / "model" / "tests" / "dispensing_periods.test.yaml"])
    assert periods.layer is None and "policy:" not in periods.path.read_text(encoding="utf-8").split("tests:")[0]
    copies = for_each_policy(periods)
    assert sorted(Path(c.policy).name for c in copies) == ["asr", "hollandzorg"] and {c.layer for c in copies} == {
        "model"}
    results = run(periods, store)
    by_policy = {name: [r for r in results if r.policy.name == name] for name in ("asr", "hollandzorg")}
    assert len(by_policy["asr"]) == len(by_policy["hollandzorg"]) == len(periods.tests) > 10
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    assert all(r.where.endswith(f"({r.policy.name})") for r in results)
    assert not (ROOT / "rules" / "asr" / "tests" / "dispensing_periods.test.yaml").exists()


def test_a_layer_test_that_fails_for_one_policy_says_which(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    asr_periods = tmp_path / "rules" / "asr" / "periods.rxp"
    asr_periods.write_text(
        'rule dispensing-period/asr-short\n  exception to dispensing-period/other\n  source "test"\n'
        "  when medicine.atc matches C08*\n  then max_supply = at most 14 days\n         min_supply = not applicable\n"
        '  explain en "x"\n  explain nl "x"\nend\n', encoding="utf-8")
    (periods,) = discover([tmp_path / "rules" / "model" / "tests" / "dispensing_periods.test.yaml"])
    failed = [r for r in run(periods, PolicyStore()) if not r.passed]
    assert failed and {r.policy.name for r in failed} == {"asr"}
    assert all("(asr)" in r.message for r in failed)


def test_the_session_compiles_each_policy_once() -> None:
    session, calls = RuleTestSession(), []

    def load() -> CompiledPolicy:
        calls.append("hollandzorg")
        return session.store.load("hollandzorg")

    policies = {id(session.policy("hollandzorg", load)) for _ in range(3)}
    assert len(calls) == 1 and len(policies) == 1


# ------------------------------------------------------------------------------------------ the guide

def test_the_failure_shown_in_the_guide_is_what_rxpolicy_prints(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    guide = (ROOT / "docs" / "tools" / "test.md").read_text(encoding="utf-8")
    example = re.search(r"<!-- file: tests/example.test.yaml -->\n```yaml\n(.*?)```", guide, re.DOTALL)
    shown = re.search(r"<!-- output of: rxpolicy test tests/example.test.yaml -->\n```text\n(.*?)```", guide,
                      re.DOTALL)
    assert example and shown, "docs/tools/test.md shows an example test file and its output"
    write(tmp_path, example.group(1), "example.test.yaml")
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("tests/example.test.yaml")
    assert (code, out) == (1, shown.group(1))


def test_the_guide_names_every_code_of_the_rule_tests() -> None:
    guide = (ROOT / "docs" / "tools" / "test.md").read_text(encoding="utf-8")
    sources = "".join((ROOT / "interpreter" / "rxpolicy" / "tools" / name).read_text(encoding="utf-8")
                      for name in ("ruletest.py", "ruletest_format.py", "ruletest_coverage.py"))
    codes = set(re.findall(r'"(RX7\d\d)"', sources))
    assert codes and all(f"| {code} |" in guide for code in codes), sorted(codes)


def test_a_layer_test_moved_into_another_year_keeps_a_29_february_birthday(tmp_path: Path) -> None:
    # Born 29 February 2008, dispensed 28 February 2026: 17 by the declared reading (18 on 1 March), so no excess.
    # Moved into HollandZorg's 2025 the person must stay 17; moving the date of birth as a calendar day (28
    # February 2007) made them 18 the day before and the test failed for HollandZorg alone.
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    test_file = tmp_path / "rules" / "model" / "tests" / "leap_day.test.yaml"
    test_file.write_text(
        "base:\n  dispensed_on: 2026-02-28\n  insured: {born_on: 2008-02-29}\n  prescription: {prescriber: gp}\n"
        "  medicine: {name: amlodipine 5 mg tablet, atc: C08CA01, price: 10.00}\n"
        "  dispensing: {supply_days: 30, fees: {dispensing: 7.50}}\n"
        "tests:\n  - name: the day before an 18th birthday on 29 February is under 18\n"
        "    rule: excess-exempt/under-18\n    changes: {}\n    expect: {excess_exempt: true}\n"
        "    decided_by: {excess_exempt: excess-exempt/under-18}\n", encoding="utf-8")
    (tests,) = discover([test_file])
    results = run(tests, PolicyStore())
    assert sorted(r.policy.name for r in results) == ["asr", "hollandzorg"]
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
