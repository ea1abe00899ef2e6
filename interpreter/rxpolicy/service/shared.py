"""Rules shared by the worker processes of one service, so that a reload in one reaches all (``--workers N``).

``rxpolicy serve --workers N`` runs N processes that each hold their own compiled rules. The parent command
makes a private directory for them and names it in the configuration it hands every worker. In it:

- ``rules-<generation>-<id>/``: a snapshot (momentopname) of the rule files exactly as a reload read and checked
  them. Workers compile the snapshot, not the rules directory: when a file changes again while they follow,
  every worker still serves the very texts the reload checked, and a worker started later (uvicorn starts a
  new one when one dies) starts on them too.
- ``stamp.json``: the generation and fingerprint serving now and the snapshot they were compiled from. It is
  replaced whole (written beside, then renamed), so a reader sees the old stamp or the new one, never half of
  one; every request stats it first (one system call) and a worker whose rules are older follows it before
  answering.
- ``reload.lock``: held (``flock``) by the one process that reloads, so that generations are numbered once for
  all workers and two reloads never publish at the same time.

Nothing here is personal data: the directory holds rule texts and numbers only, and only its owner may read it.

A tmp cleaner may remove the directory while the workers run. Generations still never go backwards: a worker that
finds the stamp gone makes the directory again (private, and refused when another user made one in its place)
and publishes again the rules it serves, under their generation, from the texts it keeps of them; and a worker
that finds a stamp numbered below what it serves (one started again before any other put the stamp back numbers
its rules from 0) publishes its own rules again, under its own generation, for that one to follow; so does one that
finds other rules under its own generation published after its own (``Stamp.since``). A publication happens only
under the directory's lock of now and names a snapshot that is there (:class:`DirectoryReplaced` otherwise). A
worker starting on a stamp whose snapshot is gone or no longer gives its rules withdraws the stamp
(:meth:`SharedRules.withdraw`), so that the serving workers publish theirs again as when the directory went.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs

from rxpolicy.diagnostics import Diagnostic, RxError, read_text
from rxpolicy.language.load import RULE_SUFFIX, display_path
from rxpolicy.language.sources import REGISTRY_FILE

__all__ = ["DirectoryReplaced", "FilesStamp", "SharedRules", "SnapshotTexts", "Stamp", "StampKey"]

#: What a stat of the stamp says about which stamp it is: (inode, modification time, size), None when absent.
#: Every stamp is a new file renamed into place, so a new stamp has a new inode or (when the file system hands the
#: freed inode out again) a later modification time: two stamps are at least one compilation apart.
StampKey = tuple[int, int, int] | None

_SNAPSHOT_PREFIX = "rules-"

#: The rule files under a directory as the watcher sees them: (path, size, modification time) each.
FilesStamp = tuple[tuple[str, int, int], ...]

#: The files of a snapshot, by their path inside it (``hollandzorg/policy.rxp``, ``sources.yaml``): what a worker
#: keeps of the rules it serves, to publish them again when the directory was removed from under the service.
SnapshotTexts = Mapping[str, bytes]


class DirectoryReplaced(Exception):
    """The shared directory (or the snapshot to publish) was removed since the reload lock was taken: nothing was
    published; the caller starts again under the directory's new lock."""


@attrs.frozen(kw_only=True)
class Stamp:
    """Which rules every worker serves now: their generation, fingerprint and snapshot directory name."""

    generation: int
    fingerprint: str
    snapshot: str
    #: The rule files (path, size, modification time) as they were when the snapshot was copied.
    files: FilesStamp = ()
    #: When these rules were first published under this generation (``time.monotonic_ns``: the machine's monotonic
    #: clock, which all the service's processes share and which does not step back when the wall clock is set),
    #: kept when they are published again: of two stamps of one generation with different rules (one numbered from
    #: 0 by a worker started while the directory was gone), the earlier is what the workers were serving.
    since: int = 0


