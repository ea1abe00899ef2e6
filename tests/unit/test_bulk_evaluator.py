"""The embedders' API for claims in bulk (`rxpolicy.bulk`): claims held in memory in, the result table out.

The reference is the command: the tables must equal what `rxpolicy batch … --format parquet` writes for the same
claims (synthetic, with their share of invalid claims, so error rows are compared too), for every form the API
reads (an Arrow Table or RecordBatch, a Polars DataFrame, case mappings as JSON Lines lines decode to), on both
engines and from two threads at once; bad input as a whole raises `RxError` with the code, field, message and fix
the command writes in its error rows or prints for the same problem.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rxpolicy import PolicyStore, RxError
from rxpolicy.bulk import ClaimsEvaluator, evaluate_claims, evaluate_claims_file
from rxpolicy.cli import cli

#: Claims in the test file: enough for chunks of 700 to cut it unevenly, and for a few dozen invalid claims.
CLAIMS = 2_500
CHUNK = 700


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


def _batch(claims: Path, out: Path, *options: str) -> Any:
    """What `rxpolicy batch CLAIMS --out OUT --format parquet` writes, its partitions read back in order."""
    code, stderr = _invoke("batch", str(claims), "--out", str(out), "--format", "parquet", "-q", *options)
    assert code in (0, 1), stderr
    return pa.concat_tables([pq.read_table(part) for part in sorted(out.glob("part-*.parquet"))])


@pytest.fixture(scope="module")
def policy() -> Any:
    return PolicyStore().load("hollandzorg")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """The same synthetic claims as Parquet and as JSON Lines, and what `rxpolicy batch` makes of them."""
    directory = tmp_path_factory.mktemp("claims")
    parquet, jsonl = directory / "claims.parquet", directory / "claims.jsonl"
    for path in (parquet, jsonl):
        assert _invoke("claims", "synth", "--n", str(CLAIMS), "--seed", "11", "--out", str(path))[0] == 0
    expected = _batch(parquet, directory / "out", "--chunk-size", str(CHUNK))
    # The comparisons below cover error rows and both outcomes, not only clean claims.
    assert expected.column("record").to_pylist() == list(range(1, CLAIMS + 1))
    assert expected.column("error_code").null_count < CLAIMS - 10
    assert set(expected.column("outcome").drop_null().to_pylist()) == {"covered", "not_covered"}
    return parquet, jsonl, expected


def _forms(parquet: Path, jsonl: Path) -> dict[str, Any]:
    table = pq.read_table(parquet)
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    return {"table": table,
            "record batch": table.combine_chunks().to_batches()[0],
            "polars": pl.from_arrow(table),
            "mappings": [json.loads(line, parse_float=Decimal) for line in lines],
            "generator": (json.loads(line, parse_float=Decimal) for line in lines)}


@pytest.mark.parametrize("form", ["table", "record batch", "polars", "mappings", "generator"])
def test_every_form_gives_the_table_batch_writes(policy: Any, files: tuple[Path, Path, Any], form: str) -> None:
    parquet, jsonl, expected = files
    claims = _forms(parquet, jsonl)[form]
    if form == "record batch":
        assert isinstance(claims, pa.RecordBatch) and claims.num_rows == CLAIMS
    got = evaluate_claims(policy, claims, chunk_size=CHUNK)
    assert got.schema.equals(expected.schema, check_metadata=True)
    assert got.equals(expected)


def test_the_chunk_size_changes_nothing(policy: Any, files: tuple[Path, Path, Any]) -> None:
    parquet, _, expected = files
    got = evaluate_claims(policy, pq.read_table(parquet), chunk_size=333)
    assert got.equals(expected)


@pytest.mark.parametrize("form", ["table", "mappings"])
def test_per_case_gives_what_the_columns_give(policy: Any, files: tuple[Path, Path, Any], form: str) -> None:
    parquet, jsonl, expected = files
    claims = _forms(parquet, jsonl)[form]
    each = evaluate_claims(policy, claims, engine="per-case", chunk_size=CHUNK)
    assert each.equals(expected)


def test_decisions_and_explanations_as_batch_gives_them(policy: Any, files: tuple[Path, Path, Any],
                                                        tmp_path: Path) -> None:
    parquet, _, _ = files
    few = tmp_path / "few.parquet"
    pq.write_table(pq.read_table(parquet).slice(0, 60), few)
    expected = _batch(few, tmp_path / "out", "--decisions", "covered,patient_pays", "--explain", "--lang", "nl")
    got = evaluate_claims(policy, pq.read_table(few), decisions="covered, patient_pays", explain=True, lang="nl")
    assert got.column_names == ["record", "outcome", "covered", "covered.rule", "patient_pays",
                                "patient_pays.rule", "error_code", "error_field", "error_message", "error_help",
                                "explanation"]
    assert got.equals(expected)
    assert evaluate_claims(policy, pq.read_table(few), decisions=["covered", "patient_pays"], explain=True,
                           lang="nl").equals(expected)


def test_the_file_form_gives_batch_partitions_one_by_one(policy: Any, files: tuple[Path, Path, Any]) -> None:
    parquet, jsonl, expected = files
    for path in (parquet, jsonl):
        tables = evaluate_claims_file(policy, path, chunk_size=CHUNK)
        first = next(tables)
        assert first.num_rows == CHUNK and first.column("record")[0].as_py() == 1
        rest = list(tables)
        assert len(rest) == -(-CLAIMS // CHUNK) - 1
        assert pa.concat_tables([first, *rest]).equals(expected)
    text = jsonl.with_suffix(".txt")
    text.write_bytes(jsonl.read_bytes())
    assert pa.concat_tables(evaluate_claims_file(policy, text, format="jsonl", chunk_size=CHUNK)).equals(expected)


# ------------------------------------------------------------------------------------------ bad records

def test_bad_records_are_error_rows_in_their_place(policy: Any) -> None:
    good = {"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
            "medicine": {"name": "amlodipine 5 mg tablet", "atc": "C08CA01", "price": "10.00"},
            "dispensing": {"supply_days": 30, "fees": {"dispensing": "7.50"}}}
    float_price = {**good, "medicine": {**good["medicine"], "price": 10.0}}  # type: ignore[dict-item]
    flattened = {"dispensed_on": "2025-03-14", "insured.born_on": "1970-05-01", "prescription.prescriber": "gp",
                 "medicine.name": "x", "medicine.atc": "C08CA01", "medicine.price": "10.00",
                 "dispensing.supply_days": 30}
    rows = evaluate_claims(policy, [good, float_price, "not a claim", flattened, {**good, "dispensed_on": "2019-01-01"}]
                           ).to_pylist()
    assert [r["record"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["error_code"] for r in rows] == [None, "RX404", "RX802", None, "RX501"]
    assert rows[0]["outcome"] == rows[3]["outcome"] == "covered"
    assert rows[1]["error_field"] == "medicine.price" and rows[1]["outcome"] is None
    assert "str, not a mapping" in rows[2]["error_message"] and rows[2]["error_help"]


def test_a_bad_cell_in_a_table_is_an_error_row(policy: Any, files: tuple[Path, Path, Any]) -> None:
    parquet, _, expected = files
    table = pq.read_table(parquet).slice(0, 5)
    column = table.schema.get_field_index("dispensed_on")
    days = table.column(column).to_pylist()
    table = table.set_column(column, table.schema.field(column), pa.array([days[0], None, *days[2:]], pa.date32()))
    rows = evaluate_claims(policy, table).to_pylist()
    assert [(r["record"], r["error_code"], r["error_field"]) for r in rows][1] == (2, "RX402", "dispensed_on")
    # Row by row, decoded (a table built from these rows would make dictionaries of its own, not the policy's).
    assert [rows[0], *rows[2:]] == expected.take([0, 2, 3, 4]).to_pylist()


# ------------------------------------------------------------------------------------------ bad input

def _problems(call: Any) -> list[tuple[str, str | None, str, str | None]]:
    with pytest.raises(RxError) as raised:
        call()
    return [(d.code, d.field, d.message, d.help) for d in raised.value.diagnostics]


@pytest.mark.parametrize("change", ["unknown", "misspelt", "computed", "missing"])
def test_a_column_every_record_would_be_refused_for_is_said_once(
        policy: Any, files: tuple[Path, Path, Any], tmp_path: Path, change: str) -> None:
    """The diagnostic is the one `rxpolicy batch` writes in each record's error row for such a Parquet file."""
    parquet, _, _ = files
    table = pq.read_table(parquet).slice(0, 20)
    if change == "missing":
        table = table.drop_columns(["medicine.atc"])
    else:
        name = {"unknown": "claim_id", "misspelt": "medicine.atcc", "computed": "insured.age"}[change]
        table = table.append_column(name, pa.array([1] * table.num_rows))
    path = tmp_path / "claims.parquet"
    pq.write_table(table, path)
    rows = _batch(path, tmp_path / "out").to_pylist()
    said = {(r["error_code"], r["error_field"], r["error_message"], r["error_help"]) for r in rows}
    assert len(said) == 1 and next(iter(said))[0] in ("RX402", "RX403")
    assert _problems(lambda: evaluate_claims(policy, table)) == list(said)
    assert _problems(lambda: evaluate_claims(policy, pl.from_arrow(table))) == list(said)


