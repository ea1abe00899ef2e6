"""A number or a percentage is shown as the number it is, never as money, in every renderer: `rxpolicy eval` (text,
Markdown), `rxpolicy batch` (JSON Lines, CSV, Parquet; the columnar and the per-case road alike), `rxpolicy test`,
the what-if sentences and JSON, the messages that quote a value. Money is told from a number by the declared type,
not by the value's decimals: a number rounded to 2 decimals (``0.13``) or with 3 (``0.125``) is no amount.

Each policy is written for the test: decisions of each type, with values of 0, 2 and 3 decimals.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner

from rxpolicy import RxError, evaluate, load_policy
from rxpolicy.cli import cli
from rxpolicy.engine.case import case_from_mapping
from rxpolicy.language.types import Kind, Type
from rxpolicy.language import values

LAYER = """
layer statutory
  title "Numbers test layer"
  kind statutory
end

decision whole: number
  explain en "a whole number"
end

decision two: number
  explain en "a number with two decimals"
end

decision three: number
  explain en "a number with three decimals"
end

decision share: percentage
  explain en "a share"
end

decision fee: money
  explain en "the fee"
end

decision covered: yes or no
  explain en "covered"
  is the outcome
end
"""


def _rule(name: str, decides: str, when: str = "") -> str:
    condition = f"  when {when}\n" if when else ""
    return f'rule {name}\n  source "test"\n{condition}  then {decides}\n  explain en "x"\nend\n\n'


#: Rounded numbers (which the columnar road leaves per case): supply 1 gives 0, 0.13, 0.125 and 0.13 %.
ROUNDED = (_rule("r-whole", "whole = dispensing.supply_days / 4 rounded half up to a whole number")
           + _rule("r-two", "two = dispensing.supply_days / 8 rounded half up to 2 decimals")
           + _rule("r-three", "three = dispensing.supply_days / 8 rounded half up to 3 decimals")
           + _rule("r-share", "share = (dispensing.supply_days / 8) % rounded half up to 2 decimals")
           + _rule("r-fee", "fee = 1.50 EUR") + _rule("r-covered", "covered = yes"))

#: Products, which the columnar road computes: supply 2 gives 4, 0.50, 0.250 and 3.0 %, as Decimal arithmetic
#: leaves them (the columns hold 50 and 250 at scales 2 and 3).
PRODUCTS = (_rule("r-whole", "whole = dispensing.supply_days * 2")
            + _rule("r-two", "two = dispensing.supply_days * 0.25")
            + _rule("r-three", "three = dispensing.supply_days * 0.125")
            + _rule("r-share", "share = (dispensing.supply_days * 1.5) %")
            + _rule("r-fee", "fee = 1.50 EUR") + _rule("r-covered", "covered = yes"))

#: Values whose scale on the columns is not the Decimal's: if/else and max bring their branches to one scale
#: (1 is 100 at scale 2 beside 0.25), a difference can be negative or zero.
MIXED = (_rule("r-whole", "whole = if dispensing.supply_days > 2 then 1 else 0.25")
         + _rule("r-two", "two = max(dispensing.supply_days * 0.5, 1)")
         + _rule("r-three", "three = dispensing.supply_days * 0.125 - 1")
         + _rule("r-share", "share = (dispensing.supply_days * 0.001 - 0.002) %")
         + _rule("r-fee", "fee = medicine.price * 5 %") + _rule("r-covered", "covered = yes"))


def _write(root: Path, rules: str) -> Path:
    """The test layer and a policy `p` with ``rules`` under ``root``; the policy's directory."""
    (root / "statutory").mkdir(parents=True)
    (root / "statutory" / "layer.rxp").write_text(LAYER, encoding="utf-8")
    (root / "p").mkdir()
    declaration = 'policy p\n  title "P"\n  built on statutory\n  in force from 2024-01-01 until 2025-12-31\nend\n\n'
    (root / "p" / "policy.rxp").write_text(declaration + rules, encoding="utf-8")
    return root / "p"


def _case(supply_days: int, **dispensing: object) -> dict[str, object]:
    return {"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
            "medicine": {"name": "test medicine", "atc": "C08CA01", "price": "10.00"},
            "dispensing": {"supply_days": supply_days, **dispensing}}


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------------------------------------------------ the helper

