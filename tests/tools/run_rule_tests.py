"""A small stand-in runner for per-rule YAML tests (``rules/<policy>/tests/*.test.yaml``).

It runs the same file format ``rxpolicy test`` will run, until that command lands::

    .venv/bin/python tests/tools/run_rule_tests.py                      # rules/hollandzorg/tests
    .venv/bin/python tests/tools/run_rule_tests.py rules/hollandzorg/tests/money.test.yaml
    .venv/bin/python tests/tools/run_rule_tests.py --coverage           # rules without a test, too

A file holds an optional ``policy`` (default: the policy directory that contains ``tests/``), an
optional ``base`` case and a list of ``tests``. Each test builds its case from the base with dotted
``changes`` (or from a whole ``case``), evaluates it and compares ``expect`` (decision values in the
contract's JSON form, and ``outcome``), ``decided_by`` / ``not_decided_by`` (rule ids), or ``error``
(the RxError code evaluation must fail with). It prints each failure and ``N passed, N failed``;
the exit code is 1 when a test failed or a file could not be read.

Money in ``expect`` is written as a string (``"17.50"``); a bare YAML number is read as an exact
decimal, never as a float, so ``price: 10.00`` in a case is ``Decimal("10.00")``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import yaml

from rxpolicy import Case, CompiledPolicy, RxError, case_from_mapping, evaluate, load_policy
from rxpolicy.evaluate import Evaluation
from rxpolicy.render.words import json_value

__all__ = ["Outcome", "RuleTest", "RuleTestFile", "coverage_gaps", "load_file", "main", "run_file", "run_test"]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "rules" / "hollandzorg" / "tests"
_FILE_KEYS = frozenset({"policy", "base", "tests"})
_TEST_KEYS = frozenset({"name", "rule", "changes", "case", "expect", "decided_by", "not_decided_by", "error"})


class _ExactLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a number with a decimal point becomes an exact ``Decimal``."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    assert isinstance(node, yaml.ScalarNode)
    return Decimal(str(loader.construct_scalar(node)).replace("_", ""))


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


class FormatError(Exception):
    """A test file that does not follow the format (named with its path and the test)."""


@attrs.frozen(kw_only=True)
class RuleTest:
    """One test of a file: how its case is built and what it expects."""

    name: str
    rule: str | None
    changes: Mapping[str, Any] | None
    case: Mapping[str, Any] | None
    expect: Mapping[str, Any]
    decided_by: Mapping[str, tuple[str, ...]]
    not_decided_by: Mapping[str, tuple[str, ...]]
    error: str | None


@attrs.frozen(kw_only=True)
class RuleTestFile:
    """One ``*.test.yaml`` file."""

    path: Path
    policy: str
    base: Mapping[str, Any] | None
    tests: tuple[RuleTest, ...]


@attrs.frozen(kw_only=True)
class Outcome:
    """The result of one test: empty ``problems`` means it passed."""

    file: Path
    test: RuleTest
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Whether every expectation held."""
        return not self.problems


# ----------------------------------------------------------------------------- reading files