def test_every_column_problem_is_said(policy: Any, files: tuple[Path, Path, Any]) -> None:
    table = pq.read_table(files[0]).slice(0, 1).drop_columns(["dispensed_on"]).append_column(
        "medicine.colour", pa.array(["red"]))
    assert sorted((code, field) for code, field, _, _ in _problems(lambda: evaluate_claims(policy, table))) == [
        ("RX402", "dispensed_on"), ("RX403", "medicine.colour")]


def test_a_section_written_in_part_is_not_a_column_problem(policy: Any, files: tuple[Path, Path, Any],
                                                         tmp_path: Path) -> None:
    """`authorisation` has both dates or none: without the column of one, only the records that write the other
    are refused, so the table is evaluated (as batch evaluates it)."""
    table = pq.read_table(files[0]).slice(0, 300).drop_columns(["authorisation.valid_until"])
    path = tmp_path / "claims.parquet"
    pq.write_table(table, path)
    expected = _batch(path, tmp_path / "out")
    got = evaluate_claims(policy, table)
    assert got.equals(expected)
    assert 0 < got.column("error_code").to_pylist().count("RX402") < table.num_rows


def test_an_unknown_decision_is_what_batch_says(policy: Any, files: tuple[Path, Path, Any]) -> None:
    code, stderr = _invoke("batch", str(files[0]), "--decisions", "covered,insurer_pay", "-q")
    assert code == 2
    problems = _problems(lambda: evaluate_claims(policy, [], decisions=["covered", "insurer_pay"]))
    assert [p[0] for p in problems] == ["RX803"]
    assert f"RX803: {problems[0][2]}" in stderr and f"help: {problems[0][3]}" in stderr


