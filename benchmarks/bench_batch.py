"""Claims in bulk: how fast `rxpolicy batch` goes, on the columnar path and per case, and how much memory it takes.

Prints one table. Every figure is timed around what a user calls:

* `rxpolicy batch CLAIMS.parquet --out DIR` end to end (a new process: start, read, evaluate, write) on N and on
  N/10 synthetic claims, with the process's peak resident memory (``wait4`` rusage);
* the N/10 file again on a Dask LocalCluster of 2 workers (`--dask local:2`);
* the same with `--engine per-case` on a smaller file (per case is about a hundred times slower);
* in one process, on 100,000 claims of 2025, both sides starting from the same Parquet file as the guide asks
  ("time what users call: a file in, decisions out"): the columnar evaluation through the public API,
  ``rxpolicy.bulk.ClaimsEvaluator.evaluate_file`` (the result tables ``rxpolicy batch`` writes, chunk by chunk,
  error rows included) of the whole file (its 1 % invalid claims get error rows, most written from the columns'
  checks, the rest per case) and of a file of its valid claims alone, against the hand-written reference
  (``benchmarks/handwritten.py``, plain Python, Decimal money) reading the valid claims' file as hand-written code
  would (pyarrow, each column to Python values) and deciding them (``handwritten.decide_table``);
* the inner loops alone, as a second, stricter yardstick: the columnar evaluation of Arrow chunks read before the
  clock starts, against the reference deciding value tuples built before the clock starts (building them is not
  timed: the reference is given every advantage); with the columnar path's seconds per step (prepare the input,
  the columns, error rows written from the columns, per case, output) and how many claims took each road.

Each in-process figure is the best of five runs.

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
from collections.abc import Callable
from pathlib import Path

import attrs
import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent))

import handwritten  # noqa: E402 - the yardstick beside this script

from rxpolicy import case_from_mapping, load_policy  # noqa: E402
from rxpolicy.bulk import ClaimsEvaluator  # noqa: E402
from rxpolicy.bulk.core import select_decisions  # noqa: E402
from rxpolicy.bulk.records import Chunk, read_chunks  # noqa: E402
from rxpolicy.bulk.records import unflatten  # noqa: E402
from rxpolicy.bulk.run import BatchRun, evaluate_chunk  # noqa: E402

CLI = Path(sys.executable).parent / "rxpolicy"
#: Claims per chunk in the in-process figures (the command's default).
CHUNK = 50_000


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


#: The steps of `evaluate_chunk`'s timings, in the order they run.
STEPS = ("prepare", "columns", "error_rows", "per_case", "output")
#: Timed runs of each in-process figure; the best is reported (the machine is shared: the best is the least
#: disturbed, and the same rule holds for both sides of the ratio).
REPEATS = 5


@attrs.frozen
class InProcess:
    """The in-process figures: cases/s of each side and the columnar path's seconds per step."""

    count: int
    valid: int
    #: Claims/s from the Parquet file: the whole file and the valid claims' file, columnar; the reference.
    file_columnar: float
    file_columnar_valid: float
    file_reference: float
    #: Claims/s of the inner loops: Arrow chunks read before the clock, value tuples built before the clock.
    columnar: float
    columnar_valid: float
    reference: float
    steps: dict[str, float]
    steps_valid: dict[str, float]
    #: Claims decided on the columns, refused with an error row from the columns, evaluated per case.
    roads: dict[str, int]
    roads_valid: dict[str, int]


