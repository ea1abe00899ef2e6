"""Stage 1: rule-file text → Lark parse tree, or a syntax diagnostic (RX1xx) with a caret.

Lark stops at a file's first syntax error; the message says what was found, what would be valid
there (in words, not terminal names) and, for a misspelt keyword, which keyword was meant.
"""

from __future__ import annotations

import functools
import unicodedata

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean
from rxpolicy.language.grammar import parser
from rxpolicy.language.source import SourceFile, Span

__all__ = ["parse", "describe_terminal"]

# How a policy expert reads the grammar's named terminals.
_TERMINAL_WORDS = {
    "NAME": "a name (like `medicine.atc` or `max_supply`)",
    "RULE_ID": "a rule id (like `dispensing-period/chronic`)",
    "STRING": 'a text in double quotes ("...")',
    "DATE": "a date (YYYY-MM-DD)",
    "NUMBER": "a number",
    "ATC": "an ATC code or prefix (like `N05BA04` or `N05B*`)",
    "COMPARE": "a comparison (<, <=, >, >=)",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`",
    "DURATION_UNIT": "`days` or `months`",
    "ROUNDING_MODE": "a rounding mode (`half up`, `half even`, `down`, `up`)",
    "ROUNDING_UNIT": "`whole euros` or `cents` (money), `a whole number` (a number or percentage)",
    "DECIMALS": "`decimals` (after how many: `2 decimals`)",
    "LEAP_DAY_BIRTHDAY": "`1 March` or `28 February`",
    "FUNCTION": "a function (`min`, `max`, `days_between`, `year_of`, `date_from`, `quotient`, `birthday`, …)",
    "TYPE_WORD": "a type (`yes or no`, `money`, `duration`, `supply limit`, `number`, `date`, `text`, `percentage`)",
    "$END": "the end of the file",
}


def describe_terminal(name: str) -> str:
    """Words for a grammar terminal: keywords in backticks, the others described."""
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    for term in parser().terminals:
        if term.name == name:
            return f"`{term.pattern.value}`"
    return name


def _keyword(name: str) -> str | None:
    for term in parser().terminals:
        if term.name == name and term.pattern.type == "str" and term.pattern.value.isalpha():
            return str(term.pattern.value)
    return None


@functools.cache
def keywords() -> frozenset[str]:
    """Every keyword of the language (reserved words: they cannot be names)."""
    return frozenset(str(t.pattern.value) for t in parser().terminals
                     if t.pattern.type == "str" and str(t.pattern.value).isalpha())


def _expected_words(expected: set[str]) -> str:
    words = sorted({describe_terminal(e) for e in expected if not e.startswith("__")})
    if len(words) > 8:
        words = words[:8] + ["…"]
    return ", ".join(words)


def parse(source: SourceFile) -> Tree[Token]:
    """Parse a rule file; raises :class:`RxError` with one RX1xx diagnostic on a syntax error."""
    try:
        return parser().parse(source.text)
    except UnexpectedInput as error:
        raise RxError(_syntax_diagnostic(source, error)) from None


#: Characters that do not show (or look like a space) and how they usually get into a file, with the fix.
_UNSEEN = {
    "\ufeff": ("a byte order mark (BOM, U+FEFF)", "save the file as UTF-8 without a byte order mark (BOM); most "
                                                  "editors offer this under 'encoding'"),
    "\u00a0": ("a no-break space (U+00A0)", "replace it with an ordinary space"),
    "\x00": ("a NUL character (U+0000)", "remove it: a rule file is text, and NUL is not; the file may be damaged"),
}


def _unseen_character(char: str) -> tuple[str, str] | None:
    """For a character that cannot be seen where it is (a BOM, a no-break space, a control character): how
    to name it in a message, and the fix; None for a character that shows as itself."""
    if char in _UNSEEN:
        return _UNSEEN[char]
    category = unicodedata.category(char)
    if category[0] in "CZ" and char not in " \n":
        name = unicodedata.name(char, "").lower()
        named = f"the invisible character U+{ord(char):04X}" + (f" ({name})" if name else "")
        return named, "remove it, or replace it with an ordinary space"
    return None


def _syntax_diagnostic(source: SourceFile, error: UnexpectedInput) -> Diagnostic:
    if isinstance(error, UnexpectedCharacters):
        position = error.pos_in_stream or 0
        span = source.span(position, position + 1)
        char = source.text[position]
        if char == '"':
            return Diagnostic(code="RX101", span=span, message="this text has no closing double quote",
                              help='end the text with `"` on the same line; a long text can be split into '
                                   'several quoted parts, one after the other')
        unseen = _unseen_character(char)
        if unseen is not None:
            return Diagnostic(code="RX101", span=span, message=f"{unseen[0]} cannot be used here", help=unseen[1])
        # The lexer accepts a name everywhere (whole-word keywords); offer one only where the parser would.
        allowed = _acceptable(error) or set(error.allowed or ()) - {"NAME"}
        return Diagnostic(code="RX101", span=span, message=f"the character `{char}` cannot be used here",
                          help=f"write {_expected_words(allowed)} here"
                          if allowed else "remove it, or put text between double quotes")
    if isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END"):
        expected = _acceptable(error)
        return Diagnostic(code="RX102", span=source.last_text_position(),
                          message="the file ends here, but the rule text is not finished",
                          help=f"add {_expected_words(expected)}; every block closes with `end`")
    assert isinstance(error, UnexpectedToken)
    return _unexpected_token(source, error)


def _acceptable(error: UnexpectedInput) -> set[str]:
    """What the parser would really accept here.

    LALR merges states, so ``error.expected`` may list tokens valid only in another context (``row``
    outside a table); asking the interactive parser gives the exact set.
    """
    interactive = getattr(error, "interactive_parser", None)
    if interactive is not None:
        try:
            return set(interactive.accepts())
        except Exception:  # noqa: BLE001 - fall back to Lark's own list if replaying fails
            pass
    return set(getattr(error, "expected", ()) or ())


def _unexpected_token(source: SourceFile, error: UnexpectedToken) -> Diagnostic:
    token = error.token
    span = Span(path=source.path, line=token.line or 1, column=token.column or 1,
                end_line=token.end_line or token.line or 1,
                end_column=token.end_column or (token.column or 1) + len(str(token)))
    expected = _acceptable(error)
    expected_keywords = [kw for kw in (_keyword(e) for e in expected) if kw]
    # Where no keyword fits, the lexer hands a keyword over as a plain name.
    is_keyword = _keyword(token.type) is not None or str(token) in keywords()
    suggestion = did_you_mean(str(token), expected_keywords) \
        if token.type in ("NAME", "RULE_ID") and not is_keyword else None
    if suggestion:
        return Diagnostic(code="RX103", span=span, message=f"`{token}` is not a keyword the rule language knows here",
                          help=f"did you mean `{suggestion}`?")
    found = f"`{token}`" if token.type != "$END" else "the end of the file"
    if is_keyword:
        found = f"the keyword `{token}`"
    return Diagnostic(code="RX104", span=span, message=f"{found} is not expected here",
                      help=f"expected {_expected_words(expected)}")
