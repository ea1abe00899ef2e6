"""The columnar path's cost per chunk and per claim: each step's seconds at several chunk sizes, and a fixed cost
per chunk plus a cost per claim fitted to them.

Times what `rxpolicy batch` calls per chunk (``bulk.run.evaluate_chunk``: an Arrow table in, the result table out,
error rows included) on the same synthetic claims of 2025 cut into chunks of each size, with its seconds per step
(``prepare``: the input's columns typed, defaulted, computed and checked; ``columns``: the rules; ``per_case``:
the error rows of refused claims and the claims left per case; ``output``). Each size is timed on the same number
of claims (``--claims``), best of ``--repeat`` runs; the fit is least squares of seconds per chunk against chunk
size. The wall time and the process's CPU time are both shown: on a shared machine the CPU time moves less (Polars
uses every core, so on a quiet machine CPU time exceeds wall time).

Usage: ``.venv/bin/python benchmarks/bench_chunks.py [--sizes 1000,5000,12500,50000] [--claims 50000]
[--keep DIR]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rxpolicy import load_policy
from rxpolicy.bulk.core import select_decisions
from rxpolicy.bulk.records import read_chunks
from rxpolicy.bulk.run import BatchRun, evaluate_chunk

STEPS = ("prepare", "columns", "per_case", "output")


def _fit(sizes: list[int], seconds: list[float]) -> tuple[float, float]:
    """Least squares of seconds per chunk against claims per chunk: (fixed seconds, seconds per claim)."""
    n = len(sizes)
    mean_x, mean_y = sum(sizes) / n, sum(seconds) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(sizes, seconds)) / \
        max(sum((x - mean_x) ** 2 for x in sizes), 1e-12)
    return mean_y - slope * mean_x, slope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,12500,50000")
    parser.add_argument("--claims", type=int, default=50_000, help="claims timed at each size")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="keep the claims file here (made once)")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    load_before = os.getloadavg()
    work = options.keep or Path(tempfile.mkdtemp(prefix="rxpolicy-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / "claims-2025-100000.parquet"
    if not path.exists():
        # (The claims of bench_batch.py's in-process figures: the same seed and years.)
        subprocess.run([str(Path(sys.executable).parent / "rxpolicy"), "claims", "synth", "--n", "100000", "--seed", "1",
                        "--years", "2025-2025", "--out", str(path)], check=True, stdout=subprocess.DEVNULL)
    policy = load_policy("hollandzorg")
    run = BatchRun(claims=path, input_format="parquet", policy=policy, selection=select_decisions(policy), out=None,
                   output_format="parquet").with_columnar()
    per_chunk: dict[str, list[float]] = {step: [] for step in (*STEPS, "total")}
    cpu_per_chunk: list[float] = []
    print(f"{'claims a chunk':>14} {'chunks':>6} " + " ".join(f"{s + ' ms':>12}" for s in (*STEPS, "total"))
          + f" {'CPU ms':>9} {'s/100k':>7}")
    for size in sizes:
        chunks = list(read_chunks(path, "parquet", size))[:max(1, options.claims // size)]
        for chunk in chunks[:2]:
            evaluate_chunk(run, chunk)  # plans made, caches filled: what every later chunk of a file meets
        best, best_cpu, steps = float("inf"), float("inf"), {}
        for _ in range(options.repeat):
            timings: dict[str, float] = {}
            gc.collect()
            started, cpu = time.perf_counter(), time.process_time()
            for chunk in chunks:
                evaluate_chunk(run, chunk, timings)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            best_cpu = min(best_cpu, cpu)
            if elapsed < best:
                best, steps = elapsed, timings
        count = len(chunks)
        claims = sum(len(c) for c in chunks)
        row = [steps.get(step, 0.0) / count for step in STEPS] + [best / count]
        for step, value in zip((*STEPS, "total"), row):
            per_chunk[step].append(value)
        cpu_per_chunk.append(best_cpu / count)
        print(f"{size:>14,} {count:>6} " + " ".join(f"{v * 1e3:>12.2f}" for v in row)
              + f" {best_cpu / count * 1e3:>9.2f} {best / claims * 1e5:>7.3f}")
    if len(sizes) > 1:
        print("fitted: fixed ms a chunk + µs a claim")
        for step in (*STEPS, "total"):
            fixed, slope = _fit(sizes, per_chunk[step])
            print(f"  {step:<9} {fixed * 1e3:>7.2f} ms + {slope * 1e6:.3f} µs")
        fixed, slope = _fit(sizes, cpu_per_chunk)
        print(f"  {'CPU':<9} {fixed * 1e3:>7.2f} ms + {slope * 1e6:.3f} µs")
    print(f"load average (1 min) before and after: {load_before[0]:.2f}, {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