def in_process(path: Path) -> InProcess:
    """Columnar cases/s (the whole file, and its valid claims only) and hand-written cases/s on the same claims."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    policy = load_policy("hollandzorg")
    selection = select_decisions(policy)
    # What `rxpolicy batch` calls per chunk: the columns, with the claims they leave to the per-case evaluator.
    on_columns = BatchRun(claims=path, input_format="parquet", policy=policy, selection=selection, out=None,
                          output_format="parquet").with_columnar()
    chunks = list(read_chunks(path, "parquet", CHUNK))

    def columnar(parts: list[Chunk]) -> tuple[float, dict[str, float], dict[str, int]]:
        best, steps, roads = float("inf"), {}, {}
        for _ in range(REPEATS):
            timings: dict[str, float] = {}
            counts: dict[str, int] = {}
            started = time.perf_counter()
            for chunk in parts:
                evaluate_chunk(on_columns, chunk, timings, counts)
            elapsed = time.perf_counter() - started
            if elapsed < best:
                best, steps, roads = elapsed, timings, counts
        return sum(len(c) for c in parts) / best, steps, roads

    cases, valid_rows = [], []
    for chunk in chunks:
        for position, record in enumerate(chunk.records):
            try:
                cases.append(case_from_mapping(unflatten(record), plans=policy.plans))
                valid_rows.append(chunk.first - 1 + position)
            except Exception:  # noqa: BLE001 - invalid synthetic claims: the reference cannot take them
                pass
    # The valid claims alone, in chunks of the same size: the very claims the reference decides.
    everything = pa.concat_tables([c.table for c in chunks]).take(valid_rows)
    valid_chunks = [Chunk(index=i, first=start + 1, count=min(CHUNK, everything.num_rows - start),
                          table=everything.slice(start, CHUNK))
                    for i, start in enumerate(range(0, everything.num_rows, CHUNK))]
    valid_path = path.with_name(f"{path.stem}-valid.parquet")
    pq.write_table(everything, valid_path, row_group_size=CHUNK, compression="zstd")

    def best_of(work: Callable[[], object]) -> float:
        best = float("inf")
        for _ in range(REPEATS):
            started = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - started)
        return best

    # What an embedder calls (docs/api.md, "Claims in bulk"): the evaluator is made once, as an application does.
    evaluator = ClaimsEvaluator(policy, chunk_size=CHUNK)

    def columnar_file(claims: Path) -> None:
        for _ in evaluator.evaluate_file(claims):
            pass

    def reference_file(claims: Path) -> None:
        for batch in pq.ParquetFile(claims).iter_batches(batch_size=CHUNK):
            handwritten.decide_table(batch)

    file_whole = best_of(lambda: columnar_file(path))
    file_valid = best_of(lambda: columnar_file(valid_path))
    file_reference = best_of(lambda: reference_file(valid_path))
    rate, steps, roads = columnar(chunks)
    rate_valid, steps_valid, roads_valid = columnar(valid_chunks)
    reference = best_of(lambda: [handwritten.decide(case.values) for case in cases])
    count = sum(len(c) for c in chunks)
    return InProcess(count=count, valid=len(cases), file_columnar=count / file_whole,
                     file_columnar_valid=len(cases) / file_valid, file_reference=len(cases) / file_reference,
                     columnar=rate, columnar_valid=rate_valid, reference=len(cases) / reference, steps=steps,
                     steps_valid=steps_valid, roads=roads, roads_valid=roads_valid)


def report_in_process(m: InProcess) -> None:
    """The in-process lines of the table."""
    lines = (
        (f"file in: columnar, {m.count:,} claims (1 % invalid)", m.count, m.file_columnar),
        (f"file in: columnar, the {m.valid:,} valid claims", m.valid, m.file_columnar_valid),
        ("file in: hand-written reference, the same valid claims", m.valid, m.file_reference),
        (f"inner loop: columnar, {m.count:,} claims' chunks", m.count, m.columnar),
        (f"inner loop: columnar, the {m.valid:,} valid claims' chunks", m.valid, m.columnar_valid),
        ("inner loop: hand-written decide, pre-built values", m.valid, m.reference),
    )
    for what, count, rate in lines:
        print(f"{what:<58} {count / rate:>8.3f} {rate:>10,.0f}")
    print(f"columnar / hand-written, file in: {m.file_columnar / m.file_reference:.1f}x with the invalid claims, "
          f"{m.file_columnar_valid / m.file_reference:.1f}x on the same valid claims")
    print(f"columnar / hand-written, inner loops: {m.columnar / m.reference:.1f}x with the invalid claims, "
          f"{m.columnar_valid / m.reference:.1f}x on the same valid claims")
    for label, steps, roads in (("all claims", m.steps, m.roads), ("valid claims", m.steps_valid, m.roads_valid)):
        print(f"columnar seconds per step ({label}): "
              + ", ".join(f"{step} {steps.get(step, 0.0):.3f}" for step in STEPS))
        print(f"claims ({label}): {roads.get('columnar', 0):,} decided on the columns, "
              f"{roads.get('error_rows', 0):,} error rows written from the columns, {roads.get('per_case', 0):,} per case")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--per-case", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, default=None, help="keep the claims files here (made once)")
    parser.add_argument("--in-process-only", action="store_true",
                        help="only the in-process figures (columnar against the hand-written function)")
    options = parser.parse_args()
    load_before = os.getloadavg()
    work = options.keep or Path(tempfile.mkdtemp(prefix="rxpolicy-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    big, small = options.claims, options.claims // 10
    hand_path = work / "claims-2025-100000.parquet"
    synth(100_000, hand_path, "2025-2025")
    if options.in_process_only:
        report_in_process(in_process(hand_path))
        print(f"load average (1 min) before and after: {load_before[0]:.2f}, {os.getloadavg()[0]:.2f}")
        return
    files = {n: work / f"claims-{n}.parquet" for n in (big, small, options.per_case)}
    for n, path in files.items():
        synth(n, path)
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
    measured = in_process(hand_path)
    print(f"{'what':<58} {'seconds':>8} {'claims/s':>10} {'peak RSS MiB':>13}")
    for what, seconds, rate, rss in rows:
        print(f"{what:<58} {seconds:>8.1f} {rate:>10,.0f} {rss:>13}")
    report_in_process(measured)
    dask_same = ds.dataset(work / f"out-dask-{small}").to_table().sort_by("record").equals(
        ds.dataset(work / f"out-{small}").to_table().sort_by("record"))
    print(f"Dask and local results of the {small:,} claims: {'equal' if dask_same else 'DIFFERENT'}"
          " (peak RSS of the Dask run is in its worker processes, not shown)")
    print(f"per-case and columnar results of the {options.per_case:,} claims: {'equal' if same else 'DIFFERENT'}")
    print(f"load average (1 min) before and after: {load_before[0]:.2f}, {os.getloadavg()[0]:.2f}")
    if not same or not dask_same:
        print("the per-case and columnar results differ", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
