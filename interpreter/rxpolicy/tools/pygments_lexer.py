"""Syntax highlighting of rule files (``*.rxp``) with Pygments (docs/tools/editor.md).

Registered as the Pygments plugin ``rxpolicy`` (aliases ``rxp``), so MkDocs, Sphinx and the
``pygmentize`` command highlight ```` ```rxpolicy ```` blocks once rxpolicy is installed. Pygments is
an optional dependency: this module is only imported by Pygments itself, never by rxpolicy.

The lexer follows the grammar (grammar/rxpolicy.lark) closely enough to colour every built-in rule
file without an error token; it does not check the syntax (``rxpolicy check`` does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pygments.lexer import RegexLexer, default, words
from pygments.lexer import bygroups as _bygroups
from pygments.token import Comment, Keyword, Literal, Name, Number, Operator, Punctuation, String, Whitespace

__all__ = ["RxPolicyLexer", "KEYWORDS"]

bygroups: Callable[..., Any] = _bygroups  # the type stubs leave it untyped

_DECLARATIONS = ("policy", "layer", "decision", "define", "parameter", "rule", "table", "row", "end", "fact", "choice",
                 "option", "section", "warning")
_CLAUSES = ("title", "built", "on", "plans", "kind", "explain", "source", "interpretation", "value", "according",
            "to", "in", "force", "from", "until", "exception", "when", "then", "rejection", "code", "decides",
            "if", "else", "at", "most", "the", "smallest", "pack", "course", "rounded", "fits", "within",
            "matches", "known", "unknown", "one", "of", "is", "applicable",
            # the declarations of facts, choices and sections
            "required", "default", "computed", "by", "meaning", "term", "example", "least", "because", "counts",
            "whole", "before", "after", "rules", "stands", "for", "any", "list", "all", "none", "outcome", "fixed",
            "leap", "day", "birthday")
_OPERATOR_WORDS = ("and", "or", "not")
_CONSTANTS = ("yes", "no")
#: Every keyword of the rule language (tests compare it with the grammar's).
KEYWORDS = frozenset(_DECLARATIONS + _CLAUSES + _OPERATOR_WORDS + _CONSTANTS)

_WORD_END = r"(?![a-z0-9_])"
_NAME = r"[a-z_][a-z0-9_]*"
_RULE_ID = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*)*"
_TYPES = r"(?:yes\s+or\s+no|money|duration|supply\s+limit|number|date|text|percentage|ATC\s+code)"
_NUMBER = r"\d+(?:\.\d+)?"
_UNIT = r"(?:days?|months?)" + _WORD_END


class RxPolicyLexer(RegexLexer):
    """Pygments lexer for rxpolicy rule files."""

    name = "rxpolicy"
    aliases: ClassVar[list[str]] = ["rxpolicy", "rxp"]
    filenames: ClassVar[list[str]] = ["*.rxp"]
    mimetypes: ClassVar[list[str]] = ["text/x-rxpolicy"]
    url = "https://github.com/rxpolicy/rxpolicy"

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*$", Comment.Single),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            # A rule id follows `rule`, `table`, `row`, `warning` and `exception to` (a list of them).
            (r"(rule|table|row|warning)(\s+)(" + _RULE_ID + ")", bygroups(Keyword.Declaration, Whitespace, Name.Label)),
            (r"(exception)(\s+)(to)" + _WORD_END, bygroups(Keyword, Whitespace, Keyword), "rule-ids"),
            (r"(decision|parameter)(\s+)(" + _NAME + r")(\s*)(:)",
             bygroups(Keyword.Declaration, Whitespace, Name.Variable, Whitespace, Punctuation), "type"),
            (r"(fact)(\s+)(" + _NAME + r"(?:\." + _NAME + r")*)(\s*)(:)",
             bygroups(Keyword.Declaration, Whitespace, Name.Variable, Whitespace, Punctuation), "type"),
            (r"(choice|section)(\s+)(" + _NAME + r"(?:\." + _NAME + r")*)",
             bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(define)(\s+)(" + _NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (r"(explain)(\s+)([a-z]+)", bygroups(Keyword, Whitespace, Name.Attribute)),
            (r"(rounded)(\s+)(half\s+up|half\s+even|down|up)(\s+)(to)(\s+)(whole\s+euros|cents|a\s+whole\s+number)"
             + _WORD_END,
             bygroups(Keyword, Whitespace, Keyword.Pseudo, Whitespace, Keyword, Whitespace, Keyword.Pseudo)),
            (r"(rounded)(\s+)(half\s+up|half\s+even|down|up)(\s+)(to)(\s+)(" + _NUMBER + r")(\s+)(decimals?)" + _WORD_END,
             bygroups(Keyword, Whitespace, Keyword.Pseudo, Whitespace, Keyword, Whitespace, Number, Whitespace,
                      Keyword.Pseudo)),
            (r"(leap)(\s+)(day)(\s+)(birthday)(\s+)(on)(\s+)(1\s+March|28\s+February)" + _WORD_END,
             bygroups(Keyword, Whitespace, Keyword, Whitespace, Keyword, Whitespace, Keyword, Whitespace,
                      Keyword.Pseudo)),
            (r"(kind)(\s+)(statutory|insurer)" + _WORD_END, bygroups(Keyword, Whitespace, Name.Constant)),
            (r"\d{4}-\d{2}-\d{2}", Literal.Date),
            (r"(" + _NUMBER + r")(\s*)(EUR|%|" + _UNIT + ")", bygroups(Number, Whitespace, Keyword.Type)),
            (_NUMBER, Number),
            (r"\b(?:EUR|" + _UNIT + ")", Keyword.Type),
            (r"[A-Z][0-9]{2}[A-Z0-9]*\*?", Name.Constant),  # an ATC code or pattern
            (r"(min|max|days_between|first_day_of_next_month|year_of|month_of|day_of|date_from|quotient|remainder"
             r"|birthday)(\s*)(\()",
             bygroups(Name.Builtin, Whitespace, Punctuation)),
            (r"(\.)(" + _NAME + ")", bygroups(Punctuation, Name)),  # a field may be named like a keyword
            (words(_DECLARATIONS, prefix=r"\b", suffix=_WORD_END), Keyword.Declaration),
            (words(_OPERATOR_WORDS, prefix=r"\b", suffix=_WORD_END), Operator.Word),
            (words(_CONSTANTS, prefix=r"\b", suffix=_WORD_END), Keyword.Constant),
            (words(_CLAUSES, prefix=r"\b", suffix=_WORD_END), Keyword),
            (_NAME, Name),
            (r"<=|>=|<|>|=|\+|-|\*|/", Operator),
            (r"[(),:]", Punctuation),
            (r"…", Comment.Special),  # documentation leaves lines of a quoted rule file out with `…`
        ],
        "rule-ids": [
            (r"\s+", Whitespace),
            (r"#.*$", Comment.Single),
            (r",", Punctuation),
            (_RULE_ID, Name.Label),
            default("#pop"),
        ],
        "type": [
            (r"[ \t]+", Whitespace),
            (_TYPES + _WORD_END, Keyword.Type),
            (r",", Punctuation),
            (r"(or)(\s+)(not)(\s+)(applicable)" + _WORD_END,
             bygroups(Operator.Word, Whitespace, Operator.Word, Whitespace, Keyword)),
            # a fact's type: `list of <choice>`, `<choice> or any text`, `, or unknown`
            (r"(list)(\s+)(of)" + _WORD_END, bygroups(Keyword.Type, Whitespace, Keyword.Type)),
            (r"(or)(\s+)(any)(\s+)(text)" + _WORD_END,
             bygroups(Operator.Word, Whitespace, Keyword.Type, Whitespace, Keyword.Type)),
            (r"(or)(\s+)(unknown)" + _WORD_END, bygroups(Operator.Word, Whitespace, Keyword)),
            (_NAME + _WORD_END, Name.Class),
            default("#pop"),
        ],
    }
