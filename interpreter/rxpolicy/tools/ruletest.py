"""Rule tests: YAML files in which a policy expert writes cases and the decisions they must produce.

A policy directory keeps its tests beside its rules, in ``rules/<policy>/tests/*.test.yaml``. Finding
the files, reading them and checking their shape (the format, described in docs/tools/test.md) is
:mod:`rxpolicy.tools.ruletest_format`, whose names this module re-exports; this module prepares the tests
against their policy and runs them.

:func:`load_test_file` checks a file's shape; :func:`prepare` checks it against its policy (decision
names, rule ids, the cases); :func:`run_test` evaluates one prepared test with the trace on and, for a
failure, says which decision, what it was and what was expected, which rules decided and because of
what. Every problem with a test file is a :class:`Diagnostic` at its line and column (RX701-RX708);
a test that fails is a result, not an error. The coverage report and the ``rxpolicy test`` command
are in :mod:`rxpolicy.tools.ruletest_coverage`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import attrs

from rxpolicy.api import PolicyStore
from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean
from rxpolicy.engine.case import Case, case_from_mapping, parse_case
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.evaluate import Evaluation, evaluate
from rxpolicy.engine.trace import RuleStatus
from rxpolicy.explain.views import because
from rxpolicy.explain.words import declared_type, fact_sentence, json_value
from rxpolicy.language import ast
from rxpolicy.language.load import read_rule_files
from rxpolicy.language.types import Kind, Type
from rxpolicy.language.values import add_months, number_text
from rxpolicy.tools.diff_sides import birthdays_of
from rxpolicy.tools.ruletest_format import (
    TEST_SUFFIX,
    Change,
    Expected,
    Named,
    RuleRefs,
    RuleTest,
    TestFile,
    discover,
    display_path,
    find_test_files,
    load_test_file,
    parse_test_file,
)

__all__ = ["Change", "Expected", "Failure", "Named", "PreparedTest", "RuleRefs", "RuleTest", "TestFile",
           "TestResult", "TEST_SUFFIX", "discover", "display_path", "find_test_files", "for_each_policy", "load_test_file",
           "parse_test_file", "policy_for", "prepare", "rule_statuses", "run", "run_test"]

#: `outcome` may be expected like a decision: "covered" or "not_covered", from the `covered` decision.
OUTCOME = "outcome"
_DURATION = re.compile(r"\d+ (day|days|month|months)")
_AMOUNT = re.compile(r"-?\d+(\.\d+)?")


# ----------------------------------------------------------------------------- against the policy

@attrs.frozen(kw_only=True)
class PreparedTest:
    """A test checked against its policy, with its case built (or the error building it, when expected)."""

    file: TestFile
    test: RuleTest
    case: Case | None
    case_error: RxError | None = attrs.field(default=None, eq=False)


def policy_for(test_file: TestFile, store: PolicyStore) -> CompiledPolicy:
    """The compiled policy a file tests (compiled once per content by the store)."""
    try:
        return store.load(test_file.policy)
    except RxError as error:
        # An unknown policy name is the test file's mistake: point at where it is written.
        raise RxError(attrs.evolve(d, span=d.span or test_file.policy_span) for d in error.diagnostics) from None


def prepare(test_file: TestFile, policy: CompiledPolicy) -> tuple[PreparedTest, ...]:
    """Check every name a file uses against the policy and build every case; raises :class:`RxError` with
    every problem (a case that cannot be built is one, unless the test expects that error)."""
    problems: list[Diagnostic] = []
    base: Case | None = None
    if test_file.base_text is not None:
        try:
            base = parse_case(test_file.base_text, path=test_file.display, policy=policy)
        except RxError as error:
            problems.extend(error.diagnostics)
    prepared = []
    for test in test_file.tests:
        problems.extend(_name_problems(test, policy))
        if test.case_text is None and base is None:
            continue  # the base's own problems are reported
        try:
            prepared.append(PreparedTest(file=test_file, test=test, case=_case(test_file, test, base, policy)))
        except RxError as error:
            if test.error is None:
                problems.extend(error.diagnostics)
            else:
                prepared.append(PreparedTest(file=test_file, test=test, case=None, case_error=error))
    if problems:
        raise RxError(dict.fromkeys(problems))
    return tuple(prepared)


def _case(test_file: TestFile, test: RuleTest, base: Case | None, policy: CompiledPolicy) -> Case:
    case = _written_case(test_file, test, base, policy)
    return _into_period(case, policy) if test_file.layer is not None else case


def _into_period(case: Case, policy: CompiledPolicy) -> Case:
    """A layer test's case with every date written in it moved by the whole years that bring its dispensing
    date into the policy's period (unchanged when the policy is in force then, or has no period); a date of birth
    moves by the policy's reading of a 29 February birthday (:func:`rxpolicy.tools.diff_sides.shift_date`)."""
    validity = policy.validity
    if validity is None or validity.contains(case.dispensed_on):
        return case
    start = case.dispensed_on
    day = add_months(start, 12 * (validity.start.year - start.year))
    if not validity.contains(day):
        return case  # no year of the period has this day: evaluation says the policy is not in force
    # A date of birth moves by the policy's reading of a 29 February birthday, as diff and impact move it, so the
    # person is as old in the moved case as the test wrote them.
    birthdays = birthdays_of(policy)
    written: dict[str, object] = {}

    def walk(data: Mapping[str, object], prefix: str) -> None:
        for key, value in data.items():
            path = f"{prefix}{key}"
            if isinstance(value, Mapping):
                walk(value, f"{path}.")
            elif isinstance(written_day := case.get(path), dt.date):
                written[path] = birthdays.move(path, written_day, start, day)

    walk(case.to_mapping(only_changed=True), "")
    return case.replace(written)


