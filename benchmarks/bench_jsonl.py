"""JSON Lines claims in bulk: `rxpolicy batch` of a .jsonl file on the columnar path, against per case and Parquet.

Until 2026-12-05 a JSON Lines chunk always went per case (only Parquet chunks carried the Arrow table the columns
read); now its lines are read at once by Arrow's JSON reader (``rxpolicy.bulk.jsonl_columns``). Prints one table,
every figure timed around what a user calls, `rxpolicy batch CLAIMS --out DIR` in a new process (start, read,
evaluate, write), on the same N synthetic claims (2023-2025, 1 % invalid) written as JSON Lines and as Parquet:

* JSON Lines, columnar (now) and ``--engine per-case`` (what a JSON Lines file got before);
* Parquet, columnar (the road JSON Lines now shares);

interleaved, the best of ``--runs``; then, in one process, the seconds of reading 50,000-line chunks into the
columns' table (``jsonl_table``), and whether the JSON Lines and Parquet result partitions are equal.

Usage: ``.venv/bin/python benchmarks/bench_jsonl.py [--claims 100000] [--runs 3] [--keep DIR]``.
Exit code 1 when the results of the same claims differ between the roads.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import run, synth  # noqa: E402 - the same process runner as bench_batch

from rxpolicy import load_policy  # noqa: E402
from rxpolicy.bulk.jsonl_columns import jsonl_table  # noqa: E402
from rxpolicy.bulk.records import read_chunks  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="keep the claims files here (made once)")
    options = parser.parse_args()
    load_before = os.getloadavg()
    work = options.keep or Path(tempfile.mkdtemp(prefix="rxpolicy-bench-jsonl-"))
    work.mkdir(parents=True, exist_ok=True)
    n = options.claims
    files = {fmt: work / f"claims-{n}.{fmt}" for fmt in ("jsonl", "parquet")}
    for path in files.values():
        synth(n, path)
    roads = {
        "JSON Lines → Parquet, columnar (now)": (files["jsonl"], "columnar"),
        "JSON Lines → Parquet, per case (before)": (files["jsonl"], "per-case"),
        "Parquet → Parquet, columnar": (files["parquet"], "columnar"),
    }
    best: dict[str, tuple[float, int]] = {}
    for _ in range(options.runs):
        for label, (path, engine) in roads.items():
            out = work / f"out-{path.suffix[1:]}-{engine}"
            seconds, rss = run("batch", str(path), "--out", str(out), "--overwrite", "--quiet", "--engine", engine)
            if label not in best or seconds < best[label][0]:
                best[label] = (seconds, rss)
    policy = load_policy("hollandzorg")
    reading = []
    for _ in range(options.runs):
        started = time.perf_counter()
        for chunk in read_chunks(files["jsonl"], "jsonl", 50_000):
            assert chunk.lines is not None
            jsonl_table(chunk.lines, policy.facts)
        reading.append(time.perf_counter() - started)
    tables = {engine_path: ds.dataset(work / engine_path).to_table().sort_by("record")
              for engine_path in ("out-jsonl-columnar", "out-jsonl-per-case", "out-parquet-columnar")}
    print(f"{'rxpolicy batch, ' + format(n, ',') + ' claims':<48} {'seconds':>8} {'claims/s':>10} {'peak RSS MiB':>13}")
    for label, (seconds, rss) in best.items():
        print(f"{label:<48} {seconds:>8.2f} {n / seconds:>10,.0f} {rss:>13}")
    before, now = best["JSON Lines → Parquet, per case (before)"][0], best["JSON Lines → Parquet, columnar (now)"][0]
    print(f"JSON Lines, columnar against per case: {before / now:.1f}x")
    print(f"in process: reading the JSON Lines into the columns' table, 50,000-line chunks: {min(reading):.2f} s "
          f"({n / min(reading):,.0f} lines/s, file read included)")
    same = tables["out-jsonl-columnar"].equals(tables["out-parquet-columnar"]) \
        and tables["out-jsonl-columnar"].equals(tables["out-jsonl-per-case"])
    print(f"results of the same claims, JSON Lines (columnar, per case) and Parquet: {'equal' if same else 'DIFFERENT'}")
    print(f"load average (1 min) before and after: {load_before[0]:.2f}, {os.getloadavg()[0]:.2f}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
