"""The policies a service serves: compiled once, replaced whole on reload.

A :class:`Catalogue` is an immutable snapshot (catalogus) of every policy under one rules directory,
compiled. The :class:`CatalogueHolder` keeps the current one; a request takes the snapshot once at its
start, so a reload that swaps in a new one never changes the rules under a request in flight. A reload
whose rules do not check leaves the old snapshot serving and returns the diagnostics that stopped it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.engine.compile import ENGINE_VERSION, CompiledPolicy, compile_policy
from rxpolicy.language.check import PolicySources, check_policy
from rxpolicy.language.load import RULE_SUFFIX, builtin_rules_dir, policy_sources
from rxpolicy.service.wire import rule_references

__all__ = ["Catalogue", "CatalogueHolder", "ReloadResult", "load_catalogue", "rules_stamp"]


@attrs.frozen(kw_only=True)
class Catalogue:
    """Every policy of a rules directory, compiled; shared read-only by all requests."""

    #: The directory the policies were read from.
    root: Path
    #: Policy name → compiled policy, in name order.
    policies: Mapping[str, CompiledPolicy]
    #: Policy name → the parsed rule files of the policy and its layers (the workbench edits copies of them).
    sources: Mapping[str, PolicySources]
    #: Policy name → every rule's reference in a lean decision, by rule index (made once, not per request).
    references: Mapping[str, tuple[Mapping[str, Any], ...]]
    #: One fingerprint of all served policies: it changes when any rule file does.
    fingerprint: str
    #: How many times rules were loaded before this one (0 for the first load).
    generation: int = 0

    def files(self, name: str) -> dict[str, str]:
        """The text of every rule file of a served policy and its layers, by display path, layers first."""
        return {f.source.path: f.source.text for layer in self.sources[name].layers for f in layer.files}

    def resolve(self, name: str) -> tuple[CompiledPolicy, int | None]:
        """A served policy by name (``hollandzorg`` or ``hollandzorg-2025``), with the year asked for, or RX601."""
        base, year = name, None
        stem, _, digits = name.rpartition("-")
        if name not in self.policies and stem in self.policies and digits.isdigit() and len(digits) == 4:
            base, year = stem, int(digits)
        policy = self.policies.get(base)
        if policy is None:
            served = ", ".join(self.policies) or "none"
            raise RxError(Diagnostic(code="RX601", message=f"`{name}` is not a policy this service serves",
                                     help=f"served policies: {served}; GET /v1/policies lists them"))
        return policy, year


def _policy_dirs(root: Path) -> list[Path]:
    """The directories under ``root`` that declare a policy (the others are layers they are built on)."""
    return [d for d in sorted(p for p in root.iterdir() if p.is_dir())
            if any("\npolicy " in "\n" + f.read_text(encoding="utf-8") for f in d.glob(f"*{RULE_SUFFIX}"))]


def rules_stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    """A cheap stamp of every rule file under ``root`` (name, size, modification time) for the watcher."""
    stamp = []
    for path in sorted(root.glob(f"*/*{RULE_SUFFIX}")):
        try:
            info = path.stat()
        except OSError:  # removed between the listing and the stat: the next poll sees the new state
            continue
        stamp.append((str(path), info.st_size, info.st_mtime_ns))
    return tuple(stamp)


def load_catalogue(root: Path | None = None, generation: int = 0) -> Catalogue:
    """Check and compile every policy under ``root`` (default: the built-in rules); RxError with all problems."""
    root = (root or builtin_rules_dir()).resolve()
    if not root.is_dir():
        raise RxError(Diagnostic(code="RX001", message=f"the policies directory {root} does not exist",
                                 help="give a directory holding one directory per policy and layer, like rules/"))
    policies: dict[str, CompiledPolicy] = {}
    sources: dict[str, PolicySources] = {}
    problems: list[Diagnostic] = []
    for directory in _policy_dirs(root):
        try:
            read = policy_sources(directory)
            checked, _ = check_policy(read)
        except RxError as error:
            problems.extend(error.diagnostics)
            continue
        policies[checked.name] = compile_policy(checked)
        sources[checked.name] = read
    if not policies and not problems:
        problems.append(Diagnostic(code="RX002", message=f"{root} holds no policy directories",
                                   help="give a directory holding one directory per policy and layer, like rules/"))
    if problems:
        raise RxError(problems)
    digest = hashlib.sha256(ENGINE_VERSION.encode())
    for name, policy in policies.items():
        digest.update(f"{name}:{policy.fingerprint}".encode())
    references = MappingProxyType({name: rule_references(policy) for name, policy in policies.items()})
    return Catalogue(root=root, policies=MappingProxyType(policies), sources=MappingProxyType(sources),
                     references=references,
                     fingerprint=digest.hexdigest(), generation=generation)


@attrs.frozen(kw_only=True)
class ReloadResult:
    """What a reload did: ``changed`` when a new snapshot serves, else the problems that kept the old one."""

    changed: bool
    catalogue: Catalogue
    problems: tuple[Diagnostic, ...] = ()


class CatalogueHolder:
    """The current catalogue, replaced atomically; one reload at a time."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._current = catalogue
        self._reload_lock = threading.Lock()

    @property
    def current(self) -> Catalogue:
        """The snapshot serving now; take it once per request."""
        return self._current

    def reload(self) -> ReloadResult:
        """Read, check and compile the rules again; swap only when everything checks."""
        with self._reload_lock:
            old = self._current
            try:
                new = load_catalogue(old.root, generation=old.generation + 1)
            except RxError as error:
                return ReloadResult(changed=False, catalogue=old, problems=error.diagnostics)
            if new.fingerprint == old.fingerprint:
                return ReloadResult(changed=False, catalogue=old)
            # One reference assignment: a request either sees the old snapshot or the new one, never a mix.
            self._current = new
            return ReloadResult(changed=True, catalogue=new)


