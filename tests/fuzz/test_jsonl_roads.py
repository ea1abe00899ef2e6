"""Hostile JSON Lines chunks get the same result rows on the columnar path as per case.

Each example is a chunk of lines: claims close to the example cases with fields set, removed or replaced by
anything (:func:`hostile_strategies.case_mappings`), written as JSON with amounts as numbers or as text, keys
nested or dotted, ASCII-escaped or not, between lines that are not claims at all (not JSON, not an object, two
objects, a byte-order mark, a line cut short, a repeated key). The chunk is evaluated on the columns (its lines
read by Arrow, :mod:`rxpolicy.bulk.jsonl_columns`) and per case (each line decoded and validated): the two result
tables must be equal, error rows and record numbers included.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from hostile_strategies import case_mappings, examples, flat_paths
from rxpolicy.bulk import jsonl_columns
from rxpolicy.bulk.core import select_decisions
from rxpolicy.bulk.jsonl_columns import jsonl_table
from rxpolicy.bulk.records import Chunk
from rxpolicy.bulk.run import BatchRun, evaluate_chunk
from test_fast_roads import base_mapping, plausible_values, policy


@functools.cache
def runs() -> tuple[BatchRun, BatchRun]:
    run = BatchRun(claims=Path("claims.jsonl"), input_format="jsonl", policy=policy(),
                   selection=select_decisions(policy()), out=None, output_format="parquet")
    return run.with_columnar(), BatchRun(claims=run.claims, input_format="jsonl", policy=policy(),
                                         selection=run.selection, out=None, output_format="parquet",
                                         engine="per-case")


def _json(value: Any, numbers: bool, ascii_only: bool, depth: int = 0) -> str:
    """JSON of a claim as a claims platform could write it: amounts as numbers (``12.40``) or as text."""
    if depth > 20:
        raise RecursionError("a claim that contains itself")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=ascii_only)}: "
                               f"{_json(v, numbers, ascii_only, depth + 1)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_json(v, numbers, ascii_only, depth + 1) for v in value) + "]"
    if isinstance(value, Decimal) and numbers:
        return str(value)  # 12.40, 1E+30, -0, NaN: as JSON numbers (NaN as Python's json writes it)
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, (dt.date, Decimal)):
        return json.dumps(str(value))
    return json.dumps(value if isinstance(value, str) else str(value), ensure_ascii=ascii_only)


#: Lines that are not a claim, or not one Arrow may read as written (each a record of its own).
ODD_LINES = (b"not json", b"[]", b"42", b'"text"', b"null", b"{}", b'{"dispensed_on": "2025-03-14"}{}',
             b"\xef\xbb\xbf{}", b'{"dispensed_on": ', b"{'a': 1}", b"\xff\xfe", b"{\x00}")


@st.composite
def chunks(draw: st.DrawFn) -> list[bytes]:
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.integers(0, 6)) == 0:
            lines.append(draw(st.sampled_from(ODD_LINES)))
            continue
        claim = draw(case_mappings(base_mapping(), plausible_values()))
        dotted = draw(st.integers(0, 5)) == 0  # dotted keys, as the reader accepts them
        try:
            text = _json(flat_paths(claim) if dotted else claim, draw(st.booleans()), draw(st.booleans()))
        except (RecursionError, ValueError):
            continue
        raw = text.encode("utf-8", "surrogatepass")
        if draw(st.integers(0, 9)) == 0:
            raw = raw.replace(b"{", b'{"dispensed_on": "2024-01-01", ', 1)  # a repeated key, now and then
        lines.append(raw)
    return lines


@settings(max_examples=examples(150))
@given(chunks())
def test_a_hostile_chunk_is_decided_on_the_columns_as_per_case(lines: list[bytes]) -> None:
    if not lines:
        return
    columnar, per_case = runs()
    # Every line judged on its own: a part Arrow refuses is read again line by line (in a real chunk, in groups
    # of 1024 and 64), so that the valid lines next to a refused one still reach the columns here.
    groups, jsonl_columns._GROUPS = jsonl_columns._GROUPS, (1,)
    try:
        on_columns = evaluate_chunk(columnar, Chunk(index=0, first=7, count=len(lines), lines=list(lines)))
        _, doubtful = jsonl_table(lines, policy().facts)
    finally:
        jsonl_columns._GROUPS = groups
    each = evaluate_chunk(per_case, Chunk(index=0, first=7, count=len(lines), lines=list(lines)))
    taken = len(lines) - len(doubtful)
    event(f"lines on the columns: {taken} of {len(lines)}" if taken < len(lines) else "all on the columns")
    assert on_columns.to_pylist() == each.to_pylist()
    assert on_columns.equals(each)
