"""Diagnostics as text: ``file:line:col: RXnnn: message``, the source line with a caret, and the fix."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rxpolicy.diagnostics import Diagnostic, Severity
from rxpolicy.language.source import Span
from rxpolicy.explain.escape import escape_controls

__all__ = ["render_diagnostic", "render_diagnostics"]

LineLookup = Callable[[str, int], str | None]


#: Characters of a long line shown before the problem, and at most in all.
_BEFORE, _SHOWN = 40, 100


def _caret(span: Span, line_text: str) -> list[str]:
    """The line with a caret under the span: a long line cut to the part around the problem, and characters
    that would not show (or would act on the terminal) escaped, with the caret still under its character."""
    width = max(1, (span.end_column - span.column) if span.end_line == span.line else len(line_text) - span.column + 1)
    start = max(0, span.column - 1 - _BEFORE) if len(line_text) > _SHOWN else 0
    end = min(len(line_text), start + _SHOWN) if len(line_text) > _SHOWN else len(line_text)
    before = ("…" if start else "") + escape_controls(line_text[start:span.column - 1])
    marked = escape_controls(line_text[span.column - 1:span.column - 1 + width])
    shown = before + marked + escape_controls(line_text[span.column - 1 + width:end]) + ("…" if end < len(line_text) else "")
    width = max(1, min(len(marked), len(shown) - len(before))) if marked else 1
    gutter = f"{span.line:>5} | "
    return [gutter + shown, " " * (len(gutter) + len(before)) + "^" * width]


def render_diagnostic(diagnostic: Diagnostic, line_of: LineLookup | None = None) -> str:
    """One diagnostic as a short paragraph (the caret needs ``line_of(path, line)``)."""
    where = ""
    if diagnostic.span is not None:
        where = f"{diagnostic.span}: "
    kind = "" if diagnostic.severity is Severity.ERROR else "warning: "
    field = f" (field `{diagnostic.field}`)" if diagnostic.field and diagnostic.span is None else ""
    lines = [escape_controls(f"{where}{diagnostic.code}: {kind}{diagnostic.message}{field}")]
    if diagnostic.span is not None and line_of is not None:
        text = line_of(diagnostic.span.path, diagnostic.span.line)
        if text is not None:
            lines.extend(_caret(diagnostic.span, text))
    for label, span in diagnostic.related:
        lines.append(escape_controls(f"  note: {label} at {span}"))
    lines.extend(f"  {escape_controls(note)}" for note in diagnostic.notes)
    if diagnostic.help:  # (messages and fixes may quote what a case wrote)
        lines.append(f"  help: {escape_controls(diagnostic.help)}")
    return "\n".join(lines)


def render_diagnostics(diagnostics: Iterable[Diagnostic], line_of: LineLookup | None = None) -> str:
    """Several diagnostics, separated by blank lines."""
    return "\n\n".join(render_diagnostic(d, line_of) for d in diagnostics) + "\n"
