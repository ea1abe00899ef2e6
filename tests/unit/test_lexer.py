"""The Pygments lexer for rule files: found through its entry point, colours every built-in file cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pygments = pytest.importorskip("pygments")

from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # noqa: E402
from pygments.token import Comment, Error, Keyword, Literal, Name, Number, Operator, String, _TokenType  # noqa: E402

from rxpolicy.language.parse import keywords  # noqa: E402
from rxpolicy.tools.pygments_lexer import KEYWORDS, RxPolicyLexer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((ROOT / "rules").rglob("*.rxp"))


def lexed(text: str) -> list[tuple[_TokenType, str]]:
    """The non-blank tokens of a text."""
    return [(kind, value) for kind, value in RxPolicyLexer().get_tokens(text) if value.strip()]


def kind_of(text: str, word: str) -> _TokenType:
    """The token type the lexer gives ``word`` in ``text`` (its first occurrence)."""
    return next(kind for kind, value in lexed(text) if value == word)


def test_pygments_finds_the_lexer_by_name_alias_and_file_name() -> None:
    for found in (get_lexer_by_name("rxpolicy"), get_lexer_by_name("rxp"), get_lexer_for_filename("coverage.rxp")):
        assert isinstance(found, RxPolicyLexer)


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_built_in_rule_file_lexes_without_error_tokens(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    tokens = list(RxPolicyLexer().get_tokens(text))
    assert [t for t in tokens if t[0] in Error] == []
    assert "".join(value for _, value in tokens).rstrip("\n") == text.rstrip("\n")


def test_the_lexer_knows_exactly_the_grammar_keywords() -> None:
    # `EUR` is a keyword of the grammar that the lexer colours as a unit, with `days`, `months` and `%`.
    assert KEYWORDS | {"EUR"} == keywords()


@pytest.mark.parametrize("word", sorted(keywords()))
def test_every_keyword_is_coloured_as_a_keyword(word: str) -> None:
    # In a place where a name is expected the word would be a name; alone it must be a keyword.
    kind = kind_of(f"{word}\n", word)
    assert kind in Keyword or kind in Operator.Word, (word, kind)


EXAMPLE = '''# A comment with a "quote"
rule dispensing-period/benzodiazepines  # trailing
  exception to dispensing-period/chronic, coverage/conditions-met
  source "Rzv art. 2.5 # not a comment"
  when medicine.atc matches N05B*, N05C* and insured.age >= 18 and dispensed_on >= 2024-01-01
  then max_supply = at most 15 days or the smallest pack
       price = (a * 103 %) rounded half up to whole euros + max(0.00 EUR, x.value)
  in force from 2024-01-01
  explain en "text"
end

decision min_supply: duration, or not applicable
end
'''


@pytest.mark.parametrize(("word", "expected"), [
    ("# A comment with a \"quote\"", Comment.Single), ("# trailing", Comment.Single),
    ("dispensing-period/benzodiazepines", Name.Label), ("dispensing-period/chronic", Name.Label),
    ("coverage/conditions-met", Name.Label), ('"Rzv art. 2.5 # not a comment"', String.Double),
    ("N05B*", Name.Constant), ("N05C*", Name.Constant), ("18", Number), ("2024-01-01", Literal.Date),
    ("15", Number), ("days", Keyword.Type), ("103", Number), ("%", Keyword.Type), ("0.00", Number),
    ("EUR", Keyword.Type), ("max", Name.Builtin), ("half up", Keyword.Pseudo), ("whole euros", Keyword.Pseudo),
    ("value", Name), ("medicine", Name), (">=", Operator), ("and", Operator.Word), ("rule", Keyword.Declaration),
    ("en", Name.Attribute), ("duration", Keyword.Type), ("applicable", Keyword),
])
def test_each_kind_of_word_gets_its_colour(word: str, expected: _TokenType) -> None:
    assert kind_of(EXAMPLE, word) in expected


def test_the_rule_examples_of_the_docs_lex_without_error_tokens() -> None:
    fence = re.compile(r"^```(?:rxpolicy|rxp)\n(.*?)^```", re.MULTILINE | re.DOTALL)
    examples = [m.group(1) for doc in sorted((ROOT / "docs").rglob("*.md"))
                for m in fence.finditer(doc.read_text(encoding="utf-8"))]
    assert len(examples) >= 20
    for example in examples:
        assert [t for t in RxPolicyLexer().get_tokens(example) if t[0] in Error] == [], example
