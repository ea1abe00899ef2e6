"""Domain values (values.py) and the runtime helpers compiled rules call (runtime.py).

Expected results are calendar and arithmetic facts (31 January + 1 month is 28 February; 2024 has
366 days; 136.986 rounded half up is 137), and the contract's definitions of months, ages and money.
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
from decimal import Decimal

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rxpolicy import case_from_mapping, evaluate, load_policy
from rxpolicy.engine import runtime
from rxpolicy.language.values import (
    Duration,
    Rounding,
    SupplyLimit,
    Unit,
    add_months,
    days_in_year,
    format_money,
    round_money,
    whole_years_between,
)

D = dt.date.fromisoformat


def days(n: int) -> Duration:
    """A duration of ``n`` days."""
    return Duration(n, Unit.DAYS)


def months(n: int) -> Duration:
    """A duration of ``n`` calendar months."""
    return Duration(n, Unit.MONTHS)


# ----------------------------------------------------------------------------- add_months

@pytest.mark.parametrize(("start", "n", "expected"), [
    ("2025-01-31", 1, "2025-02-28"),
    ("2024-01-31", 1, "2024-02-29"),
    ("2025-03-31", 1, "2025-04-30"),
    ("2025-01-30", 1, "2025-02-28"),
    ("2025-01-28", 1, "2025-02-28"),
    ("2025-02-28", 1, "2025-03-28"),   # a clamped day is not carried on: not 31 March
    ("2025-01-31", 2, "2025-03-31"),   # counted from the start, not month by month
    ("2025-12-31", 1, "2026-01-31"),
    ("2025-11-30", 3, "2026-02-28"),
    ("2024-02-29", 12, "2025-02-28"),
    ("2024-02-29", 48, "2028-02-29"),
    ("2025-03-14", 0, "2025-03-14"),
    ("2025-03-31", -1, "2025-02-28"),
    ("2025-01-15", -1, "2024-12-15"),
    ("2024-03-31", -13, "2023-02-28"),
    ("2007-03-14", 216, "2025-03-14"),  # an 18th birthday
])
def test_add_months(start: str, n: int, expected: str) -> None:
    assert add_months(D(start), n) == D(expected)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)), st.integers(-600, 600))
def test_add_months_lands_in_the_right_month_on_the_same_or_last_day(start: dt.date, n: int) -> None:
    end = add_months(start, n)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == n
    last = calendar.monthrange(end.year, end.month)[1]
    assert end.day == (start.day if start.day <= last else last)


# ----------------------------------------------------------------------------- ages and years

@pytest.mark.parametrize(("born", "on", "age"), [
    ("2007-03-14", "2025-03-14", 18),   # on the birthday
    ("2007-03-15", "2025-03-14", 17),   # the day before
    ("2007-03-13", "2025-03-14", 18),
    ("2007-12-31", "2025-01-01", 17),
    ("2025-03-14", "2025-03-14", 0),
    ("2024-09-01", "2025-03-14", 0),
    # A 29 February birthday falls on 28 February in other years, as `born_on + 12 months` does.
    ("2004-02-29", "2025-02-27", 20),
    ("2004-02-29", "2025-02-28", 21),
    ("2004-02-29", "2024-02-28", 19),
    ("2004-02-29", "2024-02-29", 20),   # and on 29 February in a leap year
    ("1970-05-01", "2025-03-14", 54),
])
def test_whole_years_between(born: str, on: str, age: int) -> None:
    assert whole_years_between(D(born), D(on)) == age


def test_whole_years_between_is_the_birthday_laid_by_month_arithmetic() -> None:
    # The age compares the birthday without building it; it must be the birthday `add_months` lays (28 February
    # for a 29 February birthday in a common year), for every birth day of a leap cycle and days around it.
    births = [dt.date(1996, 1, 1) + dt.timedelta(days=d) for d in range(0, 4 * 366, 3)] + [dt.date(2000, 2, 29)]
    days = [dt.date(year, month, day) for year in (2023, 2024, 2025, 2100) for month in (1, 2, 3, 12)
            for day in (1, 27, 28, 29, 30, 31) if day <= calendar.monthrange(year, month)[1]]
    for born in births:
        for on in days:
            years = on.year - born.year
            expected = years - 1 if add_months(born, 12 * years) > on else years
            assert whole_years_between(born, on) == expected, (born, on)


@pytest.mark.parametrize(("year", "count"), [(2023, 365), (2024, 366), (2025, 365), (1900, 365), (2000, 366),
                                             (2100, 365)])
def test_days_in_year(year: int, count: int) -> None:
    assert days_in_year(year) == count
    assert days_in_year(year) == (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days


# ----------------------------------------------------------------------------- money

#: The one rounding table: round_money and the generated code (test_generated_code_rounds_by_the_same_table).
ROUNDING_TABLE = [pytest.param(*row, id=f"{row[0]}-{row[1].name}") for row in [
    ("136.986", Rounding.HALF_UP_EUROS, "137.00"),    # 250 x 200 / 365
    ("31.557", Rounding.HALF_UP_EUROS, "32.00"),      # 385 x 30 / 366
    ("136.5", Rounding.HALF_UP_EUROS, "137.00"),
    ("136.49", Rounding.HALF_UP_EUROS, "136.00"),
    ("-1.5", Rounding.HALF_UP_EUROS, "-2.00"),
    ("136.5", Rounding.HALF_EVEN_EUROS, "136.00"),
    ("137.5", Rounding.HALF_EVEN_EUROS, "138.00"),
    ("136.99", Rounding.DOWN_EUROS, "136.00"),
    ("136.01", Rounding.UP_EUROS, "137.00"),
    ("136", Rounding.UP_EUROS, "136.00"),
    ("1.005", Rounding.HALF_UP_CENTS, "1.01"),
    ("1.005", Rounding.HALF_EVEN_CENTS, "1.00"),
    ("1.015", Rounding.HALF_EVEN_CENTS, "1.02"),
    ("1.009", Rounding.DOWN_CENTS, "1.00"),
    ("1.001", Rounding.UP_CENTS, "1.01"),
    ("12.4", Rounding.HALF_UP_CENTS, "12.40"),
]]


@pytest.mark.parametrize(("amount", "rounding", "expected"), ROUNDING_TABLE)
def test_round_money(amount: str, rounding: Rounding, expected: str) -> None:
    rounded = round_money(Decimal(amount), rounding)
    assert rounded == Decimal(expected)
    assert str(rounded) == expected   # always two decimals


def test_generated_code_rounds_by_the_same_table(tmp_path: Path) -> None:
    """`… rounded <mode> to <unit>` in a rule gives what round_money gives, for every row above that a case reaches.

    The code writer and round_money share one table (Rounding.decimal_mode / quantum); this compiles a rule
    per rounding and evaluates the amounts of test_round_money's table (a price of 1000 times the amount, / 1000).
    """
    (tmp_path / "p").mkdir()
    rules = ['policy p\n  title "P"\nend\n']
    for rounding in Rounding:
        name = rounding.name.lower()
        rules.append(f'decision {name}: money\n  explain en "x"\nend\n\nrule r/{name.replace("_", "-")}\n'
                     f'  source "test"\n  then {name} = (medicine.price / 1000) rounded '
                     f'{rounding.mode} to {rounding.unit}\n  explain en "x"\n  explain nl "x"\nend\n')
    (tmp_path / "p" / "rules.rxp").write_text("\n".join(rules), encoding="utf-8")
    policy = load_policy(str(tmp_path / "p"))
    rows = [row.values for row in ROUNDING_TABLE if not row.values[0].startswith("-")]
    assert len(rows) >= 12
    for amount, rounding, expected in rows:
        price = str(Decimal(amount) * 1000)
        case = case_from_mapping({"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"},
                                  "prescription": {"prescriber": "gp"},
                                  "medicine": {"name": "x", "atc": "C08CA01", "price": price},
                                  "dispensing": {"supply_days": 30}})
        got = evaluate(policy, case)[rounding.name.lower()].value
        assert got == round_money(Decimal(amount), rounding) == Decimal(expected), (amount, rounding)
        assert str(got) == expected


def test_rounding_ignores_the_callers_decimal_context() -> None:
    with decimal.localcontext() as context:
        context.prec = 2
        context.rounding = decimal.ROUND_FLOOR
        assert str(round_money(Decimal("136.986"), Rounding.HALF_UP_EUROS)) == "137.00"
        assert format_money(Decimal("1234567.895")) == "1234567.90"


@pytest.mark.parametrize(("amount", "text"), [
    ("12.4", "12.40"), ("12", "12.00"), ("0", "0.00"), ("0.00", "0.00"), ("12.345", "12.35"), ("12.344", "12.34"),
    ("137.00", "137.00"), ("1E+2", "100.00"), ("385.0000", "385.00")])
def test_format_money(amount: str, text: str) -> None:
    assert format_money(Decimal(amount)) == text


def test_durations_read_as_the_contract_writes_them() -> None:
    assert [str(days(1)), str(days(15)), str(months(1)), str(months(12))] == ["1 day", "15 days", "1 month",
                                                                               "12 months"]
    assert str(SupplyLimit(days(15), or_smallest_pack=True)) == "15 days or the smallest pack"
    assert str(SupplyLimit(months(1), or_one_course=True)) == "1 month or one course"
    assert months(1).end_from(D("2025-01-31")) == D("2025-02-28")
    assert days(28).end_from(D("2025-01-31")) == D("2025-02-28")


# ----------------------------------------------------------------------------- fits_within

JAN_31 = D("2025-01-31")


@pytest.mark.parametrize(("supply", "limit", "fits"), [
    (days(28), months(1), True),     # ends 2025-02-28, the month's end
    (days(29), months(1), False),
    (days(29), days(29), True),
    (days(30), days(29), False),
    (months(1), days(28), True),     # a month of supply laid from 31 January is 28 days
    (months(2), months(1), False),
])
def test_fits_within_a_plain_duration(supply: Duration, limit: Duration, fits: bool) -> None:
    assert runtime.fits_within(supply, limit, JAN_31, False, None) is fits


@pytest.mark.parametrize(("supply", "smallest_pack", "fits"), [
    (days(15), False, True), (days(16), False, False), (days(16), True, True), (days(90), True, True)])
def test_fits_within_15_days_or_the_smallest_pack(supply: Duration, smallest_pack: bool, fits: bool) -> None:
    limit = SupplyLimit(days(15), or_smallest_pack=True)
    assert runtime.fits_within(supply, limit, JAN_31, smallest_pack, None) is fits


def test_the_smallest_pack_counts_only_where_the_limit_allows_it() -> None:
    assert runtime.fits_within(days(16), SupplyLimit(days(15)), JAN_31, True, None) is False
    assert runtime.fits_within(days(16), SupplyLimit(days(15), or_one_course=True), JAN_31, True, None) is False


@pytest.mark.parametrize(("supply", "course", "fits"), [
    (days(28), None, True),     # the month: 31 January + 1 month = 28 February
    (days(29), None, False),
    (days(40), 40, True),       # one course, when longer than the month
    (days(41), 40, False),
    (days(28), 7, True),        # a short course does not shorten the month
    (days(29), 7, False),
])
def test_fits_within_one_month_or_one_course(supply: Duration, course: int | None, fits: bool) -> None:
    limit = SupplyLimit(months(1), or_one_course=True)
    assert runtime.fits_within(supply, limit, JAN_31, False, course) is fits


def test_one_course_counts_only_where_the_limit_allows_it() -> None:
    assert runtime.fits_within(days(40), SupplyLimit(months(1)), JAN_31, False, 40) is False
    assert runtime.fits_within(days(40), SupplyLimit(months(1), or_smallest_pack=True), JAN_31, False, 40) is False


# ----------------------------------------------------------------------------- other runtime helpers

def test_durations_compare_by_the_date_they_end() -> None:
    assert runtime.duration_key(months(1), JAN_31) == D("2025-02-28")
    assert runtime.duration_key(SupplyLimit(days(15), or_smallest_pack=True), JAN_31) == D("2025-02-15")
    # from 31 January, 29 days is longer than a month; from 1 March it is shorter
    assert runtime.longest(JAN_31, months(1), days(29)) == days(29)
    assert runtime.longest(D("2025-03-01"), months(1), days(29)) == months(1)
    assert runtime.shortest(JAN_31, months(1), days(29)) == months(1)


def test_date_arithmetic_helpers() -> None:
    assert runtime.date_add(JAN_31, months(1), 1) == D("2025-02-28")
    assert runtime.date_add(D("2025-03-31"), months(1), -1) == D("2025-02-28")
    assert runtime.date_add(D("2025-03-01"), days(1), -1) == D("2025-02-28")
    assert runtime.first_day_of_next_month(D("2025-12-15")) == D("2026-01-01")
    assert runtime.first_day_of_next_month(D("2025-01-31")) == D("2025-02-01")


def test_a_parameter_with_no_value_in_force_signals_it() -> None:
    with pytest.raises(runtime.NotInForce) as raised:
        runtime.missing("contribution_cap")
    assert raised.value.parameter == "contribution_cap"


# ----------------------------------------------------------------------------- settle

def test_settle_one_hit() -> None:
    assert runtime.settle([(4, True)], 7) == (True, (4,))


def test_settle_agreeing_hits_are_all_reasons() -> None:
    assert runtime.settle([(5, False), (8, False)], 7) == (False, (5, 8))
    # equal amounts written differently agree
    assert runtime.settle([(5, Decimal("0.0")), (8, Decimal("0.00"))], 7)[1] == (5, 8)


def test_settle_an_exception_reached_through_two_parents_is_one_reason() -> None:
    assert runtime.settle([(9, True), (9, True), (3, True)], 7) == (True, (9, 3))


def test_settle_conflicting_hits_are_a_conflict() -> None:
    with pytest.raises(runtime.Conflict) as raised:
        runtime.settle([(5, True), (8, True), (11, False)], 7)
    assert raised.value.decision == 7
    assert raised.value.hits == ((5, True), (8, True), (11, False))


def test_settle_does_not_take_not_applicable_for_no() -> None:
    with pytest.raises(runtime.Conflict):
        runtime.settle([(5, None), (8, False)], 7)


def test_settle_no_hits_is_a_gap() -> None:
    with pytest.raises(runtime.Gap) as raised:
        runtime.settle([], 7)
    assert raised.value.decision == 7
