"""Diagnostics as text: ``file:line:col: RXnnn: message``, the source line with a caret, and the fix."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rxpolicy.diagnostics import Diagnostic, Severity
from rxpolicy.language.source import Span

__all__ = ["render_diagnostic", "render_diagnostics"]

LineLookup = Callable[[str, int], str | None]


def _caret(span: Span, line_text: str) -> list[str]:
    width = max(1, (span.end_column - span.column) if span.end_line == span.line else len(line_text) - span.column + 1)
    gutter = f"{span.line:>5} | "
    return [gutter + line_text, " " * (len(gutter) + span.column - 1) + "^" * width]


def render_diagnostic(diagnostic: Diagnostic, line_of: LineLookup | None = None) -> str:
    """One diagnostic as a short paragraph (the caret needs ``line_of(path, line)``)."""
    where = ""
    if diagnostic.span is not None:
        where = f"{diagnostic.span}: "
    kind = "" if diagnostic.severity is Severity.ERROR else "warning: "
    field = f" (field `{diagnostic.field}`)" if diagnostic.field and diagnostic.span is None else ""
    lines = [f"{where}{diagnostic.code}: {kind}{diagnostic.message}{field}"]
    if diagnostic.span is not None and line_of is not None:
        text = line_of(diagnostic.span.path, diagnostic.span.line)
        if text is not None:
            lines.extend(_caret(diagnostic.span, text))
    for label, span in diagnostic.related:
        lines.append(f"  note: {label} at {span}")
    lines.extend(f"  {note}" for note in diagnostic.notes)
    if diagnostic.help:
        lines.append(f"  help: {diagnostic.help}")
    return "\n".join(lines)


def render_diagnostics(diagnostics: Iterable[Diagnostic], line_of: LineLookup | None = None) -> str:
    """Several diagnostics, separated by blank lines."""
    return "\n\n".join(render_diagnostic(d, line_of) for d in diagnostics) + "\n"
