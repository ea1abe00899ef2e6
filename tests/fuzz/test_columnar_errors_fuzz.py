"""Hostile claims through the columnar path's prepare step: its error rows are the per-case ones, and every claim it
calls certainly valid is one the per-case validator accepts.

The claims are the hostile case mappings of the other fuzz tests (an example case with fields set, removed or
replaced by anything), kept where a typed claims file could hold them (each value fits its column's Arrow type;
an ISO date text is a date, a two-decimal text an amount), several to a chunk.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pyarrow as pa
from hypothesis import event, given, settings
from hypothesis import strategies as st

from hostile_strategies import base_mapping, case_mappings, examples, policy
from hostile_strategies import example_values as plausible_values
from rxpolicy.bulk.columnar_errors import error_rows
from rxpolicy.bulk.columnar_input import prepare
from rxpolicy.bulk.core import evaluate_records, select_decisions
from rxpolicy.bulk.records import Chunk
from rxpolicy.bulk.synth_files import claims_schema

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_CENTS = re.compile(r"-?\d+\.\d\d")


def _typed(value: Any) -> Any:
    if isinstance(value, str) and _ISO.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, str) and _CENTS.fullmatch(value):
        return Decimal(value)
    return value


def _row(case: dict[str, Any]) -> pa.Table | None:
    """The case as one row of a typed claims file, or None when such a file cannot hold it."""
    def flat(mapping: dict[str, Any], prefix: str, depth: int) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        for key, value in mapping.items():
            path = f"{prefix}.{key}".lstrip(".")
            if isinstance(value, dict):
                inner = flat(value, path, depth + 1) if depth < 3 else None
                if inner is None:
                    return None
                out.update(inner)
            elif value is not None or path not in policy().facts.sections:  # `authorisation: null`: no cells
                out[path] = _typed(value)
        return out

    found = flat(case, "", 0)
    schema = claims_schema()
    if found is None or not set(found) <= set(schema.names):
        return None
    try:
        return pa.table({n: [found.get(n)] for n in schema.names}, schema=schema)
    except (pa.ArrowException, TypeError, ValueError, OverflowError, ArithmeticError):
        return None


@settings(max_examples=examples(120))
@given(st.lists(case_mappings(base_mapping(), plausible_values()), min_size=1, max_size=8))
def test_the_columns_write_the_per_case_error_rows_of_hostile_claims(cases: list[dict[str, Any]]) -> None:
    rows = [r for r in map(_row, cases) if r is not None]
    event(f"{len(rows)} of {len(cases)} claims fit a typed claims file")
    if not rows:
        return
    table = pa.concat_tables(rows)
    chunk = Chunk(index=0, first=1, count=table.num_rows, table=table)
    prepared = prepare(table, policy().facts, policy().plans)
    assert prepared is not None
    _, clean, checks = prepared
    positions = list(range(table.num_rows))
    written = error_rows(checks, positions)
    expected = evaluate_records(policy(), chunk.subset(positions), selection=select_decisions(policy()))
    for position, want in zip(positions, expected):
        if clean[position]:
            assert want.error is None or not want.error.code.startswith("RX4"), \
                f"the columns call a claim valid that the validator refuses: {want.error}"
        elif position in written:
            event("error row from the columns")
            assert written[position] == want.error
        else:
            event("error row per case")
