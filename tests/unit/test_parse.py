"""Stage 1, syntax: rule text → parse tree, or one RX1xx diagnostic with its place, message and fix.

Most inputs live in ``tests/syntax_errors/*.rxp`` (see the header of ``basic.rxp`` for the format);
the tests here add what a data file cannot say: the grammar builds in Lark's strict mode, help
texts never show the grammar's terminal names, and misspelt keywords get a "did you mean".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lark import Lark, logger as lark_logger
from lark.exceptions import GrammarError

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.grammar import grammar_text, parser
from rxpolicy.parse import parse
from rxpolicy.source import SourceFile

DATA = Path(__file__).resolve().parents[1] / "syntax_errors"

_ANNOTATION = re.compile(r'\s*###\s*(RX\d{3})\s+"([^"]*)"(?:\s+"([^"]*)")?\s*$')
_CARETS = re.compile(r"^\s*\^+\s*$")


# --------------------------------------------------------------------------------------------- helpers

def syntax_error(text: str, path: str = "t.rxp") -> Diagnostic:
    """The one diagnostic a syntax error gives."""
    with pytest.raises(RxError) as caught:
        parse(SourceFile(path=path, text=text))
    assert len(caught.value.diagnostics) == 1, caught.value.diagnostics
    return caught.value.diagnostics[0]


# Terminal names a policy expert must never see. `EUR` and `ATC` are also words of the language.
_TERMINAL_NAMES = sorted({t.name for t in parser().terminals} - {"EUR", "ATC"}, key=len, reverse=True)
_RAW_TERMINAL = re.compile(r"(?<![\w`$])(" + "|".join(map(re.escape, _TERMINAL_NAMES)) + r")(?![\w`])"
                           r"|\$END|__ANON|__\w+_star|<END-OF-FILE>")


def assert_in_words(diagnostic: Diagnostic) -> None:
    """Message and help name tokens in words (`end`, a name (like …)), never as NAME, RULE_ID, $END."""
    assert diagnostic.help, diagnostic
    for text in (diagnostic.message, diagnostic.help):
        found = _RAW_TERMINAL.search(text)
        assert found is None, f"terminal name {found.group(0)!r} in {text!r}"


class Chunk:
    """One input of a syntax-error data file, with the diagnostic it must give."""

    def __init__(self, file: Path, index: int, raw: str) -> None:
        self.id = f"{file.stem}#{index}"
        lines: list[str] = []
        self.expected: tuple[str, int, int, str, str | None] | None = None
        for line in raw.split("\n"):
            if _CARETS.match(line):
                assert self.expected is not None and lines and self.expected[2] == 0, \
                    f"{self.id}: a caret line must follow the annotated line"
                code, line_no, _, message, help_ = self.expected
                self.expected = (code, line_no, line.index("^") + 1, message, help_)
                continue
            found = _ANNOTATION.search(line)
            if found:
                assert self.expected is None, f"{self.id}: one annotation per chunk"
                line = line[:found.start()]
                self.expected = (found.group(1), len(lines) + 1, 0, found.group(2), found.group(3))
            lines.append(line)
        assert self.expected is not None and self.expected[2] > 0, f"{self.id}: needs `### RXnnn` and a caret line"
        self.text = "\n".join(lines)
        self.code = self.expected[0]


def chunks() -> Iterator[Chunk]:
    for file in sorted(DATA.glob("*.rxp")):
        raws = re.split(r"^---[ \t]*$\n?", file.read_text(encoding="utf-8"), flags=re.MULTILINE)
        for index, raw in enumerate(raws, start=1):
            yield Chunk(file, index, raw)


CHUNKS = list(chunks())


# ------------------------------------------------------------------------------------------- data file

def test_the_data_files_cover_every_syntax_code() -> None:
    assert {c.code for c in CHUNKS} >= {"RX101", "RX102", "RX103", "RX104"}


@pytest.mark.parametrize("chunk", CHUNKS, ids=lambda c: f"{c.id}-{c.code}")
def test_syntax_error_from_data_file(chunk: Chunk) -> None:
    assert chunk.expected is not None
    code, line, column, message, help_ = chunk.expected
    found = syntax_error(chunk.text, path="chunk.rxp")
    assert found.span is not None and found.span.path == "chunk.rxp"
    assert (found.code, found.span.line, found.span.column) == (code, line, column), found
    assert re.search(message, found.message), (message, found.message)
    if help_ is not None:
        assert found.help is not None and re.search(help_, found.help), (help_, found.help)
    assert_in_words(found)


# ----------------------------------------------------------------------------------------------- RX101

def test_rx101_points_at_the_character_and_says_what_fits_there() -> None:
    found = syntax_error('rule a\n  when medicine.atc @ 3\nend\n')
    assert found.code == "RX101"
    assert (found.span.line, found.span.column, found.span.end_column) == (2, 21, 22)  # type: ignore[union-attr]
    assert found.message == "the character `@` cannot be used here"
    assert found.help is not None and found.help.startswith("write ") and found.help.endswith(" here")
    assert "`+` or `-`" in found.help and "`days` or `months`" in found.help
    assert_in_words(found)


# ----------------------------------------------------------------------------------------------- RX102

def test_rx102_caret_goes_just_after_the_last_non_blank_character() -> None:
    text = 'rule a\n  source "s"\n  when prescription.chronic\n\n   \n\t\n'
    found = syntax_error(text)
    assert found.code == "RX102"
    assert found.span is not None
    assert (found.span.line, found.span.column) == (3, len("  when prescription.chronic") + 1)
    assert found.message == "the file ends here, but the rule text is not finished"
    assert found.help is not None and "`end`" in found.help and "every block closes with `end`" in found.help
    assert_in_words(found)


def test_rx102_renders_with_the_caret_after_the_last_character() -> None:
    from rxpolicy.render.diagnostics import render_diagnostic

    source = SourceFile(path="t.rxp", text='rule a\n  source "s"\n  when yes\n\n')
    with pytest.raises(RxError) as caught:
        parse(source)
    rendered = render_diagnostic(caught.value.diagnostics[0], lambda path, line: source.line_text(line))
    lines = rendered.splitlines()
    assert lines[0] == "t.rxp:3:11: RX102: the file ends here, but the rule text is not finished"
    assert lines[1] == "    3 |   when yes"
    assert lines[2] == " " * len("    3 |   when yes") + "^"
    assert lines[-1].startswith("  help: add ")


def test_rx102_for_an_empty_block_at_the_end_of_a_one_line_file() -> None:
    found = syntax_error("rule a")
    assert found.code == "RX102"
    assert (found.span.line, found.span.column) == (1, 7)  # type: ignore[union-attr]


@pytest.mark.xfail(strict=True, reason="BUG: the expected-token set comes from a merged LALR state, so the help for "
                   "a rule (not a table) that ends early offers `row`, which is only valid inside a table")
def test_rx102_help_only_offers_what_is_valid_in_a_rule() -> None:
    found = syntax_error('rule a\n  source "s"\n  when yes\n')
    assert found.code == "RX102"
    assert "`row`" not in (found.help or "")


@pytest.mark.xfail(strict=True, reason="BUG: the expected-token set comes from a merged LALR state, so after "
                   "`then patient_pays = 3 EUR` the help offers `)` and `,` although no parenthesis or list is open")
def test_rx104_help_only_offers_what_is_valid_after_an_assignment() -> None:
    found = syntax_error('rule a\n  then patient_pays = 3 EUR EUR\nend\n')
    assert found.code == "RX104"
    assert "`)`" not in (found.help or "") and "`,`" not in (found.help or "")


# ----------------------------------------------------------------------------------------------- RX103

@pytest.mark.parametrize(("text", "typo", "keyword", "line", "column"), [
    ("rule a\n  wehn yes\nend\n", "wehn", "when", 2, 3),
    ("rule a\n  thne covered = yes\nend\n", "thne", "then", 2, 3),
    ('rule a\n  sorce "x"\nend\n', "sorce", "source", 2, 3),
    ("rul a\nend\n", "rul", "rule", 1, 1),
    ("policy p\n  buit on statutory\nend\n", "buit", "built", 2, 3),
    ("rule a\n  exeption to b\nend\n", "exeption", "exception", 2, 3),
])
def test_rx103_misspelt_keyword_gets_did_you_mean(text: str, typo: str, keyword: str, line: int,
                                                   column: int) -> None:
    found = syntax_error(text)
    assert found.code == "RX103"
    assert found.span is not None
    assert (found.span.line, found.span.column, found.span.end_column) == (line, column, column + len(typo))
    assert found.message == f"`{typo}` is not a keyword the rule language knows here"
    assert found.help == f"did you mean `{keyword}`?"


def test_a_word_far_from_every_keyword_is_rx104_not_a_wild_guess() -> None:
    found = syntax_error("rule a\n  zzzzzz yes\nend\n")
    assert found.code == "RX104"
    assert found.message == "`zzzzzz` is not expected here"
    assert "did you mean" not in (found.help or "")
    assert found.help is not None and found.help.startswith("expected ")
    assert_in_words(found)


@pytest.mark.xfail(strict=True, reason="BUG: keywords are lexed without a word boundary where no name is "
                   "acceptable, so `untill` is read as `until` + `l` and reported as \"`l` is not expected here\" "
                   "instead of a misspelt keyword")
def test_rx103_keyword_with_an_extra_letter() -> None:
    found = syntax_error("rule a\n  in force from 2024-01-01 untill 2024-12-31\nend\n")
    assert (found.code, found.span.line, found.span.column) == ("RX103", 2, 28)  # type: ignore[union-attr]
    assert found.help == "did you mean `until`?"


@pytest.mark.xfail(strict=True, reason="BUG: keywords are lexed without a word boundary, so "
                   "`whenprescription.chronic` silently parses as `when prescription.chronic`")
def test_a_keyword_glued_to_the_next_word_is_a_syntax_error() -> None:
    text = 'rule a\n  source "s"\n  whenprescription.chronic\n  then covered = yes\nend\n'
    found = syntax_error(text)
    assert found.span is not None and found.span.line == 3


# ----------------------------------------------------------------------------------------------- RX104

def test_rx104_names_the_token_and_what_is_expected_in_words() -> None:
    found = syntax_error("rule a\n  then = 3\nend\n")
    assert found.code == "RX104"
    assert (found.span.line, found.span.column) == (2, 8)  # type: ignore[union-attr]
    assert found.message == "`=` is not expected here"
    assert found.help == "expected a name (like `medicine.atc` or `max_supply`)"


def test_rx104_a_keyword_out_of_place_is_called_a_keyword() -> None:
    found = syntax_error("rule a\n  then covered = yes\nend\nend\n")
    assert found.code == "RX104"
    assert (found.span.line, found.span.column) == (4, 1)  # type: ignore[union-attr]
    assert found.message == "the keyword `end` is not expected here"
    assert found.help is not None
    for keyword in ("decision", "define", "layer", "parameter", "policy", "rule", "table"):
        assert f"`{keyword}`" in found.help
    assert_in_words(found)


def test_rx104_type_help_lists_the_types_in_words() -> None:
    found = syntax_error("decision covered: mony\nend\n")
    assert found.code == "RX104"
    assert found.help is not None
    for word in ("`yes or no`", "`money`", "`duration`", "`supply limit`", "`number`", "`date`", "`text`",
                 "`percentage`"):
        assert word in found.help
    assert "TYPE_WORD" not in found.help


def test_the_help_lists_at_most_eight_things_and_says_there_are_more() -> None:
    found = syntax_error("rule a\n  when yes yes\nend\n")
    assert found.help is not None and found.help.endswith("…")
    assert found.help.removeprefix("expected ").count(", ") == 8


# Every way of breaking a small, valid rule file by one token gives a message in words.
_VALID = '''\
policy p
  title "P"
  built on statutory
  in force from 2023-01-01 until 2025-12-31
end

define benzo = medicine.atc matches N05B*, N05C*
  explain en "a benzodiazepine"

parameter cap: money
  source "Bzv art. 2.8"
  value 250.00 EUR in force from 2024-01-01 until 2024-12-31 source "2024"
end

table dispensing-period
  decides max_supply, min_supply
  source "seed, 'How long'"
  row chronic
    when prescription.chronic and dispensing.months_in_use >= 6
    then max_supply = at most 12 months
         min_supply = 3 months
    explain en "chronic"
  row other
    then max_supply = at most 15 days or the smallest pack
         min_supply = not applicable
end

rule dispensing-period/benzodiazepines
  exception to dispensing-period/chronic
  source "seed"
  when benzo and not (prescription.prescriber is one of gp, specialist)
  then max_supply = at most 1 month
       min_supply = not applicable
       patient_pays = min(medicine.price, cap) rounded half up to cents
  explain en "one month"
end
'''


def test_the_valid_sample_parses() -> None:
    parse(SourceFile(path="t.rxp", text=_VALID))


def _mutants() -> Iterator[tuple[str, str]]:
    tokens = list(re.finditer(r'"[^"]*"|[^\s"]+', _VALID))
    for i, token in enumerate(tokens):
        for replacement in ("", "@", "end", "wehn", ","):
            yield f"{i}:{replacement or 'deleted'}", _VALID[:token.start()] + replacement + _VALID[token.end():]


def test_every_single_token_mutation_gives_a_located_message_in_words() -> None:
    codes: set[str] = set()
    for label, text in _mutants():
        try:
            parse(SourceFile(path="t.rxp", text=text))
        except RxError as error:
            (found,) = error.diagnostics
            codes.add(found.code)
            assert found.code in {"RX101", "RX102", "RX103", "RX104"}, label
            assert found.span is not None and 1 <= found.span.line <= text.count("\n") + 1, label
            try:
                assert_in_words(found)
            except AssertionError as failure:
                raise AssertionError(f"mutant {label}: {failure}") from None
    assert codes == {"RX101", "RX102", "RX103", "RX104"}


# ---------------------------------------------------------------------------------- the grammar itself

def _lark_messages(grammar: str, level: int, **options: object) -> list[str]:
    """Build a fresh LALR parser and return what Lark logged while building it."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Collect(level=level)
    old_level = lark_logger.level
    lark_logger.addHandler(handler)
    lark_logger.setLevel(level)
    try:
        Lark(grammar, parser="lalr", lexer="contextual", **options)  # type: ignore[arg-type]
    finally:
        lark_logger.removeHandler(handler)
        lark_logger.setLevel(old_level)
    return records