@pytest.mark.parametrize(("value", "text"), [
    (Decimal("0.125"), "0.125"), (Decimal("0.50"), "0.5"), (Decimal("3.00"), "3"), (Decimal("1E+2"), "100"),
    (Decimal("1E-7"), "0.0000001"), (Decimal("-0.00"), "0"), (Decimal("-2.50"), "-2.5"), (7, "7"),
])
def test_a_number_is_written_exactly_without_exponent_or_trailing_zeros(value: int | Decimal, text: str) -> None:
    assert values.number_text(value) == text


def test_describe_tells_money_from_a_number_by_the_declared_type() -> None:
    assert values.describe(Decimal("1.50"), Type(Kind.MONEY)) == "1.50 EUR"
    assert values.describe(Decimal("1.50"), Type(Kind.NUMBER)) == "1.5"
    assert values.describe(Decimal("0.125"), Type(Kind.PERCENT)) == "0.125 %"


# ------------------------------------------------------------------------------------------ rxpolicy eval

def test_eval_text_and_markdown_show_numbers_as_numbers(tmp_path: Path) -> None:
    policy = _write(tmp_path, ROUNDED)
    case = tmp_path / "case.json"
    case.write_text(json.dumps(_case(1)), encoding="utf-8")
    _, text, _ = _cli("eval", str(case), "--policy", str(policy))
    assert [line for line in text.splitlines() if " = " in line] == [
        "whole = 0", "two = 0.13", "three = 0.125", "share = 0.13 %", "fee = € 1.50", "covered = yes"]
    _, markdown, _ = _cli("eval", str(case), "--policy", str(policy), "--format", "markdown", "--lang", "nl")
    assert "| `two` | 0,13 |" in markdown and "| `share` | 0,13 % |" in markdown and "| `fee` | € 1,50 |" in markdown
    assert "## `three` = 0,125" in markdown
    _, data, _ = _cli("eval", str(case), "--policy", str(policy), "--format", "json")
    values = {name: d["value"] for name, d in json.loads(data)["decisions"].items()}
    assert values == {"whole": 0, "two": "0.13", "three": "0.125", "share": "0.13", "fee": "1.50", "covered": True}


# ------------------------------------------------------------------------------------------ rxpolicy batch

def _claims(tmp_path: Path, supplies: list[int]) -> Path:
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps(_case(n)) + "\n" for n in supplies), encoding="utf-8")
    return path


@pytest.mark.parametrize("rules", ["rounded", "products", "mixed"])
def test_batch_writes_a_number_with_its_decimals_on_both_roads(tmp_path: Path, rules: str) -> None:
    policy = _write(tmp_path, {"rounded": ROUNDED, "products": PRODUCTS, "mixed": MIXED}[rules])
    claims = _claims(tmp_path, [1, 2, 3, 12])
    rows = {}
    for engine in ("columnar", "per-case"):
        code, out, err = _cli("batch", str(claims), "--policy", str(policy), "--engine", engine, "--quiet")
        assert code == 0, err
        rows[engine] = [json.loads(line) for line in out.splitlines()]
        if engine == "columnar":  # the products are computed on the columns, the rounded numbers per case
            assert ("runs per case" in err) is (rules == "rounded"), err
    assert rows["columnar"] == rows["per-case"]
    shown = [[r[name] for name in ("whole", "two", "three", "share", "fee")] for r in rows["per-case"]]
    if rules == "rounded":  # supply / 4 to a whole number; supply / 8 to 2 and to 3 decimals; the same as a %
        assert shown == [["0", "0.13", "0.125", "0.13", "1.50"], ["1", "0.25", "0.25", "0.25", "1.50"],
                         ["1", "0.38", "0.375", "0.38", "1.50"], ["3", "1.5", "1.5", "1.5", "1.50"]]
    elif rules == "products":  # supply * 2, * 0.25, * 0.125, * 1.5 %: no trailing zeros, whatever the factors
        assert shown == [["2", "0.25", "0.125", "1.5", "1.50"], ["4", "0.5", "0.25", "3", "1.50"],
                         ["6", "0.75", "0.375", "4.5", "1.50"], ["24", "3", "1.5", "18", "1.50"]]
    else:
        assert shown == [["0.25", "1", "-0.875", "-0.001", "0.50"], ["0.25", "1", "-0.75", "0", "0.50"],
                         ["1", "1.5", "-0.625", "0.001", "0.50"], ["1", "6", "0.5", "0.01", "0.50"]]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_batch_files_keep_money_decimal_and_numbers_as_exact_text(tmp_path: Path, fmt: str) -> None:
    policy = _write(tmp_path, PRODUCTS)
    claims = _claims(tmp_path, [1, 2])
    tables = {}
    for engine in ("columnar", "per-case"):
        out = tmp_path / f"out-{engine}"
        code, _, err = _cli("batch", str(claims), "--policy", str(policy), "--engine", engine, "--out", str(out),
                            "--format", fmt, "--quiet")
        assert code == 0, err
        if fmt == "parquet":
            tables[engine] = ds.dataset(out).to_table()
        else:
            tables[engine] = (out / "part-000000.csv").read_text(encoding="utf-8")
    assert tables["columnar"] == tables["per-case"] if fmt == "csv" else tables["columnar"].equals(tables["per-case"])
    if fmt == "parquet":
        table = tables["per-case"]
        assert table.schema.field("fee").type == pa.decimal128(12, 2)
        assert all(table.schema.field(n).type == pa.string() for n in ("whole", "two", "three", "share"))
        assert table.column("three").to_pylist() == ["0.125", "0.25"]
        assert table.column("fee").to_pylist() == [Decimal("1.50")] * 2
    else:
        header, first, _ = tables["per-case"].split("\n", 2)
        cells = dict(zip(header.replace('"', "").split(","), first.replace('"', "").split(",")))
        assert (cells["two"], cells["three"], cells["share"], cells["fee"]) == ("0.25", "0.125", "1.5", "1.50")


