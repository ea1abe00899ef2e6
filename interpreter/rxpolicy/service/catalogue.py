"""The policies a service serves: compiled once, replaced whole on reload.

A :class:`Catalogue` is an immutable snapshot (catalogus) of every policy under one rules directory,
compiled. The :class:`CatalogueHolder` keeps the current one; a request takes the snapshot once at its
start, so a reload that swaps in a new one never changes the rules under a request in flight. A reload
whose rules do not check leaves the old snapshot serving and returns the diagnostics that stopped it.
With several worker processes, the holders share a directory (:mod:`rxpolicy.service.shared`): a reload
in one publishes the rules it checked, and every other holder follows before its next request.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from rxpolicy.diagnostics import Diagnostic, RxError, read_text
from rxpolicy.engine.compile import ENGINE_VERSION, CompiledPolicy, compile_policy
from rxpolicy.language.check import PolicySources, check_policy
from rxpolicy.language.load import RULE_SUFFIX, builtin_rules_dir, display_path, policies_input_files, policy_sources
from rxpolicy.service.shared import DirectoryReplaced, FilesStamp, SharedRules, SnapshotTexts, Stamp, StampKey
from rxpolicy.service.wire import rule_references

__all__ = ["Catalogue", "CatalogueHolder", "ReloadResult", "load_catalogue", "rules_stamp"]

#: How often a worker's holder tries to follow a stamp it cannot compile before the request fails (a snapshot
#: removed while it was read, when two reloads were published meanwhile: the next try reads the newest stamp).
_FOLLOW_TRIES = 3


class SnapshotChanged(Exception):
    """A published snapshot compiled to other rules than its stamp says: it was pruned (or replaced) while this
    worker compiled it, after two reloads published during one compile; reading the stamp again finds the rules
    to follow."""


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


def rules_stamp(root: Path) -> FilesStamp:
    """A cheap stamp (name, size, modification time) of every input of the policies under ``root`` for the watcher:
    what :func:`~rxpolicy.language.load.policy_input_files` lists for each directory (rule files and the source
    registry it uses), without reading a file to tell the policies from the layers; each file listed once."""
    try:
        folders = [p for p in root.iterdir() if p.is_dir()]
    except OSError:  # the directory is gone or unreadable: no inputs now, and the next poll looks again
        folders = []
    stamp = []
    for path in policies_input_files(folders):
        try:
            info = os.stat(path)
        except OSError:  # removed between the listing and the stat: the next poll sees the new state
            continue
        stamp.append((path, info.st_size, info.st_mtime_ns))
    return tuple(stamp)


def load_catalogue(root: Path | None = None, generation: int = 0, *, copy: Path | None = None) -> Catalogue:
    """Check and compile every policy under ``root`` (default: the built-in rules); RxError with all problems.

    With ``copy`` (a snapshot of ``root``'s rule files, :class:`~rxpolicy.service.shared.SharedRules`), the files
    are read from the copy but named as the originals in messages, receipts and fingerprints.
    """
    root = (root or builtin_rules_dir()).resolve()
    if not root.is_dir():
        raise RxError(Diagnostic(code="RX001", message=f"the policies directory {root} does not exist",
                                 help="give a directory holding one directory per policy and layer, like rules/"))
    where = copy.resolve() if copy is not None else root

    def original(path: Path) -> Path:
        return root / path.relative_to(where)

    def read_copy(path: Path) -> tuple[str, str]:
        shown = display_path(original(path))
        return shown, read_text(path, shown, kind="rule file")

    policies: dict[str, CompiledPolicy] = {}
    sources: dict[str, PolicySources] = {}
    problems: list[Diagnostic] = []
    for directory in _policy_dirs(where):
        try:
            read = policy_sources(directory) if copy is None else policy_sources(directory, read_copy,
                                                                                 original=original)
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
    """The current catalogue, replaced atomically; one reload at a time.

    With ``shared`` (the worker processes' directory, :meth:`open_shared`), a reload publishes the rules it
    checked to every worker, and :meth:`follow` brings this worker's catalogue up to what was last published.
    """

    def __init__(self, catalogue: Catalogue, shared: SharedRules | None = None, seen: StampKey = None,
                 stamp: Stamp | None = None, texts: SnapshotTexts | None = None) -> None:
        self._current = catalogue
        self._reload_lock = threading.Lock()
        self._shared = shared
        #: The stamp (as a stat sees it, and as read) whose rules this holder serves.
        self._seen = seen
        self._stamp = stamp
        #: The files of the snapshot those rules were compiled from: published again if the directory is removed.
        self._texts = texts
        #: Whether the rules serving here were numbered from the files by this worker alone, at a start that found
        #: no stamp to follow: the workers that were serving may publish theirs again in their place (follow), so
        #: a reload here publishes even rules equal to these, under a new generation, for every worker to take up.
        self._provisional = False

    @classmethod
    def open_shared(cls, root: Path | None, shared: SharedRules, *, wait: float = 0.0) -> CatalogueHolder:
        """A worker's holder: the rules last published in ``shared``; the first one publishes ``root``'s rules.

        The first (the ``serve`` command itself, checking the rules before it starts the workers) copies, checks
        and publishes the rules as generation 0; every worker then compiles that snapshot, so files changed while
        the workers start change nothing, and a worker started later serves what the others serve.

        ``wait``: seconds a worker started after the first publication waits, when it finds no stamp (the directory
        was removed, or the stamp named a snapshot that is gone or broken and was withdrawn here), for another
        worker to publish the rules it serves again (:meth:`follow` does, within its 0.25 s), before it numbers the
        files as they are itself (from 0, or after the withdrawn stamp). Rules numbered so by a worker (``wait``
        above 0, or after a withdrawn stamp) are provisional: its next reload publishes even when the files equal
        them (see :meth:`reload`).
        """
        deadline = time.monotonic() + wait
        #: The generation to number the files from when nobody publishes: 0, or after a stamp withdrawn here.
        floor, failures, turns = 0, 0, 0
        while True:
            turns += 1
            if turns > 4 * _FOLLOW_TRIES:  # every look found the directory or the stamp changed again: say so
                raise OSError(f"the rules published in {shared.directory} changed on every try while this worker "
                              "started")
            key = shared.key()  # before reading, as in follow
            stamp = shared.read()
            if stamp is None:
                if time.monotonic() < deadline:  # a serving worker may publish the rules it serves again
                    time.sleep(0.05)
                    turns -= 1  # waiting is not a try
                    continue
                with shared.locked():
                    key, stamp = shared.key(), shared.read()
                    if stamp is None:  # still nobody: no other process published meanwhile
                        try:
                            return cls._publish_first(root, shared, floor, provisional=wait > 0 or floor > 0)
                        except DirectoryReplaced:  # removed again meanwhile: look again
                            continue
            try:
                # Not under the reload lock: workers starting together compile at the same time.
                catalogue, texts = _load_stamp(root, shared, stamp)
                return cls(catalogue, shared, key, stamp, texts)
            except (RxError, OSError, SnapshotChanged):
                with shared.locked():
                    if shared.read() == stamp and not _loads(root, shared, stamp):
                        # A stamp whose snapshot is gone or broken (removed by hand, or emptied by a tmp cleaner
                        # file by file): nobody compiles those rules again. Withdraw it, as if the directory had
                        # gone: the serving workers publish the rules they serve again from the texts they keep
                        # (CatalogueHolder.follow), and this one takes those up. Only if nobody does within
                        # ``wait`` are the files numbered as they are, after that stamp (never backwards).
                        shared.withdraw(stamp)
                        floor, deadline = max(floor, stamp.generation + 1), time.monotonic() + wait
                        continue
                failures += 1
                if failures == _FOLLOW_TRIES:
                    raise

    @classmethod
    def _publish_first(cls, root: Path | None, shared: SharedRules, generation: int, *,
                       provisional: bool) -> CatalogueHolder:
        resolved = (root or builtin_rules_dir()).resolve()
        files = rules_stamp(resolved)  # before the copy: a file changed while it is made is seen as changed
        snapshot = shared.take_snapshot(resolved, generation)
        try:
            texts = shared.snapshot_texts(snapshot)
            catalogue = load_catalogue(resolved, generation, copy=snapshot)
            stamp = Stamp(generation=generation, fingerprint=catalogue.fingerprint, snapshot=snapshot.name,
                          files=files, since=time.monotonic_ns())
            shared.publish(stamp)
        except BaseException:
            shared.discard(snapshot)
            raise
        holder = cls(catalogue, shared, shared.key(), stamp, texts)
        holder._provisional = provisional
        return holder

    @property
    def current(self) -> Catalogue:
        """The snapshot serving now; take it once per request (after :meth:`follow` when :meth:`stale`)."""
        return self._current

    @property
    def files_read(self) -> FilesStamp | None:
        """:func:`rules_stamp` of the rule files as they were when the rules serving now were copied (shared by
        workers; None in one process): the watcher's starting point, so that a file changed after the copy,
        while the workers were starting, is reloaded."""
        return self._stamp.files if self._stamp is not None else None

    def stale(self) -> bool:
        """Whether another worker published rules this one does not serve yet (one ``os.stat``)."""
        return self._shared is not None and self._shared.key() != self._seen

    def follow(self) -> Catalogue | None:
        """Serve the rules another worker published, when they are not served yet: the new catalogue, or None.

        Once per publication: a request that waited here while another compiled finds the work done.
        """
        with self._reload_lock:
            return self._follow_locked(held=False)

    def _follow_locked(self, *, held: bool) -> Catalogue | None:
        """:meth:`follow` under the reload lock; ``held``: the workers' lock (:meth:`SharedRules.locked`) too."""
        if self._shared is None:
            return None
        shared, attempt = self._shared, 0
        while attempt < _FOLLOW_TRIES:
            key = shared.key()  # before reading: a stamp replaced meanwhile is newer, and seen next time
            if key == self._seen:
                return None
            # The stamp is gone (its directory removed from under the service, by a tmp cleaner say), or a worker
            # started while it was gone numbered its rules from 0 again: publish the rules serving here again, under
            # their generation, so that a worker started later takes them up and no client sees the generation go back.
            try:
                stamp = shared.read()
                behind = key is None or stamp is None or self._ahead_of(stamp)
                if behind and self._publish_own(shared, held, replacing=stamp if key is not None else None):
                    return None
            except RxError:
                # A directory in its place that is not the service's own (SharedRules.read): serve on with the rules
                # this worker has, and say so once (the caller logs it), not on every request.
                self._seen = shared.key()
                raise
            if behind or stamp is None:
                attempt += 1  # another worker published meanwhile: follow that
                continue
            old = self._current
            if stamp.fingerprint == old.fingerprint:  # the same rules published again: no compile
                self._seen, self._stamp = key, stamp
                self._provisional = False
                if stamp.generation == old.generation:
                    return None
                self._current = attrs.evolve(old, generation=stamp.generation)
                return self._current
            try:
                new, texts = _load_stamp(old.root, shared, stamp)
            except (RxError, OSError, SnapshotChanged):
                attempt += 1
                if attempt == _FOLLOW_TRIES:
                    raise
                continue
            self._current = new  # first the rules, then the stamp they follow: a stale look never misses them
            self._seen, self._stamp, self._texts = key, stamp, texts
            self._provisional = False
            return new
        return None

    def _ahead_of(self, stamp: Stamp) -> bool:
        """Whether the rules serving here must be published again in place of ``stamp``: it is numbered below them,
        or it has their generation with other rules and was published later (by a worker started while the
        directory was gone, numbering the files as they were from 0). A worker never takes up other rules under
        the generation it serves: the newcomer follows the workers that were serving, not the other way round."""
        current, mine = self._current, self._stamp
        if stamp.generation != current.generation:
            return stamp.generation < current.generation
        return (stamp.fingerprint != current.fingerprint and mine is not None
                and (mine.since, mine.fingerprint) < (stamp.since, stamp.fingerprint))

    def _publish_own(self, shared: SharedRules, held: bool, replacing: Stamp | None) -> bool:
        """Publish the rules serving here again, under their generation, in place of ``replacing`` (the stamp read,
        None when it was gone); False when another worker replaced it first. From the files this worker keeps of
        their snapshot (which went with the directory), or, when ``replacing`` has the same rules, by renumbering
        it. The directory is made again, private, by :meth:`SharedRules.locked`."""
        if self._texts is None or self._stamp is None:  # not a worker's holder (no shared directory): nothing kept
            self._seen = None
            return True
        current = self._current
        lock: AbstractContextManager[None] = nullcontext() if held else shared.locked()
        with lock:
            if shared.read() != replacing:
                return False
            snapshot = None
            if replacing is not None and replacing.fingerprint == current.fingerprint:
                stamp = attrs.evolve(replacing, generation=current.generation, since=self._stamp.since)
            else:
                snapshot = shared.restore(current.generation, self._texts)
                stamp = Stamp(generation=current.generation, fingerprint=current.fingerprint, snapshot=snapshot.name,
                              files=self._stamp.files, since=self._stamp.since)
            try:
                shared.publish(stamp)
            except DirectoryReplaced:  # removed again meanwhile: the caller reads what is there now
                if snapshot is not None:
                    shared.discard(snapshot)
                return False
            self._seen, self._stamp = shared.key(), stamp
        return True

    def reload(self) -> ReloadResult:
        """Read, check and compile the rules again; swap only when everything checks.

        Shared by workers: under the workers' reload lock, follow what was published, check a snapshot of the
        rule files, and publish it when it checks and differs (or when the rules serving here are provisional:
        numbered from the files by this worker at its start, which the workers that were serving may publish
        theirs over); rules that do not check publish nothing.
        """
        with self._reload_lock:
            if self._shared is not None:
                for _ in range(_FOLLOW_TRIES):
                    with self._shared.locked():
                        try:
                            return self._reload_shared(self._shared)
                        except DirectoryReplaced:  # removed during the reload: again, under the new directory
                            continue
                raise OSError(f"{self._shared.directory} was removed during every try of the reload")
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

    def _reload_shared(self, shared: SharedRules) -> ReloadResult:
        self._follow_locked(held=True)
        old = self._current
        previous = shared.read()
        files = rules_stamp(old.root)  # before the copy: a file changed while it is made is seen as changed
        try:
            snapshot = shared.take_snapshot(old.root, old.generation + 1)
        except RxError as error:  # a rule file that cannot be read: as loading it from the directory would say
            return ReloadResult(changed=False, catalogue=old, problems=error.diagnostics)
        try:
            texts = shared.snapshot_texts(snapshot)
            new = load_catalogue(old.root, generation=old.generation + 1, copy=snapshot)
        except RxError as error:
            shared.discard(snapshot)
            return ReloadResult(changed=False, catalogue=old, problems=error.diagnostics)
        except BaseException:
            shared.discard(snapshot)
            raise
        if new.fingerprint == old.fingerprint and not self._provisional:
            shared.discard(snapshot)
            return ReloadResult(changed=False, catalogue=old)
        # Provisional rules (numbered from the files at a start that found no stamp) are published again under a
        # new generation even when the files did not change: the workers that were serving would otherwise publish
        # theirs again over them, and the client told "unchanged" would be served other rules.
        stamp = Stamp(generation=new.generation, fingerprint=new.fingerprint, snapshot=snapshot.name, files=files,
                      since=time.monotonic_ns())
        try:
            shared.publish(stamp)
        except DirectoryReplaced:
            shared.discard(snapshot)
            raise
        self._current = new
        # No other stamp can come between: we hold the reload lock.
        self._seen, self._stamp, self._texts = shared.key(), stamp, texts
        self._provisional = False
        shared.prune({snapshot.name} | ({previous.snapshot} if previous else set()))
        return ReloadResult(changed=True, catalogue=new)


def _loads(root: Path | None, shared: SharedRules, stamp: Stamp) -> bool:
    """Whether the snapshot a stamp names is there and compiles to the stamp's rules (read under the lock: no
    prune runs meanwhile, so a failure is the snapshot's, not a race with a later reload)."""
    if not shared.snapshot(stamp).is_dir():
        return False
    try:
        _load_stamp(root, shared, stamp)
    except (RxError, OSError, SnapshotChanged):
        return False
    return True


def _load_stamp(root: Path | None, shared: SharedRules, stamp: Stamp) -> tuple[Catalogue, SnapshotTexts]:
    """Compile the snapshot a stamp names, and keep its files; it checked when it was published, so it compiles
    the same here."""
    # The files first: a snapshot is never changed, only removed, so files read whole before a compile that gives
    # the stamp's fingerprint are the texts it was compiled from.
    texts = shared.snapshot_texts(shared.snapshot(stamp))
    catalogue = load_catalogue(root, stamp.generation, copy=shared.snapshot(stamp))
    if catalogue.fingerprint != stamp.fingerprint:
        # The same texts and the same engine give the same fingerprint: a difference means the snapshot's files
        # changed under the compile (a prune by a later reload), which a new reading of the stamp settles.
        raise SnapshotChanged(f"the snapshot {stamp.snapshot} compiled to {catalogue.fingerprint}, not to "
                              f"{stamp.fingerprint} as published")
    return catalogue, texts


