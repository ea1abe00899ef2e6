"""How fast `rxpolicy impact` goes: N synthetic claims, hollandzorg 2025 against asr 2026, end to end.

Times what a user calls, in a new process each: `rxpolicy impact OLD NEW CLAIMS.parquet --out REPORT` for the
default year-change review (`--dates year`: claims of other years moved in columns, then the columnar path) and
for `--dates own`, and the same claims as JSON Lines (each claim moved with ``move_case`` and evaluated per case).

Usage: ``.venv/bin/python benchmarks/bench_impact.py [--claims 100000] [--jsonl 10000]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = Path(sys.executable).parent / "rxpolicy"
OLD, NEW = "hollandzorg@2025-06-01", "asr@2026-06-01"


def _timed(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([str(CLI), *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--jsonl", type=int, default=10_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        rows = []
        for count, suffix in ((options.claims, "parquet"), (options.jsonl, "jsonl")):
            claims = work / f"claims.{suffix}"
            _timed("claims", "synth", "--n", str(count), "--seed", "1", "--out", str(claims))
            for dates in ("year", "own") if suffix == "parquet" else ("year",):
                seconds = _timed("impact", OLD, NEW, str(claims), "--out", str(work / "impact.html"),
                                 "--dates", dates)
                rows.append((f"{suffix}, --dates {dates}", count, seconds))
    print(f"{'rxpolicy impact ' + OLD + ' ' + NEW:<40} {'claims':>9} {'seconds':>8} {'claims/s':>9}")
    for label, count, seconds in rows:
        print(f"{label:<40} {count:>9} {seconds:>8.1f} {count / seconds:>9.0f}")


if __name__ == "__main__":
    main()
