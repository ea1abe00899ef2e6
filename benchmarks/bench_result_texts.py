"""The closed-set text columns of batch results (outcome, rule columns, supply limits): what they cost in process.

Times, on a Parquet file of claims, what ``rxpolicy batch`` does per chunk and per partition:

* the columnar evaluation of its chunks (``bulk.run.evaluate_chunk``: Arrow table in, result table out), with the
  output step's seconds and the seconds spent in ``pyarrow.compute.take`` (the texts made from codes);
* writing the result tables as Parquet (zstd, as ``rxpolicy batch`` writes them) to memory, and their size.

Each figure is the best of ``--repeat`` runs. Run it with the ``.venv/bin/python`` of two worktrees, one after the
other, to compare two versions on the same machine state (the load average is printed with the figures).

Usage: ``.venv/bin/python benchmarks/bench_result_texts.py CLAIMS.parquet [--chunk-size 50000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from rxpolicy import load_policy
from rxpolicy.bulk.core import select_decisions
from rxpolicy.bulk.records import read_chunks
from rxpolicy.bulk.run import BatchRun, evaluate_chunk


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("claims", type=Path)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--policy", default="hollandzorg")
    options = parser.parse_args()
    policy = load_policy(options.policy)
    run = BatchRun(claims=options.claims, input_format="parquet", policy=policy, selection=select_decisions(policy),
                   out=None, output_format="parquet").with_columnar()
    chunks = list(read_chunks(options.claims, "parquet", options.chunk_size))
    claims = sum(len(chunk) for chunk in chunks)
    original = pc.take
    spent = [0.0]

    def take(*args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            spent[0] += time.perf_counter() - started

    pc.take = take  # type: ignore[assignment]
    load = os.getloadavg()[0]
    best: dict[str, float] = {}
    tables = []
    for _ in range(options.repeat):
        spent[0] = 0.0
        timings: dict[str, float] = {}
        started = time.perf_counter()
        tables = [evaluate_chunk(run, chunk, timings) for chunk in chunks]
        figures = {"evaluate": time.perf_counter() - started, "output step": timings.get("output", 0.0),
                   "take": spent[0]}
        started = time.perf_counter()
        size = 0
        for table in tables:
            sink = io.BytesIO()
            pq.write_table(table, sink, compression="zstd")
            size += sink.tell()
        figures["write parquet"] = time.perf_counter() - started
        for key, value in figures.items():
            best[key] = min(best.get(key, value), value)
    print(f"{claims:,} claims in {len(chunks)} chunks, best of {options.repeat} (load average {load:.2f} → "
          f"{os.getloadavg()[0]:.2f})")
    for key, value in best.items():
        print(f"  {key:<14} {value * 1000:8.1f} ms")
    print(f"  parquet size   {size / 1e6:8.2f} MB")
    print(f"  schema: outcome {tables[0].schema.field('outcome').type}, covered.rule "
          f"{tables[0].schema.field('covered.rule').type}")


if __name__ == "__main__":
    main()
