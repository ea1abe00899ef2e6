"""The error path of bulk evaluation: how fast invalid claims become error rows.

The columnar path of `rxpolicy batch` leaves the claims it cannot decide to the per-case evaluator; in the
synthetic claims (`rxpolicy claims synth`) those are the ~1 % invalid ones, each refused by the case check
with its code, field and message (`evaluate_records`, the function the batch's fallback calls). This script
makes N synthetic claims (seed 1, 2025, HollandZorg), keeps those refused, and times `evaluate_records` on
them: the best of five runs in CPU seconds of the process (on a shared machine, wall time mostly measures
the other jobs), the claims/s and µs per claim, and per error code.

With ``--against DIR`` (another checkout's ``interpreter`` directory, e.g. main's), the same measurement runs
alternately in new processes on this tree and on that one, and the ratio of each pair is printed (the machine
is shared: pairs taken side by side are compared, not runs minutes apart).

    .venv/bin/python benchmarks/bench_errors.py
    .venv/bin/python benchmarks/bench_errors.py --against /path/to/main/interpreter --pairs 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

#: Timed runs per measurement; the best is kept (the least disturbed by other jobs on the machine).
REPEATS = 5
HERE = Path(__file__).resolve().parent


def measure(n: int) -> dict[str, object]:
    """Seconds per invalid claim (best of REPEATS), overall and per error code, with the count of each."""
    from rxpolicy import load_policy
    from rxpolicy.bulk.core import evaluate_records, select_decisions
    from rxpolicy.bulk.synth import synth_claims

    policy = load_policy("hollandzorg")
    selection = select_decisions(policy)
    claims = list(synth_claims(n, 1, years=(2025, 2025), plans=policy.plans))
    rows = evaluate_records(policy, claims, selection=selection)
    invalid = [claim for claim, row in zip(claims, rows) if row.error is not None]
    by_code: dict[str, list[dict[str, object]]] = defaultdict(list)
    for claim, row in zip(claims, rows):
        if row.error is not None:
            by_code[row.error.code].append(claim)

    def best(records: list[dict[str, object]]) -> float:
        fastest = float("inf")
        for _ in range(REPEATS):
            started = time.process_time()
            evaluate_records(policy, records, selection=selection)
            fastest = min(fastest, time.process_time() - started)
        return fastest / len(records)

    return {"count": len(invalid), "each": best(invalid),
            "codes": {code: [len(records), best(records)] for code, records in sorted(by_code.items())}}


def run_in(interpreter: Path, n: int) -> dict[str, object]:
    """:func:`measure` in a new process on the code under ``interpreter``."""
    env = {**os.environ, "PYTHONPATH": str(interpreter)}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--claims", str(n), "--json"],
                          env=env, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout))


def show(label: str, m: dict[str, object]) -> None:
    each = float(m["each"])  # type: ignore[arg-type]
    print(f"{label}: {m['count']} invalid claims, {each * 1e6:.0f} µs each, {1 / each:,.0f} claims/s")
    for code, (count, seconds) in m["codes"].items():  # type: ignore[attr-defined]
        print(f"  {code}: {count:4} claims, {seconds * 1e6:.0f} µs each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=50_000, help="synthetic claims to draw the invalid ones from")
    parser.add_argument("--against", type=Path, help="another tree's interpreter directory to compare with")
    parser.add_argument("--pairs", type=int, default=3, help="alternating runs per side with --against")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.claims)))
        return
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    if args.against is None:
        show("this tree", measure(args.claims))
    else:
        mine = HERE.parent / "interpreter"
        ratios = []
        for _ in range(args.pairs):
            other, this = run_in(args.against, args.claims), run_in(mine, args.claims)
            show(f"{args.against}", other)
            show("this tree", this)
            ratios.append(float(other["each"]) / float(this["each"]))  # type: ignore[arg-type]
        print("speed-up per pair: " + ", ".join(f"{r:.2f}x" for r in ratios))
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