def _ids(value: object, where: str) -> tuple[str, ...]:
    """A rule id or a list of them."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise FormatError(f"{where}: write a rule id or a list of rule ids, not {value!r}")


def _rule_map(value: object, where: str) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FormatError(f"{where}: write `decision: rule-id` pairs")
    return {str(k): _ids(v, f"{where}.{k}") for k, v in value.items()}


def _mapping(value: object, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FormatError(f"{where}: write a mapping")
    return value


def _policy_of(path: Path) -> str:
    """The policy directory that contains ``tests/`` (a path, so any policy directory works)."""
    return str(path.resolve().parent.parent)


def _test(raw: object, index: int, has_base: bool, where: str) -> RuleTest:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise FormatError(f"{where}: test {index + 1} needs a `name`")
    name = raw["name"]
    here = f"{where}: test `{name}`"
    unknown = sorted(set(raw) - _TEST_KEYS)
    if unknown:
        raise FormatError(f"{here}: unknown key(s) {', '.join(unknown)}; keys are {', '.join(sorted(_TEST_KEYS))}")
    if "case" in raw and "changes" in raw:
        raise FormatError(f"{here}: give either `changes` (applied to `base`) or a whole `case`, not both")
    if "case" not in raw and not has_base:
        raise FormatError(f"{here}: the file has no `base`, so write a whole `case`")
    if ("error" in raw) == bool(raw.get("expect") or raw.get("decided_by") or raw.get("not_decided_by")):
        raise FormatError(f"{here}: expect either an `error`, or values (`expect`, `decided_by`, "
                          "`not_decided_by`); not both, and not nothing")
    rule = raw.get("rule")
    if rule is not None and not isinstance(rule, str):
        raise FormatError(f"{here}: `rule` is one rule id")
    return RuleTest(name=name, rule=rule, changes=_mapping(raw.get("changes", {}), f"{here}.changes"),
                    case=_mapping(raw.get("case"), f"{here}.case"),
                    expect=_mapping(raw.get("expect"), f"{here}.expect") or {},
                    decided_by=_rule_map(raw.get("decided_by"), f"{here}.decided_by"),
                    not_decided_by=_rule_map(raw.get("not_decided_by"), f"{here}.not_decided_by"),
                    error=None if raw.get("error") is None else str(raw["error"]))


def load_file(path: Path) -> RuleTestFile:
    """Read and check one test file; raises :class:`FormatError` naming the problem."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_ExactLoader)  # noqa: S506 - a safe loader
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        raise FormatError(f"{path}: a test file is a mapping with a `tests` list")
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        raise FormatError(f"{path}: unknown key(s) {', '.join(unknown)}; keys are policy, base, tests")
    base = _mapping(data.get("base"), f"{path}: base")
    tests = tuple(_test(raw, i, base is not None, str(path)) for i, raw in enumerate(data["tests"]))
    names = [t.name for t in tests]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise FormatError(f"{path}: test names must be unique; written twice: {', '.join(twice)}")
    policy = data.get("policy")
    return RuleTestFile(path=path, policy=str(policy) if policy else _policy_of(path), base=base, tests=tests)


# ----------------------------------------------------------------------------- running tests

def _build_case(file: RuleTestFile, test: RuleTest, policy: CompiledPolicy) -> Case:
    if test.case is not None:
        return case_from_mapping(test.case, source=f"{file.path}: {test.name}", plans=policy.plans)
    assert file.base is not None
    base = case_from_mapping(file.base, source=f"{file.path}: base", plans=policy.plans)
    return base.replace(test.changes or {})


def _codes(error: RxError) -> tuple[str, ...]:
    return tuple(d.code for d in error.diagnostics)


def _expected(value: object) -> object:
    """An expected value in the contract's JSON form (a bare decimal number is money)."""
    return json_value(value) if isinstance(value, Decimal) else value


