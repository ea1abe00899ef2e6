"""Evaluation on a built case against the hand-written function: the least disturbed of many interleaved passes.

``bench_evaluate.py`` gives the median of paired ratios, whose range is wide on a machine shared with other
work. This script runs the four loops of issue 9's evaluation goals, interleaved, ``--rounds`` times over the
same cases and shows each one's fastest pass and the ratio of the fastest passes: a pass that nothing
interrupted is the closest to what a quiet machine shows.

(a) ``handwritten.decide(case.values)``; (b) ``evaluate(policy, case, trace=False)``; (c) the same with
``trace=True``; (d) ``policy.epoch_for(day).fast(case.values)``, the generated function alone.

    .venv/bin/python benchmarks/bench_best_of.py [--cases 3000] [--rounds 25]
"""

from __future__ import annotations

import argparse
import os
import random
from collections.abc import Callable, Sequence

import bench_evaluate
import handwritten

from rxpolicy import PolicyStore, case_from_mapping, evaluate


def main(argv: Sequence[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--cases", type=int, default=3000, help="cases per pass (3000)")
    options.add_argument("--rounds", type=int, default=25, help="passes of each loop (25)")
    options.add_argument("--seed", type=int, default=2025, help="seed of the case generator (2025)")
    args = options.parse_args(argv)
    policy = PolicyStore().load(bench_evaluate.POLICY)
    rng = random.Random(args.seed)
    cases = [case_from_mapping(bench_evaluate.case_mapping(rng), plans=policy.plans) for _ in range(args.cases)]
    decide, epoch_for, day = handwritten.decide, policy.epoch_for, bench_evaluate.DISPENSED_ON

    def hand() -> None:
        for case in cases:
            decide(case.values)

    def untraced() -> None:
        for case in cases:
            evaluate(policy, case, trace=False)

    def traced() -> None:
        for case in cases:
            evaluate(policy, case, trace=True)

    def fast() -> None:
        for case in cases:
            epoch_for(case.values[day]).fast(case.values)  # type: ignore[union-attr,arg-type]

    loops: dict[str, Callable[[], None]] = {"(a) hand-written decide()": hand, "(b) evaluate(trace=False)": untraced,
                                           "(c) evaluate(trace=True)": traced, "(d) epoch.fast(values)": fast}
    best = {label: float("inf") for label in loops}
    for _ in range(args.rounds):
        for label, run in loops.items():
            best[label] = min(best[label], bench_evaluate._timed(run) / len(cases))
    print(f"rxpolicy {bench_evaluate.POLICY}: {len(cases):,} cases, fastest of {args.rounds} interleaved passes "
          f"(load {os.getloadavg()[0]:.1f})\n")
    yardstick = best["(a) hand-written decide()"]
    for label, seconds in best.items():
        print(f"  {label:<30}{seconds * 1e6:>8.2f} µs{yardstick / seconds:>9.3f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
