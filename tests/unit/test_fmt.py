"""``rxpolicy fmt``: the canonical layout, comments kept, idempotence, and the command line.

The layout examples are written out by hand: they are the specification of the layout
(docs/tools/fmt.md). The property-based tests generate rule files from the grammar's constructs, and
scramble the whitespace of the built-in files, and check what must hold for every input: the result
parses, means the same (equal AST), keeps every comment and is its own layout.
"""

from __future__ import annotations

import functools
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxpolicy.cli import cli
from rxpolicy.diagnostics import RxError
from rxpolicy.language import ast
from rxpolicy.language.lower import parse_rule_file
from rxpolicy.language.parse import parse
from rxpolicy.language.source import SourceFile
from rxpolicy.tools.fmt import MAX_WIDTH, format_text

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((ROOT / "rules").rglob("*.rxp"))
# Strings first, so that a `#` inside a text is not taken for a comment.
_LEXEMES = re.compile(r'("(?:[^"\\\n]|\\.)*")|(#[^\n]*)|(\s+)')


def comments_of(text: str) -> list[str]:
    """The comments of a rule file, found without the formatter's help."""
    return [m.group(2).rstrip() for m in _LEXEMES.finditer(text) if m.group(2)]


def meaning(text: str) -> tuple[Any, ...]:
    """The file's AST items, with the explanations in language order (the one reordering fmt may do)."""
    def canonical(item: Any) -> Any:
        if isinstance(item, ast.Table):
            return attrs.evolve(item, rows=tuple(canonical(row) for row in item.rows))
        if hasattr(item, "explains"):
            return attrs.evolve(item, explains=tuple(sorted(item.explains, key=lambda e: e.lang)))
        return item

    return tuple(canonical(item) for item in parse_rule_file(SourceFile(path="t.rxp", text=text)).items)


def assert_formatted_well(original: str) -> str:
    """The properties of every layout; returns the formatted text."""
    formatted = format_text(original)
    assert meaning(formatted) == meaning(original)
    assert sorted(comments_of(formatted)) == sorted(comments_of(original))
    assert format_text(formatted) == formatted
    return formatted


# --------------------------------------------------------------------------------------------- the layout

def test_rule_clauses_in_canonical_order_with_canonical_spacing() -> None:
    messy = '''rule   a/b explain nl "nl"   explain en "en"
  in force from 2024-01-01 until 2024-12-31 rejection code "0320"
then x=max( a,b )
y = 3EUR
 when a.b>=2 and(c or d)
interpretation "one"
"two"
source "s"  exception to c/d,e
end'''
    assert format_text(messy) == '''rule a/b
  exception to c/d, e
  source "s"
  when a.b >= 2 and (c or d)
  then x = max(a, b)
       y = 3 EUR
  rejection code "0320"
  interpretation "one"
                 "two"
  in force from 2024-01-01 until 2024-12-31
  explain en "en"
  explain nl "nl"
end
'''


def test_table_rows_and_declarations() -> None:
    messy = '''table t decides a,b source "s"
row r1 then a = at most 12  months or the smallest pack b = not applicable when x
row r2 then a = 1 month
end
decision  d : yes   or
  no , or not applicable explain en "e" end
parameter p: money value 385.00 EUR in force from 2016-01-01 according to "a" "b" source "s" explain en "e" end
define  q = ( a * b / c ) rounded half  up to whole euros explain en "e"'''
    assert format_text(messy) == '''table t
  decides a, b
  source "s"

  row r1
    when x
    then a = at most 12 months or the smallest pack
         b = not applicable

  row r2
    then a = 1 month
end

decision d: yes or no, or not applicable
  explain en "e"
end

parameter p: money
  explain en "e"
  source "s"
  value 385.00 EUR in force from 2016-01-01
    according to "a"
                 "b"
end

define q = (a * b / c) rounded half up to whole euros
  explain en "e"
'''


def test_parentheses_are_kept_as_written_and_none_added() -> None:
    text = "define q = not (a or b) and (c) or d and e * (f + g) - h\n"
    assert format_text(text) == text


