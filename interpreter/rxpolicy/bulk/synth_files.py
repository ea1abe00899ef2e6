"""Writing synthetic claims (:mod:`.synth`) as JSON Lines, CSV or Parquet, a block at a time.

JSON Lines keeps the case-file shape; CSV and Parquet flatten it to one column per case field
(``medicine.atc``), typed in Parquet (dates ``date32``, money ``decimal128(12, 2)``, yes/no ``bool``, numbers
``int64``), empty where a claim leaves the field out.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from rxpolicy.language.facts import statutory_facts
from rxpolicy.language.types import Kind

from .synth import BLOCK, synth_claims

__all__ = ["claims_schema", "claims_table", "flatten", "write_claims"]


def claims_schema() -> Any:
    """The Arrow schema of a flattened claims file: every field a case file may write, in schema order."""
    import pyarrow as pa

    types = {Kind.DATE: pa.date32(), Kind.MONEY: pa.decimal128(12, 2), Kind.NUMBER: pa.int64(),
             Kind.BOOL: pa.bool_(), Kind.LIST: pa.list_(pa.string())}
    return pa.schema([pa.field(path, types.get(spec.type.kind, pa.string()))
                      for path, spec in statutory_facts().fields.items() if not spec.derived])


def flatten(claim: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested claim as ``{"medicine.atc": ...}``."""
    out: dict[str, Any] = {}
    for key, value in claim.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def write_claims(path: Path, fmt: str, n: int, seed: int, *, years: tuple[int, int], plans: Sequence[str]) -> None:
    """Write ``n`` claims to ``path`` (under a temporary name, renamed when complete)."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if fmt == "parquet":
            _parquet(temporary, n, seed, years, plans)
        else:
            with temporary.open("w", encoding="utf-8", newline="") as handle:
                columns = list(claims_schema().names)
                if fmt == "csv":
                    handle.write(",".join(columns) + "\n")
                for claim in synth_claims(n, seed, years=years, plans=plans):
                    if fmt == "jsonl":
                        handle.write(json.dumps(claim, ensure_ascii=False) + "\n")
                    else:
                        flat = flatten(claim)
                        handle.write(",".join(_csv_cell(flat.get(c)) for c in columns) + "\n")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return f'"{text}"' if any(c in text for c in ',"\n') else text


def _parquet(path: Path, n: int, seed: int, years: tuple[int, int], plans: Sequence[str]) -> None:
    import pyarrow.parquet as pq

    schema = claims_schema()
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        block: list[dict[str, Any]] = []
        for claim in synth_claims(n, seed, years=years, plans=plans):
            block.append(flatten(claim))
            if len(block) == BLOCK:
                writer.write_table(claims_table(block))
                block = []
        if block:
            writer.write_table(claims_table(block))


def claims_table(block: list[dict[str, Any]]) -> Any:
    """Flattened claims (values as in a case file: ISO dates, money as text) as a typed Arrow table."""
    import pyarrow as pa

    schema = claims_schema()
    columns = {}
    for name in schema.names:
        kind = statutory_facts().fields[name].type.kind
        values = [row.get(name) for row in block]
        if kind is Kind.DATE:
            values = [v if v is None or isinstance(v, dt.date) else dt.date.fromisoformat(v) for v in values]
        elif kind is Kind.MONEY:
            values = [Decimal(v) if v is not None else None for v in values]
        columns[name] = values
    return pa.table(columns, schema=schema)
