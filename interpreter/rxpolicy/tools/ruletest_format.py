"""The rule-test file format: reading a ``*.test.yaml`` file and checking its shape.

A test file has an optional ``policy`` (default: the directory that holds ``tests/``), an optional
``base`` case and a list of ``tests``; a test builds its case from the base with dotted ``changes`` (or
writes a whole ``case``) and expects decision values (``expect``), deciding rules (``decided_by``), rules
that must not decide (``not_decided_by``) or an error code (``error``). The format is described in
docs/tools/test.md.

:func:`load_test_file` and :func:`parse_test_file` guarantee a :class:`TestFile` whose every name
(decision, rule id, field path, code) keeps its line and column, or one :class:`RxError` with every
problem of the file, each a :class:`Diagnostic` at its line and column (RX701-RX704, RX707; RX001, a file
that cannot be read, has no place). :func:`find_test_files` and :func:`discover` find the files a list
of paths names (RX001, RX708) and read them all, raising every problem of every file at once.
The YAML is only composed, never constructed, so a number with a point is an exact ``Decimal`` and
never a float. Nothing here knows the policy: checking the names against it, building the cases and
running the tests is :mod:`rxpolicy.tools.ruletest`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

import attrs
import yaml

from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean, read_text
from rxpolicy.engine.case_check import compose_yaml
from rxpolicy.engine.case_limits import TEST_FILE_LIMITS
from rxpolicy.language.load import builtin_policies, builtin_rules_dir, display_path
from rxpolicy.language.source import SourceFile, Span

__all__ = ["Change", "Expected", "Named", "RuleRefs", "RuleTest", "TestFile", "TEST_SUFFIX", "discover",
           "display_path", "find_test_files", "load_test_file", "parse_test_file"]

TEST_SUFFIX = ".test.yaml"
FILE_KEYS = ("policy", "base", "tests")
TEST_KEYS = ("name", "rule", "changes", "case", "expect", "decided_by", "not_decided_by", "error")
_ERROR_CODE = re.compile(r"RX\d{3}")


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
    #: For a test of a shared layer (``rules/<layer>/tests``): the layer's name; the file then runs once per
    #: policy built on the layer (:func:`rxpolicy.tools.ruletest.for_each_policy`), ``policy`` naming each.
    layer: str | None = None


def find_test_files(paths: Sequence[Path | str] = ()) -> list[Path]:
    """The test files a list of paths names (files, or directories searched recursively); with no paths,
    those of every built-in policy. Raises RX001 for a path that does not exist, RX708 for a directory
    without test files."""
    if not paths:  # the tests of every built-in policy and of every shared layer
        return sorted(p for directory in builtin_rules_dir().iterdir() if directory.is_dir()
                      for p in (directory / "tests").glob(f"*{TEST_SUFFIX}"))
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
    text = read_text(path, display, kind="rule test file")
    return parse_test_file(text, path=path, display=display)


def parse_test_file(text: str, *, path: Path, display: str | None = None) -> TestFile:
    """Check the YAML text of a test file (``path`` gives the default policy); raises :class:`RxError`."""
    source = SourceFile(path=display or str(path), text=text)
    root = compose_yaml(source, code="RX701", what="the test file", limits=TEST_FILE_LIMITS,
                        help="write `key: value` lines; the tests are a list of `- name: ...` items, their keys "
                             "indented under the dash")
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
