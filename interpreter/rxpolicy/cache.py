"""A cache on disk for what is slow to build and never changes for the same inputs (compiled policies, the parser).

An entry is read back only after its HMAC checks out: unpickling runs code, so a file that a
corrupt disk, a truncated write, another version of rxpolicy or another user left in the cache is
never unpickled; it is treated as missing and rebuilt. The HMAC key is a random file in the cache
directory, created once and private to the user (mode 0600); a key file that is not the user's
own or that others can read means no cache. An entry's name is a hash of everything it depends
on, so a changed input selects another entry rather than invalidating one.

Writes go to a temporary file in the same directory and are renamed into place: a reader sees a
whole entry or none, and two processes filling the cache at once each leave a valid entry. A
directory that cannot be created, read or written means no cache, never an error.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import stat
import sys
from pathlib import Path

__all__ = ["CACHE_ENV", "MAX_ENTRIES", "DiskCache", "default_cache_dir", "engine_digest"]

#: The environment variable that names the cache directory; empty or ``off`` turns the cache off.
CACHE_ENV = "RXPOLICY_CACHE_DIR"
_MAGIC = b"rxpolicy-cache-1\n"
_KEY_FILE = "hmac.key"
#: Entries kept per kind (compiled policies, parsers); the least recently used beyond this are removed.
MAX_ENTRIES = 32
_KEY_BYTES = 32
_MAC_BYTES = hashlib.sha256().digest_size


def default_cache_dir() -> Path | None:
    """``$RXPOLICY_CACHE_DIR``, else the user's cache directory (platformdirs); None when turned off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return None if configured.strip() in ("", "off") else Path(configured)
    import platformdirs  # here: only a process that looks for its cache needs it

    return Path(platformdirs.user_cache_dir("rxpolicy", appauthor=False))


@functools.cache
def engine_digest() -> str:
    """A hash of the name, size and modification time of rxpolicy's source files and the Python version.

    A changed engine reads no older entry: the version number alone would not do for a checkout being
    edited. Read from the directory listing (one ``scandir`` per package, no file read), as Python itself
    decides whether a module's bytecode is current; once per process. Hashing the content of the sources
    (a megabyte) cost a fresh ``rxpolicy eval`` about 3 ms.
    """
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    package = os.path.dirname(os.path.abspath(__file__))
    found: list[tuple[str, int, int]] = []
    folders = [package]
    while folders:
        folder = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".py") and entry.is_file():
                    info = entry.stat()
                    found.append((entry.path[len(package):], info.st_size, info.st_mtime_ns))
                elif entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                    folders.append(entry.path)
    for name, size, modified in sorted(found):
        digest.update(f"{name}\0{size}\0{modified}\0".encode())
    return digest.hexdigest()


class DiskCache:
    """Entries by name in one directory, each authenticated with the directory's private key.

    Safe to use from several threads and processes: entries are written whole by rename, and a
    missing, unreadable or forged entry reads as None.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._key: bytes | None = None

    def __repr__(self) -> str:
        return f"DiskCache({str(self.directory)!r})"

    def read(self, kind: str, name: str) -> bytes | None:
        """The payload stored under ``kind``/``name``, or None when absent, unreadable or not authentic."""
        key = self._load_key(create=False)
        if key is None:
            return None
        try:
            data = (self.directory / kind / name).read_bytes()
        except OSError:
            return None
        head = len(_MAGIC) + _MAC_BYTES
        if len(data) < head or not data.startswith(_MAGIC):
            return None
        mac, payload = data[len(_MAGIC):head], data[head:]
        expected = hmac.new(key, kind.encode() + b"\0" + name.encode() + b"\0" + payload, "sha256").digest()
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            os.utime(self.directory / kind / name)  # the entries used last are the ones kept (see write)
        except OSError:
            pass
        return payload

    def write(self, kind: str, name: str, payload: bytes) -> bool:
        """Store ``payload`` under ``kind``/``name``; False (and nothing written) when the directory is unusable."""
        key = self._load_key(create=True)
        if key is None:
            return False
        mac = hmac.new(key, kind.encode() + b"\0" + name.encode() + b"\0" + payload, "sha256").digest()
        written = _write_atomically(self.directory / kind, name, _MAGIC + mac + payload)
        if written:
            self._prune(kind, keep=name)
        return written

    def _prune(self, kind: str, keep: str) -> None:
        """Remove the entries of a kind used least recently beyond :data:`MAX_ENTRIES` (each edit of a rule
        file makes a new entry; without this the directory would only grow)."""
        try:
            with os.scandir(self.directory / kind) as scan:
                entries = [(e.stat().st_mtime_ns, e.name) for e in scan
                           if e.is_file() and not e.name.startswith(".") and e.name != keep]
            for _, name in sorted(entries)[: max(0, len(entries) + 1 - MAX_ENTRIES)]:
                os.unlink(self.directory / kind / name)
        except OSError:
            pass  # another process pruned first, or the directory went away: nothing to do

    def _load_key(self, create: bool) -> bytes | None:
        if self._key is not None:
            return self._key
        path = self.directory / _KEY_FILE
        key = _read_private(path)
        if key is None and create and not path.exists():
            try:
                self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
                fresh = os.urandom(_KEY_BYTES)
                # A new key is linked into place only if no other process made one first; then theirs is used.
                _write_atomically(self.directory, _KEY_FILE, fresh, exclusive=True)
            except OSError:
                return None
            key = _read_private(path)
        self._key = key
        return key


def _read_private(path: Path) -> bytes | None:
    """A key file's bytes, if it is a regular file of this user that no one else may read or write."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o077):
            return None
        key = os.read(fd, _KEY_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return key if len(key) == _KEY_BYTES else None


def _write_atomically(directory: Path, name: str, data: bytes, *, exclusive: bool = False) -> bool:
    """Write a file whole or not at all (temporary file, then rename); ``exclusive`` keeps an existing file."""
    import tempfile  # here: only a process that writes an entry needs it

    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as out:  # mkstemp makes the file private to the user (0600)
            out.write(data)
        if exclusive:
            try:
                os.link(temporary, directory / name)
            except FileExistsError:
                pass
        else:
            os.replace(temporary, directory / name)
        return True
    except OSError:
        return False
    finally:
        try:
            os.unlink(temporary)
        except OSError:
            pass