def _written_case(test_file: TestFile, test: RuleTest, base: Case | None, policy: CompiledPolicy) -> Case:
    if test.case_text is not None:
        return parse_case(test.case_text, path=test_file.display, policy=policy)
    assert base is not None
    try:
        case = base.replace({change.path.text: change.value for change in test.changes})
        plans = [case.get(p) for p, spec in case.schema.fields.items() if spec.one_of_plans]
        if any(plan is not None and plan not in policy.plans for plan in plans):
            # Case.replace does not know the policy's plans; the case loader says what is wrong.
            case_from_mapping(case.to_mapping(), source=test_file.display, policy=policy)
        return case
    except RxError as error:
        raise RxError(_at_change(d, test) for d in error.diagnostics) from None


def _at_change(diagnostic: Diagnostic, test: RuleTest) -> Diagnostic:
    """A diagnostic about a changed field, pointed at the change that made it."""
    if diagnostic.span is not None:
        return diagnostic
    field = diagnostic.field or ""
    for change in test.changes:
        if field == change.path.text or field.startswith(change.path.text + "."):
            unknown = diagnostic.code == "RX403"
            return attrs.evolve(diagnostic, span=change.path.span if unknown else change.span)
    return attrs.evolve(diagnostic, span=test.span)


def _name_problems(test: RuleTest, policy: CompiledPolicy) -> list[Diagnostic]:
    decisions = {d.name: d.type for d in policy.decisions}
    problems = []
    for expected in test.expect:
        name = expected.decision
        if name.text != OUTCOME and name.text not in decisions:
            problems.append(_unknown_decision(name, [*decisions, OUTCOME], policy))
        elif (wrong := _kind_problem(name.text, decisions.get(name.text), expected.value)) is not None:
            problems.append(Diagnostic(code="RX707", span=expected.span, message=wrong[0], help=wrong[1]))
    for refs in (*test.decided_by, *test.not_decided_by):
        if refs.decision.text not in decisions:
            problems.append(_unknown_decision(refs.decision, list(decisions), policy))
            continue
        problems.extend(_unknown_rule(rule, policy, refs.decision.text) for rule in refs.rules
                        if not any(r.id == rule.text and refs.decision.text in r.decides for r in policy.rules))
    if test.rule is not None and not any(r.id == test.rule.text for r in policy.rules):
        problems.append(_unknown_rule(test.rule, policy, None))
    return problems


def _unknown_decision(name: Named, known: list[str], policy: CompiledPolicy) -> Diagnostic:
    hint = did_you_mean(name.text, known)
    return Diagnostic(code="RX705", span=name.span,
                      message=f"the policy `{policy.name}` has no decision `{name.text}`"
                              + (f"; did you mean `{hint}`?" if hint else ""),
                      help=f"rename it to `{hint}`" if hint else f"its decisions are: {', '.join(known)}")


