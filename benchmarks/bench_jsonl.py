"""JSON Lines and CSV claims in bulk: `rxpolicy batch` of a .jsonl or .csv file on the columnar path, against per case.

Until 2026-12-05 JSON Lines and CSV chunks always went per case (only Parquet chunks carried the Arrow table the
columns read); now a JSON Lines chunk's lines are read at once by Arrow's JSON reader
(``rxpolicy.bulk.jsonl_columns``) and a CSV chunk's cells are typed where certain (``rxpolicy.bulk.csv_columns``).
Prints one table, every figure timed around what a user calls, `rxpolicy batch CLAIMS --out DIR` in a new process
(start, read, evaluate, write), on the same N synthetic claims (2023-2025, 1 % invalid) written as JSON Lines, CSV
and Parquet:

* JSON Lines and CSV, columnar (now) and ``--engine per-case`` (what such a file got before);
* Parquet, columnar (the road they now share);

interleaved, the best of ``--runs``; then, in one process, the seconds of reading 50,000-line chunks into the
columns' table (``jsonl_table``), and whether the JSON Lines and Parquet result partitions are equal.

Usage: ``.venv/bin/python benchmarks/bench_jsonl.py [--claims 100000] [--runs 3] [--keep DIR]`` (per case takes
~8 s per 100,000 claims and run).
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
    files = {fmt: work / f"claims-{n}.{fmt}" for fmt in ("jsonl", "csv", "parquet")}
    for path in files.values():
        synth(n, path)
    roads = {
        "JSON Lines → Parquet, columnar (now)": (files["jsonl"], "columnar"),
        "JSON Lines → Parquet, per case (before)": (files["jsonl"], "per-case"),
        "CSV → Parquet, columnar (now)": (files["csv"], "columnar"),
        "CSV → Parquet, per case (before)": (files["csv"], "per-case"),
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
              for engine_path in ("out-jsonl-columnar", "out-jsonl-per-case", "out-csv-columnar", "out-csv-per-case",
                                  "out-parquet-columnar")}
    print(f"{'rxpolicy batch, ' + format(n, ',') + ' claims':<48} {'seconds':>8} {'claims/s':>10} {'peak RSS MiB':>13}")
    for label, (seconds, rss) in best.items():
        print(f"{label:<48} {seconds:>8.2f} {n / seconds:>10,.0f} {rss:>13}")
    for fmt in ("JSON Lines", "CSV"):
        before, now = best[f"{fmt} → Parquet, per case (before)"][0], best[f"{fmt} → Parquet, columnar (now)"][0]
        print(f"{fmt}, columnar against per case: {before / now:.1f}x")
    print(f"in process: reading the JSON Lines into the columns' table, 50,000-line chunks: {min(reading):.2f} s "
          f"({n / min(reading):,.0f} lines/s, file read included)")
    same = all(table.equals(tables["out-parquet-columnar"]) for table in tables.values())
    print(f"results of the same claims, JSON Lines and CSV (columnar, per case) and Parquet: "
          f"{'equal' if same else 'DIFFERENT'}")
    print(f"load average (1 min) before and after: {load_before[0]:.2f}, {os.getloadavg()[0]:.2f}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
