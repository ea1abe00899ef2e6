"""The columnar path's steps on a loaded machine: CPU seconds per step, this checkout's ``bulk/columnar.py`` against
another revision's, alternately in one process on the same chunks.

Wall-clock seconds on a shared machine move by 2–5× with the load; CPU seconds of one Polars thread move far less,
so the two versions are compared by those: ``POLARS_MAX_THREADS=1`` and the step clock of
``evaluate_columnar`` reading ``time.process_time``. Each run evaluates every chunk of a claims file as
``rxpolicy batch`` does (``bulk.run.evaluate_chunk``: Arrow table in, result table out), once with the other
revision's ``columnar.py`` (loaded beside this one as a module of its own; the rest of the package is this
checkout's) and once with this one; the best of ``--repeats`` is printed per step.

Usage (from the repository, after ``make demo``; the claims file is the one ``bench_batch.py --keep DIR`` makes):

    .venv/bin/python benchmarks/bench_columnar_steps.py DIR/claims-2025-100000.parquet --against main
    .venv/bin/python benchmarks/bench_columnar_steps.py FILE --against main --chunk 5000,50000 --repeats 5
"""

from __future__ import annotations

import os

os.environ["POLARS_MAX_THREADS"] = "1"  # before Polars is imported: one thread, whose CPU time the clock reads

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import attrs  # noqa: E402

import rxpolicy.bulk.columnar as this  # noqa: E402
from rxpolicy import load_policy  # noqa: E402
from rxpolicy.bulk.core import select_decisions  # noqa: E402
from rxpolicy.bulk.records import read_chunks  # noqa: E402
from rxpolicy.bulk.run import BatchRun, evaluate_chunk  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def other_revision(revision: str) -> ModuleType:
    """``bulk/columnar.py`` as it is at ``revision``, as a module of its own in this package."""
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:interpreter/rxpolicy/bulk/columnar.py"],
                          check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="rxpolicy-columnar-")) / "columnar.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("rxpolicy.bulk.columnar_other", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def cpu_clock(module: ModuleType) -> None:
    """The module's step clock reading CPU seconds of the process."""
    clock = module._Clock
    original = clock.__init__

    def init(self: Any, timings: dict[str, float] | None) -> None:
        original(self, timings)
        self.now = time.process_time
        self.last = self.now()

    clock.__init__ = init


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("claims", type=Path, nargs="+", help="Parquet claims files")
    parser.add_argument("--against", default="main", help="the git revision to compare with (default: main)")
    parser.add_argument("--chunk", default="50000", help="claims per chunk, several separated by commas")
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args()
    other = other_revision(options.against)
    for module in (this, other):
        cpu_clock(module)
    policy = load_policy("hollandzorg")
    run = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=select_decisions(policy),
                   out=None, output_format="parquet")
    sides = {options.against: (attrs.evolve(run, columnar=other.compile_columnar(policy)), other.evaluate_columnar),
             "this checkout": (attrs.evolve(run, columnar=this.compile_columnar(policy)), this.evaluate_columnar)}
    mine = this.evaluate_columnar
    print(f"CPU seconds, one Polars thread, best of {options.repeats}; load average {os.getloadavg()[0]:.2f}")
    for size in (int(n) for n in options.chunk.split(",")):
        for path in options.claims:
            chunks = list(read_chunks(path, "parquet", size))
            best: dict[str, dict[str, float]] = {}
            for repeat in range(options.repeats + 1):  # the first round warms both up
                for side, (columnar_run, evaluate) in sides.items():
                    this.evaluate_columnar = evaluate  # what `bulk.run` calls
                    timings: dict[str, float] = {}
                    started = time.process_time()
                    for chunk in chunks:
                        evaluate_chunk(columnar_run, chunk, timings)
                    timings["total"] = time.process_time() - started
                    if repeat:
                        steps = best.setdefault(side, {})
                        for step, seconds in timings.items():
                            steps[step] = min(steps.get(step, float("inf")), seconds)
            this.evaluate_columnar = mine
            for side, steps in best.items():
                print(f"{path.name}, chunks of {size:,}, {side}: "
                      + ", ".join(f"{step} {seconds:.4f}" for step, seconds in steps.items()))
    print(f"load average (1 min) after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