def _unknown_rule(name: Named, policy: CompiledPolicy, decision: str | None) -> Diagnostic:
    found = [r for r in policy.rules if r.id == name.text]
    if found and decision is not None:
        return Diagnostic(code="RX706", span=name.span,
                          message=f"the rule `{name.text}` does not decide `{decision}` (it decides "
                                  f"{', '.join(found[0].decides)}), so it can never be the rule that decides it",
                          help=f"name a rule that decides `{decision}`, or move it under the decision it decides")
    candidates = [r.id for r in policy.rules if decision is None or decision in r.decides]
    hint = did_you_mean(name.text, candidates) or did_you_mean(name.text, [r.id for r in policy.rules])
    return Diagnostic(code="RX706", span=name.span,
                      message=f"the policy `{policy.name}` has no rule `{name.text}`"
                              + (f"; did you mean `{hint}`?" if hint else ""),
                      help=f"rename it to `{hint}`" if hint else
                      "rule ids are written after `rule` or `row` (a row's id is `table/row`); "
                      "`rxpolicy eval --format json` shows the deciding rule of each decision")


def _kind_problem(name: str, typ: Type | None, value: object) -> tuple[str, str] | None:
    """What is wrong with an expected value for a decision of this type, with the fix (None: nothing)."""
    shown = _show(value)
    if name == OUTCOME:
        ok = value in ("covered", "not_covered")
        return None if ok else (f"`outcome` is `covered` or `not_covered`, not {shown}", "write `outcome: covered`")
    assert typ is not None
    if value is None:
        return None if typ.nullable else (f"`{name}` always has a value, so it cannot be expected to be null",
                                          "write the value it must have")
    bad = {Kind.BOOL: not isinstance(value, bool),
           Kind.MONEY: isinstance(value, bool) or not isinstance(value, (int, Decimal, str))
           or (isinstance(value, str) and not _AMOUNT.fullmatch(value)),
           Kind.DURATION: not (isinstance(value, str) and _DURATION.fullmatch(value))}
    kind = Kind.DURATION if typ.kind is Kind.SUPPLY else typ.kind
    examples = {Kind.BOOL: f"{name}: true", Kind.MONEY: f'{name}: "12.40"', Kind.DURATION: f"{name}: 1 month"}
    if bad.get(kind, False):
        return f"`{name}` is a {typ} decision, so {shown} can never be its value", f"write e.g. `{examples[kind]}`"
    return None


# ----------------------------------------------------------------------------- running

@attrs.frozen(kw_only=True)
class Failure:
    """One expectation that did not hold: a one-line summary and the lines that explain it."""

    summary: str
    details: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class TestResult:
    """The outcome of one test, with each rule's part in its evaluation (empty when nothing was evaluated)."""

    __test__ = False  # not a pytest test class

    file: TestFile
    test: RuleTest
    policy: CompiledPolicy = attrs.field(eq=False, repr=False)
    failures: tuple[Failure, ...]
    #: Rule index (into ``policy.rules``) → what happened to the rule in this test.
    statuses: Mapping[int, RuleStatus]

    @property
    def passed(self) -> bool:
        """Whether every expectation held."""
        return not self.failures

    @property
    def where(self) -> str:
        """``file:line`` of the test (and the policy, for a test of a shared layer)."""
        return f"{self.file.display}:{self.test.span.line}" + (f" ({self.policy.name})" if self.file.layer else "")

    @property
    def message(self) -> str:
        """The failure as the command line and pytest show it: a headline, then why ('' when passed)."""
        if self.passed:
            return ""
        first, *rest = self.failures
        lines = [f"FAILED {self.where}: {self.test.name}: {first.summary}", *(f"    {d}" for d in first.details)]
        for failure in rest:
            lines += [f"  {failure.summary}", *(f"    {d}" for d in failure.details)]
        return "\n".join(lines)


def run(test_file: TestFile, store: PolicyStore) -> list[TestResult]:
    """Run every test of a file against its policy, or each policy built on its layer (compiled once each)."""
    results: list[TestResult] = []
    for one in for_each_policy(test_file):
        policy = policy_for(one, store)
        results.extend(run_test(prepared, policy) for prepared in prepare(one, policy))
    return results


