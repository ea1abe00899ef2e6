"""Cases per second: the compiled HollandZorg policy against a hand-written Python function of its rules.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_evaluate.py --cases 30000``). It
times the stages of loading a policy, builds N varied cases dispensed in 2025 up front (timed on its
own), then times, best of ``--repeat`` runs with the garbage collector off, over the same cases:

(a) ``handwritten.decide(case.values)``, the yardstick (``benchmarks/handwritten.py``);
(b) ``evaluate(policy, case, trace=False)``;
(c) ``evaluate(policy, case, trace=True)``;
(d) ``policy.epoch_for(day).fast(case.values)``, the generated function without the evaluate() wrapper;
(e) (c) plus the reasons of every decision (what a JSON explanation needs), timed on a tenth of
    the cases and reported per case.

The targets (shared/design/architecture.md, section 10): (b) at least as fast as (a), (c) at least
half as fast. Before timing, every case's values from (a) and (d) are compared, so the yardstick is
known to decide the same (and evaluate() to raise on none of them). ``--profile`` adds cProfile listings of (b) and (c) and a breakdown of
what evaluate() spends per case. Nothing here asserts a time; README.md records the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import decimal
import gc
import io
import os
import platform
import pstats
import random
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal

import handwritten

from rxpolicy import Case, CompiledPolicy, case_from_mapping, evaluate
from rxpolicy.engine.compile import compile_policy
from rxpolicy.explain.views import reasons
from rxpolicy.language.check import check_policy
from rxpolicy.language.facts import field_index
from rxpolicy.language.grammar import parser
from rxpolicy.language.load import policy_sources, resolve_policy_dir
from rxpolicy.language.values import MONEY_CONTEXT

POLICY = "hollandzorg"
DEFAULT_CASES = 30_000  # not 200,000: that takes about 2.5 minutes at today's speeds (README.md)
DISPENSED_ON = field_index("dispensed_on")
ZERO = Decimal("0.00")

#: Medicines the generated cases dispense: name, ATC, route, price range, and what kind of use is typical.
MEDICINES: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("atorvastatin 20 mg tablet", "C10AA05", "oral", "1.20", "12.00", "chronic"),
    ("metformin 500 mg tablet", "A10BA02", "oral", "1.50", "9.00", "chronic"),
    ("omeprazole 20 mg capsule", "A02BC01", "oral", "1.80", "14.00", "chronic"),
    ("sertraline 50 mg tablet", "N06AB06", "oral", "2.00", "18.00", "chronic"),
    ("oxazepam 10 mg tablet", "N05BA04", "oral", "1.00", "6.00", "chronic"),
    ("zolpidem 10 mg tablet", "N05CF02", "oral", "1.50", "8.00", "chronic"),
    ("salbutamol 100 ug inhaler", "R03AC02", "inhalation", "4.00", "22.00", "chronic"),
    ("amoxicillin 500 mg capsule", "J01CA04", "oral", "2.00", "12.00", "acute"),
    ("ibuprofen 400 mg tablet", "M01AE01", "oral", "1.00", "5.00", "acute"),
    ("levonorgestrel/ethinylestradiol tablet", "G03AA07", "oral", "3.00", "40.00", "pill"),
    ("DTaP-IPV vaccine", "J07CA02", "other", "20.00", "60.00", "vaccine"),
    ("amino acid infant formula", "V06DB", "oral", "30.00", "400.00", "formula"),
    ("epoprostenol 1.5 mg infusion", "B01AC09", "intravenous", "800.00", "3000.00", "authorised"),
    ("adalimumab 40 mg pen", "L04AB04", "subcutaneous", "300.00", "1200.00", "authorised"),
)
PLANS = (None, None, None, "Basic", "Compact", "Start", "Extra", "Plus", "Top", "No Risk I", "No Risk II")


# ----------------------------------------------------------------------------- cases

def _money(rng: random.Random, low: str, high: str) -> Decimal:
    return Decimal(rng.randint(int(Decimal(low) * 100), int(Decimal(high) * 100))) / 100


def case_mapping(rng: random.Random) -> dict[str, object]:
    """One plausible dispensing in 2025 as a nested mapping (varied; no combination the rules leave open)."""
    name, atc, route, low, high, use = rng.choice(MEDICINES)
    on = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(365))
    age = rng.choice((0, 1, 2, 4, 12, 17, 19, 22)) if use in ("vaccine", "formula", "pill") else rng.randint(0, 95)
    born = on - dt.timedelta(days=age * 365 + rng.randrange(365))
    price = _money(rng, low, high)
    insured: dict[str, object] = {"born_on": born, "plan": rng.choice(PLANS),
                                  "voluntary_excess": rng.choice((0, 0, 0, 100, 200, 500)),
                                  "excess_used": _money(rng, "0", "400"), "contribution_paid": _money(rng, "0", "260")}
    if rng.random() < 0.1:  # insured for part of the year
        insured["insured_from"] = dt.date(2025, rng.randint(1, 12), 1)
    chronic = use == "chronic" and rng.random() < 0.7
    supply = rng.choice((7, 14, 15, 30, 30, 30, 90, 90, 180, 360) if use != "acute" else (5, 7, 10, 14, 30, 40))
    return {
        "dispensed_on": on, "insured": insured,
        "prescription": {
            "prescriber": rng.choice(("gp",) * 6 + ("specialist",) * 3 + ("nurse_specialist", "dentist")),
            "first_for_indication": rng.random() < 0.2, "chronic": chronic, "acute": use == "acute",
            "course_days": rng.choice((None, 7, 10, 40)) if use == "acute" else None,
            "medical_necessity": rng.random() < 0.05, "expert_in_indication": rng.random() < 0.5,
            "indication": "cows_milk_allergy" if use == "formula" else rng.choice((None, None, "endometriosis")),
            "challenge_test_done": rng.choice((None, True, False)) if use == "formula" else None},
        "medicine": {
            "name": name, "atc": atc, "route": route, "price": price,
            "appendix_2": use in ("pill", "vaccine", "formula") or rng.random() < 0.05,
            "infant_formula": use == "formula", "preferred": rng.choice((None, None, True, True, False)),
            "on_excess_free_list": rng.random() < 0.3,
            "reimbursement_limit": max(ZERO, price - _money(rng, "0", high)) if rng.random() < 0.2 else None,
            "cheapest_in_group": max(ZERO, price - _money(rng, "0", "1")) if rng.random() < 0.1 else None},
        "dispensing": {
            "supply_days": supply, "new_to_patient": rng.random() < 0.15, "smallest_pack": rng.random() < 0.3,
            "months_in_use": rng.randint(0, 60) if chronic else 0, "adjusted": chronic and rng.random() < 0.8,
            "ml_per_day": rng.randint(300, 1200) if use == "formula" else None,
            "fees": {"dispensing": Decimal("7.50") if rng.random() < 0.8 else Decimal("14.25"),
                     "delivery": Decimal("4.95") if rng.random() < 0.1 else 0,
                     "inhaler_instruction": Decimal("12.10") if route == "inhalation" and rng.random() < 0.3 else 0}},
        "authorisation": _authorisation(rng, on) if use in ("authorised", "formula") else None,
    }


def _authorisation(rng: random.Random, on: dt.date) -> dict[str, object] | None:
    if rng.random() < 0.3:
        return None
    return {"granted_on": on - dt.timedelta(days=rng.randint(0, 300)), "valid_until": dt.date(2025, 12, 31)}


def build_cases(count: int, seed: int, plans: Sequence[str]) -> tuple[list[Case], float]:
    """``count`` validated cases, and the seconds spent validating them (the mappings are made first)."""
    rng = random.Random(seed)
    mappings = [case_mapping(rng) for _ in range(count)]
    start = time.perf_counter()
    cases = [case_from_mapping(m, plans=plans) for m in mappings]
    return cases, time.perf_counter() - start


# ----------------------------------------------------------------------------- timing

def best_of(run: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs, in seconds, with the garbage collector off."""
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times)