def test_long_condition_breaks_before_and_with_the_continuation_under_when() -> None:
    names = [f"condition_number_{i}" for i in range(12)]
    formatted = format_text("rule r\n  when " + " and ".join(names) + "\n  then x = yes\nend\n")
    when = formatted.splitlines()[1:-2]
    assert len(when) > 1 and when[0].startswith("  when condition_number_0 and ")
    assert all(line.startswith("       and ") for line in when[1:])
    assert all(len(line) <= MAX_WIDTH for line in when)
    # Filled greedily: no line could have taken the next operand.
    for line, following in zip(when, when[1:]):
        assert len(line) + len(following.strip()) + 1 > MAX_WIDTH


def test_a_long_or_of_ands_breaks_at_the_or_first() -> None:
    left = " and ".join(f"left_{i}" for i in range(8))
    right = " and ".join(f"right_{i}" for i in range(8))
    formatted = format_text(f"rule r\n  then x = {left} or {right}\nend\n")
    assert formatted.splitlines()[1:3] == [f"  then x = {left}", f"           or {right}"]


def test_a_long_definition_hangs_below_its_name() -> None:
    terms = " + ".join(f"dispensing.fees.kind_{i}" for i in range(6))
    formatted = format_text(f"define total = {terms}\n")
    lines = formatted.splitlines()
    assert lines[0] == "define total ="
    assert lines[1].startswith("  dispensing.fees.kind_0 + ") and lines[-1].startswith("  + ")
    assert all(len(line) <= MAX_WIDTH for line in lines)


def test_if_then_else_breaks_before_then_and_else() -> None:
    cond = " and ".join(f"c{i}" for i in range(3))
    long_name = "a_rather_long_name_for_the_value_" * 2
    formatted = format_text(f"define v = if {cond} then {long_name}1 else {long_name}2\n")
    assert formatted.splitlines() == ["define v =", f"  if {cond}", f"  then {long_name}1", f"  else {long_name}2"]


def test_long_lists_align_under_their_first_item() -> None:
    ids = ", ".join(f"section-{i}/rule-number-{i}" for i in range(6))
    lines = format_text(f"rule r\n  exception to {ids}\nend\n").splitlines()
    assert lines[1].startswith("  exception to section-0/rule-number-0, ")
    assert lines[2].startswith(" " * len("  exception to ") + "section-")
    assert " ".join(line.strip() for line in lines[1:-1]) == f"exception to {ids}"


def test_strings_are_kept_as_written() -> None:
    text = 'rule r\n  source "say \\"#1\\" here"\n  then x = "a  b"\nend\n'
    assert format_text(text) == text


# --------------------------------------------------------------------------------------------- comments

def test_comments_stay_with_what_follows_them_and_trailing_ones_at_the_end_of_their_line() -> None:
    messy = '''# File header.

# Section.


rule a/b   # the rule
  then x = 1
  # Why this condition.
  when a and
       b   # after b
  # Last words.
end
# Next item.
define q = 1
'''
    assert format_text(messy) == '''# File header.

# Section.

rule a/b  # the rule
  # Why this condition.
  when a and b  # after b
  then x = 1
  # Last words.
end

# Next item.
define q = 1
'''


def test_comments_at_the_end_of_the_file_and_a_file_of_comments_only() -> None:
    assert format_text("define q = 1\n\n\n# the end\n") == "define q = 1\n\n# the end\n"
    assert format_text("define q = 1\n# the end\n") == "define q = 1\n# the end\n"
    assert format_text("  # one\n\n\n# two   \n") == "# one\n\n# two\n"
    assert format_text("") == ""


def test_a_comment_inside_a_table_is_indented_like_the_row_it_precedes() -> None:
    formatted = format_text("table t\nrow a then x = 1\n# about b\nrow b then x = 2\nend\n")
    assert "\n\n  # about b\n  row b\n" in formatted


# --------------------------------------------------------------------------------------------- errors