def for_each_policy(test_file: TestFile) -> tuple[TestFile, ...]:
    """The file once per policy it tests: itself, or for a test of a shared layer (a ``tests/`` directory
    beside rule files that declare a layer, not a policy) once per sibling policy built on that layer.

    A layer's rules are the same in every policy built on it, so its tests live with it and must hold in
    each of them; where a policy is not in force on a test's dispensing date, the case's dates are moved
    by whole years into the policy's period (see :func:`prepare`).
    """
    directory = Path(test_file.policy)
    if test_file.policy_span is not None or not directory.is_dir():
        return (test_file,)
    files, _ = read_rule_files(directory)
    if any(isinstance(item, ast.Policy) for f in files for item in f.items):
        return (test_file,)
    layer = directory.resolve().name
    found = []
    for sibling in sorted(p for p in directory.resolve().parent.iterdir() if p.is_dir()):
        declared, _ = read_rule_files(sibling)
        if any(isinstance(item, ast.Policy) and layer in item.built_on for f in declared for item in f.items):
            found.append(attrs.evolve(test_file, policy=str(sibling), layer=layer))
    return tuple(found) or (test_file,)


def run_test(prepared: PreparedTest, policy: CompiledPolicy) -> TestResult:
    """Evaluate one prepared test with the trace on and compare every expectation."""
    test, evaluation, failures = prepared.test, None, []
    if prepared.case is None:
        failures = _error_failures(test, prepared.case_error, "the case could not be built")
    else:
        try:
            evaluation = evaluate(policy, prepared.case, trace=True)
        except RxError as error:
            failures = _error_failures(test, error, "evaluating the case failed")
    if evaluation is not None and test.error is not None:
        failures = [Failure(summary=f"expected error {test.error.text}, but the case was evaluated "
                                    f"(outcome: {evaluation.outcome})")]
    elif evaluation is not None:
        explained: set[str] = set()
        failures = _value_failures(evaluation, test, explained) + _decider_failures(evaluation, test, explained)
    if failures and evaluation is not None and test.rule is not None:
        about = _status_line(evaluation, test.rule.text)
        if not any(about in f.details for f in failures):
            failures[-1] = attrs.evolve(failures[-1], details=(*failures[-1].details,
                                                               f"the rule this test is about: {about}"))
    statuses = rule_statuses(evaluation) if evaluation is not None else {}
    return TestResult(file=prepared.file, test=test, policy=policy, failures=tuple(failures), statuses=statuses)


def rule_statuses(evaluation: Evaluation) -> Mapping[int, RuleStatus]:
    """What happened to every rule of the policy in a traced evaluation, by rule index."""
    assert evaluation.trace is not None, "evaluate with trace=True"
    deciders = tuple({index for indices in evaluation.deciders for index in indices})
    trace = evaluation.trace
    return MappingProxyType({rule.index: trace.status(rule, deciders) for rule in evaluation.policy.rules})


def _error_failures(test: RuleTest, error: RxError | None, what: str) -> list[Failure]:
    assert error is not None
    codes = [d.code for d in error.diagnostics]
    if test.error is not None and test.error.text in codes:
        return []
    said = [f"{d.code}: {d.message}" + (f" ({d.field})" if d.field and d.span is None else "")
            for d in error.diagnostics]
    summary = f"{what}: {said[0]}" if test.error is None else \
        f"expected error {test.error.text}, but {what} with {', '.join(dict.fromkeys(codes))}"
    return [Failure(summary=summary, details=tuple(said[1:] if test.error is None else said))]


def _show(value: object) -> str:
    """A value as JSON shows it: ``"1 month"``, ``"12.40"``, ``true``, ``null`` (a bare number as written)."""
    return str(value) if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else json.dumps(value)


def _got(evaluation: Evaluation, name: str) -> object:
    """A decision's value as a test compares and shows it: the decision JSON's form, by the decision's declared
    type (money ``"1.50"``); a number or percentage as the bare number it is (``0.125``, never cut to cents)."""
    value, typ = evaluation[name].value, declared_type(evaluation.policy, name)
    if isinstance(value, Decimal) and typ is not None and typ.kind in (Kind.NUMBER, Kind.PERCENT):
        return Decimal(number_text(value))
    return json_value(value, typ)


