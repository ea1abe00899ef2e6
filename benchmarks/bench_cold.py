"""Cold start: wall time of ``rxpolicy eval CASE`` in fresh processes, as a shell user or a script sees it.

Run with ``.venv/bin/python benchmarks/bench_cold.py`` (about 30 s). Each figure is the median of
``--runs`` fresh processes, with the interquartile range as the spread; the processes of the
different commands are interleaved, so a busy machine slows them alike. Before timing, rxpolicy's
bytecode is compiled (``compileall``, as pip does on install) and one run fills the policy cache
(what every run after a user's first sees).

Commands timed:

* ``python -c pass``: the floor, a bare interpreter;
* ``rxpolicy eval CASE``: the case of the README tour, text output, the policy from the cache;
* ``rxpolicy eval CASE --format json``;
* ``rxpolicy eval CASE`` with the cache turned off (``RXPOLICY_CACHE_DIR=off``): parse, check and
  compile in the process, what the first run after a change to a rule file costs;
* ``rxpolicy eval A B … (50 cases)``: many cases in one process, per case.

``--importtime`` adds the modules that ``rxpolicy eval`` imports, slowest first (``python -X importtime``).
Nothing here asserts a time; README.md records the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "examples" / "hollandzorg" / "benzodiazepine-chronic.yaml"
GOAL_MS = 150.0


def rxpolicy() -> str:
    """The ``rxpolicy`` script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "rxpolicy"
    return str(script) if script.exists() else shutil.which("rxpolicy") or "rxpolicy"


def wall(command: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from start to exit of one fresh process, and the CPU seconds it used (user + system).

    The CPU time hardly moves when other work shares the machine, the wall time does: on a busy machine
    the CPU time is the better estimate of the wall time on a quiet one.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[:500]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def spread(samples: list[float]) -> tuple[float, float, float]:
    """Median and the first and third quartiles."""
    if len(samples) < 4:
        return statistics.median(samples), min(samples), max(samples)
    q1, median, q3 = statistics.quantiles(samples, n=4)
    return median, q1, q3


def import_times(env: dict[str, str]) -> list[tuple[int, str]]:
    """Cumulative µs per top-level-ish module imported by ``rxpolicy eval CASE``."""
    code = "import sys; from rxpolicy.cli import main; sys.argv=['rxpolicy','eval',sys.argv[1]]; main()"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code, str(CASE)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line[len("import time:"):].split("|")
            if cumulative.strip().isdigit() and len(name) - len(name.lstrip()) <= 3:
                rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Time the commands and print a table."""
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    options.add_argument("--runs", type=int, default=21, help="fresh processes per command (21)")
    options.add_argument("--importtime", action="store_true", help="also list what `rxpolicy eval` imports")
    args = options.parse_args(argv)
    cli = rxpolicy()
    with tempfile.TemporaryDirectory(prefix="rxpolicy-bench-") as scratch:
        env = {**os.environ, "RXPOLICY_CACHE_DIR": str(Path(scratch) / "cache")}
        many = [str(CASE)] * 50
        commands = {
            "python -c pass (floor)": ([sys.executable, "-c", "pass"], env),
            "rxpolicy eval CASE": ([cli, "eval", str(CASE)], env),
            "rxpolicy eval CASE --format json": ([cli, "eval", str(CASE), "--format", "json"], env),
            "rxpolicy eval CASE, no cache": ([cli, "eval", str(CASE)], {**env, "RXPOLICY_CACHE_DIR": "off"}),
            "rxpolicy eval 50 cases (per case)": ([cli, "eval", *many, "--format", "json"], env),
        }
        # Bytecode compiled, as pip does when it installs a wheel: with PYTHONDONTWRITEBYTECODE set (as in some
        # containers) an editable install would otherwise compile rxpolicy's sources in every process.
        package = Path(importlib.util.find_spec("rxpolicy").origin).parent  # type: ignore[union-attr,arg-type]
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
        for command, command_env in commands.values():  # fills the policy cache
            wall(command, command_env)
        samples: dict[str, list[float]] = {label: [] for label in commands}
        cpu: dict[str, list[float]] = {label: [] for label in commands}
        load = os.getloadavg()[0]
        for run in range(args.runs):
            for label, (command, command_env) in commands.items():
                if label.endswith("no cache") and run >= max(5, args.runs // 3):
                    continue  # slow and steady: fewer runs do
                elapsed, used = wall(command, command_env)
                samples[label].append(elapsed)
                cpu[label].append(used)
        load = max(load, os.getloadavg()[0])
        print(f"cold start, median of fresh processes [quartiles] (Python {sys.version.split()[0]}, "
              f"{os.cpu_count()} CPUs, load average up to {load:.1f})\n")
        print(f"{'command':<38}{'runs':>5}{'wall ms':>10}   {'[q1 – q3]':<17}{'CPU ms':>8}")
        for label, values in samples.items():
            per = 50 if "50 cases" in label else 1
            median, q1, q3 = (x * 1e3 / per for x in spread(values))
            used = statistics.median(cpu[label]) * 1e3 / per
            print(f"  {label:<36}{len(values):>5}{median:>10.1f}   {f'[{q1:.1f} – {q3:.1f}]':<17}{used:>8.1f}")
        median = spread(samples["rxpolicy eval CASE"])[0] * 1e3
        used = statistics.median(cpu["rxpolicy eval CASE"]) * 1e3
        print(f"\ngoal: rxpolicy eval CASE < {GOAL_MS:.0f} ms: {'met' if median < GOAL_MS else 'not met'} "
              f"({median:.0f} ms wall; {used:.0f} ms of CPU)")
        if args.importtime:
            print("\nimports of `rxpolicy eval CASE` (cumulative ms, top level and one below):")
            for micros, name in import_times(env)[:25]:
                print(f"  {micros / 1e3:8.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