def test_a_file_that_does_not_parse_gives_the_usual_diagnostic() -> None:
    text = "rule a/b\n  when x\n  thne y = 1\nend\n"
    with pytest.raises(RxError) as from_fmt:
        format_text(text, "bad.rxp")
    with pytest.raises(RxError) as from_parse:
        parse(SourceFile(path="bad.rxp", text=text))
    assert from_fmt.value.diagnostics == from_parse.value.diagnostics
    assert from_fmt.value.diagnostics[0].code.startswith("RX1")


# --------------------------------------------------------------------------------------------- built-in rules

@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_built_in_rule_files_format_to_a_fixed_point_with_the_same_meaning(path: Path) -> None:
    assert_formatted_well(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_built_in_rule_files_are_formatted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text) == text, f"run `rxpolicy fmt {path.relative_to(ROOT)}`"


def test_formatting_in_threads_gives_the_same_texts() -> None:
    texts = [p.read_text(encoding="utf-8") for p in RULE_FILES] * 4
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(format_text, texts)) == [format_text(t) for t in texts]


# --------------------------------------------------------------------------------------------- properties

NAMES = st.sampled_from(["a", "b_c", "total", "x1", "medicine.atc", "insured.age", "dispensing.fees.delivery"])
RULE_IDS = st.sampled_from(["a/b", "x-y/z", "coverage/not-insured", "c"])
STRINGS = st.sampled_from(['"text"', '""', '"with \\"quotes\\" and # hash"', '"één"', '"a  b"'])
DATES = st.sampled_from(["2023-01-01", "2024-02-29", "2025-12-31"])
NUMBERS = st.sampled_from(["0", "1", "18", "2.5", "385.00"])
WHOLE = st.sampled_from(["1", "3", "12"])


@functools.cache
def atom(depth: int) -> st.SearchStrategy[list[str]]:
    simple = st.one_of(NAMES.map(lambda n: [n]), NUMBERS.map(lambda n: [n]), DATES.map(lambda d: [d]),
                       STRINGS.map(lambda s: [s]), st.sampled_from([["yes"], ["no"], ["not", "applicable"]]))
    if depth >= 2:
        return simple
    call = st.tuples(st.sampled_from(["min", "max", "days_between"]),
                     st.lists(arithmetic(depth + 1), min_size=1, max_size=3)).map(
        lambda c: [c[0], "(", *sum(([*arg, ","] for arg in c[1]), [])[:-1], ")"])
    return st.one_of(simple, call, expression(depth + 1).map(lambda e: ["(", *e, ")"]))


@functools.cache
def unit(depth: int) -> st.SearchStrategy[list[str]]:
    return st.one_of(atom(depth), st.tuples(WHOLE, st.sampled_from(["days", "day", "months"])).map(list),
                     st.sampled_from(["385.00", "3", "0.5"]).map(lambda n: [n, "EUR"]),
                     st.sampled_from(["3", "103"]).map(lambda n: [n, "%"]))


def chain(operand: st.SearchStrategy[list[str]], operators: list[str]) -> st.SearchStrategy[list[str]]:
    return st.tuples(operand, st.lists(st.tuples(st.sampled_from(operators), operand), max_size=2)).map(
        lambda c: [*c[0], *(t for op, o in c[1] for t in (op, *o))])


@functools.cache
def arithmetic(depth: int) -> st.SearchStrategy[list[str]]:
    total = chain(chain(unit(depth), ["*", "/"]), ["+", "-"])
    return st.one_of(total, st.tuples(total, st.sampled_from(["half up", "down", "half even"]),
                                      st.sampled_from(["whole euros", "cents"])).map(
        lambda r: [*r[0], "rounded", r[1], "to", r[2]]))


@functools.cache
def comparison(depth: int) -> st.SearchStrategy[list[str]]:
    left = arithmetic(depth)
    atc = st.lists(st.sampled_from(["N05BA04", "N05B*", "J01*"]), min_size=1, max_size=3)
    options = st.lists(atom(2), min_size=1, max_size=4)
    return st.one_of(
        left,
        st.tuples(left, st.sampled_from(["<", "<=", ">", ">=", "is", "is not", "fits within", "is in"]), left).map(
            lambda t: [*t[0], *t[1].split(), *t[2]]),
        st.tuples(left, st.sampled_from(["is one of", "is not one of"]), options).map(
            lambda t: [*t[0], *t[1].split(), *sum(([*o, ","] for o in t[2]), [])[:-1]]),
        st.tuples(left, atc).map(lambda t: [*t[0], "matches", *sum(([p, ","] for p in t[1]), [])[:-1]]),
        st.tuples(left, st.sampled_from(["known", "unknown"])).map(lambda t: [*t[0], "is", t[1]]))


