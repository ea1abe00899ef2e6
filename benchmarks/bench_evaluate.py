"""Per stage and end to end: the compiled HollandZorg policy against a hand-written Python function of its rules.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_evaluate.py --cases 30000``). It
times loading (building the parser, parsing, checking, compiling; reading the policy from the cache
on disk; finding it again in a store), builds N varied cases dispensed in 2025, then times over the
same cases, *paired* with the yardstick: every repetition runs the hand-written function and then
the figure, so a busy machine slows both; the ratio is taken per pair and its median and range over
the ``--repeat`` pairs are shown.

(a) ``handwritten.decide(case.values)``, the yardstick (``benchmarks/handwritten.py``);
(a2) ``handwritten.decide_mapping(mapping)``, the same from the decoded JSON mapping, read by hand (dict
     lookups, ``date.fromisoformat``, ``Decimal(str)``, the contract's defaults, no further validation): the
     second yardstick of (e), for context (issue 9's goal for (e) is taken against (a));
(b) ``evaluate(policy, case, trace=False)`` on a built case;
(c) ``evaluate(policy, case, trace=True)`` on a built case;
(d) ``policy.epoch_for(day).fast(case.values)``, the generated function without the evaluate() wrapper;
(e) mapping → decisions: ``case_from_mapping`` + ``evaluate(trace=False)``, what an embedder calls, from the
    decoded JSON mapping (ISO dates, amounts as text), against (a) and against (a2) on the same mappings;
    (e') the same from a mapping of ``datetime.date`` and ``Decimal`` values;
(f) YAML text → decisions: ``parse_case`` + ``evaluate``, what ``rxpolicy eval`` does per case; (f2) the same
    for a case given as JSON text on one line (as ``rxpolicy eval -`` reads JSON Lines);
(g) decisions → JSON: ``evaluation_json`` of a traced evaluation (no what-if), timed with the evaluation, on
    one line (``indent=None``, as JSON Lines) and (g2) indented (as ``rxpolicy eval CASE --format json``);
(h) (c) plus the reasons of every decision.

(e) to (h) run on a tenth of the cases (they cost far more per case). Memory: what a loaded
policy holds, and what one evaluation holds with and without its trace (``tracemalloc``).
Before timing, every case's values from (a) and (b) are compared, so the yardstick is known to decide
the same. ``--profile`` adds cProfile listings of (b), (c) and of reading the cases of (e) and (f). Nothing here asserts a time; README.md
records the figures; ``bench_cold.py`` times fresh processes.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from decimal import Decimal

import handwritten

from rxpolicy import Case, CompiledPolicy, PolicyStore, case_from_mapping, case_to_yaml, evaluate, parse_case
from rxpolicy.engine.compile import compile_policy
from rxpolicy.explain.json import evaluation_json
from rxpolicy.explain.views import reasons
from rxpolicy.language.check import check_policy
from rxpolicy.language.facts import field_index
from rxpolicy.language.grammar import parser
from rxpolicy.language.load import policy_sources, resolve_policy_dir

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


# ----------------------------------------------------------------------------- timing

def _timed(run: Callable[[], object]) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    finally:
        gc.enable()


def best_of(run: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs, in seconds, with the garbage collector off."""
    return min(_timed(run) for _ in range(repeat))


def stage_timings(repeat: int) -> tuple[list[tuple[str, float]], CompiledPolicy]:
    """Seconds per loading stage (best of ``repeat``), and the compiled policy."""
    directory = resolve_policy_dir(POLICY)
    parser()  # warm the cache the later stages use; the build itself is timed on a fresh parser
    sources = policy_sources(directory)
    checked, _ = check_policy(sources)
    policy = compile_policy(checked)
    files = sum(len(layer.files) for layer in sources.layers)
    with tempfile.TemporaryDirectory(prefix="rxpolicy-bench-") as scratch:
        os.environ["RXPOLICY_CACHE_DIR"] = "off"
        build = best_of(parser.__wrapped__, repeat)
        os.environ["RXPOLICY_CACHE_DIR"] = scratch
        parser.__wrapped__()  # fills the cache on disk
        from_disk = best_of(parser.__wrapped__, repeat)
        PolicyStore(scratch).load(POLICY)  # fills the cache on disk
        store = PolicyStore(scratch)
        stages = [
            ("build LALR parser", build),
            ("  the parser from the cache on disk", from_disk),
            (f"parse + lower {files} rule files", best_of(lambda: policy_sources(directory), repeat)),
            ("check", best_of(lambda: check_policy(sources), repeat)),
            (f"compile ({len(policy.epochs)} epochs)", best_of(lambda: compile_policy(checked), repeat)),
            ("load: PolicyStore(), cache on disk off", best_of(lambda: PolicyStore(disk_cache=False).load(POLICY),
                                                                  repeat)),
            ("load: a new PolicyStore, from the disk", best_of(lambda: PolicyStore(scratch).load(POLICY), repeat)),
            ("load: the same PolicyStore again", best_of(lambda: store.load(POLICY), repeat)),
        ]
        del os.environ["RXPOLICY_CACHE_DIR"]
    return stages, policy