def stage_timings(repeat: int) -> tuple[list[tuple[str, float]], CompiledPolicy]:
    """Seconds per loading stage (best of ``repeat``), and the compiled policy."""
    directory = resolve_policy_dir(POLICY)
    parser()  # warm the cache the later stages use; the build itself is timed on a fresh parser
    sources = policy_sources(directory)
    checked, _ = check_policy(sources)
    policy = compile_policy(checked)
    files = sum(len(layer.files) for layer in sources.layers)
    stages = [
        ("build LALR parser", best_of(parser.__wrapped__, repeat)),
        (f"parse + lower {files} rule files", best_of(lambda: policy_sources(directory), repeat)),
        ("check", best_of(lambda: check_policy(sources), repeat)),
        (f"compile ({len(policy.epochs)} epochs)", best_of(lambda: compile_policy(checked), repeat)),
    ]
    return stages, policy


def loops(policy: CompiledPolicy, cases: list[Case]) -> list[tuple[str, Callable[[], object]]]:
    """The timed loops, each over every case."""
    decide, epoch_for = handwritten.decide, policy.epoch_for

    def hand() -> None:
        for case in cases:
            decide(case.values)

    def wrapped(trace: bool) -> Callable[[], None]:
        def run() -> None:
            for case in cases:
                evaluate(policy, case, trace=trace)
        return run

    def raw_fast() -> None:
        for case in cases:
            epoch_for(case.values[DISPENSED_ON]).fast(case.values)  # type: ignore[union-attr,arg-type]

    rounds = 10
    explained = cases[: max(1, len(cases) // rounds)]

    def explain() -> None:
        # What `rxpolicy eval --format json` needs per case: every decision's deciding rules and reasons.
        # A tenth of the cases, ten times over (each round evaluates afresh), keeps the total the same.
        for _ in range(rounds):
            for case in explained:
                evaluation = evaluate(policy, case, trace=True)
                for name in names:
                    reasons(evaluation, name)

    names = [d.name for d in policy.decisions]
    return [("(a) hand-written decide()", hand), ("(b) evaluate(trace=False)", wrapped(False)),
            ("(c) evaluate(trace=True)", wrapped(True)), ("(d) epoch.fast(values)", raw_fast),
            ("(e) (c) + every decision's reasons", explain)]


def disagreements(policy: CompiledPolicy, cases: list[Case]) -> list[Case]:
    """Cases on which the hand-written function and the compiled policy decide differently."""
    return [case for case in cases if handwritten.decide(case.values) != evaluate(policy, case, trace=False).values]


# ----------------------------------------------------------------------------- profiling

def profile(policy: CompiledPolicy, cases: list[Case], top: int) -> None:
    """cProfile listings of (b) and (c), and what evaluate() spends per case on each of its parts."""
    sample = cases[:5000]
    for trace in (False, True):
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [evaluate(policy, case, trace=trace) for case in sample])
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
        print(f"\n--- cProfile of evaluate(trace={trace}) over {len(sample):,} cases, by own time ---")
        listing = out.getvalue().splitlines()
        header = next(i for i, line in enumerate(listing) if line.lstrip().startswith("ncalls"))
        print("\n".join(line for line in listing[header:] if line.strip()))
    epoch = policy.epoch_for(sample[0].dispensed_on)
    assert epoch is not None
    evaluations = {id(case): evaluate(policy, case, trace=False) for case in sample}
    parts: list[tuple[str, Callable[[Case], object]]] = [
        ("policy.epoch_for(case.dispensed_on)", lambda c: policy.epoch_for(c.dispensed_on)),
        ("  of which case.dispensed_on", lambda c: c.dispensed_on),
        ("decimal.localcontext(MONEY_CONTEXT) enter + exit", lambda c: _enter_exit()),
        ("epoch.fast(values)", lambda c: epoch.fast(c.values)),
        ("hand-written decide(values)", lambda c: handwritten.decide(c.values)),
        ("evaluation.receipt (lazy: only when read)", lambda c: evaluations[id(c)].receipt),
        ("  of which case.to_mapping(only_changed=False)", lambda c: c.to_mapping(only_changed=False))]
    print(f"\n--- parts of evaluate(), µs per case over {len(sample):,} cases (best of 3) ---")
    for label, part in parts:
        seconds = best_of(lambda: [part(case) for case in sample], 3)
        print(f"  {label:<52} {seconds / len(sample) * 1e6:8.2f}")


def _enter_exit() -> None:
    with decimal.localcontext(MONEY_CONTEXT):
        pass


# ----------------------------------------------------------------------------- report

def report(stages: list[tuple[str, float]], build: float, results: list[tuple[str, float]], count: int,
           agreeing: int, repeat: int) -> str:
    """The figures as a plain-text table."""
    lines = [f"rxpolicy {POLICY}: {count:,} cases dispensed in 2025, best of {repeat} runs with gc off "
             f"(Python {platform.python_version()}, {os.cpu_count()} CPUs)", "", f"{'stage':<40}{'ms':>12}"]
    lines += [f"  {label:<38}{seconds * 1e3:>12,.1f}" for label, seconds in stages]
    lines.append(f"  {f'build {count:,} cases (case_from_mapping)':<38}{build * 1e3:>12,.1f}"
                 f"   ({build / count * 1e6:,.1f} µs/case)")
    lines += ["", f"{'evaluation':<30}{'cases/s':>12}{'µs/case':>10}{'vs hand-written':>18}"]
    hand = results[0][1]
    for label, seconds in results:
        lines.append(f"  {label:<28}{count / seconds:>12,.0f}{seconds / count * 1e6:>10.2f}{hand / seconds:>17.2f}x")
    speed = {label[:3]: hand / seconds for label, seconds in results}
    lines += ["", f"agreement: hand-written and compiled policy decide alike on {agreeing:,} of {count:,} cases",
              f"targets: (b) >= 1.00x hand-written: {'met' if speed['(b)'] >= 1 else 'not met'} "
              f"({speed['(b)']:.2f}x); (c) >= 0.50x: {'met' if speed['(c)'] >= 0.5 else 'not met'} "
              f"({speed['(c)']:.2f}x)"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    options.add_argument("--cases", type=int, default=DEFAULT_CASES, help=f"cases to evaluate ({DEFAULT_CASES:,})")
    options.add_argument("--repeat", type=int, default=3, help="timed runs per figure; the best is shown (3)")
    options.add_argument("--seed", type=int, default=2025, help="seed of the case generator (2025)")
    options.add_argument("--profile", action="store_true", help="also print cProfile listings and a breakdown")
    args = options.parse_args(argv)
    if args.cases < 1 or args.repeat < 1:
        options.error("--cases and --repeat must be at least 1")
    stages, policy = stage_timings(args.repeat)
    cases, build = build_cases(args.cases, args.seed, policy.plans)
    wrong = disagreements(policy, cases)
    results = [(label, best_of(run, args.repeat)) for label, run in loops(policy, cases)]
    print(report(stages, build, results, len(cases), len(cases) - len(wrong), args.repeat))
    if args.profile:
        profile(policy, cases, top=18)
    if wrong:
        print(f"\nfirst disagreement: {wrong[0].to_mapping()}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