@functools.cache
def expression(depth: int = 0) -> st.SearchStrategy[list[str]]:
    negated = st.tuples(st.booleans(), comparison(depth)).map(lambda t: ["not", *t[1]] if t[0] else t[1])
    logic = chain(chain(negated, ["and"]), ["or"])
    if depth >= 1:
        return logic
    return st.one_of(logic, st.tuples(logic, logic, logic).map(
        lambda t: ["if", *t[0], "then", *t[1], "else", *t[2]]))


def strings() -> st.SearchStrategy[list[str]]:
    return st.lists(STRINGS, min_size=1, max_size=3)


# Clauses a block may have more than once (their order is kept: it is the order of the citations, values, …).
REPEATABLE = ("source", "then", "value", "title", "built")


def clauses(draw: Any, kinds: dict[str, st.SearchStrategy[list[str]]]) -> list[str]:
    """Some of the clauses in any order, each at most once unless it may be repeated."""
    chosen = draw(st.lists(st.sampled_from(sorted(kinds)), unique=True))
    chosen += draw(st.lists(st.sampled_from([k for k in REPEATABLE if k in kinds] or [""]), max_size=2)) \
        if any(k in kinds for k in REPEATABLE) else []
    return [t for kind in draw(st.permutations(chosen)) for t in draw(kinds[kind])]


@functools.cache
def explains() -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(["en", "nl", "de"]), unique=True, max_size=3).flatmap(
        lambda langs: st.tuples(*(strings() for _ in langs)).map(
            lambda texts: [t for lang, text in zip(langs, texts) for t in ("explain", lang, *text)]))


def validity() -> st.SearchStrategy[list[str]]:
    return st.sampled_from([["in", "force", "from", "2023-01-01"],
                            ["in", "force", "from", "2023-01-01", "until", "2024-12-31"]])


@functools.cache
def rule_clauses() -> dict[str, st.SearchStrategy[list[str]]]:
    assignment = st.tuples(NAMES.filter(lambda n: "." not in n), st.one_of(
        expression(), st.sampled_from([["at", "most", "15", "days", "or", "the", "smallest", "pack"],
                                       ["at", "most", "1", "month", "or", "one", "course"]]))).map(
        lambda a: [a[0], "=", *a[1]])
    return {
        "exception": st.lists(RULE_IDS, min_size=1, max_size=3).map(
            lambda ids: ["exception", "to", *sum(([i, ","] for i in ids), [])[:-1]]),
        "source": strings().map(lambda s: ["source", *s]),
        "interpretation": strings().map(lambda s: ["interpretation", *s]),
        "when": expression().map(lambda e: ["when", *e]),
        "then": st.lists(assignment, min_size=1, max_size=3).map(lambda a: ["then", *sum(a, [])]),
        "rejection": st.just(["rejection", "code", '"0613"']),
        "validity": validity(),
        "explain": explains(),
    }