# ------------------------------------------------------------------------------------------ rxpolicy test

def test_rule_tests_compare_and_show_a_number_with_all_its_decimals(tmp_path: Path) -> None:
    policy = _write(tmp_path, ROUNDED + _rule("r-three-long", "three = 1", "dispensing.supply_days > 100")
                    .replace('  source "test"', '  exception to r-three\n  source "test"', 1))
    (policy / "tests").mkdir()
    base = json.dumps(_case(1))
    (policy / "tests" / "numbers.test.yaml").write_text(
        f"base: {base}\ntests:\n"
        "  - name: the decimals kept\n    changes: {}\n    expect: {three: 0.125, two: 0.13, share: 0.13, whole: 0}\n"
        "  - name: cut to cents\n    changes: {}\n    expect: {three: 0.13}\n"
        "  - name: twelve days\n    changes: {dispensing.supply_days: 12}\n    expect: {two: 2}\n"
        "  - name: the long rule\n    changes: {}\n    decided_by: {three: r-three-long}\n", encoding="utf-8")
    code, out, err = _cli("test", str(policy))
    assert code == 1, out + err
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 3, out  # "the decimals kept" passes; 0.13 is not 0.125
    assert failed[0].endswith("cut to cents: three: expected 0.13, got 0.125")
    assert failed[1].endswith("twelve days: two: expected 2, got 1.5")
    assert failed[2].endswith("but r-three decided it (0.125)")
    assert "€" not in out and '"1.50"' not in out


# ------------------------------------------------------------------------------------------ what-if

WHAT_IF = (_rule("small", "covered = yes", "dispensing.ml_per_day is known and dispensing.ml_per_day <= 1.50")
           + _rule("large", "covered = no", "not (dispensing.ml_per_day is known and dispensing.ml_per_day <= 1.50)")
           + _rule("r-whole", "whole = 1") + _rule("r-two", "two = 1") + _rule("r-three", "three = 1")
           + _rule("r-share", "share = 1 %") + _rule("r-fee", "fee = 1.50 EUR"))


def test_what_if_says_a_number_fact_as_a_number(tmp_path: Path) -> None:
    policy = _write(tmp_path, WHAT_IF)
    case = tmp_path / "case.json"
    case.write_text(json.dumps(_case(1, ml_per_day="2.75")), encoding="utf-8")
    _, text, _ = _cli("eval", str(case), "--policy", str(policy), "--why-not")
    assert "Covered if the millilitres per day is at most 1.5. (small)" in text
    _, markdown, _ = _cli("eval", str(case), "--policy", str(policy), "--why-not", "--format", "markdown",
                          "--lang", "nl")
    assert "het aantal milliliter per dag is ten hoogste 1,5." in markdown
    _, data, _ = _cli("eval", str(case), "--policy", str(policy), "--why-not", "--format", "json")
    (change,) = json.loads(data)["what_would_change"]
    assert (change["changes"], change["was"]) == ({"dispensing.ml_per_day": "1.5"}, {"dispensing.ml_per_day": "2.75"})
    said = text.split("What would change it:")[1] + markdown.split("## Wat zou het veranderen")[1] + change["sentence"]
    assert "€" not in said


# ------------------------------------------------------------------------------------------ messages