def _check_values(evaluation: Evaluation, expect: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, wanted in expect.items():
        if name == "outcome":
            got: object = evaluation.outcome
        elif name in evaluation:
            got = json_value(evaluation[name].value)
        else:
            problems.append(f"`{name}` is not a decision of this policy")
            continue
        if got != _expected(wanted):
            problems.append(f"{name}: expected {_expected(wanted)!r}, got {got!r}")
    return problems


def _check_deciders(evaluation: Evaluation, test: RuleTest) -> list[str]:
    problems = []
    for name, wanted in test.decided_by.items():
        got = tuple(r.id for r in evaluation[name].rules)
        if set(got) != set(wanted):
            problems.append(f"{name}: expected decided by {', '.join(wanted)}; decided by {', '.join(got)}")
    for name, unwanted in test.not_decided_by.items():
        got = tuple(r.id for r in evaluation[name].rules)
        wrong = [rule for rule in unwanted if rule in got]
        if wrong:
            problems.append(f"{name}: must not be decided by {', '.join(wrong)}; decided by {', '.join(got)}")
    return problems


def _unknown_names(test: RuleTest, policy: CompiledPolicy) -> list[str]:
    """Rule ids and decisions that do not exist: a typo would make `not_decided_by` pass for nothing."""
    rule_ids = {r.id for r in policy.rules}
    decisions = {d.name for d in policy.decisions}
    named = [test.rule] if test.rule else []
    named += [r for rules in (*test.decided_by.values(), *test.not_decided_by.values()) for r in rules]
    problems = [f"no rule `{r}` in policy `{policy.name}`" for r in named if r not in rule_ids]
    problems += [f"no decision `{d}` in policy `{policy.name}`"
                 for d in (*test.decided_by, *test.not_decided_by) if d not in decisions]
    return problems


def run_test(file: RuleTestFile, test: RuleTest, policy: CompiledPolicy) -> Outcome:
    """Build the test's case, evaluate it and compare every expectation."""
    problems = _unknown_names(test, policy)
    try:
        evaluation = evaluate(policy, _build_case(file, test, policy))
    except RxError as error:
        if test.error is None:
            problems.append(f"evaluation failed: {error}")
        elif test.error not in _codes(error):
            problems.append(f"expected error {test.error}, got {', '.join(_codes(error))}: {error}")
        return Outcome(file=file.path, test=test, problems=tuple(problems))
    if test.error is not None:
        problems.append(f"expected error {test.error}, but the case was evaluated ({evaluation.outcome})")
    else:
        problems += _check_values(evaluation, test.expect)
        problems += _check_deciders(evaluation, test)
    return Outcome(file=file.path, test=test, problems=tuple(problems))


def run_file(file: RuleTestFile, policy: CompiledPolicy) -> list[Outcome]:
    """Every test of one file."""
    return [run_test(file, test, policy) for test in file.tests]


def coverage_gaps(files: Iterable[RuleTestFile], policy: CompiledPolicy) -> list[str]:
    """Rules with no test that names them as `rule` and `decided_by`, or none where they are `not_decided_by`."""
    deciding: set[str] = set()
    neighbours: set[str] = set()
    for file in files:
        for test in file.tests:
            decided = {r for rules in test.decided_by.values() for r in rules}
            if test.rule is not None and test.rule in decided:
                deciding.add(test.rule)
            neighbours.update(r for rules in test.not_decided_by.values() for r in rules)
    gaps = []
    for rule in dict.fromkeys(r.id for r in policy.rules):
        missing = [what for what, seen in (("test where it decides", deciding),
                                           ("neighbouring test where it does not", neighbours)) if rule not in seen]
        if missing:
            gaps.append(f"{rule}: no {' and no '.join(missing)}")
    return gaps


# ----------------------------------------------------------------------------- command line

def _paths(arguments: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for argument in arguments or [str(DEFAULT_DIR)]:
        path = Path(argument)
        found += sorted(path.glob("*.test.yaml")) if path.is_dir() else [path]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run the files or directories given (default: the HollandZorg tests); 0 when all passed."""
    parser = argparse.ArgumentParser(description="Run per-rule YAML tests (*.test.yaml).")
    parser.add_argument("paths", nargs="*", help="test files or directories of them")
    parser.add_argument("--coverage", action="store_true", help="also list rules no test decides or sets aside")
    options = parser.parse_args(argv)
    passed = failed = broken = 0
    policies: dict[str, CompiledPolicy] = {}
    files: list[RuleTestFile] = []
    for path in _paths(options.paths):
        try:
            file = load_file(path)
            policy = policies.get(file.policy) or policies.setdefault(file.policy, load_policy(file.policy))
        except (FormatError, RxError, OSError, yaml.YAMLError) as error:
            print(f"ERROR {path}: {error}")
            broken += 1
            continue
        files.append(file)
        for outcome in run_file(file, policy):
            if outcome.passed:
                passed += 1
                continue
            failed += 1
            print(f"FAIL {path.name} :: {outcome.test.name}")
            for problem in outcome.problems:
                print(f"    {problem}")
    if options.coverage:
        for policy in policies.values():
            gaps = coverage_gaps([f for f in files if policies.get(f.policy) is policy], policy)
            print(f"coverage of `{policy.name}`: {len(gaps)} rule(s) short of a deciding and a neighbouring test")
            for gap in gaps:
                print(f"    {gap}")
    print(f"{passed} passed, {failed} failed" + (f", {broken} file(s) unreadable" if broken else ""))
    return 1 if failed or broken else 0


if __name__ == "__main__":
    sys.exit(main())
