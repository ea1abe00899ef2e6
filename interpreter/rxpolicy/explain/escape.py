"""Text from a case, made safe to print: no line breaks, terminal escapes or invisible characters get through.

A case's texts (``medicine.name``, an indication, a plan) reach the explanation verbatim. Printed as
they are, a line break in a name starts a line of its own (``Outcome: COVERED`` above the real
outcome), an ANSI escape moves the cursor or hides text, a bidi override reverses what follows and a
lone surrogate is not UTF-8 at all. Renderers therefore pass every line through
:func:`escape_controls`, which writes such characters as visible escapes (``\\n``, ``\\x1b``,
``\\u202e``) and leaves every printable character, in any script, as it is.
"""

from __future__ import annotations

import unicodedata

__all__ = ["escape_controls", "escape_markdown", "escape_markdown_line"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Unicode categories that are never shown as themselves: control, format (bidi overrides, zero-width
#: characters, a byte order mark), surrogate, private use, line and paragraph separators.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
#: Markdown's punctuation; `<` (HTML) is escaped on every line by :func:`escape_markdown_line`.
_MARKDOWN = frozenset("\\`*_{}[]>()#+-.!|~")


def _escaped(char: str) -> str:
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_controls(text: str) -> str:
    """``text`` with every control, format, surrogate or separator character written as a visible escape."""
    if text.isprintable():  # the common case: nothing to do
        return text
    return "".join(_escaped(c) if unicodedata.category(c) in _HIDDEN else c for c in text)


def escape_markdown(text: str) -> str:
    """A text shown inline in Markdown (a heading): every character Markdown would act on (``*``, ``[``, ``|``,
    ``#`` ...) backslash-escaped, so that it shows as written; the line it is put in then goes through
    :func:`escape_markdown_line`, which escapes controls and ``<``."""
    return "".join(f"\\{c}" if c in _MARKDOWN else c for c in text)


def escape_markdown_line(line: str) -> str:
    """A line of Markdown output: controls escaped (:func:`escape_controls`) and every ``<`` backslash-escaped,
    so that no text in it (a case's) starts HTML (``<br>``, ``<script>``) where the Markdown is shown."""
    return escape_controls(line).replace("<", "\\<")
