"""Cases per second from a plain mapping: what an embedder pays to turn its data into a validated case.

Run with ``.venv/bin/python benchmarks/bench_case.py [--cases 5000] [--repeat 5]``. It reads every example
case once, turns each into the plain mapping an embedder would hold (dates as ``datetime.date``, money as
``Decimal``), and times, best of ``--repeat`` runs with the garbage collector off:

(a) ``case_from_mapping(data)``: the case builder generated for the declared facts (the full check only
    when the builder gives up); (a') the same from JSON-like strings (ISO dates, "12.40");
(b) the full check on its own (``CheckRun`` over the case tree), which is what (a) cost before the builder;
(c) ``evaluate(policy, case_from_mapping(data), trace=False)``: a mapping in, decisions out;
(d) ``evaluate`` alone on cases built up front, for comparison.

It prints the figures; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path

import datetime as dt
import re
from decimal import Decimal

from rxpolicy import PolicyStore, case_from_mapping, evaluate, load_case
from rxpolicy.engine.case_check import CheckRun, from_python

try:  # the declared facts (absent before facts were declared: run on an older checkout, (b) is left out)
    from rxpolicy.language.facts import statutory_facts
except ImportError:
    statutory_facts = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]


def _best(run: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.disable()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
        gc.enable()
    return best


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def _typed(value: object) -> object:
    """A mapping as Python code holds it: dates as ``datetime.date``, amounts as ``Decimal``."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, str) and _ISO.fullmatch(value):
        return dt.date.fromisoformat(value)
    if isinstance(value, str) and re.fullmatch(r"\d+\.\d\d", value):
        return Decimal(value)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    policy = PolicyStore().load("hollandzorg")
    examples = [_typed(load_case(p).to_mapping(only_changed=False))
                for p in sorted((ROOT / "examples" / "hollandzorg").glob("*.yaml"))]
    mappings = [examples[i % len(examples)] for i in range(args.cases)]
    as_json = [load_case(p).to_mapping(only_changed=False)
               for p in sorted((ROOT / "examples" / "hollandzorg").glob("*.yaml"))]
    json_mappings = [as_json[i % len(as_json)] for i in range(args.cases)]
    cases = [case_from_mapping(m) for m in mappings]  # type: ignore[arg-type]
    n = len(mappings)

    def built() -> None:
        for m in mappings:
            case_from_mapping(m)  # type: ignore[arg-type]

    def built_from_json() -> None:
        for m in json_mappings:
            case_from_mapping(m)

    def full() -> None:
        schema = statutory_facts()
        for m in mappings:
            CheckRun(schema=schema, source="<python>", from_file=False).check(from_python(m))

    def end_to_end() -> None:
        for m in mappings:
            evaluate(policy, case_from_mapping(m), trace=False)  # type: ignore[arg-type]

    def evaluate_only() -> None:
        for case in cases:
            evaluate(policy, case, trace=False)

    print(f"{n} cases from {len(examples)} example mappings, best of {args.repeat}")
    runs = [("(a) case_from_mapping, dates and Decimals", built),
            ("(a') case_from_mapping, JSON-like strings", built_from_json),
            ("(b) the full check alone (the road before)", full),
            ("(c) mapping in, decisions out", end_to_end),
            ("(d) evaluate only", evaluate_only)]
    for label, run in runs if statutory_facts is not None else [r for r in runs if r[1] is not full]:
        seconds = _best(run, args.repeat)
        print(f"{label:<48} {n / seconds:>10,.0f} cases/s  {seconds / n * 1e6:>8.1f} µs/case")


if __name__ == "__main__":
    main()