@st.composite
def items(draw: Any) -> list[str]:
    kind = draw(st.sampled_from(["rule", "table", "define", "decision", "parameter", "policy", "layer"]))
    name = draw(NAMES.filter(lambda n: "." not in n))
    rid = draw(RULE_IDS)
    if kind == "rule":
        return ["rule", rid, *clauses(draw, rule_clauses()), "end"]
    if kind == "table":
        own = {k: v for k, v in rule_clauses().items() if k not in ("exception",)}
        rows = draw(st.lists(st.sampled_from(["first", "two-a", "three"]), min_size=1, max_size=3))
        head = clauses(draw, {"decides": st.just(["decides", "a", ",", "b_c"]), "source": strings().map(
            lambda s: ["source", *s]), "explain": explains(), "validity": validity()})
        return ["table", rid, *head, *(t for row in rows for t in ("row", row, *clauses(draw, own))), "end"]
    if kind == "define":
        return ["define", name, "=", *draw(expression()), *draw(explains())]
    type_words = draw(st.sampled_from([["yes or no"], ["money"], ["supply limit"], ["duration", ",", "or", "not",
                                                                                     "applicable"]]))
    if kind == "decision":
        return ["decision", name, ":", *type_words, *draw(explains()), "end"]
    if kind == "parameter":
        value = st.tuples(arithmetic(0), st.one_of(st.just([]), validity()), st.one_of(
            st.just([]), strings().map(lambda s: ["according", "to", *s]))).map(lambda v: ["value", *sum(v, [])])
        return ["parameter", name, ":", *type_words, *clauses(draw, {
            "explain": explains(), "source": strings().map(lambda s: ["source", *s]),
            "interpretation": strings().map(lambda s: ["interpretation", *s]), "value": value}), "end"]
    if kind == "policy":
        return ["policy", name, *clauses(draw, {"title": strings().map(lambda s: ["title", *s]),
                                                "built": st.just(["built", "on", "statutory"]),
                                                "validity": validity(),
                                                "plans": st.just(["plans", '"Basic"', ",", '"Top"'])}), "end"]
    return ["layer", name, *clauses(draw, {"title": strings().map(lambda s: ["title", *s]),
                                           "kind": st.sampled_from([["kind", "statutory"], ["kind", "insurer"]])}),
            "end"]


SEPARATORS = st.sampled_from([" ", " ", " ", "\n", "\n  ", "\n\n", "\t", "  \n    "])


@st.composite
def rule_files(draw: Any) -> tuple[str, list[str]]:
    """A rule file written any which way, with numbered comments between its tokens; and those comments."""
    tokens = [t for item in draw(st.lists(items(), max_size=3)) for t in item]
    text, comments = [], []
    for token in tokens:
        text.append(token)
        kind = draw(st.sampled_from(["plain"] * 8 + ["trailing", "own line"]))
        if kind == "plain":
            text.append(draw(SEPARATORS))
            continue
        comments.append(f"# note {len(comments)} about {token!r}".replace('"', "'"))
        text.append(f"  {comments[-1]}\n" if kind == "trailing" else f"\n{comments[-1]}\n")
    return "".join(text), comments


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rule_files())
def test_any_rule_file_formats_to_a_fixed_point_with_the_same_meaning_and_comments(case: tuple[str, list[str]]) -> None:
    text, comments = case
    formatted = assert_formatted_well(text)
    for comment in comments:
        assert sum(line.strip().endswith(comment) for line in formatted.splitlines()) == 1, comment


@st.composite
def scrambled_built_in_files(draw: Any) -> str:
    """A built-in rule file with every run of whitespace outside texts and comments replaced."""
    text = draw(st.sampled_from(RULE_FILES)).read_text(encoding="utf-8")
    out, position, after_comment, position_before = [], 0, False, -1
    for match in _LEXEMES.finditer(text):
        out.append(text[position:match.start()])
        position = match.end()
        if match.group(3) is None:
            out.append(match.group(0))
        else:  # the newline that ends a comment stays a newline
            out.append(("\n" if after_comment and match.start() == position_before else "") + draw(SEPARATORS))
        after_comment, position_before = match.group(2) is not None, match.end()
    return "".join(out) + text[position:]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scrambled_built_in_files())
def test_built_in_files_with_scrambled_whitespace_format_to_the_same_meaning(text: str) -> None:
    assert_formatted_well(text)


# --------------------------------------------------------------------------------------------- the command

MESSY = "rule a/b then x = 1 when y end\n"
TIDY = "rule a/b\n  when y\n  then x = 1\nend\n"


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["fmt", *args], input=stdin)