@pytest.mark.parametrize(("claims", "fix"), [
    ("claims.parquet", "evaluate_claims_file"),
    (Path("claims.parquet"), "evaluate_claims_file"),
    ({"dispensed_on": "2025-03-14"}, "[claim]"),
    (42, "iterable of case mappings"),
    (pl.DataFrame({"dispensed_on": ["2025-03-14"]}).lazy(), "collect()"),
    (pl.Series("dispensed_on", ["2025-03-14"]), "iterable of case mappings"),
    (pa.chunked_array([["2025-03-14"]]), "iterable of case mappings"),
], ids=["text", "path", "one mapping", "number", "lazy frame", "series", "array"])
def test_claims_of_a_type_not_read_are_refused(policy: Any, claims: object, fix: str) -> None:
    [(code, field, message, help)] = _problems(lambda: evaluate_claims(policy, claims))
    assert (code, field) == ("RX801", None)
    assert "cannot be read as claims" in message and help is not None and fix in help


@pytest.mark.parametrize(("option", "value"), [("engine", "fast"), ("lang", "de"), ("chunk_size", 0),
                                               ("chunk_size", 2.5)])
def test_an_option_out_of_range_is_refused(policy: Any, option: str, value: object) -> None:
    [(code, _, message, help)] = _problems(lambda: ClaimsEvaluator(policy, **{option: value}))
    assert code == "RX804" and option in message and help