def _same(expected: object, got: object) -> bool:
    """Whether a value in JSON form is what the test expects; amounts compare as numbers (17.5 = "17.50")."""
    if isinstance(expected, bool) or expected is None or isinstance(got, bool) or got is None:
        return expected is got
    def numeric(value: object) -> bool:  # a number, or the text of one (money "17.50", a number as JSON has it)
        return isinstance(value, (int, Decimal)) or (isinstance(value, str) and bool(_AMOUNT.fullmatch(value)))

    if isinstance(got, (str, Decimal)) and numeric(got) and numeric(expected):
        return Decimal(str(got)) == Decimal(str(expected))
    return expected == got


def _rules_text(rules: Sequence[str]) -> str:
    return " and ".join(rules) if rules else "no rule"


def _decided(evaluation: Evaluation, decision: str, explained: set[str]) -> tuple[str, ...]:
    """Which rules decided, where they are written and the facts they rested on (said once per test)."""
    if decision in explained:
        return ()
    explained.add(decision)
    deciders = " and ".join(f"{r.id} ({r.span})" for r in evaluation[decision].rules)
    lines = (f"decided by {deciders}, because:", *(f"  - {s}" for s in because(evaluation, decision)))
    if "\n".join(lines) in explained:  # another decision the same rules made for the same reasons
        return (f"decided by {deciders}, because of the facts above",)
    explained.add("\n".join(lines))
    return lines


def _value_failures(evaluation: Evaluation, test: RuleTest, explained: set[str]) -> list[Failure]:
    failures = []
    for expected in test.expect:
        name = expected.decision.text
        decision = (evaluation.policy.outcome or name) if name == OUTCOME else name
        got = evaluation.outcome if name == OUTCOME else _got(evaluation, name)
        if not _same(expected.value, got):
            failures.append(Failure(summary=f"{name}: expected {_show(expected.value)}, got {_show(got)}",
                                    details=_decided(evaluation, decision, explained)))
    return failures


def _decider_failures(evaluation: Evaluation, test: RuleTest, explained: set[str]) -> list[Failure]:
    failures = []
    for refs in test.decided_by:
        name, wanted = refs.decision.text, [r.text for r in refs.rules]
        got = [r.id for r in evaluation[name].rules]
        if set(got) != set(wanted):
            value = _show(_got(evaluation, name))
            failures.append(Failure(
                summary=f"{name}: expected to be decided by {_rules_text(wanted)}, but {_rules_text(got)} "
                        f"decided it ({value})",
                details=(*(_status_line(evaluation, r, name) for r in wanted if r not in got),
                         *_decided(evaluation, name, explained))))
    for refs in test.not_decided_by:
        name = refs.decision.text
        got = [r.id for r in evaluation[name].rules]
        wrong = [r.text for r in refs.rules if r.text in got]
        if wrong:
            failures.append(Failure(
                summary=f"{name}: decided by {_rules_text(wrong)}, which the test says must not decide it "
                        f"({_show(_got(evaluation, name))})",
                details=_decided(evaluation, name, explained)))
    return failures


def _status_line(evaluation: Evaluation, rule_id: str, decision: str | None = None) -> str:
    """What happened to a rule in this evaluation, and why: the exception that beat it, the test that failed."""
    versions = [r for r in evaluation.policy.rules if r.id == rule_id]
    decision = decision or versions[0].decides[0]
    traces = [t for t in evaluation.explain(decision) if t.rule.id == rule_id]
    rule_trace = next((t for t in traces if t.status is not RuleStatus.NOT_IN_FORCE), traces[0])
    status, line = rule_trace.status, f"{rule_id}: {rule_trace.status.value}"
    if status is RuleStatus.OVERRIDDEN and rule_trace.beaten_by:
        line += f" ({', '.join(r.id for r in rule_trace.beaten_by)})"
    elif status is RuleStatus.NOT_APPLICABLE and (failing := [f for f in rule_trace.facts if not f.holds]):
        line += f": {fact_sentence(failing[-1], evaluation.policy, 'en', evaluation.values_by_name)}"
    elif status is RuleStatus.NOT_IN_FORCE and rule_trace.rule.validity is not None:
        line += f" (in force {rule_trace.rule.validity})"
    return line