def test_fmt_rewrites_changed_files_in_place_and_names_them(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    messy, tidy = tmp_path / "sub" / "messy.rxp", tmp_path / "tidy.rxp"
    messy.write_text(MESSY, encoding="utf-8")
    tidy.write_text(TIDY, encoding="utf-8")
    result = run(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [str(messy)]
    assert messy.read_text(encoding="utf-8") == TIDY and tidy.read_text(encoding="utf-8") == TIDY


def test_fmt_check_exits_1_for_an_unformatted_file_and_changes_nothing(tmp_path: Path) -> None:
    messy, tidy = tmp_path / "messy.rxp", tmp_path / "tidy.rxp"
    messy.write_text(MESSY, encoding="utf-8")
    tidy.write_text(TIDY, encoding="utf-8")
    assert run("--check", str(tidy)).exit_code == 0
    result = run("--check", str(tidy), str(messy))
    assert result.exit_code == 1 and result.stdout.splitlines() == [str(messy)]
    assert messy.read_text(encoding="utf-8") == MESSY


def test_fmt_check_exits_2_with_the_diagnostic_for_a_file_that_does_not_parse(tmp_path: Path) -> None:
    bad, messy = tmp_path / "bad.rxp", tmp_path / "messy.rxp"
    bad.write_text("rule a/b\n  when x\n  thne y = 1\nend\n", encoding="utf-8")
    messy.write_text(MESSY, encoding="utf-8")
    for args in (["--check"], []):
        result = run(*args, str(messy), str(bad))
        assert result.exit_code == 2 and result.stdout == ""
        assert "bad.rxp:3:3: RX103" in result.stderr and "thne y = 1" in result.stderr
    assert messy.read_text(encoding="utf-8") == MESSY  # nothing is changed when one file does not parse


def test_fmt_diff_shows_a_unified_diff_and_changes_nothing(tmp_path: Path) -> None:
    messy = tmp_path / "messy.rxp"
    messy.write_text(MESSY, encoding="utf-8")
    result = run("--diff", str(messy))
    assert result.exit_code == 0
    assert f"--- {messy}\n+++ {messy} (formatted)\n" in result.stdout
    assert "-rule a/b then x = 1 when y end\n+rule a/b\n+  when y\n+  then x = 1\n+end\n" in result.stdout
    assert messy.read_text(encoding="utf-8") == MESSY
    assert run("--diff", "--check", str(messy)).exit_code == 1


def test_fmt_dash_formats_standard_input_to_standard_output() -> None:
    result = run("-", stdin=MESSY)
    assert result.exit_code == 0 and result.stdout == TIDY
    assert run("-", stdin=TIDY).stdout == TIDY
    assert run("--check", "-", stdin=MESSY).exit_code == 1
    assert run("--check", "-", stdin=TIDY).exit_code == 0
    bad = run("-", stdin="rule\n")
    assert bad.exit_code == 2 and bad.stdout == "" and "<stdin>:1:5: RX102" in bad.stderr
    assert "    1 | rule\n" in bad.stderr  # the line comes from standard input, which is not on disk


def test_fmt_refuses_paths_it_cannot_read(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "missing.rxp"))
    assert missing.exit_code == 2 and "RX001" in missing.stderr and "missing.rxp" in missing.stderr
    empty = run(str(tmp_path))
    assert empty.exit_code == 2 and "RX002" in empty.stderr
    assert run("-", str(tmp_path)).exit_code == 2


# --------------------------------------------------------------------------------------------- the docs

TOOL_DOCS = ROOT / "docs" / "tools"
_FENCE = re.compile(r"(?:<!-- fmt: (\w+) -->\n)?^```rxpolicy\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_before_and_after_example_of_the_docs_is_what_fmt_does() -> None:
    blocks = {m.group(1): m.group(2) for m in _FENCE.finditer((TOOL_DOCS / "fmt.md").read_text(encoding="utf-8"))}
    assert blocks["before"] != blocks["after"]
    assert format_text(blocks["before"]) == blocks["after"]


def test_every_rule_example_of_the_tool_docs_is_formatted() -> None:
    examples = [m.group(2) for doc in sorted(TOOL_DOCS.glob("*.md")) for m in _FENCE.finditer(
        doc.read_text(encoding="utf-8")) if m.group(1) != "before"]
    assert len(examples) >= 2
    for example in examples:
        assert format_text(example) == example
