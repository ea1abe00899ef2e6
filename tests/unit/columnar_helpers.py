"""What the columnar tests share: claims as typed chunks, and a policy's columnar and per-case batch runs."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from rxpolicy import PolicyStore
from rxpolicy.bulk.core import select_decisions
from rxpolicy.bulk.records import Chunk
from rxpolicy.bulk.run import BatchRun
from rxpolicy.bulk.synth_files import claims_table


def typed_chunks(records: list[dict[str, Any]], size: int) -> Iterator[Chunk]:
    """``records`` in chunks of ``size``, each an Arrow table typed as ``rxpolicy claims synth`` writes Parquet
    (dates and amounts given as Python values are written as their text first, as a claims file holds them)."""
    for index, start in enumerate(range(0, len(records), size)):
        block = [{k: (str(v) if isinstance(v, (dt.date, Decimal)) else v) for k, v in r.items()}
                 for r in records[start:start + size]]
        yield Chunk(index=index, first=start + 1, count=len(block), table=claims_table(block))


@functools.cache
def runs(name: str, input_format: str) -> tuple[BatchRun, BatchRun]:
    """The columnar run and the per-case run of a built-in policy (no files: chunks are handed in)."""
    policy = PolicyStore().load(name)
    run = BatchRun(claims=Path(f"claims.{input_format}"), input_format=input_format, policy=policy,
                   selection=select_decisions(policy), out=None, output_format="parquet")
    return run.with_columnar(), attrs.evolve(run, engine="per-case")
