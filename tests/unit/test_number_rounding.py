"""Rounding numbers and percentages, not only money (issue 9's language items): `rounded <mode> to a whole number`
and `rounded <mode> to N decimals`.

Each policy is written for the test (the layer of ``test_semantics``); the expected values are the arithmetic of
each mode worked out by hand at the .5 boundaries (a supply of 2, 6, 10 and 14 days is 0.5, 1.5, 2.5 and 3.5
weeks of four days).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from test_semantics import codes, make_case, write_policy

from rxpolicy import CompiledPolicy, RxError, api, evaluate
from rxpolicy.diagnostics import Diagnostic, Severity
from rxpolicy.explain.diagnostics import render_diagnostic
from rxpolicy.explain.json import evaluation_json
from rxpolicy.explain.views import because
from rxpolicy.explain.words import rounding_text
from rxpolicy.language.values import Rounding
from rxpolicy.tools.fmt import format_text
from rxpolicy.tools.lsp.complete import complete


def level_rule(expression: str) -> str:
    """A rule deciding the number `level` as ``expression``."""
    return f'rule r\n  source "test"\n  then level = {expression}\n  explain en "x"\nend\n'


def comparing(expression: str) -> str:
    """Two rules deciding `allowed` by ``expression`` (a test: explanations quote it)."""
    return (f'rule r-yes\n  source "test"\n  when {expression}\n  then allowed = yes\n  explain en "x"\nend\n\n'
            f'rule r-no\n  source "test"\n  when not ({expression})\n  then allowed = no\n  explain en "x"\nend\n')


MODES = ("half up", "half even", "down", "up")


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CompiledPolicy]:
    """Per mode: `level = supply_days / 4 rounded <mode> to a whole number`."""
    root = tmp_path_factory.mktemp("whole")
    return {mode: write_policy(root / mode.replace(" ", "-"),
                               level_rule(f"dispensing.supply_days / 4 rounded {mode} to a whole number"))
            for mode in MODES}


# supply_days / 4 for supply 2, 6, 10, 14, 9, 11: 0.5, 1.5, 2.5, 3.5, 2.25, 2.75
@pytest.mark.parametrize(("mode", "expected"), [
    ("half up", [1, 2, 3, 4, 2, 3]),      # a half goes away from zero
    ("half even", [0, 2, 2, 4, 2, 3]),    # a half goes to the even neighbour
    ("down", [0, 1, 2, 3, 2, 2]),         # the rest is dropped
    ("up", [1, 2, 3, 4, 3, 3]),           # any rest goes up
])
def test_a_number_rounded_to_a_whole_number_at_the_half(whole: dict[str, CompiledPolicy], mode: str,
                                                        expected: list[int]) -> None:
    got = [evaluate(whole[mode], make_case(dispensing__supply_days=n)).value("level") for n in (2, 6, 10, 14, 9, 11)]
    assert got == expected
    assert all(type(v) is int for v in got)   # a whole number, as every whole number of the engine: no Decimal


@pytest.mark.parametrize(("mode", "places", "supply", "expected"), [
    # supply_days / 8: 1 → 0.125, 3 → 0.375, 5 → 0.625; / 8 to 1 decimal: 2 → 0.25
    ("half up", 2, 1, "0.13"), ("half even", 2, 1, "0.12"), ("down", 2, 1, "0.12"), ("up", 2, 1, "0.13"),
    ("half even", 2, 3, "0.38"), ("half even", 2, 5, "0.62"), ("half up", 1, 2, "0.3"), ("half even", 1, 2, "0.2"),
    ("down", 1, 7, "0.8"), ("up", 3, 1, "0.125"), ("half up", 3, 8, "1.000"),
])
def test_a_number_rounded_to_decimals_keeps_exactly_those_decimals(tmp_path: Path, mode: str, places: int,
                                                                   supply: int, expected: str) -> None:
    word = "decimal" if places == 1 else "decimals"
    policy = write_policy(tmp_path, level_rule(f"dispensing.supply_days / 8 rounded {mode} to {places} {word}"))
    value = evaluate(policy, make_case(dispensing__supply_days=supply)).value("level")
    assert isinstance(value, Decimal) and str(value) == expected


def test_rounding_is_exact_where_binary_floating_point_is_not(tmp_path: Path) -> None:
    # 1.005 * 1000 / 1000 is 1.00499999… as a float, so float rounding gives 1.0; exact decimals give 1.01.
    policy = write_policy(tmp_path, level_rule("dispensing.supply_days * 1.005 / 1000 rounded half up to 2 decimals"))
    assert round(1000 * 1.005 / 1000, 2) == 1.0
    assert evaluate(policy, make_case(dispensing__supply_days=1000)).value("level") == Decimal("1.01")


def test_a_whole_number_of_days_from_a_rounded_division(tmp_path: Path) -> None:
    # A number rounded to a whole number can be a count of days: a supply of 10 days in weeks, rounded up.
    rules = comparing("dispensed_on + ((dispensing.supply_days / 7 rounded up to a whole number) * 7) days"
                      " <= insured.insured_until")
    policy = write_policy(tmp_path, rules)
    case = make_case("2025-12-10", dispensing__supply_days=10)   # 2 weeks: 10 December + 14 days = 24 December
    assert evaluate(policy, case).value("allowed") is True
    later = make_case("2025-12-20", dispensing__supply_days=10)  # 20 December + 14 days is in 2026
    assert evaluate(policy, later).value("allowed") is False


def test_a_percentage_is_rounded_and_stays_a_percentage(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, comparing("(dispensing.supply_days / 8) % rounded half up to 1 decimal > 0.1 %"))
    # 0.125 % is more than 0.1 %, but rounded to 1 decimal it is 0.1 %; 0.25 % rounds to 0.3 %.
    assert evaluate(policy, make_case(dispensing__supply_days=1)).value("allowed") is False
    assert evaluate(policy, make_case(dispensing__supply_days=2)).value("allowed") is True


def test_the_explanation_says_the_rounding_in_words(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, comparing("dispensing.supply_days / 7 rounded down to a whole number >= 2"))
    evaluation = evaluate(policy, make_case(dispensing__supply_days=20))
    assert evaluation.value("allowed") is True
    en = because(evaluation, "allowed", "en")
    nl = because(evaluation, "allowed", "nl")
    assert en == ("dispensing.supply_days / 7, rounded down to a whole number is 2 (at least 2)",)
    assert nl == ("dispensing.supply_days / 7, naar beneden afgerond op een geheel getal is 2 (ten minste 2)",)


@pytest.mark.parametrize(("rounding", "en", "nl"), [
    (Rounding("half up", "whole euros"), "rounded half up to whole euros", "afgerond op hele euro's (een half naar boven)"),
    (Rounding("down", "cents"), "rounded down to cents", "naar beneden afgerond op centen"),
    (Rounding("up", "a whole number"), "rounded up to a whole number", "naar boven afgerond op een geheel getal"),
    (Rounding("half even", "decimals", 1), "rounded half even to 1 decimal",
     "afgerond op 1 decimaal (een half naar het even getal)"),
    (Rounding("half up", "decimals", 2), "rounded half up to 2 decimals", "afgerond op 2 decimalen (een half naar boven)"),
])
def test_every_rounding_has_its_words(rounding: Rounding, en: str, nl: str) -> None:
    assert (rounding_text(rounding, "en"), rounding_text(rounding, "nl")) == (en, nl)


def test_a_number_with_two_decimals_is_not_shown_as_money(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, comparing("dispensing.supply_days / 8 rounded half up to 2 decimals > 0.10"))
    evaluation = evaluate(policy, make_case(dispensing__supply_days=1))
    (sentence,) = because(evaluation, "allowed", "nl")
    assert "0,13 (meer dan 0.10)" in sentence and "€" not in sentence
    level = write_policy(tmp_path / "level", level_rule("dispensing.supply_days / 8 rounded half up to 3 decimals"))
    shown = json.loads(evaluation_json(evaluate(level, make_case(dispensing__supply_days=1))))
    assert shown["decisions"]["level"]["value"] == "0.125"   # all its decimals: not cut to cents as money is


# ------------------------------------------------------------------------------------------------ refused

def problems(tmp_path: Path, rules: str) -> list[Diagnostic]:
    """The errors refusing a policy (its warnings left out)."""
    with pytest.raises(RxError) as raised:
        write_policy(tmp_path, rules)
    return [d for d in raised.value.diagnostics if d.severity is Severity.ERROR]


def shown(tmp_path: Path, diagnostic: Diagnostic) -> str:
    """The diagnostic as `rxpolicy check` prints it, with the line and its caret."""
    def line_of(path: str, line: int) -> str | None:
        return Path(path).read_text(encoding="utf-8").splitlines()[line - 1]
    return render_diagnostic(diagnostic, line_of)


@pytest.mark.parametrize(("expression", "message", "fix"), [
    ("medicine.price rounded half up to a whole number", "money is rounded to whole euros or cents, not to a whole "
     "number", "write `rounded half up to whole euros` or `rounded half up to cents`"),
    ("medicine.price rounded down to 2 decimals", "money is rounded to whole euros or cents, not to 2 decimals",
     "write `rounded down to whole euros` or `rounded down to cents`"),
    ("dispensing.supply_days / 7 rounded half up to whole euros", "only money is rounded to whole euros, not a number",
     "round a number `to a whole number` or `to 2 decimals`"),
    ("dispensed_on rounded up to a whole number", "only numbers, percentages and money are rounded, not a date",
     "round a computation that gives a number, a percentage or an amount of money"),
])
def test_rounding_the_wrong_kind_is_refused_with_the_fix(tmp_path: Path, expression: str, message: str,
                                                         fix: str) -> None:
    (found,) = problems(tmp_path, f'define x = {expression}\n  explain en "x"\n\n' + level_rule("1"))
    assert (found.code, found.message, found.help) == ("RX348", message, fix)
    text = shown(tmp_path, found)
    assert f"define x = {expression}" in text
    caret = text.splitlines()[2]
    assert caret.strip() == "^" * len(expression)   # under the whole rounded computation
    assert caret.index("^") - text.splitlines()[1].index("define") == len("define x = ")


@pytest.mark.parametrize("written", ["2.5 decimals", "7 decimals", "12 decimals"])
def test_decimals_are_a_whole_number_from_0_to_6(tmp_path: Path, written: str) -> None:
    line = f"  then level = dispensing.supply_days / 8 rounded half up to {written}"
    (found,) = problems(tmp_path, level_rule(line.removeprefix("  then level = ")))
    assert found.code == "RX211" and found.span is not None
    # at the number: line 8 of the file (the policy's 5 lines, then `rule` and `source`)
    assert (found.span.line, found.span.column) == (8, line.index(written) + 1)
    assert "whole number of decimals from 0 to 6" in found.message and "`to 2 decimals`" in found.help
    assert shown(tmp_path, found).splitlines()[2].strip() == "^" * len(written.split()[0])


def test_a_misspelt_unit_after_to_names_what_may_follow(tmp_path: Path) -> None:
    with pytest.raises(RxError) as raised:
        write_policy(tmp_path, level_rule("dispensing.supply_days / 8 rounded half up to whole numbers"))
    assert codes(raised) == ["RX104"] or codes(raised) == ["RX103"]
    message = raised.value.diagnostics[0].message + raised.value.diagnostics[0].help
    assert "a whole number" in message


@pytest.mark.parametrize("expression", [
    "dispensing.supply_days rounded down to a whole number",        # counts whole days
    "insured.age rounded half up to 1 decimal",                     # a computed count
    "(dispensing.supply_days + 7) * 2 rounded up to a whole number",
    "quotient(dispensing.supply_days, 7) rounded down to a whole number",
    "year_of(dispensed_on) rounded half up to a whole number",
    "(dispensing.supply_days / 7 rounded up to a whole number) rounded up to a whole number",
])
def test_rounding_a_whole_number_is_a_warning(tmp_path: Path, expression: str) -> None:
    write_policy(tmp_path, level_rule(expression))
    _, warnings = api.check(str(tmp_path / "p"))
    found = [d for d in warnings if d.code == "RX353"]
    assert len(found) == 1 and found[0].severity is Severity.WARNING
    assert "is always a whole number" in found[0].message and found[0].help.startswith("remove `rounded ")


@pytest.mark.parametrize("expression", [
    "dispensing.supply_days / 7 rounded down to a whole number",
    "dispensing.ml_per_day rounded down to a whole number",         # a number that may have decimals
    "medicine.price / medicine.price rounded half up to 2 decimals",
])
def test_rounding_what_may_have_a_fraction_is_no_warning(tmp_path: Path, expression: str) -> None:
    rule = level_rule(expression)
    if "ml_per_day" in expression:
        rule = level_rule(f"if dispensing.ml_per_day is known then {expression} else 0")
    write_policy(tmp_path, rule)
    _, warnings = api.check(str(tmp_path / "p"))
    assert [d for d in warnings if d.code == "RX353"] == []


# ------------------------------------------------------------------------------------------------ tools

@pytest.mark.parametrize("expression", [
    "dispensing.supply_days / 8 rounded   half\n    even to   2   decimals",
    "dispensing.supply_days / 8 rounded up to a   whole number",
])
def test_the_formatter_keeps_a_rounding_of_a_number(expression: str) -> None:
    text = ('policy p\n  title "P"\nend\n\n' + level_rule(expression))
    formatted = format_text(text)
    assert format_text(formatted) == formatted
    assert " ".join(expression.split()) in formatted


def test_completion_offers_the_roundings_after_rounded() -> None:
    text = 'define x = dispensing.supply_days / 7 rounded '
    _, offered = complete(None, text, len(text), None)
    assert {"half up", "half even", "down", "up"} <= {c.label for c in offered}
    text += "down to "
    _, offered = complete(None, text, len(text), None)
    assert {"whole euros", "cents", "a whole number"} <= {c.label for c in offered}


def test_rxpolicy_check_and_fmt_take_a_rounded_number(tmp_path: Path) -> None:
    import subprocess
    import sys

    write_policy(tmp_path, "\n" + level_rule("(dispensing.supply_days / 7) rounded half even to 1 decimal"))
    cli = Path(sys.executable).parent / "rxpolicy"
    checked = subprocess.run([str(cli), "check", str(tmp_path / "p")], capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stderr
    formatted = subprocess.run([str(cli), "fmt", "--check", str(tmp_path / "p")], capture_output=True, text=True,
                               timeout=300)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_the_columns_leave_a_rounded_number_to_the_per_case_evaluator(whole: dict[str, CompiledPolicy]) -> None:
    import pyarrow as pa

    from rxpolicy.bulk.columnar import compile_columnar, evaluate_columnar
    from rxpolicy.bulk.core import select_decisions
    from rxpolicy.bulk.records import Chunk
    from rxpolicy.bulk.run import BatchRun, evaluate_chunk
    from rxpolicy.bulk.synth_files import claims_table

    policy = whole["half even"]
    compiled = compile_columnar(policy)
    assert compiled.unsupported() and all("a number rounded" in line for line in compiled.unsupported())
    records = [{"dispensed_on": "2025-03-14", "insured.born_on": "1970-05-01", "prescription.prescriber": "gp",
                "medicine.name": "x", "medicine.atc": "C08CA01", "medicine.price": "5.00",
                "dispensing.supply_days": n} for n in (2, 6, 10, 14)]
    chunk = Chunk(index=0, first=1, count=len(records), table=claims_table(records))
    selection = select_decisions(policy)
    per_case = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    expected = evaluate_chunk(per_case, chunk)

    def fallback(positions: list[int]) -> pa.Table:
        return expected.take(positions)

    got = evaluate_columnar(compiled, chunk, selection, fallback, {})
    assert got.equals(expected)
    assert got.column("level").to_pylist() == ["0", "2", "2", "4"]   # 0.5, 1.5, 2.5, 3.5 half even
