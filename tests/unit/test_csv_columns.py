"""CSV claims on the columnar path give every record exactly the per-case path's result row.

A differential test, as for JSON Lines (``test_jsonl_columns.py``): CSV chunks read by `rxpolicy batch`'s reader
are evaluated on the columns (cells typed by :mod:`rxpolicy.bulk.csv_columns`) and per case (each cell read as the
YAML scalar it would be in a case file, then the case validator), and the result tables must be equal. Synthetic
claims of both built-in policies, and every column of a valid claim set in turn to each of some fifty cells that
YAML, the validator or Arrow read in their own ways (``yes``, ``012``, ``1e3``, `` 12.40``, ``2025-02-30``,
``null``, ``[gp]``, …). The valid claims must reach the columns, so the test cannot pass by sending all per case.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from columnar_helpers import runs as both_runs
from rxpolicy.bulk.csv_columns import csv_table
from rxpolicy.bulk.records import read_chunks
from rxpolicy.bulk.run import BatchRun, evaluate_chunk
from rxpolicy.bulk.synth import synth_claims
from rxpolicy.bulk.synth_files import claims_schema, flatten

#: Cells that YAML, the case validator or Arrow read in their own ways.
CELLS = ("", " ", "true", "false", "True", "TRUE", "yes", "no", "on", "off", "y", "1", "0", "null", "Null", "~",
         "12", "12.4", "12.40", "12.405", "012", "0.5", ".5", "5.", "+5", "-5", "-0", "1e3", "1E3", "1_000", "0x1F",
         "0o17", "12,40", " 12.40", "12.40 ", "١٢", "１２", "999999999", "1000000000", "40000", "36600", "1200", "1201",
         "2025-03-14", " 2025-03-14", "2025-3-14", "2025-02-30", "2024-02-29", "1899-12-31", "2200-01-01",
         "2025-03-14T10:00:00", "[gp]", "[gp, specialist]", "[]", "[gp", "gp", " gp", "specialist", "GP", "x",
         "N05BA04", "n05ba04", "Compact", "No Risk II", "'quoted'", "#", "a: b", "!!str 12", "&a x", "\u00a0",
         "crème")


def runs(name: str) -> tuple[BatchRun, BatchRun]:
    return both_runs(name, "csv")


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    names = claims_schema().names
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([[row.get(n, "") for n in names] for row in rows])
    return path


def both_roads(path: Path, name: str = "hollandzorg") -> tuple[Any, Any, list[bool]]:
    columnar, per_case = runs(name)
    assert columnar.columnar is not None
    [chunk] = read_chunks(path, "csv", 1_000_000)
    on_columns = evaluate_chunk(columnar, chunk)
    each = evaluate_chunk(per_case, next(iter(read_chunks(path, "csv", 1_000_000))))
    read = csv_table(chunk.texts, columnar.policy.facts)
    assert read is not None
    taken = [position not in read[1] for position in range(chunk.count)]
    if not on_columns.equals(each):
        for a, b in zip(on_columns.to_pylist(), each.to_pylist()):
            assert a == b
    assert on_columns.equals(each)
    return on_columns, each, taken


def text_row(claim: dict[str, Any]) -> dict[str, str]:
    return {k: ("true" if v is True else "false" if v is False else "" if v is None else str(v))
            for k, v in flatten(claim).items()}


@pytest.mark.parametrize(("name", "seed"), [("hollandzorg", 1), ("asr", 2)])
def test_synthetic_claims_in_csv_are_decided_alike_and_on_the_columns(tmp_path: Path, name: str, seed: int) -> None:
    policy = runs(name)[0].policy
    claims = list(synth_claims(3_000, seed, years=(2023, 2026), plans=policy.plans))
    _, _, taken = both_roads(write_csv(tmp_path / "claims.csv", [text_row(c) for c in claims]), name)
    # Every claim but the invalid ones written with a minus sign (negative prices) reaches the columns.
    assert sum(taken) >= len(claims) - sum("-" in text_row(c).get("medicine.price", "") for c in claims)


def test_every_column_set_to_every_odd_cell_is_decided_alike(tmp_path: Path) -> None:
    policy = runs("hollandzorg")[0].policy
    base = text_row(next(iter(synth_claims(1, 3, years=(2025, 2025), plans=policy.plans))))
    rows, cells = [], []
    for column in claims_schema().names:
        for cell in CELLS:
            rows.append({**base, column: cell})
            cells.append((column, cell))
    _, each, taken = both_roads(write_csv(tmp_path / "claims.csv", rows))
    took = {pair for pair, yes in zip(cells, taken) if yes}
    # The certain forms reach the columns; the others never do.
    assert ("medicine.price", "12.40") in took and ("medicine.price", "12") in took
    assert ("insured.born_on", "2024-02-29") in took and ("medicine.appendix_2", "true") in took
    assert ("medicine.name", "crème") in took and ("insured.plan", "") in took
    left = {"medicine.price": ("1e3", " 12.40", "012", "-0", "12,40", "12.405", "null", "١٢"),
            "dispensing.supply_days": ("012", "1e3", "40000", "12.4", "0x1F", "0o17"),
            "insured.born_on": ("2025-02-30", "1899-12-31", " 2025-03-14", "2025-3-14", "2025-03-14T10:00:00"),
            "medicine.appendix_2": ("yes", "True", "on", "1", "null"),
            "medicine.name": (" gp", "null", "yes", "12", "~", "[gp]", " ", "\u00a0"),
            "medicine.doctors_note_prescribers": ("[gp]", "[]", "gp")}
    for column, odd in left.items():
        assert not took & {(column, cell) for cell in odd}, took & {(column, cell) for cell in odd}
    errors = dict(zip(cells, (row["error_code"] for row in each.to_pylist())))
    assert errors[("medicine.name", "crème")] is None and errors[("medicine.price", "12")] is None  # decided


def test_chunks_of_a_csv_file_keep_their_cells(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "claims.csv", [{"dispensed_on": "2025-03-14"}, {"medicine.price": "yes"},
                                               {"medicine.price": " 12.40"}])
    chunks = list(read_chunks(path, "csv", 2))
    assert [(c.first, c.count) for c in chunks] == [(1, 2), (3, 1)]
    assert chunks[0].given is None and chunks[0].texts.num_rows == 2
    assert chunks[0].subset([1])[0]["medicine.price"] is True  # type: ignore[index]
    assert chunks[1].records[0]["medicine.price"] == Decimal("12.40")  # type: ignore[index]


def test_a_csv_file_with_a_byte_order_mark_reads_as_without(tmp_path: Path) -> None:
    """Excel writes CSV with a UTF-8 byte-order mark; before, the first column's name kept it, Arrow's did not, and
    `rxpolicy batch` stopped with an internal error (per case and on the columns)."""
    rxpolicy = str(Path(sys.executable).with_name("rxpolicy"))
    plain = tmp_path / "claims.csv"
    subprocess.run([rxpolicy, "claims", "synth", "--n", "200", "--seed", "2", "--out", str(plain)], check=True,
                   capture_output=True)
    marked = tmp_path / "marked.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    results = {}
    for name in ("claims", "marked"):
        for engine in ("columnar", "per-case"):
            out = tmp_path / f"out-{name}-{engine}"
            done = subprocess.run([rxpolicy, "batch", str(tmp_path / f"{name}.csv"), "--out", str(out), "--engine",
                                   engine, "--quiet"], capture_output=True, text=True)
            assert done.returncode in (0, 1), done.stderr
            results[name, engine] = pq.read_table(sorted(out.glob("part-*.parquet")))
    assert results["claims", "columnar"].num_rows == 200
    assert all(table.equals(results["claims", "columnar"]) for table in results.values())
