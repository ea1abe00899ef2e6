"""Cold start: wall time of ``rxpolicy eval CASE`` in fresh processes, as a shell user or a script sees it.

Run with ``.venv/bin/python benchmarks/bench_cold.py`` (about 30 s). Each figure is the median of
``--runs`` fresh processes, with the interquartile range as the spread; the processes of the
different commands are interleaved, so a busy machine slows them alike. Before timing, rxpolicy's
bytecode is compiled (``compileall``, as pip does on install) and one run fills the policy cache
(what every run after a user's first sees).

Commands timed:

* ``python -c pass``: the floor, a bare interpreter;
* ``python -c "import click, attrs, yaml"``: the floor with the libraries every ``rxpolicy eval`` imports;
* ``rxpolicy eval CASE``: the case of the README tour, text output, the policy from the cache in the
  user's cache directory (found with platformdirs, here under a temporary ``XDG_CACHE_HOME``), as a user
  runs it;
* ``rxpolicy eval CASE, RXPOLICY_CACHE_DIR set``: the same with the cache directory named (no platformdirs);
* ``rxpolicy eval CASE --format json``;
* ``rxpolicy eval CASE`` with the cache turned off (``RXPOLICY_CACHE_DIR=off``): parse, check and
  compile in the process, what the first run after a change to a rule file costs;
* ``rxpolicy eval A B … (50 cases)``: many cases in one process, per case.

``--importtime`` adds what ``rxpolicy eval`` imports, slowest first: the median over five runs of
``python -X importtime`` of each module's own time, summed per package outside rxpolicy and shown per
module inside it.
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


def import_times(env: dict[str, str], runs: int = 5) -> list[tuple[float, str]]:
    """Median µs of each module's own import time in ``rxpolicy eval CASE``: per module of rxpolicy, per package
    elsewhere (the standard library's modules each under their own name)."""
    code = "import sys; from rxpolicy.__main__ import main; main(['eval', sys.argv[1]])"
    own: dict[str, list[int]] = {}
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", code, str(CASE)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        totals: dict[str, int] = {}
        for line in done.stderr.splitlines():
            if line.startswith("import time:") and "|" in line:
                micros, _, name = line[len("import time:"):].split("|")
                if micros.strip().isdigit():
                    name = name.strip()
                    group = name if name.startswith("rxpolicy") else name.split(".")[0]
                    totals[group] = totals.get(group, 0) + int(micros)
        for group, micros in totals.items():
            own.setdefault(group, []).append(micros)
    return sorted(((statistics.median(values), group) for group, values in own.items()), reverse=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Time the commands and print a table."""
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    options.add_argument("--runs", type=int, default=21, help="fresh processes per command (21)")
    options.add_argument("--importtime", action="store_true", help="also list what `rxpolicy eval` imports")
    args = options.parse_args(argv)
    cli = rxpolicy()
    with tempfile.TemporaryDirectory(prefix="rxpolicy-bench-") as scratch:
        # The user's cache directory (platformdirs), made a temporary one through XDG_CACHE_HOME.
        env = {**{k: v for k, v in os.environ.items() if k != "RXPOLICY_CACHE_DIR"},
               "XDG_CACHE_HOME": str(Path(scratch) / "xdg")}
        named = {**env, "RXPOLICY_CACHE_DIR": str(Path(scratch) / "cache")}
        many = [str(CASE)] * 50
        commands = {
            "python -c pass (floor)": ([sys.executable, "-c", "pass"], env),
            "python -c 'import click, attrs, yaml'": ([sys.executable, "-c", "import click, attrs, yaml"], env),
            "rxpolicy eval CASE": ([cli, "eval", str(CASE)], env),
            "rxpolicy eval CASE, RXPOLICY_CACHE_DIR set": ([cli, "eval", str(CASE)], named),
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
        print(f"{'command':<46}{'runs':>5}{'wall ms':>10}   {'[q1 – q3]':<17}{'CPU ms':>8}")
        for label, values in samples.items():
            per = 50 if "50 cases" in label else 1
            median, q1, q3 = (x * 1e3 / per for x in spread(values))
            used = statistics.median(cpu[label]) * 1e3 / per
            print(f"  {label:<44}{len(values):>5}{median:>10.1f}   {f'[{q1:.1f} – {q3:.1f}]':<17}{used:>8.1f}")
        median = spread(samples["rxpolicy eval CASE"])[0] * 1e3
        used = statistics.median(cpu["rxpolicy eval CASE"]) * 1e3
        print(f"\ngoal: rxpolicy eval CASE < {GOAL_MS:.0f} ms: {'met' if median < GOAL_MS else 'not met'} "
              f"({median:.0f} ms wall; {used:.0f} ms of CPU)")
        if args.importtime:
            rows = import_times(env)
            print(f"\nimports of `rxpolicy eval CASE`, own time (ms, median of 5 runs of -X importtime; "
                  f"all: {sum(m for m, _ in rows) / 1e3:.1f}):")
            for micros, name in rows[:30]:
                print(f"  {micros / 1e3:8.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