def test_a_file_that_is_not_there_is_refused_at_once(policy: Any, tmp_path: Path) -> None:
    assert _problems(lambda: evaluate_claims_file(policy, tmp_path / "none.parquet"))[0][0] == "RX801"
    assert _problems(lambda: evaluate_claims_file(policy, tmp_path / "claims.txt"))[0][0] == "RX801"
    assert _problems(lambda: evaluate_claims_file(policy, tmp_path / "claims.jsonl", format="xml"))[0][0] == "RX801"


# ------------------------------------------------------------------------------------------ one evaluator, many calls

def test_one_evaluator_serves_two_threads_at_once(policy: Any, files: tuple[Path, Path, Any]) -> None:
    parquet, jsonl, expected = files
    evaluator = ClaimsEvaluator(policy, chunk_size=CHUNK)
    table = pq.read_table(parquet)
    mappings = _forms(parquet, jsonl)["mappings"]
    together = threading.Barrier(2)

    def evaluate(claims: Any) -> list[Any]:
        together.wait()  # both threads inside the evaluator at the same time
        return [evaluator.evaluate(claims) for _ in range(3)]

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(evaluate, [table, mappings]))
    for tables in results:
        assert all(t.equals(expected) for t in tables)
    assert evaluator.decisions == tuple(expected.column_names[2:-4:2])
    assert evaluator.schema.equals(expected.schema)
    assert evaluator.evaluate([]).schema.equals(expected.schema) and evaluator.evaluate([]).num_rows == 0
    assert repr(evaluator).startswith("ClaimsEvaluator(policy='hollandzorg', decisions=['in_package', ")


# ------------------------------------------------------------------------------------------ review findings

_GOOD = {"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
         "medicine": {"name": "amlodipine 5 mg tablet", "atc": "C08CA01", "price": "10.00"},
         "dispensing": {"supply_days": 30, "fees": {"dispensing": "7.50"}}}


@pytest.mark.parametrize("claim", [{1: 2}, {**_GOOD, 1: 2}, {**_GOOD, "medicine": {**_GOOD["medicine"], ("a",): 1}},
                                   {**_GOOD, "medicine.price": "10.00", "medicine": {1: "x"}}],
                         ids=["only", "top level", "in a section", "dotted and nested"])
def test_a_key_that_is_not_text_is_that_claims_error_row(policy: Any, claim: dict[Any, Any]) -> None:
    rows = evaluate_claims(policy, [_GOOD, claim, _GOOD]).to_pylist()
    assert [r["error_code"] for r in rows] == [None, "RX403", None]
    assert "no field name" in rows[1]["error_message"] and "as text" in rows[1]["error_help"]


def test_a_decision_that_is_not_a_name_is_refused_with_the_choices(policy: Any) -> None:
    [problem] = _problems(lambda: evaluate_claims(policy, [_GOOD], decisions=["covered", None]))  # type: ignore[list-item]
    assert problem[0] == "RX803" and "no decision None" in problem[2] and "covered" in problem[3]