def test_no_two_terminals_can_match_the_same_text_where_both_are_expected() -> None:
    # With interegular installed Lark compares the terminals of every contextual-lexer state and logs a
    # warning for each pair that can match the same text. First make sure this test can see one.
    seen = _lark_messages('start: A | B\nA: /[a-z]+/\nB: /[a-c]+/\n', logging.WARNING)
    assert any("Collision between Terminals" in m for m in seen), seen
    found = [m for m in _lark_messages(grammar_text(), logging.WARNING) if "Collision" in m]
    assert found == []


@pytest.mark.xfail(strict=True, reason="BUG: the grammar has 8 LALR shift/reduce conflicts that Lark silently "
                   "resolves as shift: SOURCE after `value expr [validity]` (a parameter's `source` or the value's?) "
                   "and COMMA after `is one of …`, `is not one of …` and `matches …` inside `min(…)`/`max(…)` "
                   "(another list item or the next argument?)")
def test_the_grammar_has_no_lalr_conflicts() -> None:
    conflicts = [m for m in _lark_messages(grammar_text(), logging.DEBUG) if "Shift/Reduce" in m
                 or m.startswith(" * ")]
    assert conflicts == []


@pytest.mark.xfail(strict=True, raises=GrammarError, reason="BUG: Lark strict mode rejects the grammar with "
                   "\"Shift/Reduce conflict for terminal COMMA/SOURCE [strict-mode]\" (no terminal collision is "
                   "involved); see test_the_grammar_has_no_lalr_conflicts for the full list")
def test_the_grammar_builds_in_lark_strict_mode() -> None:
    # strict=True: any terminal collision (checked with interegular) or LALR conflict is an error.
    Lark(grammar_text(), parser="lalr", lexer="contextual", strict=True)


def test_the_shift_resolution_gives_a_source_after_a_value_to_that_value() -> None:
    # How the SOURCE conflict is resolved today: the citation belongs to the value written before it.
    from rxpolicy.lower import parse_rule_file

    text = ('parameter cap: money\n'
            '  value 250.00 EUR in force from 2024-01-01 until 2024-12-31\n'
            '  source "Bzv art. 2.8"\n'
            'end\n')
    (parameter,) = parse_rule_file(SourceFile(path="t.rxp", text=text)).items
    assert parameter.citations == ()  # type: ignore[union-attr]
    assert parameter.values[0].citation.text == "Bzv art. 2.8"  # type: ignore[union-attr]