def test_a_conflict_between_number_values_quotes_numbers(tmp_path: Path) -> None:
    rules = ROUNDED + _rule("r-three-too", "three = 0.250")
    policy = load_policy(str(_write(tmp_path, rules)))
    with pytest.raises(RxError) as error:
        evaluate(policy, case_from_mapping(_case(1), policy=policy))
    (diagnostic,) = error.value.diagnostics
    assert diagnostic.code == "RX503" and "different values (0.125 and 0.25)" in diagnostic.message


def test_check_quotes_the_numbers_two_rules_disagree_on(tmp_path: Path) -> None:
    policy = _write(tmp_path, ROUNDED + _rule("r-two-too", "two = 0.25", "dispensing.supply_days > 5"))
    code, out, err = _cli("check", str(policy))
    assert code != 0
    (conflict,) = [line for line in (out + err).splitlines() if "RX371" in line]
    # The witness has 30 days of supply: 30 / 8 is 3.75, which is no amount of money.
    assert "`r-two` as 3.75 and `r-two-too` as 0.25" in conflict


def test_diff_shows_a_number_that_changes_as_a_number(tmp_path: Path) -> None:
    def side(name: str, factor: str) -> Path:
        rules = ROUNDED.replace("dispensing.supply_days / 8 rounded half up to 3 decimals", "dispensing.supply_days * factor")
        parameter = f'parameter factor: number\n  explain en "a factor"\n  source "test"\n  value {factor}\nend\n'
        return _write(tmp_path / name, rules + parameter)

    old, new = side("old", "1.50"), side("new", "1.25")
    _, text, err = _cli("diff", str(old), str(new))
    # The witness has 30 days of supply: 30 * 1.50 is 45.00, 30 * 1.25 is 37.50; no amounts of money.
    lines = text.splitlines()
    assert "three: 45 → 37.5" in lines, text + err
    assert "  its rules or amounts differ between the two sides: factor: 1.5 → 1.25" in lines
    _, data, _ = _cli("diff", str(old), str(new), "--format", "json")
    (finding,) = json.loads(data)["differences"]
    assert (finding["old"]["value"], finding["new"]["value"]) == ("45", "37.5")


def test_money_with_more_decimals_on_the_columns_is_written_or_an_error_row_as_per_case(tmp_path: Path) -> None:
    # fee = price * 0.125: 10.00 gives 1.25000 (whole cents, written 1.25); 10.10 gives 1.2625, which the money
    # columns cannot hold (RX805). The columnar road stopped with an internal error on both.
    policy = _write(tmp_path, PRODUCTS.replace("fee = 1.50 EUR", "fee = medicine.price * 0.125"))
    claims = tmp_path / "claims.jsonl"
    cases = [_case(1), {**_case(1), "medicine": {"name": "m", "atc": "C08CA01", "price": "10.10"}}]
    claims.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    rows = {}
    for engine in ("columnar", "per-case"):
        code, out, err = _cli("batch", str(claims), "--policy", str(policy), "--engine", engine, "--quiet")
        assert code == 1 and "internal error" not in err, err  # one error row
        assert "runs per case" not in err
        rows[engine] = [json.loads(line) for line in out.splitlines()]
    assert rows["columnar"] == rows["per-case"]
    first, second = rows["per-case"]
    assert (first["fee"], first["error_code"]) == ("1.25", None)
    assert second["error_code"] == "RX805" and "`fee` is 1.2625" in second["error_message"]


def test_an_unrounded_amount_is_shown_as_money_with_all_its_decimals(tmp_path: Path) -> None:
    # fee = price * 0.125 is money (the declared type), 1.2625 for a price of 10.10: the text says it exactly.
    policy = _write(tmp_path, PRODUCTS.replace("fee = 1.50 EUR", "fee = medicine.price * 0.125"))
    case = tmp_path / "case.json"
    case.write_text(json.dumps({**_case(1), "medicine": {"name": "m", "atc": "C08CA01", "price": "10.10"}}),
                    encoding="utf-8")
    _, text, _ = _cli("eval", str(case), "--policy", str(policy))
    _, dutch, _ = _cli("eval", str(case), "--policy", str(policy), "--lang", "nl")
    assert "fee = € 1.2625" in text.splitlines() and "fee = € 1,2625" in dutch.splitlines()
    case.write_text(json.dumps(_case(1)), encoding="utf-8")  # 1.25000: cents, written as cents
    _, text, _ = _cli("eval", str(case), "--policy", str(policy))
    assert "fee = € 1.25" in text.splitlines()
