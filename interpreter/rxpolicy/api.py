"""The Python API: load a policy once, evaluate many cases.

>>> from rxpolicy import PolicyStore, evaluate, load_case
>>> store = PolicyStore()
>>> policy = store.load("hollandzorg")
>>> evaluation = evaluate(policy, load_case(path, policy=policy))   # doctest: +SKIP

A :class:`CompiledPolicy` is immutable and may be shared by any number of threads. The store
caches compiled policies by the hash of their rule files, the grammar and the engine version, and
builds each under a lock; there is no module-level state.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from rxpolicy.diagnostics import Diagnostic
from rxpolicy.engine.case import Case, load_case
from rxpolicy.engine.compile import ENGINE_VERSION, CompiledPolicy, compile_policy
from rxpolicy.engine.evaluate import Evaluation, evaluate
from rxpolicy.language.check import CheckedPolicy, check_policy
from rxpolicy.language.grammar import grammar_sha256
from rxpolicy.language.load import RULE_SUFFIX, policy_sources, resolve_policy_dir

__all__ = ["PolicyStore", "check", "evaluate_case_file", "load_policy"]


def check(name_or_path: str = "hollandzorg") -> tuple[CheckedPolicy, tuple[Diagnostic, ...]]:
    """Parse and check a policy; returns it with its warnings or raises :class:`RxError` with every error."""
    return check_policy(policy_sources(resolve_policy_dir(name_or_path)))


def load_policy(name_or_path: str = "hollandzorg") -> CompiledPolicy:
    """Parse, check and compile a built-in policy (by name) or a directory of rule files."""
    checked, _ = check(name_or_path)
    return compile_policy(checked)


def evaluate_case_file(case_path: Path, policy: CompiledPolicy, *, trace: bool = True) -> Evaluation:
    """Load a case file (with the policy's plan names) and evaluate it."""
    return evaluate(policy, load_case(case_path, policy=policy), trace=trace)


class PolicyStore:
    """Compiled policies cached by content; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compiled: dict[str, CompiledPolicy] = {}

    def load(self, name_or_path: str = "hollandzorg") -> CompiledPolicy:
        """The compiled policy, compiled again only when a rule file, the grammar or the engine changed."""
        directory = resolve_policy_dir(name_or_path)
        key = _content_key(directory)
        with self._lock:
            found = self._compiled.get(key)
            if found is None:
                found = load_policy(str(directory))
                self._compiled[key] = found
            return found


def _content_key(directory: Path) -> str:
    # The policy's own directory first: sibling policies share the same set of files.
    digest = hashlib.sha256(f"{ENGINE_VERSION}:{grammar_sha256()}:{directory.resolve()}".encode())
    for folder in sorted({directory, *(p for p in directory.parent.iterdir() if p.is_dir())}):
        for path in sorted(folder.glob(f"*{RULE_SUFFIX}")):
            if not path.is_file():  # a dangling link or a directory: reading the policy reports it if it is one of its own
                continue
            digest.update(str(path).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


__all__ += ["Case", "Evaluation", "evaluate", "load_case"]
