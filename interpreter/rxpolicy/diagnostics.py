"""Errors as data: every problem with a rule file, a case or a command line is a :class:`Diagnostic`.

Codes are stable and documented in docs/errors.md:

* RX0xx  files that cannot be read
* RX1xx  rule-file syntax
* RX2xx  rule-file structure (clauses missing or repeated)
* RX3xx  names, types, citations, validity, exceptions (the checker)
* RX4xx  case files
* RX5xx  evaluation (conflicts, gaps, nothing in force on the date)
* RX6xx  command line and policy selection
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import attrs

from rxpolicy.language.source import SourceFile, Span

__all__ = ["Diagnostic", "RxError", "Severity", "decode_text", "did_you_mean", "read_text"]


class Severity(enum.Enum):
    """How bad a finding is: errors stop evaluation, warnings are shown and do not."""

    ERROR = "error"
    WARNING = "warning"


@attrs.frozen(kw_only=True)
class Diagnostic:
    """One problem, with where it is, what is wrong and how to fix it."""

    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    severity: Severity = Severity.ERROR
    #: Other places worth showing, e.g. the other rule of a conflict.
    related: tuple[tuple[str, Span], ...] = ()
    #: For case files: the field path, e.g. ``medicine.atc``.
    field: str | None = None
    #: Extra lines shown under the message (e.g. a witness case).
    notes: tuple[str, ...] = ()

    def sort_key(self) -> tuple[str, int, int, str]:
        """Diagnostics are reported in file order."""
        if self.span is None:
            return ("", 0, 0, self.code)
        return (self.span.path, self.span.line, self.span.column, self.code)


class RxError(Exception):
    """Raised with one or more diagnostics when input is bad; the CLI turns it into exit code 2.

    ``sources`` holds texts the diagnostics point into that are not files on disk (standard input,
    an editor's buffer), so their lines can still be shown under the message.
    """

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic], *,
                 sources: Mapping[str, SourceFile] | None = None) -> None:
        items = (diagnostics,) if isinstance(diagnostics, Diagnostic) else tuple(diagnostics)
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(items, key=Diagnostic.sort_key))
        self.sources: Mapping[str, SourceFile] = MappingProxyType(dict(sources or {}))
        super().__init__("; ".join(f"{d.code}: {d.message}" for d in self.diagnostics))


def did_you_mean(word: str, candidates: Sequence[str] | Iterable[str]) -> str | None:
    """The closest candidate to a misspelt word, or None when nothing is close enough."""
    import difflib  # here: only a message with a suggestion needs it

    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def read_text(path: Path, shown: str, *, kind: str = "file", encoding_code: str = "RX001") -> str:
    """The UTF-8 text of a file the user named, or :class:`RxError` saying in plain words why not.

    ``shown`` is the path as messages show it, ``kind`` what the file is ("case file", "rule file"),
    ``encoding_code`` the code for a file that is not UTF-8 text (a case file's own problem is RX401).
    """
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            # A pipe or a device: reading it could wait forever for a writer, or never end.
            raise RxError(Diagnostic(code="RX001", message=f"{shown} is {_file_kind(mode)}, not a {kind}",
                                     help=f"name the {kind} itself (a regular file)"))
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8(shown, kind, encoding_code, error) from None
    except FileNotFoundError:
        if path.is_symlink():
            raise RxError(Diagnostic(code="RX001", message=f"the {kind} {shown} is a symbolic link to "
                                     f"{os.readlink(path)}, which does not exist",
                                     help="remove the link, or make it point at the file")) from None
        raise RxError(Diagnostic(code="RX001", message=f"the {kind} {shown} does not exist",
                                 help="check the path; paths are relative to the directory you run rxpolicy in")) from None
    except IsADirectoryError:
        raise RxError(Diagnostic(code="RX001", message=f"{shown} is a directory, not a {kind}",
                                 help=f"name the {kind} itself")) from None
    except OSError as error:
        raise RxError(Diagnostic(code="RX001", message=f"cannot read the {kind} {shown}: {error.strerror}",
                                 help="check that the file is readable")) from None


def decode_text(data: bytes, shown: str, *, kind: str = "file", encoding_code: str = "RX001") -> str:
    """The text of a file's bytes as :func:`read_text` gives it (UTF-8, every line ending a line feed), or
    :class:`RxError` when they are not UTF-8; for bytes read once and both hashed and parsed (the policy store)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8(shown, kind, encoding_code, error) from None
    # As reading the whole file in text mode does (universal newlines): spans count lines the same either way.
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _not_utf8(shown: str, kind: str, code: str, error: UnicodeDecodeError) -> RxError:
    return RxError(Diagnostic(code=code, message=f"{shown} is not UTF-8 text (byte {error.start + 1} is not a UTF-8 "
                              "character)", help=f"save the {kind} as UTF-8 text"))


def _file_kind(mode: int) -> str:
    """What a file that is not a regular file or a directory is, in plain words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"
