"""A claim whose decisions the results' money columns cannot hold becomes an RX805 error row, on every road.

The case validator accepts amounts of twelve whole digits; the results hold money as ``decimal128(12, 2)``
(ten whole digits). Before RX805 such a claim stopped the whole run with an internal error (ArrowInvalid).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rxpolicy.bulk.core import MONEY_LIMIT, select_decisions, unwritable_money
from rxpolicy.cli import cli
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy import load_policy

CLAIM = {"dispensed_on": "2025-03-14", "insured": {"born_on": "1961-07-02"}, "prescription": {"prescriber": "gp"},
         "medicine": {"name": "oxazepam 10 mg tablet", "atc": "N05BA04", "price": "12.40"},
         "dispensing": {"supply_days": 30}}
#: Prices around the limit: the sums of the money decisions cross it between the second and the third.
PRICES = ["12.40", "9999999000.00", "9999999999.99", "99999999999.00", "12.40"]


def _claims() -> list[dict[str, object]]:
    claims = []
    for price in PRICES:
        claim = json.loads(json.dumps(CLAIM))
        claim["medicine"]["price"] = price
        claims.append(claim)
    return claims


def _write(tmp_path: Path, fmt: str) -> Path:
    claims = _claims()
    if fmt == "jsonl":
        path = tmp_path / "claims.jsonl"
        path.write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
        return path
    flat = [{"dispensed_on": c["dispensed_on"], "insured.born_on": c["insured"]["born_on"],  # type: ignore[index]
             "prescription.prescriber": "gp", "medicine.name": c["medicine"]["name"],  # type: ignore[index]
             "medicine.atc": "N05BA04", "medicine.price": c["medicine"]["price"],  # type: ignore[index]
             "dispensing.supply_days": 30} for c in claims]
    if fmt == "csv":
        path = tmp_path / "claims.csv"
        header = list(flat[0])
        path.write_text(",".join(header) + "\n" + "".join(",".join(str(r[h]) for h in header) + "\n" for r in flat),
                        encoding="utf-8")
        return path
    path = tmp_path / "claims.parquet"
    import datetime as dt
    table = pa.table({
        "dispensed_on": pa.array([dt.date(2025, 3, 14)] * len(flat), pa.date32()),
        "insured.born_on": pa.array([dt.date(1961, 7, 2)] * len(flat), pa.date32()),
        "prescription.prescriber": ["gp"] * len(flat),
        "medicine.name": [r["medicine.name"] for r in flat],
        "medicine.atc": ["N05BA04"] * len(flat),
        # A wider decimal than the results' own, as a claims system may write it.
        "medicine.price": pa.array([Decimal(str(r["medicine.price"])) for r in flat], pa.decimal128(14, 2)),
        "dispensing.supply_days": pa.array([30] * len(flat), pa.int64()),
    })
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_decision_beyond_the_money_columns_is_an_error_row_on_every_road(fmt: str, tmp_path: Path) -> None:
    claims = _write(tmp_path, fmt)
    tables = {}
    for engine in ("columnar", "per-case"):
        out = tmp_path / f"out-{engine}"
        result = CliRunner().invoke(cli, ["batch", str(claims), "--out", str(out), "--engine", engine, "--quiet"])
        assert result.exit_code == 1, result.output  # some records became error rows; none was lost
        assert "internal error" not in result.stderr
        tables[engine] = ds.dataset(out).to_table().sort_by("record")
    assert tables["columnar"].equals(tables["per-case"])
    rows = tables["per-case"].to_pylist()
    assert [r["record"] for r in rows] == list(range(1, len(PRICES) + 1))
    codes = [r["error_code"] for r in rows]
    # Written where every decision fits; RX805 where one does not, naming the decision and the limit.
    assert codes[0] is None and codes[-1] is None and codes[1] is None
    assert codes[3] == "RX805"
    assert "9,999,999,999.99" in rows[3]["error_message"]
    for row, code in zip(rows, codes):
        if code is None:
            assert all(abs(v) < MONEY_LIMIT for k, v in row.items() if isinstance(v, Decimal))


def test_a_money_decision_with_more_than_two_decimals_is_refused_by_name() -> None:
    policy: CompiledPolicy = load_policy("hollandzorg")
    selection = select_decisions(policy, ["covered", "insurer_pays"])
    assert unwritable_money(selection, (True, Decimal("12.40"))) is None
    problem = unwritable_money(selection, (True, Decimal("12.405")))
    assert problem is not None and problem.code == "RX805" and "`insurer_pays`" in problem.message
    assert "rounded half up to cents" in (problem.help or "")
    assert unwritable_money(selection, (True, -MONEY_LIMIT)) is not None
    assert unwritable_money(selection, (True, MONEY_LIMIT - Decimal("0.01"))) is None