class SharedRules:
    """The directory the workers of one service share (see the module): stamp, snapshots and the reload lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._stamp = directory / "stamp.json"
        self._stamp_name = str(self._stamp)  # os.stat of a str skips the Path's conversion on every request
        self._lock = directory / "reload.lock"
        #: The descriptor of the lock file while :meth:`locked` holds it (one holder per process: the holder's
        #: reload lock serialises its callers), to tell at publication that it is still the directory's lock.
        self._held: int | None = None

    def key(self) -> StampKey:
        """The stamp's identity as one ``os.stat`` tells it (cheap enough for every request), None when absent."""
        try:
            info = os.stat(self._stamp_name)
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def read(self) -> Stamp | None:
        """The stamp now, or None before the first one is written (or when the directory is gone).

        Raises :class:`RxError` (RX906) when the directory is not this user's private one: no worker takes up rules
        from a directory another user made where the service's was.
        """
        if not self._private(create=False):
            return None
        try:
            data = json.loads(self._stamp.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return Stamp(generation=int(data["generation"]), fingerprint=str(data["fingerprint"]),
                     snapshot=str(data["snapshot"]),
                     files=tuple((str(p), int(size), int(mtime)) for p, size, mtime in data.get("files", ())),
                     since=int(data.get("since", 0)))

    def publish(self, stamp: Stamp) -> None:
        """Replace the stamp in one step (a temporary file renamed over it); hold :meth:`locked` while calling.

        Raises :class:`DirectoryReplaced`, and leaves no stamp of its own, when the stamp would name a snapshot
        that is gone: the directory was removed since the lock was taken (and maybe made again by another worker,
        with a lock of its own), or the snapshot alone was.
        """
        self._check_intact(stamp)
        temporary = self.directory / f".stamp-{os.getpid()}-{uuid.uuid4().hex}"
        try:
            temporary.write_text(json.dumps(attrs.asdict(stamp)), encoding="utf-8")
            written = os.stat(temporary).st_ino
            os.replace(temporary, self._stamp)
        except FileNotFoundError:  # the directory went meanwhile
            raise DirectoryReplaced(f"{self.directory} was removed while a stamp was published") from None
        try:
            self._check_intact(stamp)
        except DirectoryReplaced:
            # Removed and made again between the check and the rename: take our stamp back, so that no worker
            # follows it to a missing snapshot (the others then publish theirs again, as when the stamp is gone).
            with contextlib.suppress(OSError):
                if os.stat(self._stamp_name).st_ino == written:
                    os.unlink(self._stamp_name)
            raise

    def withdraw(self, stamp: Stamp) -> None:
        """Remove the stamp when it is still ``stamp`` (its snapshot is gone or broken), and that snapshot; hold
        :meth:`locked` while calling. The workers then find no stamp and publish the rules they serve again."""
        if self.read() != stamp:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._stamp_name)
        self.discard(self.snapshot(stamp))

    def _check_intact(self, stamp: Stamp) -> None:
        """DirectoryReplaced unless the lock held is still the directory's lock and the stamp's snapshot is there."""
        held = self._held
        try:
            mine, now = os.fstat(held) if held is not None else None, os.lstat(self._lock)
        except FileNotFoundError:
            mine, now = None, None
        if mine is None or now is None or (mine.st_dev, mine.st_ino) != (now.st_dev, now.st_ino):
            raise DirectoryReplaced(f"{self.directory} was removed since its lock was taken")
        if not os.path.isdir(self.directory / stamp.snapshot):
            raise DirectoryReplaced(f"the snapshot {stamp.snapshot} was removed before it was published")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the reload lock (exclusive across the workers' processes) for the ``with`` block.

        Makes the directory again (mode 700) when it was removed; RxError (RX906) when it is not this user's own.
        The lock taken is the one the directory holds then: a lock file removed (with its directory) while this
        process waited for it is let go and the directory's new one taken, so that two processes never both
        think they hold the lock.
        """
        while True:
            self._private(create=True)
            try:
                descriptor = os.open(self._lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            except FileNotFoundError:  # the directory was removed since it was made: make it again
                continue
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                try:
                    mine, now = os.fstat(descriptor), os.lstat(self._lock)
                except FileNotFoundError:
                    continue  # removed while we waited (the finally blocks let it go): take the new one
                if (mine.st_dev, mine.st_ino) != (now.st_dev, now.st_ino):
                    continue
                self._held = descriptor
                try:
                    yield
                finally:
                    self._held = None
                return
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
                os.close(descriptor)

    def _private(self, *, create: bool) -> bool:
        """Whether the directory is there (made when ``create``); RxError (RX906) when it is there but is not a
        directory of this user that only this user may use (as ``mkdtemp`` made it)."""
        if create:
            try:
                self.directory.mkdir(mode=0o700, parents=True)
            except FileExistsError:
                pass  # ours (checked below), or another's (refused below)
        try:
            info = os.lstat(self.directory)
        except FileNotFoundError:
            return False
        if (not stat.S_ISDIR(info.st_mode) or info.st_mode & 0o077
                or (hasattr(os, "getuid") and info.st_uid != os.getuid())):
            raise RxError(Diagnostic(
                code="RX906", message=f"the directory the workers share, {self.directory}, is not this service's own "
                                      "any more (not a private directory of this user): it was removed and made again "
                                      "by someone else",
                help="restart the service (it makes a new private directory); until then every worker keeps the "
                     "rules it serves, and no reload is published"))
        return True

    def snapshot(self, stamp: Stamp) -> Path:
        """The directory of the snapshot a stamp names."""
        return self.directory / stamp.snapshot

    def snapshot_texts(self, snapshot: Path) -> SnapshotTexts:
        """Every file of a snapshot, by its path inside it: what :meth:`restore` writes again. Read before the
        snapshot is compiled: a snapshot is only ever removed, never changed, so a file missing here is missing
        from the compile too, which then does not give the stamp's fingerprint."""
        texts = {}
        for path in sorted(snapshot.rglob("*")):
            if path.is_file():
                texts[path.relative_to(snapshot).as_posix()] = path.read_bytes()
            elif path.is_dir() and not any(path.iterdir()):
                texts[path.relative_to(snapshot).as_posix() + "/"] = b""  # an empty folder, or a folder `x.rxp`
        return texts

    def restore(self, generation: int, texts: SnapshotTexts) -> Path:
        """A new snapshot holding ``texts`` (:meth:`snapshot_texts`), byte for byte; hold :meth:`locked`."""
        target = self.directory / f"{_SNAPSHOT_PREFIX}{generation}-{uuid.uuid4().hex[:12]}"
        target.mkdir()
        try:
            for name, data in texts.items():
                path = target / name
                path.parent.mkdir(parents=True, exist_ok=True)
                if name.endswith("/"):
                    path.mkdir(exist_ok=True)
                else:
                    path.write_bytes(data)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        return target

    def take_snapshot(self, root: Path, generation: int) -> Path:
        """Copy the rule files under ``root`` (every ``*/*.rxp`` and source registry) to a new snapshot.

        A rule file that cannot be read stops the copy with the message loading it from ``root`` would give
        (RxError). The copy is made before the rules are checked, and the check reads the copy: what a reload
        checked is byte for byte what every worker then compiles.
        """
        target = self.directory / f"{_SNAPSHOT_PREFIX}{generation}-{uuid.uuid4().hex[:12]}"
        target.mkdir(parents=True)
        try:
            _copy_rules(root, target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        return target

    def discard(self, snapshot: Path) -> None:
        """Remove a snapshot no stamp names (its rules did not check, or did not change)."""
        shutil.rmtree(snapshot, ignore_errors=True)

    def prune(self, keep: set[str]) -> None:
        """Remove every snapshot but those named (the stamp's and the one before, which a worker may still be
        reading); hold :meth:`locked` while calling, so that no snapshot being made is removed."""
        for entry in self.directory.iterdir():
            if entry.name.startswith(_SNAPSHOT_PREFIX) and entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)


def _copy_rules(root: Path, target: Path) -> None:
    """Copy what loading the policies under ``root`` reads: its directories' rule files and the registries."""
    _copy_registry(root / REGISTRY_FILE, target / REGISTRY_FILE)
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        copied = target / directory.name
        copied.mkdir()
        _copy_registry(directory / REGISTRY_FILE, copied / REGISTRY_FILE)
        for path in sorted(directory.glob(f"*{RULE_SUFFIX}")):
            if path.is_dir():  # kept as a directory, so that checking the copy reports it as checking root would
                (copied / path.name).mkdir()
                continue
            # Read as the loader reads a rule file (same checks, same messages), written back unchanged.
            text = read_text(path, display_path(path), kind="rule file")
            (copied / path.name).write_text(text, encoding="utf-8", newline="")


def _copy_registry(path: Path, target: Path) -> None:
    if not path.is_file():
        return
    try:
        shutil.copyfile(path, target)
    except OSError as error:
        raise RxError(Diagnostic(code="RX001", message=f"cannot read the source registry {display_path(path)}: "
                                 f"{error.strerror}", help="check that the file is readable")) from None
