"""The engine computes in its own decimal context, whatever the caller's thread has set (issues 13.3 and 14.4).

An embedder may run with another precision, rounding or set of traps. Evaluation, the explanation's
recomputed tests and every renderer must give exactly what they give in Python's default context: the
same amounts, the same words, RX505 (not ``Decimal('Infinity')``) for a division by zero.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rxpolicy import Evaluation, PolicyStore, RxError, case_from_mapping, evaluate, load_case, load_policy
from rxpolicy.explain.json import evaluation_json
from rxpolicy.explain.markdown import evaluation_markdown
from rxpolicy.explain.text import evaluation_text

ROOT = Path(__file__).resolve().parents[2]
# A part-year case: the contribution cap is pro-rated (a division that is not exact, then a rounding).
PART_YEAR = ROOT / "examples" / "hollandzorg" / "contribution-part-year-compact.yaml"
SIGNALS = (decimal.Clamped, decimal.DivisionByZero, decimal.FloatOperation, decimal.Inexact,
           decimal.InvalidOperation, decimal.Overflow, decimal.Rounded, decimal.Subnormal, decimal.Underflow)


@contextmanager
def caller_context(change: Callable[[decimal.Context], None]) -> Iterator[None]:
    with decimal.localcontext() as context:
        change(context)
        yield


def flip(signal: type[decimal.DecimalException]) -> Callable[[decimal.Context], None]:
    def change(context: decimal.Context) -> None:
        context.traps[signal] = not context.traps[signal]
    return change


def set_precision(context: decimal.Context) -> None:
    context.prec = 3
    context.rounding = decimal.ROUND_DOWN


def trap_inexact(context: decimal.Context) -> None:
    context.traps[decimal.Inexact] = True


CONTEXTS = [pytest.param(flip(s), id=f"flip-{s.__name__}") for s in SIGNALS] + [
    pytest.param(set_precision, id="prec-3-round-down"), pytest.param(trap_inexact, id="traps-Inexact")]


def everything(evaluation: Evaluation) -> tuple[object, ...]:
    """What a caller gets: the values, the text, JSON and Markdown explanations (English and Dutch)."""
    return (evaluation.values, evaluation_text(evaluation), evaluation_text(evaluation, "nl"),
            evaluation_json(evaluation), evaluation_markdown(evaluation))


@pytest.fixture(scope="module")
def expected() -> tuple[object, ...]:
    policy = PolicyStore().load("hollandzorg")
    return everything(evaluate(policy, load_case(PART_YEAR, plans=policy.plans)))


@pytest.mark.parametrize("change", CONTEXTS)
def test_evaluation_and_every_renderer_ignore_the_callers_context(change: Callable[[decimal.Context], None],
                                                                  expected: tuple[object, ...]) -> None:
    policy = PolicyStore().load("hollandzorg")
    case = load_case(PART_YEAR, plans=policy.plans)
    with caller_context(change):
        got = everything(evaluate(policy, case))
        fast = evaluate(policy, case, trace=False).values
    assert got == expected
    assert fast == expected[0]
    assert "137.00" in str(expected[3])  # the pro-rated cap: the case computes what this test is about


def test_the_callers_context_is_left_as_it_was() -> None:
    policy = PolicyStore().load("hollandzorg")
    case = load_case(PART_YEAR, plans=policy.plans)
    with caller_context(set_precision):
        before = decimal.getcontext().copy()
        evaluation_text(evaluate(policy, case))
        after = decimal.getcontext()
        assert (after.prec, after.rounding, dict(after.traps)) == (before.prec, before.rounding, dict(before.traps))


def test_a_division_by_zero_is_rx505_even_where_the_caller_does_not_trap_it(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "rules.rxp").write_text(
        'policy p\n  title "P"\nend\n\ndecision fee: money\n  explain en "the fee"\nend\n\n'
        'rule fee/per-month\n  source "test"\n  then fee = 10.00 EUR / dispensing.months_in_use\n'
        '  explain en "x"\n  explain nl "x"\nend\n', encoding="utf-8")
    policy = load_policy(str(tmp_path / "p"))
    case = case_from_mapping({
        "dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
        "medicine": {"name": "x", "atc": "C08CA01", "price": "10.00"},
        "dispensing": {"supply_days": 30, "months_in_use": 0}})
    with caller_context(flip(decimal.DivisionByZero)), caller_context(flip(decimal.InvalidOperation)):
        with pytest.raises(RxError) as raised:
            evaluate(policy, case)
    assert [d.code for d in raised.value.diagnostics] == ["RX505"]


def test_threads_with_their_own_contexts_get_the_same_amounts_and_keep_their_contexts(
        expected: tuple[object, ...]) -> None:
    # evaluate() switches each calling thread to one shared engine context and back: threads that run
    # at once, each with another precision and rounding, must neither see nor change each other's.
    from concurrent.futures import ThreadPoolExecutor

    policy = PolicyStore().load("hollandzorg")
    case = load_case(PART_YEAR, plans=policy.plans)

    def work(precision: int) -> tuple[list[object], object, object]:
        with decimal.localcontext() as context:
            context.prec, context.rounding = precision, decimal.ROUND_DOWN
            got = [evaluate(policy, case, trace=bool(i % 2)).values for i in range(200)]
            return got, decimal.getcontext() is context, (context.prec, context.rounding)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, range(3, 15)))
    for precision, (got, same, settings) in zip(range(3, 15), results):
        assert got == [expected[0]] * 200
        assert same is True and settings == (precision, decimal.ROUND_DOWN)
