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
import stat
import threading
from pathlib import Path

from rxpolicy.cache import DiskCache, default_cache_dir, engine_digest
from rxpolicy.diagnostics import Diagnostic, decode_text, read_text
from rxpolicy.engine.case import Case, load_case
from rxpolicy.engine.compile import ENGINE_VERSION, CompiledPolicy, compile_policy
from rxpolicy.engine.evaluate import Evaluation, evaluate
from rxpolicy.engine.persist import policy_from_bytes, policy_to_bytes
from rxpolicy.language.check import CheckedPolicy, PolicySources, check_policy
from rxpolicy.language.grammar import grammar_path, grammar_sha256
from rxpolicy.language.load import (RULE_SUFFIX, display_path, display_paths, policy_input_files, policy_sources,
                                    resolve_policy_dir)
from rxpolicy.language.sources import REGISTRY_FILE

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
            # Each input read once: the bytes hashed for the key are the bytes compiled (a file edited between the
            # two is never compiled under the key of the other text).
            inputs = _Inputs(directory)
            key = inputs.key(directory)
            found = self._compiled.get(key)
            if found is None:
                found = self._from_disk(key)
            if found is None:
                sources = policy_sources(directory, inputs.rule_file, read_registry=inputs.registry)
                found = compile_policy(check_policy(sources)[0])
                if not inputs.compiled_exactly(directory, sources):
                    # A file appeared or went between the listing and the compile: the key names other files than
                    # the compile read. Served, but filed under no key; the next load lists the files again.
                    return found
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


class _Inputs:
    """The input files of a policy (:func:`~rxpolicy.language.load.policy_input_files`), each read once: hashed
    for the store's key (with the grammar and engine), and given to the compile as read."""

    def __init__(self, directory: Path) -> None:
        self.files = policy_input_files(directory)
        self.data: dict[str, bytes] = {}
        for name in self.files:
            try:
                # Non-blocking: a file replaced by a pipe since the listing must not hang the store.
                descriptor = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            except OSError:  # gone or unreadable: the compile reads it itself, and says why
                continue
            with os.fdopen(descriptor, "rb") as file:
                if stat.S_ISREG(os.fstat(descriptor).st_mode):
                    self.data[name] = file.read()
        #: The files the compile asked for, and whether it asked for one not read here.
        self.asked: set[str] = set()
        self.missed = False

    def key(self, directory: Path) -> str:
        """A hash of everything a compiled policy depends on: its input files (rule files and source registry, as
        messages name them, and their bytes as read here), grammar, engine."""
        digest = hashlib.sha256(f"{ENGINE_VERSION}:{engine_digest()}:{grammar_sha256()}:{directory}".encode())
        for name, shown in zip(self.files, display_paths([Path(name) for name in self.files])):
            data = self.data.get(name)
            if data is None:  # not read: marked apart from any content (the compile fails on it, if it is used)
                digest.update(f"\1{shown}\1".encode())
            else:
                digest.update(f"\0{shown}\0".encode())
                digest.update(data)
        return digest.hexdigest()

    def rule_file(self, path: Path) -> tuple[str, str]:
        """A :data:`~rxpolicy.language.load.RuleFileReader`: the rule file's bytes read here."""
        shown = display_path(path)
        return shown, self._text(path, shown, "rule file")

    def registry(self, path: Path, shown: str) -> str:
        """A :data:`~rxpolicy.language.load.RegistryReader`: the source registry's bytes read here."""
        return self._text(path, shown, "source registry")

    def _text(self, path: Path, shown: str, kind: str) -> str:
        name = str(path)
        self.asked.add(name)
        data = self.data.get(name)
        if data is None:  # not listed, or not readable, when the key was made
            self.missed = True
            return read_text(path, shown, kind=kind)
        return decode_text(data, shown, kind=kind)

    def compiled_exactly(self, directory: Path, sources: PolicySources) -> bool:
        """Whether the compile read, from the bytes read here, every input of the folders it read (the policy's
        and those of the layers it is built on) and the registry, and nothing else: then the key names what
        was compiled."""
        if self.missed:
            return False
        built_on = sources.declaration.built_on if sources.declaration is not None else ()
        folders = {str(directory), *(str(directory.parent / layer) for layer in built_on)}
        expected = {name for name in self.data
                    if os.path.basename(name) == REGISTRY_FILE
                    or (name.endswith(RULE_SUFFIX) and os.path.dirname(name) in folders)}
        return expected <= self.asked


__all__ += ["Case", "Evaluation", "evaluate", "load_case"]
