"""Rule tests: YAML files in which a policy expert writes cases and the decisions they must produce.

A policy directory keeps its tests beside its rules, in ``rules/<policy>/tests/*.test.yaml``. A file has
an optional ``policy`` (default: the directory that holds ``tests/``), an optional ``base`` case and a
list of ``tests``; a test builds its case from the base with dotted ``changes`` (or writes a whole
``case``) and expects decision values (``expect``), deciding rules (``decided_by``), rules that must not
decide (``not_decided_by``) or an error code (``error``). The format is described in docs/tools/test.md.

:func:`load_test_file` checks a file's shape; :func:`prepare` checks it against its policy (decision
names, rule ids, the cases); :func:`run_test` evaluates one prepared test with the trace on and, for a
failure, says which decision, what it was and what was expected, which rules decided and because of
what. Every problem with a test file is a :class:`Diagnostic` at its line and column (RX701-RX708);
a test that fails is a result, not an error. The coverage report and the ``rxpolicy test`` command
are in :mod:`rxpolicy.ruletest_coverage`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType

import attrs
import yaml

from .api import PolicyStore
from .case import Case, case_from_mapping, parse_case
from .compile import CompiledPolicy, RuleMeta
from .diagnostics import Diagnostic, RxError, did_you_mean
from .evaluate import Evaluation, evaluate
from .load import builtin_policies, builtin_rules_dir
from .render.explain import because
from .render.words import fact_sentence, json_value
from .source import SourceFile, Span
from .trace import RuleStatus
from .types import Kind, Type

__all__ = ["Change", "Expected", "Failure", "Named", "PreparedTest", "RuleRefs", "RuleTest", "TestFile",
           "TestResult", "TEST_SUFFIX", "discover", "display_path", "find_test_files", "load_test_file",
           "parse_test_file", "policy_for", "prepare", "rule_statuses", "run", "run_test"]

TEST_SUFFIX = ".test.yaml"
FILE_KEYS = ("policy", "base", "tests")
TEST_KEYS = ("name", "rule", "changes", "case", "expect", "decided_by", "not_decided_by", "error")
#: `outcome` may be expected like a decision: "covered" or "not_covered", from the `covered` decision.
OUTCOME = "outcome"
_ERROR_CODE = re.compile(r"RX\d{3}")
_DURATION = re.compile(r"\d+ (day|days|month|months)")
_AMOUNT = re.compile(r"-?\d+(\.\d+)?")


# ----------------------------------------------------------------------------- the file, as read

@attrs.frozen(kw_only=True)
class Named:
    """A name written in a test file (a decision, a rule id, a field path, a code), with where it is."""

    text: str
    span: Span


@attrs.frozen(kw_only=True)
class Change:
    """One dotted-path change to the base case, its value as plain Python (money as ``Decimal``)."""

    path: Named
    value: object
    span: Span


@attrs.frozen(kw_only=True)
class Expected:
    """One expected decision value, in the contract's JSON form (a bare number is an exact ``Decimal``)."""

    decision: Named
    value: object
    span: Span


@attrs.frozen(kw_only=True)
class RuleRefs:
    """The rules named for one decision under ``decided_by`` or ``not_decided_by``."""

    decision: Named
    rules: tuple[Named, ...]


@attrs.frozen(kw_only=True)
class RuleTest:
    """One test of a file: how its case is built and what it expects."""

    name: str
    span: Span
    #: The rule the test is about (optional; shown when the test fails).
    rule: Named | None
    changes: tuple[Change, ...]
    #: A whole case written in the test: the file's text with everything else blanked out, so that the
    #: case loader's diagnostics keep their line and column.
    case_text: str | None
    expect: tuple[Expected, ...]
    decided_by: tuple[RuleRefs, ...]
    not_decided_by: tuple[RuleRefs, ...]
    error: Named | None


@attrs.frozen(kw_only=True)
class TestFile:
    """One ``*.test.yaml`` file."""

    __test__ = False  # not a pytest test class

    path: Path
    #: The path shown in messages (relative to the working directory when inside it).
    display: str
    #: A built-in policy name or a policy directory.
    policy: str
    policy_span: Span | None
    base_text: str | None
    tests: tuple[RuleTest, ...]


def display_path(path: Path) -> str:
    """A path as messages show it: relative to the working directory, or ``rules/…`` for a built-in file."""
    for base, prefix in ((Path.cwd(), ""), (builtin_rules_dir(), "rules/")):
        try:
            return prefix + str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