def test_a_decision_named_twice_is_refused_as_batch_refuses_it(policy: Any, files: tuple[Path, Path, Any]) -> None:
    code, stderr = _invoke("batch", str(files[0]), "--decisions", "covered,covered", "-q")
    assert code == 2 and "internal error" not in stderr
    for engine in ("columnar", "per-case"):
        [problem] = _problems(lambda: evaluate_claims(policy, [_GOOD], decisions="covered,covered", engine=engine))
        assert problem[:2] == ("RX803", None) and "`covered` is named twice" in problem[2]
        assert f"RX803: {problem[2]}" in stderr and f"help: {problem[3]}" in stderr


def test_a_table_read_from_csv_the_usual_way_is_refused_once_with_the_fix(policy: Any, tmp_path: Path) -> None:
    """`pl.read_csv` makes money float64: every claim would be refused for it; one RxError names the columns."""
    path = tmp_path / "claims.csv"
    assert _invoke("claims", "synth", "--n", "300", "--seed", "11", "--out", str(path))[0] == 0
    problems = _problems(lambda: evaluate_claims(policy, pl.read_csv(path)))
    fields = {field for _, field, _, _ in problems}
    assert "medicine.price" in fields and {code for code, *_ in problems} == {"RX404"}
    price = next(p for p in problems if p[1] == "medicine.price")
    assert "double" in price[2] and "decimal128(12, 2)" in (price[3] or "") and "evaluate_claims_file" in (price[3] or "")
    # The way the fix says gives the table `rxpolicy batch` writes for the file.
    assert pa.concat_tables(evaluate_claims_file(policy, path)).equals(_batch(path, tmp_path / "out"))


@pytest.mark.parametrize(("column", "cast", "code"), [
    ("medicine.price", pl.Float64, "RX404"),
    ("dispensed_on", pl.Datetime("us"), "RX405"),
    ("dispensed_on", pl.Datetime("us", "Europe/Amsterdam"), "RX404"),
    ("dispensing.contracted", pl.String, "RX404"),
    ("medicine.atc", pl.Binary, "RX404"),
], ids=["float money", "datetime date", "datetime date with zone", "text yes/no", "bytes"])
def test_a_column_of_a_type_never_valid_for_its_fact_is_said_once(
        policy: Any, files: tuple[Path, Path, Any], column: str, cast: Any, code: str) -> None:
    frame = pl.from_arrow(pq.read_table(files[0]).slice(0, 300))
    changed = frame.with_columns(pl.col(column).cast(cast))
    [(got, field, message, help)] = _problems(lambda: evaluate_claims(policy, changed))
    assert (got, field) == (code, column) and f"`{column}`" in message and help and ("cast" in help or "bool" in help)
    # Whole numbers in a float column are float money all the same; a column of only empty cells gives no value.
    if column == "medicine.price":
        whole = frame.with_columns(pl.col(column).cast(pl.Int64).cast(pl.Float64))
        assert _problems(lambda: evaluate_claims(policy, whole))[0][:2] == ("RX404", column)
    empty = frame.with_columns(pl.lit(None, cast).alias(column)) if column != "dispensed_on" else None
    if empty is not None:
        assert evaluate_claims(policy, empty).num_rows == 300


def test_struct_columns_are_read_as_their_dotted_columns(policy: Any, files: tuple[Path, Path, Any]) -> None:
    """`pl.DataFrame(cases)` makes a struct column per section; a null in it is a field not given, as in the flat
    Parquet table (where batch writes an empty cell)."""
    _, jsonl, expected = files
    lines = jsonl.read_text(encoding="utf-8").splitlines()[:400]
    cases = [json.loads(line, parse_float=Decimal) for line in lines]
    reference = evaluate_claims(policy, cases)
    assert reference.equals(expected.slice(0, 400))
    nested = pl.DataFrame(cases, infer_schema_length=None)  # (every claim's keys, not the first's only)
    assert any(isinstance(kind, pl.Struct) for kind in nested.schema.values())
    assert evaluate_claims(policy, nested).equals(reference)
    assert evaluate_claims(policy, nested.to_arrow()).equals(reference)


