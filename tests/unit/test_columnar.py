"""The columnar fast path gives every claim the per-case evaluator's decision values and deciding rules.

A differential test: more than 100,000 claims (synthetic claims, the `check` explorer's cases for every period of
both built-in policies, claims with one field set to an edge of what it may hold, and every example case) are
evaluated both ways and the two result tables must be equal, error rows included. The claims reach every rule of
both policies (asserted), and most of them are decided by the columns (asserted), so the test cannot pass by
sending everything per case.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from columnar_helpers import typed_chunks
from rxpolicy import RxError, case_from_mapping, load_policy, parse_case
from rxpolicy.bulk.columnar import _leap_day, _months_on, compile_columnar, evaluate_columnar
from rxpolicy.bulk.core import select_decisions
from rxpolicy.bulk.records import Chunk
from rxpolicy.bulk.run import BatchRun, evaluate_chunk
from rxpolicy.bulk.synth import synth_claims
from rxpolicy.bulk.synth_files import flatten
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.language.types import Kind
from rxpolicy.tools.analysis import representative_day
from rxpolicy.tools.explore import base_case, condition_space

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC = 50_000
CHUNK = 10_000


def _witnesses(policy: CompiledPolicy) -> list[dict[str, Any]]:
    """The explorer's cases for every period: each combination of the values the rules tell apart."""
    records = []
    for epoch in policy.epochs:
        day = representative_day(policy, epoch)
        for case in condition_space(policy, day).cases(base_case(policy, day), limit=4_000):
            records.append(flatten(case.to_mapping(only_changed=True)))
    return records


