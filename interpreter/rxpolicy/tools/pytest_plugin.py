"""A pytest plugin that runs rule tests: every ``*.test.yaml`` file pytest meets becomes one item per test.

Installed with rxpolicy (entry point ``pytest11``), so ``pytest rules/`` (and ``make test``, whose
``testpaths`` include ``rules``) runs the policy experts' tests beside the unit tests. A test's node id
is ``rules/hollandzorg/tests/x.test.yaml::test name``; a failure reads as ``rxpolicy test`` prints it,
and a file with problems is a collection error showing its diagnostics. Each policy is compiled once
per session, by a :class:`PolicyStore` kept on the pytest config.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from rxpolicy.api import PolicyStore
from rxpolicy.diagnostics import RxError
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.explain.diagnostics import render_diagnostics
from rxpolicy.language.load import RULE_SUFFIX, source_line
from rxpolicy.tools.ruletest import (TEST_SUFFIX, PreparedTest, TestResult, for_each_policy, load_test_file, policy_for,
                                     prepare, run_test)
from rxpolicy.tools.ruletest_format import FILE_KEYS

if TYPE_CHECKING:  # pytest names these types only in a private module
    from _pytest._code.code import TerminalRepr, TracebackStyle

__all__ = ["RuleTestFailed", "RuleTestFile", "RuleTestItem", "RuleTestSession", "is_rule_test_file",
           "pytest_collect_file", "pytest_configure"]


class RuleTestSession:
    """The policies of one pytest session, each compiled once."""

    def __init__(self) -> None:
        self.store = PolicyStore()
        self._lock = threading.Lock()
        self._policies: dict[str, CompiledPolicy] = {}

    def policy(self, name_or_path: str, load: Callable[[], CompiledPolicy]) -> CompiledPolicy:
        """The compiled policy by the name a test file gives (``load`` compiles it the first time)."""
        with self._lock:
            found = self._policies.get(name_or_path)
            if found is None:
                found = self._policies[name_or_path] = load()
            return found


_SESSION = pytest.StashKey[RuleTestSession]()


def pytest_configure(config: pytest.Config) -> None:
    """Give the session its policy store."""
    config.stash[_SESSION] = RuleTestSession()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> RuleTestFile | None:
    """Collect the ``*.test.yaml`` files that are rule tests, and no other YAML file.

    The plugin is installed wherever rxpolicy is, so it must not claim another project's
    ``k8s.test.yaml``: see :func:`is_rule_test_file`.
    """
    if file_path.name.endswith(TEST_SUFFIX) and is_rule_test_file(file_path):
        return RuleTestFile.from_parent(parent, path=file_path)
    return None


#: How much of a file is read to decide whether it is a rule test (its top-level keys come first).
_SNIFF_BYTES = 65_536
_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:", re.MULTILINE)


def is_rule_test_file(path: Path) -> bool:
    """Whether a ``*.test.yaml`` file is an rxpolicy rule test, decided before the file is claimed.

    It is when it sits in the ``tests/`` directory of a policy or layer (rule files ``*.rxp`` beside that
    directory), or when it names its policy: a top-level ``policy:`` and ``tests:`` and no top-level key
    a rule test does not have. Only the top-level keys are looked at, by a plain text scan of the file's
    start (no YAML is parsed, so an unrelated file can neither fail nor be slow here).
    """
    if path.parent.name == "tests" and any(path.parent.parent.glob(f"*{RULE_SUFFIX}")):
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    keys = set(_TOP_LEVEL_KEY.findall(head))
    return {"policy", "tests"} <= keys and keys <= set(FILE_KEYS)


class RuleTestFailed(Exception):
    """Raised by a rule test whose expectations did not hold."""

    def __init__(self, result: TestResult) -> None:
        super().__init__(result.message)
        self.result = result


class RuleTestFile(pytest.File):
    """One test file: reads it, checks it against its policy and yields its tests."""

    def collect(self) -> Iterator[RuleTestItem]:
        """One item per test; a problem with the file fails its collection with the diagnostics."""
        session = self.config.stash[_SESSION]
        for test_file in for_each_policy(load_test_file(self.path)):
            policy = session.policy(test_file.policy, lambda: policy_for(test_file, session.store))
            for prepared in prepare(test_file, policy):
                # A shared layer's test runs once per policy built on the layer: the policy names the item.
                name = f"{prepared.test.name} [{policy.name}]" if test_file.layer else prepared.test.name
                yield RuleTestItem.from_parent(self, name=name, prepared=prepared, policy=policy)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: TracebackStyle | None = None) -> str | TerminalRepr:
        """Diagnostics as ``rxpolicy test`` prints them."""
        if isinstance(excinfo.value, RxError):
            return render_diagnostics(excinfo.value.diagnostics, source_line)
        return super().repr_failure(excinfo)


class RuleTestItem(pytest.Item):
    """One rule test."""

    def __init__(self, *, prepared: PreparedTest, policy: CompiledPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prepared = prepared
        self.policy = policy

    def runtest(self) -> None:
        """Evaluate the test's case and compare every expectation."""
        result = run_test(self.prepared, self.policy)
        if not result.passed:
            raise RuleTestFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: TracebackStyle | None = None) -> str | TerminalRepr:
        """The failure as ``rxpolicy test`` prints it."""
        if isinstance(excinfo.value, RuleTestFailed):
            return excinfo.value.result.message
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the test is written (pytest counts lines from 0)."""
        return self.path, self.prepared.test.span.line - 1, f"rule test: {self.name}"