def find_test_files(paths: Sequence[Path | str] = ()) -> list[Path]:
    """The test files a list of paths names (files, or directories searched recursively); with no paths,
    those of every built-in policy. Raises RX001 for a path that does not exist, RX708 for a directory
    without test files."""
    if not paths:
        return sorted(p for policy in builtin_policies() for p in (policy.directory / "tests").glob(f"*{TEST_SUFFIX}"))
    found: list[Path] = []
    problems: list[Diagnostic] = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(path)
        elif path.is_dir() and (inside := sorted(path.rglob(f"*{TEST_SUFFIX}"))):
            found.extend(inside)
        elif path.is_dir():
            problems.append(Diagnostic(code="RX708", message=f"{path} holds no rule tests (*{TEST_SUFFIX} files)",
                                       help="give a test file or a directory with one, e.g. rules/hollandzorg/tests"))
        else:
            problems.append(Diagnostic(code="RX001", message=f"{path} does not exist",
                                       help="give a test file (*.test.yaml) or a directory of them"))
    if problems:
        raise RxError(problems)
    unique = {path.resolve(): path for path in reversed(found)}  # a file named twice runs once, as first named
    return [path for path in found if unique.get(path.resolve()) is path]


def discover(paths: Sequence[Path | str] = ()) -> list[TestFile]:
    """Read every test file the paths name (see :func:`find_test_files`); raises :class:`RxError` with
    every problem of every file."""
    files: list[TestFile] = []
    problems: list[Diagnostic] = []
    for path in find_test_files(paths):
        try:
            files.append(load_test_file(path))
        except RxError as error:
            problems.extend(error.diagnostics)
    if problems:
        raise RxError(problems)
    return files


def load_test_file(path: Path) -> TestFile:
    """Read and check the shape of one test file; raises :class:`RxError` with every problem."""
    display = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RxError(Diagnostic(code="RX001", message=f"cannot read {display}: {error}",
                                 help="check the path and that the file is UTF-8 text")) from None
    return parse_test_file(text, path=path, display=display)


def parse_test_file(text: str, *, path: Path, display: str | None = None) -> TestFile:
    """Check the YAML text of a test file (``path`` gives the default policy); raises :class:`RxError`."""
    source = SourceFile(path=display or str(path), text=text)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        offset = mark.index if mark else 0
        problem = getattr(error, "problem", None) or str(error)
        raise RxError(Diagnostic(code="RX701", message=f"the test file is not valid YAML: {problem}",
                                 span=source.span(offset, offset + 1),
                                 help="write `key: value` lines; the tests are a list of `- name: ...` items, "
                                      "their keys indented under the dash")) from None
    reader = _Reader(source)
    test_file = reader.file(root, path)
    if reader.problems or test_file is None:
        raise RxError(reader.problems)
    return test_file


def _scalar(node: yaml.ScalarNode) -> object:
    """A scalar as plain Python, read from its text: a number with a point becomes an exact Decimal."""
    tag, text = node.tag.rpartition(":")[2], str(node.value)
    if tag == "null":
        return None
    if tag == "bool":
        return text.lower() in ("true", "yes", "on")
    try:
        return int(text.replace("_", "")) if tag == "int" else Decimal(text.replace("_", "")) if tag == "float" \
            else text
    except (ValueError, InvalidOperation):
        return text  # e.g. `.inf`: the case loader says what is wrong with it


def _plain(node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): _plain(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v) for v in node.value]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node)


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