def test_a_policy_that_is_not_compiled_is_refused_with_the_fix(policy: Any) -> None:
    with pytest.raises(TypeError, match=r'PolicyStore\(\)\.load\(.hollandzorg.\)'):
        evaluate_claims("hollandzorg", [_GOOD])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a compiled policy"):
        ClaimsEvaluator(None)  # type: ignore[arg-type]


def test_explain_must_be_true_or_false(policy: Any) -> None:
    [(code, _, message, _)] = _problems(lambda: ClaimsEvaluator(policy, explain="yes"))  # type: ignore[arg-type]
    assert code == "RX804" and "explain" in message


def test_a_polars_int128_column_is_read(policy: Any, files: tuple[Path, Path, Any]) -> None:
    frame = pl.from_arrow(pq.read_table(files[0]).slice(0, 200))
    wide = frame.with_columns(pl.col("dispensing.supply_days").cast(pl.Int128))
    assert evaluate_claims(policy, wide).equals(evaluate_claims(policy, frame))


def test_a_polars_int128_column_beyond_38_digits_is_refused_naming_it(policy: Any, files: tuple[Path, Path, Any]) -> None:
    """No decimal Arrow holds such a value: one RX405 naming the column, where Polars once raised
    InvalidOperationError from the cast."""
    frame = pl.from_arrow(pq.read_table(files[0]).slice(0, 20))
    values = [10**38 if n == 3 else 30 for n in range(20)]
    wide = frame.with_columns(pl.Series("dispensing.supply_days", values, dtype=pl.Int128))
    [(code, field, message, help)] = _problems(lambda: evaluate_claims(policy, wide))
    assert code == "RX405" and field == "dispensing.supply_days"
    assert "`dispensing.supply_days`" in message and "38 digits" in message and "int64" in (help or "")
    negative = wide.with_columns(pl.col("dispensing.supply_days") * -1)
    assert _problems(lambda: evaluate_claims(policy, negative))[0][0] == "RX405"


def test_a_file_without_claims_gives_one_empty_table(policy: Any, tmp_path: Path) -> None:
    path = tmp_path / "claims.jsonl"
    path.write_text("", encoding="utf-8")
    evaluator = ClaimsEvaluator(policy)
    [table] = list(evaluator.evaluate_file(path))
    assert table.num_rows == 0 and table.schema.equals(evaluator.schema)


def test_a_table_naming_a_column_twice_is_refused_once(policy: Any) -> None:
    # As `rxpolicy batch` refuses such a file: which column holds the field cannot be told.
    good = pa.Table.from_pylist([{"dispensed_on": "2025-03-14", "insured.born_on": "1970-05-01",
                                  "prescription.prescriber": "gp", "medicine.name": "amlodipine 5 mg tablet",
                                  "medicine.atc": "C08CA01", "medicine.price": "10.00", "dispensing.supply_days": 30}])
    twice = good.append_column("medicine.price", pa.array(["-1.00"]))
    [problem] = _problems(lambda: evaluate_claims(policy, twice))
    assert problem[0] == "RX801" and "the table has two columns named `medicine.price`" in problem[2]
    # A section's struct column and a dotted column of one of its fields are two columns of that field too.
    section = pa.StructArray.from_arrays([pa.array(["C08CA01"])], names=["atc"])
    both = good.drop_columns(["medicine.name"]).append_column("medicine", section)
    [problem] = _problems(lambda: evaluate_claims(policy, both))
    assert problem[0] == "RX801" and "`medicine.atc`" in problem[2] and "struct column" in str(problem[3])
    assert evaluate_claims(policy, good).column("error_code").to_pylist() == [None]