Loop = tuple[str, Callable[[], object], int]


def as_json(mapping: dict[str, object]) -> dict[str, object]:
    """A mapping as an embedder receives it: decoded JSON, with ISO dates and amounts as text."""
    return json.loads(json.dumps(mapping, default=str))  # type: ignore[no-any-return]


def loops(policy: CompiledPolicy, cases: list[Case], mappings: list[dict[str, object]]) -> list[Loop]:
    """The timed loops: label, the loop, and how many cases it goes over."""
    epoch_for = policy.epoch_for
    plans = policy.plans
    share = max(1, len(cases) // 10)
    few_cases, few_mappings = cases[:share], mappings[:share]
    json_mappings = [as_json(mapping) for mapping in few_mappings]
    texts = [case_to_yaml(case) for case in few_cases]
    json_texts = [json.dumps(case.to_mapping(), default=str) for case in few_cases]
    names = [d.name for d in policy.decisions]

    def wrapped(trace: bool) -> Callable[[], None]:
        def run() -> None:
            for case in cases:
                evaluate(policy, case, trace=trace)
        return run

    def raw_fast() -> None:
        for case in cases:
            epoch_for(case.values[DISPENSED_ON]).fast(case.values)  # type: ignore[union-attr,arg-type]

    def from_json_mapping() -> None:
        for mapping in json_mappings:
            evaluate(policy, case_from_mapping(mapping, plans=plans), trace=False)

    def from_mapping() -> None:
        for mapping in few_mappings:
            evaluate(policy, case_from_mapping(mapping, plans=plans), trace=False)

    def from_yaml() -> None:
        for text in texts:
            evaluate(policy, parse_case(text, plans=plans), trace=False)

    def from_json_text() -> None:
        for text in json_texts:
            evaluate(policy, parse_case(text, plans=plans), trace=False)

    def to_json() -> None:
        for case in few_cases:
            evaluation_json(evaluate(policy, case, trace=True), indent=None)

    def to_indented_json() -> None:
        for case in few_cases:
            evaluation_json(evaluate(policy, case, trace=True))

    def explain() -> None:
        for case in few_cases:
            evaluation = evaluate(policy, case, trace=True)
            for name in names:
                reasons(evaluation, name)

    return [("(b) evaluate(trace=False)", wrapped(False), len(cases)),
            ("(c) evaluate(trace=True)", wrapped(True), len(cases)),
            ("(d) epoch.fast(values)", raw_fast, len(cases)),
            ("(e) JSON mapping -> decisions", from_json_mapping, share),
            ("(e') typed mapping -> decisions", from_mapping, share),
            ("(f) YAML text -> decisions", from_yaml, share),
            ("(f2) JSON text -> decisions", from_json_text, share),
            ("(g) (c) + evaluation_json, one line", to_json, share),
            ("(g2) (c) + evaluation_json, indented", to_indented_json, share),
            ("(h) (c) + every decision's reasons", explain, share)]


#: The figures also paired with the second yardstick, (a2) ``decide_mapping`` on the same decoded JSON mappings.
MAPPING_PAIRED = ("(e) JSON mapping -> decisions",)


def paired(policy: CompiledPolicy, cases: list[Case], mappings: list[dict[str, object]],
           repeat: int) -> tuple[list[float], dict[str, list[float]], dict[str, list[tuple[float, float]]]]:
    """Seconds per case of the hand-written function, and per figure, one sample per repetition, run in pairs;
    and for the figures of :data:`MAPPING_PAIRED`, (a2) and the figure, paired the same way."""
    decide, decide_mapping = handwritten.decide, handwritten.decide_mapping
    json_mappings = [as_json(mapping) for mapping in mappings[:max(1, len(cases) // 10)]]

    def hand() -> None:
        for case in cases:
            decide(case.values)

    def hand_mapping() -> None:
        for mapping in json_mappings:
            decide_mapping(mapping)

    hand_times: list[float] = []
    times: dict[str, list[float]] = {}
    by_mapping: dict[str, list[tuple[float, float]]] = {}
    timed = loops(policy, cases, mappings)
    for _ in range(repeat):
        for label, run, count in timed:
            # The yardstick runs right before each figure: the ratio of the pair is what the machine's load spares.
            hand_times.append(_timed(hand) / len(cases))
            times.setdefault(label, []).append(_timed(run) / count)
            if label in MAPPING_PAIRED:
                pair = _timed(hand_mapping) / len(json_mappings), _timed(run) / count
                by_mapping.setdefault(label, []).append(pair)
    return hand_times, times, by_mapping


def disagreements(policy: CompiledPolicy, cases: list[Case], mappings: list[dict[str, object]]) -> list[Case]:
    """Cases on which the hand-written functions (from the values, and from the decoded JSON mapping of the
    same case) and the compiled policy decide differently."""
    return [case for case, mapping in zip(cases, mappings)
            if not handwritten.decide(case.values) == handwritten.decide_mapping(as_json(mapping))
            == evaluate(policy, case, trace=False).values]


def memory(policy: CompiledPolicy, cases: list[Case]) -> list[tuple[str, float]]:
    """KiB a loaded policy holds, and per evaluation without and with the trace (and the trace's explanations)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        loaded = PolicyStore(disk_cache=False).load(POLICY)
        policy_bytes = tracemalloc.get_traced_memory()[0] - before
        sample = cases[:1000]
        rows = [("a loaded policy (compiled in memory)", policy_bytes / 1024)]
        for label, trace, explained in (("one evaluation, trace=False", False, False),
                                        ("one evaluation, trace=True", True, False),
                                        ("  and every decision's reasons worked out", True, True)):
            before = tracemalloc.get_traced_memory()[0]
            kept = [evaluate(policy, case, trace=trace) for case in sample]
            if explained:
                for evaluation in kept[:100]:
                    for decision in policy.decisions:
                        reasons(evaluation, decision.name)
            held = tracemalloc.get_traced_memory()[0] - before
            rows.append((label, held / (100 if explained else len(sample)) / 1024))
            del kept
        del loaded
        return rows
    finally:
        tracemalloc.stop()


# ----------------------------------------------------------------------------- profiling

def profile(policy: CompiledPolicy, cases: list[Case], top: int) -> None:
    """cProfile listings of (b) and (c)."""
    sample = cases[:5000]
    for trace in (False, True):
        _print_profile(f"evaluate(trace={trace}) over {len(sample):,} cases",
                       lambda: [evaluate(policy, case, trace=trace) for case in sample], top)


def profile_reading(policy: CompiledPolicy, cases: list[Case], mappings: list[dict[str, object]], top: int) -> None:
    """cProfile listings of reading cases: ``case_from_mapping`` of decoded JSON mappings, ``parse_case`` of YAML
    and of JSON texts."""
    sample = [as_json(mapping) for mapping in mappings[:5000]]
    texts = [case_to_yaml(case) for case in cases[:1000]]
    json_texts = [json.dumps(case.to_mapping(), default=str) for case in cases[:1000]]
    runs: list[tuple[str, Callable[[], object]]] = [
        (f"case_from_mapping over {len(sample):,} decoded JSON mappings",
         lambda: [case_from_mapping(m, plans=policy.plans) for m in sample]),
        (f"parse_case over {len(texts):,} YAML texts", lambda: [parse_case(t, plans=policy.plans) for t in texts]),
        (f"parse_case over {len(json_texts):,} JSON texts",
         lambda: [parse_case(t, plans=policy.plans) for t in json_texts])]
    for title, run in runs:
        _print_profile(title, run, top)


def _print_profile(title: str, run: Callable[[], object], top: int) -> None:
    """The ``top`` functions by own time of one profiled run, from the listing's header on."""
    profiler = cProfile.Profile()
    profiler.runcall(run)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(f"\n--- cProfile of {title}, by own time ---")
    listing = out.getvalue().splitlines()
    header = next(i for i, line in enumerate(listing) if line.lstrip().startswith("ncalls"))
    print("\n".join(line for line in listing[header:] if line.strip()))


# ----------------------------------------------------------------------------- report

#: Goals (issue 9): figure → the least speed relative to the hand-written function, or the most times slower.
GOALS = {"(b)": ("speed", 1.0), "(c)": ("speed", 0.5), "(e)": ("speed", 0.5)}


def _spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def report(stages: list[tuple[str, float]], build: float, hand: list[float], times: dict[str, list[float]],
           by_mapping: dict[str, list[tuple[float, float]]], count: int, agreeing: int, repeat: int,
           memory_rows: list[tuple[str, float]]) -> str:
    """The figures as a plain-text table."""
    lines = [f"rxpolicy {POLICY}: {count:,} cases dispensed in 2025, {repeat} paired runs with gc off "
             f"(Python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})", "",
             f"{'stage':<44}{'ms':>10}"]
    lines += [f"  {label:<42}{seconds * 1e3:>10,.2f}" for label, seconds in stages]
    lines.append(f"  {f'build {count:,} cases (case_from_mapping)':<42}{build * 1e3:>10,.1f}"
                 f"   ({build / count * 1e6:,.1f} µs/case)")
    lines += ["", f"{'per case':<38}{'µs':>9}{'vs hand-written [range]':>28}",
              f"  {'(a) hand-written decide()':<36}{statistics.median(hand) * 1e6:>9.2f}{'1.00x':>17}"]
    verdicts = []
    for position, (label, samples) in enumerate(times.items()):
        pairs = hand[position::len(times)][:len(samples)]
        ratios = [h / t for h, t in zip(pairs, samples)]
        median, low, high = _spread(ratios)
        lines.append(f"  {label:<36}{statistics.median(samples) * 1e6:>9.2f}{median:>16.3f}x"
                     f"  [{low:.3f} – {high:.3f}]")
        if label in by_mapping:  # the same figure against the second yardstick, for context
            hand_mapping = statistics.median(h for h, _ in by_mapping[label])
            median2, low2, high2 = _spread([h / t for h, t in by_mapping[label]])
            lines.append(f"    {'vs (a2) decide_mapping(), ' + f'{hand_mapping * 1e6:.2f} µs':<43}{median2:>16.3f}x"
                         f"  [{low2:.3f} – {high2:.3f}]")
        goal = GOALS.get(label[:3])
        if goal:
            verdicts.append(f"{label[:3]} >= {goal[1]:.2f}x: {'met' if median >= goal[1] else 'not met'} "
                            f"({median:.2f}x)")
    evaluation = statistics.median(times["(c) evaluate(trace=True)"])
    json_cost = statistics.median(times["(g) (c) + evaluation_json, one line"]) - evaluation
    verdicts.append(f"JSON <= 10x the evaluation: {'met' if json_cost <= 10 * evaluation else 'not met'} "
                    f"({json_cost / evaluation:.0f}x: {json_cost * 1e6:,.0f} µs over {evaluation * 1e6:.1f} µs)")
    lines += ["", f"{'memory':<44}{'KiB':>10}"]
    lines += [f"  {label:<42}{kib:>10,.1f}" for label, kib in memory_rows]
    lines += ["", f"agreement: hand-written and compiled policy decide alike on {agreeing:,} of {count:,} cases",
              "goals: " + "; ".join(verdicts) + " (each against (a), decide() on built values)"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    options.add_argument("--cases", type=int, default=DEFAULT_CASES, help=f"cases to evaluate ({DEFAULT_CASES:,})")
    options.add_argument("--repeat", type=int, default=5, help="paired runs per figure (5)")
    options.add_argument("--seed", type=int, default=2025, help="seed of the case generator (2025)")
    options.add_argument("--profile", action="store_true", help="also print cProfile listings")
    args = options.parse_args(argv)
    if args.cases < 10 or args.repeat < 1:
        options.error("--cases must be at least 10 and --repeat at least 1")
    stages, policy = stage_timings(min(args.repeat, 3))
    rng = random.Random(args.seed)
    mappings = [case_mapping(rng) for _ in range(args.cases)]
    start = time.perf_counter()
    cases = [case_from_mapping(m, plans=policy.plans) for m in mappings]
    build = time.perf_counter() - start
    wrong = disagreements(policy, cases, mappings)
    hand, times, by_mapping = paired(policy, cases, mappings, args.repeat)
    print(report(stages, build, hand, times, by_mapping, len(cases), len(cases) - len(wrong), args.repeat,
                 memory(policy, cases)))
    if args.profile:
        profile(policy, cases, top=18)
        profile_reading(policy, cases, mappings, top=18)
    if wrong:
        print(f"\nfirst disagreement: {wrong[0].to_mapping()}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