@attrs.define
class _Reader:
    """One reading of a test file: walks the composed YAML and collects every problem."""

    source: SourceFile
    problems: list[Diagnostic] = attrs.Factory(list)

    def span(self, node: yaml.Node) -> Span:
        return self.source.span(node.start_mark.index, node.end_mark.index)

    def report(self, code: str, where: yaml.Node | Span, message: str, help: str) -> None:
        span = where if isinstance(where, Span) else self.span(where)
        self.problems.append(Diagnostic(code=code, message=message, span=span, help=help))

    def entries(self, node: yaml.Node, allowed: Sequence[str], what: str) -> dict[str, tuple[Named, yaml.Node]]:
        """The keys of a mapping; unknown keys are reported with the one probably meant."""
        found: dict[str, tuple[Named, yaml.Node]] = {}
        assert isinstance(node, yaml.MappingNode)
        for key, value in node.value:
            name = Named(text=str(key.value), span=self.span(key))
            if name.text in found:
                self.report("RX703", key, f"`{name.text}` is written twice in {what}", "keep one of the two")
            elif allowed and name.text not in allowed:
                hint = did_you_mean(name.text, allowed)
                self.report("RX702", key, f"{what} has no key `{name.text}`" + (f"; did you mean `{hint}`?" if hint
                                                                                 else ""),
                            f"rename it to `{hint}`" if hint else f"use one of: {', '.join(allowed)}")
            else:
                found[name.text] = (name, value)
        return found

    def mapping(self, node: yaml.Node, what: str, example: str) -> bool:
        if isinstance(node, yaml.MappingNode):
            return True
        self.report("RX703", node, f"{what} must be a mapping of `key: value` lines", f"write e.g. `{example}`")
        return False

    def text(self, node: yaml.Node, what: str, example: str) -> Named | None:
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":str") and str(node.value).strip():
            return Named(text=str(node.value), span=self.span(node))
        self.report("RX703", node, f"{what} must be one text", f"write e.g. `{example}`")
        return None

    def case_text(self, node: yaml.Node, what: str) -> str | None:
        if not self.mapping(node, what, "dispensed_on: 2025-03-14"):
            return None
        start, end, text = node.start_mark.index, node.end_mark.index, self.source.text
        return _blank(text[:start]) + text[start:end] + _blank(text[end:])

    def file(self, root: yaml.Node | None, path: Path) -> TestFile | None:
        if root is None or not self.mapping(root, "a test file", "tests: [...]"):
            self.problems.append(Diagnostic(code="RX701", message="the test file holds no tests",
                                            span=self.source.span(0, 0),
                                            help="write a `tests:` list; docs/tools/test.md shows the format"))
            return None
        assert root is not None
        keys = self.entries(root, FILE_KEYS, "a test file")
        policy = self.text(keys["policy"][1], "`policy`", "policy: hollandzorg") if "policy" in keys else None
        base = self.case_text(keys["base"][1], "`base`") if "base" in keys else None
        tests: list[RuleTest] = []
        if "tests" not in keys or not isinstance(keys["tests"][1], yaml.SequenceNode):
            where = keys["tests"][1] if "tests" in keys else root
            self.report("RX703", where, "a test file needs a `tests:` list", "write `tests:` and under it "
                        "`- name: ...` items")
        else:
            for item in keys["tests"][1].value:
                test = self.test(item, has_base="base" in keys)
                if test is not None:
                    tests.append(test)
        self.unique(tests)
        if policy is None and path.parent.name != "tests":
            self.report("RX703", root, "the test file is not in a policy's `tests/` directory and does not say "
                        "which policy it tests", "add `policy: hollandzorg` (a built-in name or a directory)")
            return None
        return TestFile(path=path, display=self.source.path, policy=_policy(policy, path),
                        policy_span=policy.span if policy else None, base_text=base, tests=tuple(tests))

    def unique(self, tests: list[RuleTest]) -> None:
        first: dict[str, RuleTest] = {}
        for test in tests:
            if test.name in first:
                self.problems.append(Diagnostic(
                    code="RX704", span=test.span, message=f"two tests are named `{test.name}`",
                    help="give each test of a file its own name", related=(("the first", first[test.name].span),)))
            first.setdefault(test.name, test)

    def test(self, node: yaml.Node, *, has_base: bool) -> RuleTest | None:
        if not self.mapping(node, "a test", "- name: ..."):
            return None
        keys = self.entries(node, TEST_KEYS, "a test")
        name = self.text(keys["name"][1], "`name`", "name: the pill is dispensed for 12 months") \
            if "name" in keys else None
        if name is None:
            if "name" not in keys:
                self.report("RX703", node, "a test needs a `name`", "add `name: ...` saying what it shows")
            return None
        here = f"the test `{name.text}`"
        if "case" in keys and "changes" in keys:
            self.report("RX703", keys["case"][0].span, f"{here} writes both `changes` and a whole `case`",
                        "keep one: `changes` applies to the file's `base`, `case` replaces it")
        elif "case" not in keys and not has_base:
            self.report("RX703", name.span, f"{here} has no case: the file has no `base` and the test no `case`",
                        "write a whole `case:` in the test, or a `base:` case in the file")
        expects = [k for k in ("expect", "decided_by", "not_decided_by") if k in keys]
        if "error" in keys and expects:
            self.report("RX703", keys["error"][0].span, f"{here} expects an error and also `{expects[0]}`",
                        "an evaluation that fails has no decisions: keep `error`, or remove it")
        elif "error" not in keys and not expects and len(keys) == len(node.value):  # (else: a misspelt key)
            self.report("RX703", name.span, f"{here} expects nothing",
                        "add `expect:`, `decided_by:`, `not_decided_by:` or `error:`")
        error = self.text(keys["error"][1], "`error`", "error: RX501") if "error" in keys else None
        if error is not None and not _ERROR_CODE.fullmatch(error.text):
            self.report("RX703", error.span, f"`error` is `{error.text}`, not an error code",
                        "write the code evaluation must fail with, e.g. `error: RX501`")
        return RuleTest(
            name=name.text, span=self.span(node), error=error,
            rule=self.text(keys["rule"][1], "`rule`", "rule: excess/charged") if "rule" in keys else None,
            changes=self.changes(keys["changes"][1]) if "changes" in keys else (),
            case_text=self.case_text(keys["case"][1], "`case`") if "case" in keys else None,
            expect=self.expect(keys["expect"][1]) if "expect" in keys else (),
            decided_by=self.refs(keys["decided_by"][1], "decided_by") if "decided_by" in keys else (),
            not_decided_by=self.refs(keys["not_decided_by"][1], "not_decided_by") if "not_decided_by" in keys else ())

    def changes(self, node: yaml.Node) -> tuple[Change, ...]:
        if not self.mapping(node, "`changes`", "changes: {medicine.atc: N05BA04}"):
            return ()
        return tuple(Change(path=name, value=_plain(value), span=self.span(value))
                     for name, value in self.entries(node, (), "`changes`").values())

    def expect(self, node: yaml.Node) -> tuple[Expected, ...]:
        if not self.mapping(node, "`expect`", "expect: {covered: true}"):
            return ()
        found = []
        for name, value in self.entries(node, (), "`expect`").values():
            if isinstance(value, yaml.ScalarNode):
                found.append(Expected(decision=name, value=_scalar(value), span=self.span(value)))
            else:
                self.report("RX707", value, f"the expected `{name.text}` must be one value",
                            'write it as in the JSON decision, e.g. `excess_charged: "12.40"`')
        return tuple(found)

    def refs(self, node: yaml.Node, key: str) -> tuple[RuleRefs, ...]:
        if not self.mapping(node, f"`{key}`", f"{key}: {{max_supply: dispensing-period/chronic}}"):
            return ()
        found = []
        for name, value in self.entries(node, (), f"`{key}`").values():
            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            rules = [self.text(item, f"a rule under `{key}`", f"{name.text}: rule-id") for item in items]
            found.append(RuleRefs(decision=name, rules=tuple(r for r in rules if r is not None)))
        return tuple(found)


