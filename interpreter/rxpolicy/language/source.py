"""Source files and spans: where a piece of rule text or case text lives.

Every later stage points back into the text through a :class:`Span`, so that an error
or an explanation can name ``file:line:col`` and show the line with a caret.
"""

from __future__ import annotations

import bisect
import hashlib
from pathlib import Path

import attrs

__all__ = ["SourceFile", "Span"]


@attrs.frozen(kw_only=True)
class Span:
    """A stretch of one source file; lines and columns count from 1, ``end_*`` is exclusive."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@attrs.frozen(kw_only=True)
class SourceFile:
    """The text of one rule file or case file, with its display path."""

    path: str
    text: str
    #: What identifies a rule file whatever the working directory: ``<layer>/<file>.rxp``, or
    #: ``rules/<layer>/<file>.rxp`` for a built-in one (receipts and decisions' ``line`` use it); None for other text.
    name: str | None = None
    _line_starts: tuple[int, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(self.text) if ch == "\n")
        object.__setattr__(self, "_line_starts", tuple(starts))

    @classmethod
    def read(cls, path: Path, display: str | None = None) -> SourceFile:
        """Read a UTF-8 file; ``display`` is the path shown in messages (default: as given)."""
        return cls(path=display or str(path), text=path.read_text(encoding="utf-8"))

    @property
    def identity(self) -> str:
        """The stable name when there is one, else the path as shown."""
        return self.name or self.path

    @property
    def sha256(self) -> str:
        """Content hash, used in decision receipts."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def line_text(self, line: int) -> str:
        """The text of line ``line`` (1-based) without its newline; '' past the end."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def span(self, start: int, end: int) -> Span:
        """The span between two character offsets."""
        line, column = self.position(start)
        end_line, end_column = self.position(max(start, end))
        return Span(path=self.path, line=line, column=column, end_line=end_line, end_column=end_column)

    def slice(self, span: Span) -> str:
        """The text a span covers (used to quote a condition as its author wrote it)."""
        start = self._line_starts[span.line - 1] + span.column - 1
        end = self._line_starts[span.end_line - 1] + span.end_column - 1
        return self.text[start:end]

    def last_text_position(self) -> Span:
        """A one-character span just after the last non-blank character (for 'file ends here')."""
        stripped = self.text.rstrip()
        return self.span(len(stripped), len(stripped))
