"""`rxpolicy batch --dask`: the partitions evaluated on a Dask LocalCluster of 2 workers, one of them killed mid-run.

The command runs as a user runs it (a process of its own, given the scheduler's address); the test owns the
cluster so that it can kill a worker process while partitions are being written. Dask runs the lost tasks again;
the dataset must be, row for row, what a local run writes: no record lost, none written twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from distributed import LocalCluster

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "rxpolicy"


@pytest.fixture()
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as found:
        yield found


def _rxpolicy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, check=False, timeout=600)


def test_a_worker_killed_mid_run_loses_and_doubles_no_record(cluster: LocalCluster, tmp_path: Path) -> None:
    claims = tmp_path / "claims.parquet"
    assert _rxpolicy("claims", "synth", "--n", "6000", "--seed", "4", "--out", str(claims)).returncode == 0
    local, remote = tmp_path / "local", tmp_path / "dask"
    # Per case: slow enough that the kill falls in the middle of the run.
    options = ["--chunk-size", "250", "--engine", "per-case", "--quiet"]
    assert _rxpolicy("batch", str(claims), "--out", str(local), *options).returncode == 1  # ~1 % invalid claims
    process = subprocess.Popen([str(CLI), "batch", str(claims), "--out", str(remote), "--dask",
                                cluster.scheduler_address, *options], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(list(remote.glob("part-*.parquet"))) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    victim = next(iter(cluster.workers.values()))
    os.kill(victim.process.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
    assert len(list(remote.glob("part-*.parquet"))) < 24, "the worker was killed mid-run"
    _, err = process.communicate(timeout=600)
    assert process.returncode == 1, err
    assert "read 6000 records" in err
    got, want = ds.dataset(remote).to_table(), ds.dataset(local).to_table()
    records = got.column("record").to_pylist()
    assert sorted(records) == list(range(1, 6001)), "every record once"
    assert got.sort_by("record").equals(want.sort_by("record"))
    assert json.loads((remote / "_SUCCESS").read_text()) == json.loads((local / "_SUCCESS").read_text())
    assert not list(remote.glob(".*")), "nothing half-written is left"


def test_dask_needs_a_directory_of_parquet(tmp_path: Path) -> None:
    claims = tmp_path / "claims.jsonl"
    claims.write_text("{}\n")
    result = _rxpolicy("batch", str(claims), "--dask", "local:1", "--out", str(tmp_path / "r"), "--format", "csv")
    assert result.returncode == 2 and "RX804" in result.stderr and "Parquet" in result.stderr


def test_a_worker_keeps_the_runs_it_met_last_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-lived worker meets ever new claims files and runs: the runs it keeps (each with its compiled policy)
    must not grow without bound (before, every task spec's run was kept for the life of the worker)."""
    from rxpolicy.bulk import distributed

    monkeypatch.setattr(distributed, "_KEPT", 2)  # (each run loads its policy: a few are enough)
    monkeypatch.setattr(distributed, "_RUNS", type(distributed._RUNS)())

    specs = [distributed.TaskSpec(claims=str(tmp_path / f"claims-{n}.parquet"), input_format="parquet",
                                  policy="hollandzorg", decisions=("covered",), chunk_size=1000,
                                  out=str(tmp_path / f"out-{n}"), output_format="parquet", engine="per-case",
                                  lang="en") for n in range(distributed._KEPT + 3)]
    runs = [distributed._run_for(spec) for spec in specs]
    assert len(distributed._RUNS) == distributed._KEPT
    assert distributed._run_for(specs[-1]) is runs[-1]  # kept: the policy is not loaded again
    assert specs[0] not in distributed._RUNS
    again = distributed._run_for(specs[0])
    assert again is not runs[0] and again.claims == runs[0].claims and specs[0] in distributed._RUNS
