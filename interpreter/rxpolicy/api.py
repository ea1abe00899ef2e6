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
import os
import threading
from pathlib import Path

from rxpolicy.cache import DiskCache, default_cache_dir, engine_digest
from rxpolicy.diagnostics import Diagnostic
from rxpolicy.engine.case import Case, load_case
from rxpolicy.engine.compile import ENGINE_VERSION, CompiledPolicy, compile_policy
from rxpolicy.engine.evaluate import Evaluation, evaluate
from rxpolicy.engine.persist import policy_from_bytes, policy_to_bytes
from rxpolicy.language.check import CheckedPolicy, check_policy
from rxpolicy.language.grammar import grammar_path, grammar_sha256
from rxpolicy.language.load import display_paths, policy_input_files, policy_sources, resolve_policy_dir

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
    """Compiled policies cached by content, in memory and on disk; safe to share between threads.

    A policy is compiled again only when a rule file, its source registry (``sources.yaml``), the grammar or the
    engine changed. In memory, a policy loaded before is found again by the sizes and modification times of its
    files (no file is read); otherwise the hash of their content names it, in this store and then in the cache on disk
    (:mod:`rxpolicy.cache`), which spares a fresh process parsing, checking and compiling.

    ``cache_dir`` is that directory; by default ``$RXPOLICY_CACHE_DIR`` (empty or ``off``: none), else the
    user's cache directory. ``disk_cache=False`` keeps compiled policies in this store only. A cache
    directory that cannot be written is no error: policies are then compiled in memory.
    """

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None, *, disk_cache: bool = True) -> None:
        self._lock = threading.Lock()
        self._compiled: dict[str, CompiledPolicy] = {}
        #: Policy directory → (the stat signature of its files, the content key it had then).
        self._seen: dict[Path, tuple[tuple[object, ...], str]] = {}
        directory = Path(cache_dir) if cache_dir is not None else default_cache_dir() if disk_cache else None
        self._disk = DiskCache(directory) if disk_cache and directory is not None else None

    @property
    def cache(self) -> DiskCache | None:
        """The cache on disk this store reads and fills, or None."""
        return self._disk

    def load(self, name_or_path: str = "hollandzorg") -> CompiledPolicy:
        """The compiled policy, compiled again only when a rule file, the source registry, the grammar or the engine
        changed."""
        directory = resolve_policy_dir(name_or_path).resolve()
        signature = _signature(directory)
        with self._lock:
            seen = self._seen.get(directory)
            if seen is not None and seen[0] == signature and seen[1] in self._compiled:
                return self._compiled[seen[1]]
            key = _content_key(directory)
            found = self._compiled.get(key)
            if found is None:
                found = self._from_disk(key)
            if found is None:
                found = load_policy(str(directory))
                if self._disk is not None:
                    self._disk.write("policies", key, policy_to_bytes(found))
            self._compiled[key] = found
            self._seen[directory] = (signature, key)
            return found

    def _from_disk(self, key: str) -> CompiledPolicy | None:
        payload = self._disk.read("policies", key) if self._disk is not None else None
        if payload is None:
            return None
        try:
            return policy_from_bytes(payload)
        except Exception:  # noqa: BLE001 - an authentic entry an incompatible engine wrote is rebuilt, not an error
            return None


def _signature(directory: Path) -> tuple[object, ...]:
    """What changes when an input of the policy (:func:`~rxpolicy.language.load.policy_input_files`: a rule file,
    the source registry) or the grammar is edited, added or removed, read from stat alone.

    One ``scandir`` per folder and one ``stat`` per file: this is all :meth:`PolicyStore.load` costs when nothing
    changed.
    """
    grammar = os.stat(grammar_path())
    parts: list[object] = [os.getcwd(), grammar.st_size, grammar.st_mtime_ns]  # messages show paths relative to cwd
    for path in policy_input_files(directory):
        try:
            info = os.stat(path)
        except OSError:  # removed since the listing: the next load sees the new state
            continue
        parts.append((path, info.st_size, info.st_mtime_ns, info.st_ino))
    return tuple(parts)


def _content_key(directory: Path) -> str:
    """A hash of everything a compiled policy depends on: its input files (rule files and source registry, as
    messages name them), grammar, engine."""
    digest = hashlib.sha256(f"{ENGINE_VERSION}:{engine_digest()}:{grammar_sha256()}:{directory}".encode())
    files = [Path(name) for name in policy_input_files(directory)]
    for path, shown in zip(files, display_paths(files)):
        digest.update(f"\0{shown}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


__all__ += ["Case", "Evaluation", "evaluate", "load_case"]
