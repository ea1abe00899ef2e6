"""Differential test: the compiled HollandZorg policy against a hand-written Python reading of its rules.

``benchmarks/handwritten.py`` is the benchmark's yardstick and an independent second reading of
the rule files. Thousands of seeded cases, generated around every boundary the rules name (ages 2,
18 and 21, 6 months in use, 1000 ml, 3 % above the cheapest, the contribution cap, the excess,
insured periods, authorisation dates, month ends), must get the same value for every decision from
both, and the same values and deciding rules with and without the trace.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest

from rxpolicy import Case, CompiledPolicy, case_from_mapping, evaluate, load_policy
from rxpolicy.language.facts import DIETARY, INDICATION_CODES, PRESCRIBER_KINDS, PURPOSES, ROUTES
from rxpolicy.language.values import CENT, add_months

SEED = 20250314
CASES = 4000
YEAR = 2025

Decide = Callable[[tuple[object, ...]], tuple[object, ...]]

#: ATC codes the rules name, codes just beside them, and ordinary ones.
ATC_CODES = (
    "N05BA04", "N05BB01", "N05CD02", "N05CF02", "N05B", "N05AH03", "N06AX27", "N06AB10",
    "G03AA07", "G03AC03", "G03A", "G02BA03", "G03BA03", "G01AF02",
    "J01CA04", "J01", "J02AC01", "J07AF01", "J07BF03", "J07AJ01", "J07CA02", "J07BC01", "J07AL02", "J07AM01",
    "B01AC09", "B01AC11", "B01AC21", "B01AC06", "B01AC", "C10AA05", "A10BA02", "V06DB",
)
SPECIAL_DAYS = (dt.date(YEAR, 1, 1), dt.date(YEAR, 1, 31), dt.date(YEAR, 2, 28), dt.date(YEAR, 3, 31),
                dt.date(YEAR, 8, 31), dt.date(YEAR, 12, 31))
AGES = (0, 1, 2, 3, 16, 17, 18, 19, 20, 21, 22, 45, 70)


def _load_handwritten() -> tuple[Decide, tuple[str, ...], Callable[[dict[str, Any]], tuple[object, ...]],
                                 Callable[[Any], list[tuple[object, ...]]]]:
    """``benchmarks/`` is not a package: load the module from its file."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "handwritten.py"
    spec = importlib.util.spec_from_file_location("rxpolicy_benchmarks_handwritten", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.decide, module.DECISIONS, module.decide_mapping, module.decide_table


decide, DECISIONS, decide_mapping, decide_table = _load_handwritten()


# ----------------------------------------------------------------------------- generating cases

def _money(rng: random.Random, low: str, high: str) -> Decimal:
    cents = rng.randint(int(Decimal(low) * 100), int(Decimal(high) * 100))
    return (Decimal(cents) / 100).quantize(CENT)


def _day_in_year(rng: random.Random) -> dt.date:
    if rng.random() < 0.3:
        return rng.choice(SPECIAL_DAYS)
    return dt.date(YEAR, 1, 1) + dt.timedelta(days=rng.randrange(365))


def _born(rng: random.Random, on: dt.date, ages: tuple[int, ...] = AGES) -> dt.date:
    """A birth date whose age on ``on`` sits at or beside a threshold (birthday the day before, on, after)."""
    if rng.random() < 0.05:
        born = rng.choice((dt.date(2004, 2, 29), dt.date(2008, 2, 29), dt.date(2007, 3, 1), dt.date(2000, 2, 29)))
    else:
        born = add_months(on, -12 * rng.choice(ages)) + dt.timedelta(
            days=rng.choice((-1, 0, 1, rng.randint(-364, 364))))
    return min(born, on)


def _insured(rng: random.Random, on: dt.date) -> dict[str, object]:
    insured: dict[str, object] = {
        "born_on": _born(rng, on),
        "plan": rng.choice((None, None, "Basic", "Compact", "Start", "Extra", "Plus", "Top", "No Risk I",
                            "No Risk II")),
        "voluntary_excess": rng.choice((0, 100, 200, 300, 400, 500)),
        "excess_used": rng.choice((Decimal("0.00"), Decimal("384.99"), Decimal("385.00"), Decimal("385.01"),
                                   Decimal("485.00"), _money(rng, "0", "900"))),
        "contribution_paid": rng.choice((Decimal("0.00"), Decimal("249.99"), Decimal("250.00"),
                                         Decimal("250.01"), _money(rng, "0", "300"))),
    }
    shifts = (-1, 0, 1, rng.randint(-200, 200), rng.randint(-500, 500))
    start = on + dt.timedelta(days=rng.choice(shifts)) if rng.random() < 0.35 else dt.date(YEAR, 1, 1)
    until = on + dt.timedelta(days=rng.choice(shifts)) if rng.random() < 0.35 else dt.date(YEAR, 12, 31)
    # Written only when not the default, so that the defaults are exercised too.
    if start != dt.date(YEAR, 1, 1):
        insured["insured_from"] = start
    if until != dt.date(YEAR, 12, 31) or until < start:
        insured["insured_until"] = max(until, start)
    return insured


def _supply_days(rng: random.Random, on: dt.date) -> int:
    """Days of supply at or beside each limit laid from ``on`` (15 days, 1, 3 and 12 months)."""
    limits = [15] + [(add_months(on, months) - on).days for months in (1, 3, 12)]
    if rng.random() < 0.6:
        return max(1, rng.choice(limits) + rng.choice((-1, 0, 1)))
    return rng.randint(1, 400)


def _prescription(rng: random.Random, supply_days: int) -> dict[str, object]:
    def flag(p: float) -> bool:
        return rng.random() < p

    return {
        "prescriber": rng.choice(PRESCRIBER_KINDS), "expert_in_indication": flag(0.4),
        "indication": rng.choice((None, None, "migraine", *INDICATION_CODES)),
        "first_for_indication": flag(0.4), "chronic": flag(0.5), "acute": flag(0.4),
        "course_days": rng.choice((None, supply_days - 1, supply_days, supply_days + 1, rng.randint(1, 60))),
        "medical_necessity": flag(0.2), "logistical_necessity": flag(0.15), "rare_condition": flag(0.1),
        "specialised_in_condition": flag(0.5), "challenge_test_done": rng.choice((None, True, False)),
        "appendix_2_condition_met": flag(0.7),
        "purpose": rng.choice(("treatment",) * 5 + PURPOSES),
    }


def _prices(rng: random.Random) -> dict[str, object]:
    """Price, cheapest in group (around +3 %) and reimbursement limit (around the price)."""
    cheapest = rng.choice((Decimal("100.00"), Decimal("200.00"), _money(rng, "0.50", "400")))
    if rng.random() < 0.5:
        boundary = (cheapest * Decimal("1.03")).quantize(CENT, rounding=ROUND_FLOOR)
        price = max(Decimal("0.00"), boundary + rng.choice((Decimal("-0.01"), 0, Decimal("0.01"), Decimal("0.02"))))
    else:
        price = rng.choice((_money(rng, "0", "60"), _money(rng, "0", "600"), _money(rng, "1000", "3000")))
    limit = rng.choice((None, None, price - Decimal("0.01"), price, price + Decimal("0.01"),
                        price - _money(rng, "0", "400"), _money(rng, "0", "100")))
    return {"price": price, "cheapest_in_group": rng.choice((None, cheapest)),
            "reimbursement_limit": None if limit is None else max(Decimal("0.00"), limit),
            "preferred": rng.choice((None, True, False))}


def _medicine(rng: random.Random, on: dt.date) -> dict[str, object]:
    atc = rng.choice(ATC_CODES)
    added = (None, None, dt.date(YEAR - 1, 12, 31), dt.date(YEAR, 1, 1), dt.date(YEAR, 1, 2), on,
             on + dt.timedelta(days=1), dt.date(2019, 5, 1))
    return {
        "name": f"medicine {atc}", "atc": atc, "route": rng.choice(ROUTES),
        "registered": rng.random() < 0.9, "appendix_1": rng.random() < 0.85, "appendix_2": rng.random() < 0.4,
        "appendix_2_added_on": rng.choice(added), "doctors_note_procedure": rng.random() < 0.3,
        "doctors_note_prescribers": rng.sample(PRESCRIBER_KINDS, rng.choice((0, 0, 1, 3))),
        "dietary_preparation": None if rng.random() < 0.7 else rng.choice(DIETARY),
        "infant_formula": rng.random() < 0.2, "chemists_preparation": rng.random() < 0.2,
        "authorisation_listed": rng.random() < 0.3, "equivalent_to_non_appendix_1": rng.random() < 0.1,
        "on_excess_free_list": rng.random() < 0.4, **_prices(rng),
    }


def _dispensing(rng: random.Random, supply_days: int) -> dict[str, object]:
    def fee() -> Decimal:
        return Decimal("0.00") if rng.random() < 0.6 else _money(rng, "0.01", "25")

    return {
        "supply_days": supply_days, "smallest_pack": rng.random() < 0.3,
        "ml_per_day": rng.choice((None, 999, 1000, 1001, rng.randint(100, 1500))),
        "new_to_patient": rng.random() < 0.3, "months_in_use": rng.choice((0, 5, 6, 7, rng.randint(0, 40))),
        "adjusted": rng.random() < 0.6, "during_admission": rng.random() < 0.1, "contracted": rng.random() < 0.9,
        "fees": {"dispensing": rng.choice((Decimal("0.00"), Decimal("7.50"), fee())), "delivery": fee(),
                 "counselling": fee(), "inhaler_instruction": fee()},
    }


def _authorisation(rng: random.Random, on: dt.date) -> dict[str, object] | None:
    if rng.random() < 0.4:
        return None
    granted = on + dt.timedelta(days=rng.choice((-30, -1, 0, 1)))
    valid_until = on + dt.timedelta(days=rng.choice((-1, 0, 1, 90)))
    return {"granted_on": granted, "valid_until": max(granted, valid_until)}


def _likely_covered(rng: random.Random, case: dict[str, Any]) -> None:
    """Clear the usual reasons for refusal, so that the money flow is exercised as often as the refusals."""
    on = case["dispensed_on"]
    case["insured"].update(insured_from=on - dt.timedelta(days=rng.choice((0, 1, rng.randint(0, 400)))),
                           insured_until=on + dt.timedelta(days=rng.choice((0, 1, rng.randint(0, 400)))))
    case["prescription"].update(prescriber=rng.choice(("gp", "specialist", "nurse_specialist", "dentist")),
                                purpose="treatment", rare_condition=False)
    case["medicine"].update(registered=True, appendix_1=True, equivalent_to_non_appendix_1=False,
                            appendix_2=rng.random() < 0.2, infant_formula=False, chemists_preparation=False,
                            preferred=rng.choice((None, True)), cheapest_in_group=None)
    case["dispensing"].update(supply_days=rng.randint(1, 15), during_admission=False)
    if rng.random() < 0.5:  # an adult with excess left, a price above the limit
        case["insured"].update(born_on=add_months(on, -12 * rng.randint(18, 80)),
                               excess_used=_money(rng, "0", "400"), contribution_paid=_money(rng, "0", "200"))
        price = case["medicine"]["price"]
        case["medicine"]["reimbursement_limit"] = max(Decimal("0.00"), price - _money(rng, "0", "300"))


def random_case(rng: random.Random) -> dict[str, object]:
    """One valid case as a nested mapping, dispensed in 2025."""
    on = _day_in_year(rng)
    supply_days = _supply_days(rng, on)
    case: dict[str, Any] = {
        "dispensed_on": on, "insured": _insured(rng, on), "prescription": _prescription(rng, supply_days),
        "medicine": _medicine(rng, on), "dispensing": _dispensing(rng, supply_days),
        "authorisation": _authorisation(rng, on)}
    if rng.random() < 0.5:
        _likely_covered(rng, case)
    elif case["medicine"]["infant_formula"] and rng.random() < 0.7:  # the three formula rules, ages around 2
        case["prescription"]["indication"] = "cows_milk_allergy"
        case["insured"]["born_on"] = _born(rng, on, ages=(1, 2, 3))
    return case


# ----------------------------------------------------------------------------- the comparison

@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return load_policy("hollandzorg")


@pytest.fixture(scope="module")
def cases(policy: CompiledPolicy) -> list[Case]:
    rng = random.Random(SEED)
    return [case_from_mapping(random_case(rng), plans=policy.plans) for _ in range(CASES)]


def _evaluations(policy: CompiledPolicy, cases: list[Case]) -> Iterator[tuple[Case, tuple[object, ...]]]:
    """Each case with the engine's values (every generated case is valid, so none may raise)."""
    for case in cases:
        yield case, evaluate(policy, case, trace=False).values


def _differences(case: Case, engine: tuple[object, ...]) -> dict[str, tuple[object, object]]:
    mine = decide(case.values)
    return {name: (ours, theirs) for name, ours, theirs in zip(DECISIONS, mine, engine)
            if ours != theirs or type(ours) is not type(theirs)}


def test_decisions_are_in_the_policys_order(policy: CompiledPolicy) -> None:
    assert DECISIONS == tuple(d.name for d in policy.decisions)


def test_handwritten_and_compiled_policy_agree(policy: CompiledPolicy, cases: list[Case]) -> None:
    compared = 0
    for case, engine in _evaluations(policy, cases):
        differences = _differences(case, engine)
        assert not differences, (differences, case.to_mapping())
        compared += 1
    assert compared == CASES


def test_the_handwritten_reading_of_a_json_mapping_decides_as_from_the_values(cases: list[Case]) -> None:
    # The benchmark's second yardstick reads the case as an embedder receives it (decoded JSON, fields left
    # out where they have their default); it must give every decision the value tuple gives.
    for case in cases[:1500]:
        data = json.loads(json.dumps(case.to_mapping(only_changed=True), default=str))
        assert decide_mapping(data) == decide(case.values), data


def test_the_handwritten_reading_of_an_arrow_table_decides_as_from_the_values(cases: list[Case]) -> None:
    # The benchmark's file-in yardstick reads the flattened columns `rxpolicy batch` reads from Parquet, empty
    # cells where the case leaves a field to its default; every decision must be what the value tuple gives.
    pytest.importorskip("pyarrow")
    from rxpolicy.bulk.synth_files import claims_table, flatten

    chosen = cases[:1500]
    table = claims_table([flatten(case.to_mapping(only_changed=True)) for case in chosen])
    assert table.column("insured.insured_from").null_count > 0  # the defaults are really exercised
    assert decide_table(table) == [decide(case.values) for case in chosen]
    assert decide_table(table.to_batches(max_chunksize=500)[1]) == [decide(c.values) for c in chosen[500:1000]]


def test_trace_changes_no_value_and_no_deciding_rule(policy: CompiledPolicy, cases: list[Case]) -> None:
    for case, _ in _evaluations(policy, cases[:1500]):
        fast, traced = evaluate(policy, case, trace=False), evaluate(policy, case, trace=True)
        assert (traced.values, traced.deciders) == (fast.values, fast.deciders), case.to_mapping()


def test_generated_cases_reach_every_outcome(policy: CompiledPolicy, cases: list[Case]) -> None:
    """Guards the agreement test against a generator that only ever produces easy cases."""
    seen: dict[str, Counter[object]] = {name: Counter() for name in DECISIONS}
    for _, values in _evaluations(policy, cases):
        for name, value in zip(DECISIONS, values):
            seen[name][value if not isinstance(value, Decimal) else value > 0] += 1
    for name in DECISIONS:
        assert {True, False} <= set(seen[name]) or name in ("max_supply", "min_supply"), (name, seen[name])
    assert None in seen["appendix_2_conditions"]
    # 12 months (pill, chronic), 1 month or one course, 15 days or the smallest pack, 1 month
    assert len(seen["max_supply"]) == 4 and len(seen["min_supply"]) == 2
    assert min(seen["covered"].values()) > CASES // 20


# ----------------------------------------------------------------------------- cases the generator rarely makes

def _case(policy: CompiledPolicy, **sections: Mapping[str, object]) -> Case:
    data: dict[str, Any] = {
        "dispensed_on": dt.date(YEAR, 1, 1), "insured": {"born_on": dt.date(1970, 5, 1)},
        "prescription": {"prescriber": "gp"},
        "medicine": {"name": "medicine", "atc": "C10AA05", "price": Decimal("12.40")},
        "dispensing": {"supply_days": 30}}
    for section, fields in sections.items():
        data[section] = {**data.get(section, {}), **fields}
    return case_from_mapping(data, plans=policy.plans)


@pytest.mark.parametrize("rare_condition", [True, False])
def test_doctors_note_lifts_only_the_appendix_2_reason(policy: CompiledPolicy, rare_condition: bool) -> None:
    """A doctor's note lifts the "added to Appendix 2 this year" reason only (it once contradicted the
    other reasons: RX503 on a valid case)."""
    case = _case(policy, prescription={"prescriber": "specialist", "rare_condition": rare_condition,
                                       "specialised_in_condition": True},
                 medicine={"appendix_2": True, "appendix_2_added_on": dt.date(YEAR, 1, 1),
                           "doctors_note_procedure": True})
    ours = decide(case.values)[DECISIONS.index("authorisation_required")]
    assert ours is rare_condition
    assert evaluate(policy, case, trace=False)["authorisation_required"].value is ours


def test_chains_proven_exclusive_decide_as_the_general_code(policy: CompiledPolicy, cases: list[Case]) -> None:
    """The `if/elif` chains the code writer proves equivalent (engine/codegen_tree.py) against the general code
    (collect the rules that apply, then settle), on every generated case: same values, same deciding rules."""
    from rxpolicy.api import check
    from rxpolicy.engine.compile import compile_policy

    general = compile_policy(check("hollandzorg")[0], structured=False)
    assert "settle(h" in general.epochs[-1].python and policy.epochs[-1].python != general.epochs[-1].python
    for case in cases:
        ours, theirs = evaluate(policy, case, trace=False), evaluate(general, case, trace=False)
        assert (ours.values, ours.deciders) == (theirs.values, theirs.deciders), case