def _policy(written: Named | None, path: Path) -> str:
    """The policy a file tests: a built-in name, a directory relative to the file, or the one holding tests/."""
    if written is None:
        return str(path.parent.parent)
    beside = path.parent / written.text
    builtin = {p.name for p in builtin_policies()}
    return str(beside) if written.text not in builtin and beside.is_dir() else written.text


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
            base = parse_case(test_file.base_text, path=test_file.display, plans=policy.plans)
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
    if test.case_text is not None:
        return parse_case(test.case_text, path=test_file.display, plans=policy.plans)
    assert base is not None
    try:
        case = base.replace({change.path.text: change.value for change in test.changes})
        plan = case.get("insured.plan")
        if plan is not None and plan not in policy.plans:
            # Case.replace does not know the policy's plans; the case loader says what is wrong.
            case_from_mapping(case.to_mapping(), source=test_file.display, plans=policy.plans)
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
        """``file:line`` of the test."""
        return f"{self.file.display}:{self.test.span.line}"

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
    """Run every test of a file against its policy (loaded through the store, so compiled once)."""
    policy = policy_for(test_file, store)
    return [run_test(prepared, policy) for prepared in prepare(test_file, policy)]


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


def _same(expected: object, got: object) -> bool:
    """Whether a value in JSON form is what the test expects; amounts compare as numbers (17.5 = "17.50")."""
    if isinstance(expected, bool) or expected is None or isinstance(got, bool) or got is None:
        return expected is got
    if isinstance(got, str) and _AMOUNT.fullmatch(got) and (
            isinstance(expected, (int, Decimal)) or (isinstance(expected, str) and _AMOUNT.fullmatch(expected))):
        return Decimal(got) == Decimal(str(expected))
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
        decision = "covered" if name == OUTCOME else name
        got = evaluation.outcome if name == OUTCOME else json_value(evaluation[name].value)
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
            value = _show(json_value(evaluation[name].value))
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
                        f"({_show(json_value(evaluation[name].value))})",
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


