"""``rxpolicy batch --dask``: the chunks of a claims file evaluated on a Dask cluster, one task per partition.

The driver (the machine running ``rxpolicy batch``) counts the records, prepares the output directory and submits
one task per chunk. Each task reads its own chunk of the claims file, loads the compiled policy (once per worker
process, from the cache on disk where the driver left it, else compiling it), evaluates the chunk (columnar where
it applies) and writes its partition under a temporary name, renamed when complete, then returns its counts. A
task whose worker dies is run again by Dask on another worker; it writes the same partition under the same name,
so no record is lost or written twice. The result directory is the same, row for row, as a local run's.

What scales with workers: reading, evaluating and writing the partitions. What does not: counting the records
and gathering the counts (on the driver). On a real cluster the claims file, the rules (a built-in policy, or a
rules directory) and ``--out`` must be at the same path on every worker (a shared file system); rxpolicy must be
installed on every worker with the ``batch`` extra.
"""

from __future__ import annotations

import collections
import csv
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from rxpolicy.diagnostics import Diagnostic, RxError

from .output import OutputDir, write_table
from .run import BatchRun, Counts, _read_partition, evaluate_chunk
from .records import check_readable, read_chunks

__all__ = ["TaskSpec", "run_dask", "run_partition"]


@attrs.frozen(kw_only=True)
class TaskSpec:
    """What a worker needs to evaluate one partition (plain data: sent over the network)."""

    claims: str
    input_format: str
    policy: str
    decisions: tuple[str, ...]
    chunk_size: int
    out: str
    output_format: str
    engine: str
    lang: str


#: Per worker process: the run made from a task's spec, so the policy is loaded and compiled once per worker and
#: run; the least recently used beyond ``_KEPT`` are dropped (a long-lived worker meets ever new files and runs,
#: and each run holds its compiled policy).
_RUNS: collections.OrderedDict[TaskSpec, BatchRun] = collections.OrderedDict()
_KEPT = 8
_LOCK = threading.Lock()


def _run_for(spec: TaskSpec) -> BatchRun:
    # Through the policy store: a worker finds the policy the driver compiled in the cache on disk (shared when
    # the workers share the user's cache directory, or ``$RXPOLICY_CACHE_DIR``) instead of compiling it again.
    from rxpolicy.api import PolicyStore

    from .core import select_decisions

    with _LOCK:
        found = _RUNS.get(spec)
        if found is None:
            policy = PolicyStore().load(spec.policy)
            found = BatchRun(claims=Path(spec.claims), input_format=spec.input_format, policy=policy,
                             selection=select_decisions(policy, spec.decisions), out=Path(spec.out),
                             output_format=spec.output_format, chunk_size=spec.chunk_size, engine=spec.engine,
                             lang=spec.lang).with_columnar()
            _RUNS[spec] = found
            while len(_RUNS) > _KEPT:
                _RUNS.popitem(last=False)
        else:
            _RUNS.move_to_end(spec)
        return found


def run_partition(spec: TaskSpec, index: int) -> Counts:
    """On a worker: evaluate chunk ``index`` and write its partition; its counts."""
    run = _run_for(spec)
    chunk = next(read_chunks(run.claims, run.input_format, run.chunk_size, skip=index))
    assert chunk.index == index
    table = evaluate_chunk(run, chunk)
    write_table(table, Path(spec.out) / f"part-{index:06d}.{spec.output_format}", spec.output_format)
    counts = Counts(outcome=run.policy.outcome)
    counts.add(table)
    return counts


def record_count(path: Path, fmt: str) -> int:
    """How many records the claims file holds (to know the partitions before reading them)."""
    check_readable(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("r", encoding="utf-8", newline="") as handle:
        if fmt == "jsonl":
            return sum(1 for line in handle if line.strip())
        return max(0, sum(1 for _ in csv.reader(handle)) - 1)


def run_dask(run: BatchRun, address: str, policy_name: str,
             progress: Callable[[int], object] | None = None) -> Counts:
    """Run a batch on a Dask cluster: ``local``, ``local:N`` (a LocalCluster of N workers) or a scheduler address."""
    from dask.distributed import Client, LocalCluster, as_completed

    if run.out is None or run.output_format != "parquet":
        raise RxError(Diagnostic(code="RX804", message="--dask writes a partitioned Parquet dataset",
                                 help="give `--out DIR` (and leave out --format, or give --format parquet)"))
    total = record_count(run.claims, run.input_format)
    output = OutputDir(run.out, run.output_format, run.manifest(), resume=run.resume, overwrite=run.overwrite)
    done = output.done() if run.resume else set()
    partitions = math.ceil(total / run.chunk_size)
    spec = TaskSpec(claims=str(run.claims.resolve()), input_format=run.input_format, policy=policy_name,
                    decisions=run.selection.names, chunk_size=run.chunk_size, out=str(run.out.resolve()),
                    output_format=run.output_format, engine=run.engine, lang=run.lang)
    cluster: Any = None
    if address == "local" or address.startswith("local:"):
        workers = int(address.partition(":")[2] or 2)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(address)
    counts = Counts(outcome=run.policy.outcome)
    try:
        futures = [client.submit(run_partition, spec, index, key=f"rxpolicy-batch-{index}", retries=3, pure=False)
                   for index in range(partitions) if index not in done]
        for future in as_completed(futures):
            result: Counts = future.result()
            counts.merge(result)
            if progress:
                progress(result.read)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    for index in sorted(done):
        counts.add(_read_partition(output.path(index), run.output_format))
    counts.samples.sort()
    output.finish(counts.as_dict())
    return counts
