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
    LEAP_DAY_BIRTHDAYS,
    MONEY_ROUNDINGS,
    Duration,
    Rounding,
    SupplyLimit,
    Unit,
    add_months,
    birthday,
    days_in_year,
    format_money,
    round_money,
    round_number,
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
    # A 29 February birthday falls on 1 March in other years (the default reading, docs/readings.md).
    ("2004-02-29", "2025-02-27", 20),
    ("2004-02-29", "2025-02-28", 20),
    ("2004-02-29", "2025-03-01", 21),
    ("2004-02-29", "2024-02-28", 19),
    ("2004-02-29", "2024-02-29", 20),   # and on 29 February in a leap year
    ("1970-05-01", "2025-03-14", 54),
])
def test_whole_years_between(born: str, on: str, age: int) -> None:
    assert whole_years_between(D(born), D(on)) == age
    assert whole_years_between(D(born), D(on), "1 March") == age


@pytest.mark.parametrize(("on", "march", "february"), [
    ("2026-02-27", 17, 17), ("2026-02-28", 17, 18), ("2026-03-01", 18, 18),
    ("2028-02-28", 19, 19), ("2028-02-29", 20, 20), ("2028-03-01", 20, 20)])  # 2028 has a 29 February
def test_a_29_february_birthday_under_each_reading(on: str, march: int, february: int) -> None:
    """Born 29 February 2008: 18 on 1 March 2026 (Dutch practice) or on 28 February 2026 (the month rule); the
    age and the birthday `birthday` lays always agree, under either reading."""
    born = D("2008-02-29")
    assert whole_years_between(born, D(on), "1 March") == march
    assert whole_years_between(born, D(on), "28 February") == february
    for reading, age in (("1 March", march), ("28 February", february)):
        assert birthday(born, age, reading) <= D(on) < birthday(born, age + 1, reading)
    assert birthday(born, 18, "1 March") == D("2026-03-01")
    assert birthday(born, 18, "28 February") == D("2026-02-28") == add_months(born, 216)
    assert birthday(born, 20, "1 March") == birthday(born, 20, "28 February") == D("2028-02-29")


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
       st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2199, 12, 31)),
       st.sampled_from(LEAP_DAY_BIRTHDAYS))
def test_the_age_counts_the_birthdays_birthday_lays(born: dt.date, on: dt.date, reading: str) -> None:
    age = whole_years_between(born, on, reading)
    if age >= 0:
        assert birthday(born, age, reading) <= on < birthday(born, age + 1, reading)


def test_whole_years_between_is_the_birthday_laid_by_month_arithmetic() -> None:
    # The age compares the birthday without building it; it must be the birthday `add_months` lays, for every
    # birth day of a leap cycle and days around it: 28 February for a 29 February birthday in a common year
    # under the month rule, the day after (1 March) under the Dutch reading.
    births = [dt.date(1996, 1, 1) + dt.timedelta(days=d) for d in range(0, 4 * 366, 3)] + [dt.date(2000, 2, 29)]
    days = [dt.date(year, month, day) for year in (2023, 2024, 2025, 2100) for month in (1, 2, 3, 12)
            for day in (1, 27, 28, 29, 30, 31) if day <= calendar.monthrange(year, month)[1]]
    for born in births:
        for on in days:
            years = on.year - born.year
            laid = add_months(born, 12 * years)
            expected = years - 1 if laid > on else years
            assert whole_years_between(born, on, "28 February") == expected, (born, on)
            if (born.month, born.day) == (2, 29) and laid.day == 28:
                laid += dt.timedelta(days=1)
            expected = years - 1 if laid > on else years
            assert whole_years_between(born, on) == whole_years_between(born, on, "1 March") == expected, (born, on)


@pytest.mark.parametrize(("year", "count"), [(2023, 365), (2024, 366), (2025, 365), (1900, 365), (2000, 366),
                                             (2100, 365)])
def test_days_in_year(year: int, count: int) -> None:
    assert days_in_year(year) == count
    assert days_in_year(year) == (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days


# ----------------------------------------------------------------------------- money

#: The one rounding table: round_money and the generated code (test_generated_code_rounds_by_the_same_table).
ROUNDING_TABLE = [pytest.param(*row, id=f"{row[0]}-{row[1].written}") for row in [
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
    for rounding in MONEY_ROUNDINGS:
        name = _decision(rounding)
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
        got = evaluate(policy, case)[_decision(rounding)].value
        assert got == round_money(Decimal(amount), rounding) == Decimal(expected), (amount, rounding)
        assert str(got) == expected


def _decision(rounding: Rounding) -> str:
    """A decision name per money rounding (``half_up_euros``)."""
    return f"{rounding.mode.replace(' ', '_')}_{'cents' if rounding.decimals else 'euros'}"


# Numbers at the .5 boundaries, for each mode: half up takes .5 away from zero, half even to the even neighbour,
# down drops the rest (toward zero), up takes any rest away from zero.
@pytest.mark.parametrize(("value", "mode", "unit", "places", "expected"), [
    ("2.5", "half up", "a whole number", 0, 3), ("3.5", "half up", "a whole number", 0, 4),
    ("2.49", "half up", "a whole number", 0, 2), ("-2.5", "half up", "a whole number", 0, -3),
    ("2.5", "half even", "a whole number", 0, 2), ("3.5", "half even", "a whole number", 0, 4),
    ("2.51", "half even", "a whole number", 0, 3),
    ("2.5", "down", "a whole number", 0, 2), ("2.999", "down", "a whole number", 0, 2),
    ("-2.5", "down", "a whole number", 0, -2),
    ("2.5", "up", "a whole number", 0, 3), ("2.001", "up", "a whole number", 0, 3), ("2", "up", "a whole number", 0, 2),
    ("0.125", "half up", "decimals", 2, "0.13"), ("0.125", "half even", "decimals", 2, "0.12"),
    ("0.135", "half even", "decimals", 2, "0.14"), ("0.125", "down", "decimals", 2, "0.12"),
    ("0.121", "up", "decimals", 2, "0.13"), ("7.25", "half up", "decimals", 1, "7.3"),
    ("7.25", "half even", "decimals", 1, "7.2"), ("7", "half up", "decimals", 3, "7.000"),
    ("7.5", "half up", "decimals", 0, 8),
])
def test_round_number(value: str, mode: str, unit: str, places: int, expected: object) -> None:
    rounded = round_number(Decimal(value), Rounding(mode, unit, places))
    if isinstance(expected, int):
        assert type(rounded) is int and rounded == expected   # a whole number is an int, as everywhere else
    else:
        assert isinstance(rounded, Decimal) and str(rounded) == expected   # exactly these decimals, never a float


def test_a_rounding_says_what_it_rounds_to() -> None:
    assert Rounding("half up", "whole euros").written == "half up to whole euros"
    assert Rounding("down", "a whole number").written == "down to a whole number"
    assert Rounding("half even", "decimals", 1).written == "half even to 1 decimal"
    assert Rounding("up", "decimals", 2).quantum == Decimal("0.01")
    assert Rounding("up", "cents").money and not Rounding("up", "decimals", 2).money
    with pytest.raises(ValueError):
        Rounding("half down", "cents")   # not a mode a rule can write


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
