"""Claims in bulk: how fast `rxpolicy batch` goes, on the columnar path and per case, and how much memory it takes.

Prints one table. Every figure is timed around what a user calls:

* `rxpolicy batch CLAIMS.parquet --out DIR` end to end (a new process: start, read, evaluate, write) on N and on
  N/10 synthetic claims, with the process's peak resident memory (``wait4`` rusage);
* the N/10 file again on a Dask LocalCluster of 2 workers (`--dask local:2`);
* the same with `--engine per-case` on a smaller file (per case is about a hundred times slower);
* in one process, on the same 2025 claims: the columnar evaluation of a chunk (Arrow table in, result table out)
  against the hand-written reference (``benchmarks/handwritten.py``, plain Python, Decimal money) deciding the same
  claims from cases built in advance (building them is not timed: the reference is given every advantage).

Usage: ``.venv/bin/python benchmarks/bench_batch.py [--claims 1000000] [--per-case 20000] [--keep DIR]``.
Exit code 1 when the columnar and per-case results of the per-case file differ.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent))

import handwritten  # noqa: E402 - the yardstick beside this script

from rxpolicy import case_from_mapping, load_policy  # noqa: E402
from rxpolicy.bulk.columnar import compile_columnar, evaluate_columnar  # noqa: E402
from rxpolicy.bulk.core import select_decisions  # noqa: E402
from rxpolicy.bulk.records import read_chunks  # noqa: E402
from rxpolicy.bulk.records import unflatten  # noqa: E402
from rxpolicy.bulk.run import BatchRun, evaluate_chunk  # noqa: E402

CLI = Path(sys.executable).parent / "rxpolicy"


def run(*args: str) -> tuple[float, int]:
    """Wall seconds and peak resident memory (MiB) of one rxpolicy command."""
    started = time.perf_counter()
    process = subprocess.Popen([str(CLI), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"rxpolicy {' '.join(args)} failed ({code}): {process.stderr.read().decode() if process.stderr else ''}")
    return elapsed, usage.ru_maxrss // 1024


def synth(n: int, path: Path, years: str = "2023-2025") -> float:
    if not path.exists():
        run("claims", "synth", "--n", str(n), "--seed", "1", "--years", years, "--out", str(path))
    return 0.0


def in_process(path: Path) -> tuple[float, float, int]:
    """Columnar cases/s and hand-written cases/s on the same claims (2025, hollandzorg)."""
    policy = load_policy("hollandzorg")
    compiled = compile_columnar(policy)
    selection = select_decisions(policy)
    per_case = BatchRun(claims=path, input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    chunks = list(read_chunks(path, "parquet", 50_000))

    def fallback_for(chunk):  # type: ignore[no-untyped-def]
        def fallback(positions: list[int]):  # type: ignore[no-untyped-def]
            from rxpolicy.bulk.records import Chunk

            sub = Chunk(index=0, first=chunk.first, count=len(positions), table=chunk.table.take(positions))
            return evaluate_chunk(per_case, sub)
        return fallback

    count = sum(len(c) for c in chunks)
    started = time.perf_counter()
    for chunk in chunks:
        evaluate_columnar(compiled, chunk, selection, fallback_for(chunk))
    columnar = count / (time.perf_counter() - started)
    cases = []
    for chunk in chunks:
        for record in chunk.records:
            try:
                cases.append(case_from_mapping(unflatten(record), plans=policy.plans))
            except Exception:  # noqa: BLE001 - invalid synthetic claims: the reference cannot take them
                pass
    started = time.perf_counter()
    for case in cases:
        handwritten.decide(case.values)
    reference = len(cases) / (time.perf_counter() - started)
    return columnar, reference, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--per-case", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, default=None, help="keep the claims files here (made once)")
    options = parser.parse_args()
    work = options.keep or Path(tempfile.mkdtemp(prefix="rxpolicy-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    big, small = options.claims, options.claims // 10
    files = {n: work / f"claims-{n}.parquet" for n in (big, small, options.per_case)}
    for n, path in files.items():
        synth(n, path)
    hand_path = work / "claims-2025-100000.parquet"
    synth(100_000, hand_path, "2025-2025")
    rows = []
    for n in (small, big):
        seconds, rss = run("batch", str(files[n]), "--out", str(work / f"out-{n}"), "--overwrite", "--quiet")
        rows.append((f"batch columnar, {n:,} claims, Parquet → Parquet", seconds, n / seconds, rss))
    seconds, _ = run("batch", str(files[small]), "--out", str(work / f"out-dask-{small}"), "--overwrite", "--quiet",
                     "--dask", "local:2")
    rows.append((f"batch columnar on Dask LocalCluster(2), {small:,} claims", seconds, small / seconds, 0))
    seconds, rss = run("batch", str(files[options.per_case]), "--out", str(work / "out-per-case"), "--overwrite",
                       "--quiet", "--engine", "per-case")
    rows.append((f"batch per case, {options.per_case:,} claims", seconds, options.per_case / seconds, rss))
    run("batch", str(files[options.per_case]), "--out", str(work / "out-columnar"), "--overwrite", "--quiet")
    same = ds.dataset(work / "out-per-case").to_table().sort_by("record").equals(
        ds.dataset(work / "out-columnar").to_table().sort_by("record"))
    columnar, reference, count = in_process(hand_path)
    print(f"{'what':<52} {'seconds':>8} {'claims/s':>10} {'peak RSS MiB':>13}")
    for what, seconds, rate, rss in rows:
        print(f"{what:<52} {seconds:>8.1f} {rate:>10,.0f} {rss:>13}")
    print(f"{'columnar evaluation in process (' + format(count, ',') + ' claims)':<52} {'':>8} {columnar:>10,.0f}")
    print(f"{'hand-written reference, same claims (cases built)':<52} {'':>8} {reference:>10,.0f}")
    print(f"columnar / hand-written: {columnar / reference:.1f}x")
    dask_same = ds.dataset(work / f"out-dask-{small}").to_table().sort_by("record").equals(
        ds.dataset(work / f"out-{small}").to_table().sort_by("record"))
    print(f"Dask and local results of the {small:,} claims: {'equal' if dask_same else 'DIFFERENT'}"
          " (peak RSS of the Dask run is in its worker processes, not shown)")
    print(f"per-case and columnar results of the {options.per_case:,} claims: {'equal' if same else 'DIFFERENT'}")
    if not same or not dask_same:
        print("the per-case and columnar results differ", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