def _edges(policy: CompiledPolicy, claims: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Claims with one field set to an edge of its type: valid or not, both paths must say the same."""
    rng = random.Random(11)
    for path, spec in policy.facts.fields.items():
        if spec.derived:
            continue
        kind = spec.type.kind
        options: list[object] = [None]
        if kind is Kind.MONEY:
            options += [Decimal("0.00"), Decimal("0.01"), Decimal("100.00"), Decimal("150.00"), Decimal("-0.01"),
                        Decimal("385.00"), Decimal("9999.99")]
        elif kind is Kind.NUMBER:
            options += [0, 1, 6, 15, 31, 92, 365, -1]
        elif kind is Kind.BOOL:
            options += [True, False]
        elif kind is Kind.DATE:
            options += ["2023-01-01", "2024-02-29", "2025-12-31", "2026-01-01", "1950-01-01", "2022-12-31"]
        elif kind is Kind.ENUM:
            options += [*spec.type.choices, "unknown-choice"]
        elif kind is Kind.LIST:
            options += [(), ("gp",), ("specialist", "nurse_specialist"), ("nobody",)]
        elif kind is Kind.ATC:
            options += ["G03AA07", "N05CD07", "J01", "n05ba04", "J07AL02"]
        else:
            options += [*policy.plans, "Gold", "a b"]
        for value in options:
            for claim in rng.sample(claims, 3):
                changed = dict(claim)
                changed[path] = value
                yield changed


def _examples(policy: CompiledPolicy) -> list[dict[str, Any]]:
    return [flatten(parse_case(p.read_text(), plans=policy.plans).to_mapping(only_changed=True))
            for p in sorted((ROOT / "examples" / policy.name).glob("*.yaml"))]


def _chunks(records: list[dict[str, Any]]) -> Iterator[Chunk]:
    return typed_chunks(records, CHUNK)


@pytest.mark.parametrize("name", ["hollandzorg", "asr"])
def test_columnar_and_per_case_agree_on_every_claim(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the claims come (chunks of several periods: each period's claims filtered out), then ordered by day
    (chunks of one period, evaluated whole: the claims the columns leave are given their rows in place)."""
    import rxpolicy.bulk.columnar as columnar

    whole: list[int] = []
    evaluate_whole = columnar._whole_chunk

    def counted(*args: Any, **kwargs: Any) -> Any:
        whole.append(1)
        return evaluate_whole(*args, **kwargs)

    monkeypatch.setattr(columnar, "_whole_chunk", counted)
    policy = load_policy(name)
    compiled = compile_columnar(policy)
    assert compiled.unsupported() == [], "every period of the built-in policies compiles to columns"
    years = (policy.epochs[0].start.year, policy.epochs[-1].start.year)
    synthetic = [flatten(c) for c in synth_claims(SYNTHETIC, 21, years=years, plans=policy.plans)]
    records = synthetic + _witnesses(policy) + list(_edges(policy, synthetic[:2_000])) + _examples(policy)
    selection = select_decisions(policy)
    per_case = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    counts: dict[str, int] = {}
    decided: set[str] = set()
    tables = []
    for chunk in _chunks(records):
        expected = evaluate_chunk(per_case, chunk)
        tables.append(expected)
        _compare(evaluate_columnar(compiled, chunk, selection, expected.take, counts), expected)
        for decision in selection.names:
            decided.update(r for text in expected.column(f"{decision}.rule").to_pylist() if text
                           for r in text.split(", "))
    made_whole = len(whole)
    # By day: the same claims' per-case rows, numbered as they now come.
    everything = pa.concat_tables(tables)
    order = sorted(range(len(records)), key=lambda i: str(records[i].get("dispensed_on")))
    by_day = everything.take(order)
    by_day = by_day.set_column(0, by_day.schema.field(0), pa.array(range(1, len(order) + 1), pa.int64()))
    for chunk in _chunks([records[i] for i in order]):
        expected = by_day.slice(chunk.first - 1, chunk.count)
        _compare(evaluate_columnar(compiled, chunk, selection, expected.take), expected)
    # (The first and last chunks hold claims of no period, and one holds claims of two.)
    assert len(whole) - made_whole >= len(tables) // 2, (made_whole, len(whole), len(tables))
    assert len(records) >= SYNTHETIC
    # Every rule of the policy decided some claim, so every rule's translation was compared.
    assert {r.id for r in policy.rules} <= decided
    # The columns decided most claims: the comparison is not between two per-case runs.
    assert counts["columnar"] > 0.9 * len(records), counts


def _compare(got: pa.Table, expected: pa.Table) -> None:
    """The columns' table is the per-case one (where not, the first rows that differ, column by column)."""
    assert got.schema == expected.schema
    if not got.equals(expected):
        for column in expected.column_names:
            want, have = expected.column(column).to_pylist(), got.column(column).to_pylist()
            wrong = [(expected.column("record")[i], want[i], have[i]) for i in range(len(want)) if want[i] != have[i]]
            assert not wrong, f"{column}: (record, per case, columnar) {wrong[:5]}"


@pytest.mark.parametrize("years", [(2025, 2025), (2023, 2024)])
def test_chunks_the_columns_decide_entirely(years: tuple[int, int]) -> None:
    """Chunks of valid claims only: nothing goes per case, and the columns' rows alone are the per-case table
    (one period: its rows as they come; two periods: put in record order)."""
    policy = load_policy("hollandzorg")
    compiled = compile_columnar(policy)
    selection = select_decisions(policy)
    per_case = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    claims = [flatten(c) for c in synth_claims(3_000, 5, years=years, plans=policy.plans)]
    everything = next(_chunks(claims))
    expected = evaluate_chunk(per_case, everything)
    valid = [claims[i] for i, code in enumerate(expected.column("error_code").to_pylist()) if code is None]
    chunk = next(_chunks(valid))
    expected = evaluate_chunk(per_case, chunk)

    def fallback(positions: list[int]) -> pa.Table:
        raise AssertionError(f"claims went per case: {positions[:5]}")

    counts: dict[str, int] = {}
    got = evaluate_columnar(compiled, chunk, selection, fallback, counts)
    assert counts == {"columnar": len(valid), "per_case": 0}
    assert got.schema == expected.schema
    assert got.equals(expected)
    assert got.column("record").to_pylist() == list(range(1, len(valid) + 1))


def test_cents_become_exact_decimals() -> None:
    """Money leaves the columns as whole cents and becomes decimal128(12, 2) exactly: signs, zero, nulls, the
    largest amounts the type holds, an array that starts inside its buffer; beyond the type, a refusal."""
    from rxpolicy.bulk.columnar import _decimal

    money = pa.decimal128(12, 2)
    cents = [0, 1, -1, 99, -99, 100, -100, 123_456_789, None, 10**12 - 1, -(10**12 - 1), 2**31, -(2**31)]
    want = pa.array([None if c is None else Decimal(c).scaleb(-2) for c in cents], money)
    array = pa.array(cents, pa.int64())
    assert _decimal(array, money).equals(want)
    assert _decimal(array.slice(3, 6), money).equals(want.slice(3, 6))
    assert _decimal(pa.array([None, None], pa.int64()), money).equals(pa.array([None, None], money))
    assert _decimal(pa.array([], pa.int64()), money).equals(pa.array([], money))
    for beyond in (10**12, -(10**12), 2**63 - 1):
        with pytest.raises(pa.ArrowInvalid):
            _decimal(pa.array([1, beyond], pa.int64()), money)


@pytest.mark.parametrize("name", ["hollandzorg", "asr"])
def test_a_chunk_of_valid_claims_of_one_period_is_decided_as_per_case(name: str) -> None:
    """A chunk whose claims are all valid and all in the last period: the columns skip the other periods and
    filter nothing (the path the batch takes on a clean file of one year), with the same results."""
    policy = load_policy(name)
    compiled = compile_columnar(policy)
    year = policy.epochs[-1].start.year
    records = []
    for claim in synth_claims(3_000, 5, years=(year, year), plans=policy.plans):
        try:
            case_from_mapping(claim, plans=policy.plans)
        except RxError:
            continue
        records.append(flatten(claim))
    selection = select_decisions(policy)
    per_case = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    counts: dict[str, int] = {}
    for chunk in _chunks(records):
        expected = evaluate_chunk(per_case, chunk)

        def fallback(positions: list[int], expected: pa.Table = expected) -> pa.Table:
            return expected.take(positions)

        got = evaluate_columnar(compiled, chunk, selection, fallback, counts)
        assert got.equals(expected)
    assert counts["columnar"] > 0.9 * len(records) > 2_000, counts


#: Values a typed claims file may hold that no valid claim has: the first and last dates Python holds (a
#: period's days are worked out from the first to the last of the claims evaluated), the ends of 64 bits, the
#: largest amounts, long and empty texts.
_HOSTILE: list[tuple[str, Any]] = [
    ("dispensed_on", dt.date(1, 1, 1)), ("dispensed_on", dt.date(9999, 12, 31)), ("dispensed_on", None),
    ("insured.born_on", dt.date(9999, 12, 31)), ("insured.born_on", dt.date(1, 1, 1)), ("insured.born_on", None),
    ("insured.insured_until", dt.date(1, 1, 1)), ("insured.insured_from", dt.date(9999, 12, 31)),
    ("authorisation.valid_until", dt.date(9999, 12, 31)), ("authorisation.granted_on", dt.date(1, 1, 1)),
    ("medicine.appendix_2_added_on", dt.date(9999, 12, 31)),
    ("dispensing.supply_days", 2**63 - 1), ("dispensing.supply_days", -(2**63)), ("dispensing.supply_days", -1),
    ("prescription.course_days", 2**63 - 1), ("dispensing.months_in_use", -(2**63)),
    ("dispensing.ml_per_day", 2**63 - 1), ("medicine.price", Decimal("9999999999.99")),
    ("medicine.price", Decimal("-9999999999.99")), ("medicine.reimbursement_limit", Decimal("-0.01")),
    ("insured.voluntary_excess", Decimal("9999999999.99")), ("insured.excess_used", Decimal("-9999999999.99")),
    ("dispensing.fees.delivery", Decimal("-0.01")), ("medicine.atc", "x" * 5_000), ("medicine.atc", ""),
    ("insured.plan", "\u202e\x00"), ("medicine.doctors_note_prescribers", ["nobody"] * 3),
    ("prescription.prescriber", None)]


def test_refused_claims_of_extreme_values_beside_valid_ones_leave_their_rows_alone() -> None:
    """A chunk whose valid claims are all in one period is evaluated whole, its refused claims too (their rows are
    then replaced by the per-case ones): claims refused for extreme values, put between valid claims, neither
    stop the columns nor change any claim's row."""
    policy = load_policy("hollandzorg")
    compiled = compile_columnar(policy)
    selection = select_decisions(policy)
    per_case = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    claims = [flatten(c) for c in synth_claims(1_500, 9, years=(2025, 2025), plans=policy.plans)]
    expected = evaluate_chunk(per_case, next(_chunks(claims)))
    valid = next(_chunks([claims[i] for i, code in enumerate(expected.column("error_code").to_pylist())
                          if code is None])).table
    rng = random.Random(5)
    pieces, hostile_at = [], []
    for number, (column, value) in enumerate(_HOSTILE * 3):  # each after every fifth valid claim
        pieces.append(valid.slice(5 * number, 5))
        hostile_at.append(sum(p.num_rows for p in pieces))
        row = valid.slice(rng.randrange(valid.num_rows), 1)
        index = row.schema.get_field_index(column)
        pieces.append(row.set_column(index, column, pa.array([value], row.schema.field(index).type)))
    pieces.append(valid.slice(5 * len(hostile_at)))
    table = pa.concat_tables(pieces)
    chunk = Chunk(index=0, first=1, count=table.num_rows, table=table)
    expected = evaluate_chunk(per_case, chunk)
    codes = expected.take(hostile_at).column("error_code").to_pylist()
    # All refused but (some of) those of a price of ten billion euros less a cent, which a claim may have.
    assert {h for h, c in zip(_HOSTILE * 3, codes) if c is None} <= {("medicine.price", Decimal("9999999999.99"))}
    counts: dict[str, int] = {}
    got = evaluate_columnar(compiled, chunk, selection, lambda positions: expected.take(positions), counts)
    assert got.schema == expected.schema
    assert got.equals(expected)
    assert counts["columnar"] >= valid.num_rows > 1_000, counts


def _amount(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents).scaleb(-2)


@pytest.mark.parametrize("rest_empty", [False, True])
def test_the_rows_left_per_case_are_put_in_their_places(rest_empty: bool) -> None:
    """A chunk's rows made by the columns (texts as indices into their texts, numbers in chunks, a slice, nulls)
    with some rows replaced by per-case rows, which have values (or none: an error row's decision columns):
    row by row the table put together by hand."""
    from rxpolicy.bulk.columnar import _Coded, _replaced

    rng = random.Random(3)
    n = 1_000
    schema = pa.schema([pa.field("record", pa.int64(), nullable=False), ("outcome", pa.string()),
                        ("v", pa.bool_()), ("v.rule", pa.string()), ("m", pa.decimal128(12, 2)),
                        ("s", pa.int64()), ("error_code", pa.string())])
    outcome = [rng.randrange(2) for _ in range(n)]
    values = [rng.choice([True, False, None]) for _ in range(n)]
    codes = [rng.randrange(1, 8) for _ in range(n)]
    cents: list[int | None] = [rng.choice([None, rng.randrange(-10**11, 10**11)]) for _ in range(n)]
    numbers = [rng.randrange(100) for _ in range(n + 5)]
    rule_texts = ["", "R1", "R2", "R1, R2", "R3", "R1, R3", "R2, R3", "R1, R2, R3"]
    pieces = [pa.array(range(1, n + 1), pa.int64()),
              _Coded(pa.chunked_array([pa.array(outcome[:300], pa.int8()), pa.array(outcome[300:], pa.int8())]),
                     pa.array(["covered", "not_covered"])),
              pa.chunked_array([pa.array(values[:512]), pa.array(values[512:])]),
              _Coded(pa.array(codes, pa.int32()), pa.array(rule_texts)),
              pa.array([_amount(c) for c in cents], pa.decimal128(12, 2)),
              pa.array(numbers, pa.int64()).slice(5),  # a slice: its values start inside its buffers
              pa.nulls(n, pa.string())]
    replaced = sorted(rng.sample(range(n), 90))
    mask = pa.array([i in set(replaced) for i in range(n)])
    rows = [{"record": i + 1, "outcome": rng.choice(["covered", None]), "v": rng.choice([True, None]),
             "v.rule": rng.choice(["R9", None]), "m": rng.choice([Decimal("1.25"), None]), "s": rng.choice([7, None]),
             "error_code": rng.choice(["RX405", None])} for i in replaced]
    if rest_empty:
        rows = [{k: (v if k == "record" else None) for k, v in row.items()} for row in rows]
    rest = pa.Table.from_pylist(rows, schema)
    got = _replaced(pieces, rest, mask, schema)
    theirs = iter(rows)
    want = [next(theirs) if i in set(replaced) else
            {"record": i + 1, "outcome": ["covered", "not_covered"][outcome[i]], "v": values[i],
             "v.rule": rule_texts[codes[i]], "m": _amount(cents[i]),
             "s": numbers[i + 5], "error_code": None} for i in range(n)]
    assert got.schema == schema
    assert got.to_pylist() == want
    assert got.equals(pa.Table.from_pylist(want, schema))


def test_29_february_is_found_in_every_year_of_the_calendar() -> None:
    """The 400-year table of leap days the columns read for birthdays, against the calendar's month and day."""
    days = pl.date_range(dt.date(1, 1, 1), dt.date(9999, 12, 31), "1d", eager=True).to_frame("day")
    day = pl.col("day")
    found = days.select(_leap_day(day).alias("table"), ((day.dt.month() == 2) & (day.dt.day() == 29)).alias("calendar"))
    assert found.get_column("table").equals(found.get_column("calendar"))
    assert found.get_column("table").sum() == 2_424


@pytest.mark.parametrize("months", [1, 3, 12, 216, -1, -12, 13])
def test_months_on_by_the_400_year_table_as_polars_offsets_them(months: int) -> None:
    """Dates some months on read from the table of the calendar's 400-year cycle, against Polars' own month
    arithmetic (the end of the month where the day does not exist) for every day of the years 1-9999."""
    days = pl.date_range(dt.date(1, 1, 1), dt.date(9999, 12, 31), "1d", eager=True).to_frame("day")
    day = pl.col("day")
    found = days.select(_months_on(day, months).alias("table"), day.dt.offset_by(f"{months}mo").alias("polars"))
    assert found.get_column("table").equals(found.get_column("polars"))


@pytest.mark.parametrize("column", ["medicine.price", "dispensed_on", "medicine.doctors_note_prescribers"])
def test_a_column_of_a_type_polars_cannot_read_goes_per_case(column: str) -> None:
    """A Parquet file may hold a type Polars cannot take in (a decimal of more than 38 digits is read as
    decimal256; a list of those; an interval): the columns leave the whole chunk to the per-case path, which
    gives its rows, rather than failing the batch."""
    policy = load_policy("hollandzorg")
    compiled = compile_columnar(policy)
    selection = select_decisions(policy)
    claims = [flatten(c) for c in synth_claims(200, 3, years=(2025, 2025), plans=policy.plans)]
    chunk = next(_chunks(claims))
    table = chunk.table
    index = table.schema.get_field_index(column)
    if column == "medicine.price":
        hostile = table.column(column).cast(pa.decimal256(40, 2))
    elif column == "dispensed_on":
        hostile = pa.array([None if d is None else pa.MonthDayNano([0, d.day, 0])
                            for d in table.column(column).to_pylist()], pa.month_day_nano_interval())
    else:
        hostile = pa.array([None] * table.num_rows, pa.list_(pa.decimal256(40, 2)))
    chunk = Chunk(index=0, first=1, count=table.num_rows, table=table.set_column(index, column, hostile))
    per_case = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    expected = evaluate_chunk(per_case, chunk)
    counts: dict[str, int] = {}
    got = evaluate_columnar(compiled, chunk, selection, lambda positions: expected.take(positions), counts)
    assert got.equals(expected)
    assert counts == {}  # the chunk went per case as a whole


@pytest.mark.parametrize(("column", "values", "arrow_type"), [
    # Whole euros as integers: times 100 in 64 bits wraps (184467440737095517 euros became 0.84, the least
    # integer 0), so the columns decided claims the validator refuses as larger than rxpolicy works with.
    ("medicine.price", [184_467_440_737_095_517, -(2**63), 2**63 - 1, 999_999_999, 10**9, 10**12, -(10**12), 12], pa.int64()),
    ("dispensing.fees.delivery", [184_467_440_737_095_518, -(2**63) + 1, 92_233_720_368_547_759, 0, 3], pa.int64()),
    # Beyond the largest 64-bit signed integer: the cast failed and with it the batch.
    ("medicine.price", [2**64 - 1, 2**63, 5], pa.uint64()),
    ("dispensing.supply_days", [2**64 - 1, 2**63, 30], pa.uint64()),
    # Decimals of fewer than two places beyond 36 digits: bringing them to two places failed the batch.
    ("medicine.price", [Decimal(10**37), Decimal(5), Decimal(-9 * 10**36), None, Decimal(10**9)], pa.decimal128(38, 0)),
    ("medicine.price", [Decimal(10**36) + Decimal("0.5"), Decimal("12.5")], pa.decimal128(38, 1)),
    # A negative scale (hundreds): Polars cannot read it, so the whole chunk goes per case.
    ("medicine.price", [Decimal("1E+2"), Decimal("12E+2")], pa.decimal128(5, -2)),
])
def test_integers_at_the_ends_of_64_bits_are_read_as_the_validator_reads_them(
        column: str, values: list[object], arrow_type: pa.DataType) -> None:
    policy = load_policy("hollandzorg")
    compiled = compile_columnar(policy)
    selection = select_decisions(policy)
    claims = [flatten(c) for c in synth_claims(60, 8, years=(2025, 2025), plans=policy.plans)]
    table = next(_chunks(claims)).table
    hostile = pa.array([values[i % len(values)] for i in range(table.num_rows)], arrow_type)
    table = table.set_column(table.schema.get_field_index(column), column, hostile)
    chunk = Chunk(index=0, first=1, count=table.num_rows, table=table)
    per_case = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    expected = evaluate_chunk(per_case, chunk)
    got = evaluate_columnar(compiled, chunk, selection, lambda positions: expected.take(positions))
    assert got.column("error_message").to_pylist() == expected.column("error_message").to_pylist()
    assert got.equals(expected)


def test_a_column_written_twice_goes_per_case() -> None:
    """A Parquet file may name a column twice; the per-case path reads the last (a record is a mapping), and
    Polars refuses the table (DuplicateError), which failed the batch: the chunk goes per case."""
    policy = load_policy("hollandzorg")
    compiled = compile_columnar(policy)
    selection = select_decisions(policy)
    claims = [flatten(c) for c in synth_claims(50, 4, years=(2025, 2025), plans=policy.plans)]
    table = next(_chunks(claims)).table
    table = table.append_column("medicine.price", pa.array([Decimal("-1.00")] * table.num_rows, pa.decimal128(12, 2)))
    chunk = Chunk(index=0, first=1, count=table.num_rows, table=table)
    per_case = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    expected = evaluate_chunk(per_case, chunk)
    assert set(expected.column("error_field").to_pylist()) == {"medicine.price"}  # the last column's value
    got = evaluate_columnar(compiled, chunk, selection, lambda positions: expected.take(positions))
    assert got.equals(expected)


def _retyped(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    """The same claims in the other forms a Parquet file may give them: other integer, decimal and text types,
    dictionary-encoded texts, timestamps for dates, columns left out, added, reordered, ragged chunks."""
    import pyarrow.compute as pc

    def retype(name: str, array: Any) -> pa.Table:
        return table.set_column(table.schema.get_field_index(name), name, array)

    def column(name: str) -> Any:
        return table.column(name)

    yield "int32 days", retype("dispensing.supply_days", column("dispensing.supply_days").cast(pa.int32(), safe=False))
    yield "uint16 months", retype("dispensing.months_in_use",
                                  pc.abs(column("dispensing.months_in_use")).cast(pa.uint16(), safe=False))
    yield "money in whole euros", retype("medicine.price", pc.round(column("medicine.price"), 0).cast(pa.int64()))
    yield "decimal(38, 2)", retype("medicine.price", column("medicine.price").cast(pa.decimal128(38, 2)))
    yield "decimal(13, 1)", retype("medicine.price",
                                   pc.round(column("medicine.price"), 1).cast(pa.decimal128(13, 1), safe=False))
    yield "decimal(16, 3)", retype("medicine.price", column("medicine.price").cast(pa.decimal128(16, 3)))
    yield "large_string", retype("medicine.atc", column("medicine.atc").cast(pa.large_string()))
    yield "dictionary", retype("prescription.prescriber", pc.dictionary_encode(column("prescription.prescriber")))
    yield "timestamp", retype("dispensed_on", column("dispensed_on").cast(pa.timestamp("s")))
    yield "large_list", retype("medicine.doctors_note_prescribers",
                               column("medicine.doctors_note_prescribers").cast(pa.large_list(pa.large_string())))
    yield "a null column", retype("medicine.appendix_2_added_on", pa.nulls(table.num_rows))
    for left_out in ("insured.insured_from", "insured.plan", "dispensing.months_in_use", "authorisation.granted_on",
                     "medicine.price"):
        yield f"without {left_out}", table.drop_columns([left_out])
    yield "an unknown column", table.append_column("extra", pa.array([1] * table.num_rows))
    yield "reordered", table.select(list(reversed(table.column_names)))
    yield "ragged chunks", pa.Table.from_batches(table.slice(0, 40).to_batches(max_chunksize=7)
                                                 + table.slice(40, 0).to_batches() + table.slice(40).to_batches())
    yield "sliced", table.slice(17, table.num_rows - 30)


def test_claims_in_every_column_type_get_the_per_case_rows() -> None:
    """Valid and refused claims of every period and the years around them, in each form of :func:`_retyped`:
    the columns' table is the per-case table (whatever the form, and whether they take it or not)."""
    policy = load_policy("hollandzorg")
    compiled = compile_columnar(policy)
    selection = select_decisions(policy)
    rng = random.Random(17)
    claims = [flatten(c) for c in synth_claims(400, 12, years=(2022, 2026), plans=policy.plans)]
    for claim in claims[::5]:  # refused claims among them: a negative fee, no date of birth, a date too late
        field, value = rng.choice([("dispensing.fees.delivery", Decimal("-0.01")), ("insured.born_on", None),
                                   ("authorisation.valid_until", "2200-01-01")])
        claim[field] = value
    table = next(_chunks(claims)).table
    per_case = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    counts: dict[str, int] = {}
    for form, retyped in _retyped(table):
        chunk = Chunk(index=0, first=1, count=retyped.num_rows, table=retyped)
        expected = evaluate_chunk(per_case, chunk)
        got = evaluate_columnar(compiled, chunk, selection, lambda positions: expected.take(positions), counts)
        assert got.equals(expected), form
    assert counts["columnar"] > 1_000, counts  # most forms were taken by the columns
