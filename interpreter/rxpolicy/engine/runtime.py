"""The small functions compiled rules call at evaluation time.

Generated code (see :mod:`rxpolicy.engine.compile`) refers to these by name. They are pure, keep no
state, and raise the internal signals :class:`Conflict`, :class:`Gap` and :class:`NotInForce`,
which :mod:`rxpolicy.engine.evaluate` turns into diagnostics that name rules and dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

from rxpolicy.language.values import Duration, SupplyLimit, Unit, add_months, birthday

__all__ = ["Conflict", "Gap", "ImpossibleDate", "NotInForce", "birthday_of", "date_add", "date_from", "fits_days", "duration_key",
           "fits_within", "quotient", "remainder", "settle"]


class Conflict(Exception):
    """Two rules without an exception relation give one decision different values."""

    def __init__(self, decision: int, hits: Sequence[tuple[int, object]]) -> None:
        super().__init__(decision, hits)
        self.decision = decision
        self.hits = tuple(hits)


class Gap(Exception):
    """No rule in force gives a decision a value for this case."""

    def __init__(self, decision: int) -> None:
        super().__init__(decision)
        self.decision = decision


class NotInForce(Exception):
    """A parameter a rule needs has no value in force on the dispensing date."""

    def __init__(self, parameter: str) -> None:
        super().__init__(parameter)
        self.parameter = parameter


def settle(hits: list[tuple[int, object]], decision: int) -> tuple[object, tuple[int, ...]]:
    """The value of a decision from the rules that decided it, and which rules those were.

    Several rules may decide at the same level when they agree (each is then a reason); when
    they disagree without one being an exception to the other, that is a conflict.
    """
    if len(hits) == 1:
        rule, value = hits[0]
        return value, (rule,)
    if not hits:
        raise Gap(decision)
    value = hits[0][1]
    for _, other in hits[1:]:
        if other != value:
            raise Conflict(decision, hits)
    # An exception to several rules that all apply is reached once per rule; it is one reason.
    return value, tuple(dict.fromkeys(rule for rule, _ in hits))


def missing(parameter: str) -> object:
    """Stands in for a parameter with no value in force in this period."""
    raise NotInForce(parameter)


def duration_key(value: Duration | SupplyLimit, start: dt.date) -> dt.date:
    """The date a duration ends when laid from ``start``: durations are compared by these dates."""
    if isinstance(value, SupplyLimit):
        value = value.duration
    return value.end_from(start)


def longest(start: dt.date, *values: Duration) -> Duration:
    """The longest of durations laid from ``start`` (``max`` of durations)."""
    return max(values, key=lambda d: d.end_from(start))


def shortest(start: dt.date, *values: Duration) -> Duration:
    """The shortest of durations laid from ``start`` (``min`` of durations)."""
    return min(values, key=lambda d: d.end_from(start))


def fits_within(supply: Duration, limit: Duration | SupplyLimit, start: dt.date, smallest_pack: bool,
                course_days: int | None) -> bool:
    """Whether a supply fits a limit laid from the dispensing date, or an alternative the limit allows."""
    if isinstance(limit, Duration):
        return supply.end_from(start) <= limit.end_from(start)
    if supply.end_from(start) <= limit.duration.end_from(start):
        return True
    if limit.or_smallest_pack and smallest_pack:
        return True
    return bool(limit.or_one_course and course_days is not None and supply.end_from(start)
                <= start + dt.timedelta(days=course_days))


def first_day_of_next_month(day: dt.date) -> dt.date:
    """The first day of the month after ``day``'s month."""
    try:
        return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    except ValueError:  # after December 9999: an overflow (RX505), as date arithmetic's own
        raise OverflowError("date value out of range") from None


def fits_days(days: int, limit: Duration | SupplyLimit, start: dt.date, smallest_pack: bool,
              course_days: int | None) -> bool:
    """``fits_within`` for a supply counted in days (no Duration built per case)."""
    period = limit.duration if isinstance(limit, SupplyLimit) else limit
    if period.unit is Unit.DAYS:
        fits = days <= period.amount
    else:
        fits = start + dt.timedelta(days=days) <= add_months(start, period.amount)
    if fits or not isinstance(limit, SupplyLimit):
        return fits
    if limit.or_smallest_pack and smallest_pack:
        return True
    return bool(limit.or_one_course and course_days is not None and days <= course_days)


class ImpossibleDate(ArithmeticError):
    """``date_from`` was given a year, month and day that make no date (an arithmetic failure of the rules)."""


def date_from(year: int | Decimal, month: int | Decimal, day: int | Decimal) -> dt.date:
    """The date with these parts; parts that are not whole or make no date are a failure of the computation."""
    parts = tuple(int(p) if p == int(p) else None for p in (year, month, day))
    try:
        if None in parts:
            raise ValueError("a part of a date is not a whole number")
        return dt.date(*parts)  # type: ignore[arg-type]
    except ValueError as error:
        raise ImpossibleDate(f"date_from({year}, {month}, {day}) is no date: {error}") from None


def birthday_of(born: dt.date, years: int | Decimal, leap_day: str) -> dt.date:
    """``birthday(insured.born_on, 18)``: the day someone born on ``born`` turns ``years``, a 29 February birthday
    on the policy's ``leap_day`` reading; a number of years that is not whole is a failure of the computation."""
    if years != int(years):
        raise ImpossibleDate(f"birthday({born}, {years}): a number of years that is not whole")
    return birthday(born, int(years), leap_day)


def quotient(dividend: int | Decimal, divisor: int | Decimal) -> int:
    """How many whole times ``divisor`` goes into ``dividend``, rounded toward zero (``quotient(7, 2)`` is 3)."""
    exact = Decimal(dividend) / Decimal(divisor)  # dividing by zero raises, as every division does
    return int(exact.to_integral_value(rounding=ROUND_DOWN))


def remainder(dividend: int | Decimal, divisor: int | Decimal) -> int | Decimal:
    """What is left of ``dividend`` after ``quotient`` whole ``divisor``s (``remainder(7, 2)`` is 1)."""
    return dividend - divisor * quotient(dividend, divisor)


def date_add(day: dt.date, period: Duration, sign: int) -> dt.date:
    """A date plus or minus a duration (calendar months clamp to the month's last day)."""
    return Duration(sign * period.amount, period.unit).end_from(day)
