"""Domain values shared by every stage: durations, supply limits, money and calendar arithmetic.

The month arithmetic is the one the contract fixes: calendar months counted from the dispensing
date, a day that does not exist in the target month becoming that month's last day
(31 January + 1 month = 28 February). A period of days or months is only ever compared by
laying it from a date, never by converting months to a number of days.
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
import enum
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal

import attrs

__all__ = [
    "CENT",
    "MONEY_CONTEXT",
    "Duration",
    "Rounding",
    "SupplyLimit",
    "Unit",
    "add_months",
    "describe",
    "days_in_year",
    "format_money",
    "round_money",
    "whole_years_between",
]

CENT = Decimal("0.01")

#: The arithmetic every amount is computed and rounded in, whatever decimal context an embedder
#: has set for its own thread (never modified after import).
MONEY_CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN,
                                traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


class Unit(enum.Enum):
    """The unit of a :class:`Duration`."""

    DAYS = "days"
    MONTHS = "months"


@attrs.frozen(order=False)
class Duration:
    """A period of whole days or whole calendar months (``15 days``, ``1 month``)."""

    amount: int
    unit: Unit

    def end_from(self, start: dt.date) -> dt.date:
        """The date this period ends when laid from ``start`` (``start + period``)."""
        if self.unit is Unit.DAYS:
            return start + dt.timedelta(days=self.amount)
        return add_months(start, self.amount)

    def __str__(self) -> str:
        word = "day" if self.unit is Unit.DAYS else "month"
        return f"{self.amount} {word}{'' if self.amount == 1 else 's'}"


@attrs.frozen
class SupplyLimit:
    """The longest supply one dispensing may cover, with the alternatives the policy allows.

    ``15 days or the smallest pack``: a supply also fits when the smallest pack was dispensed.
    ``1 month or one course``: a supply also fits when it is no longer than one course of treatment.
    """

    duration: Duration
    or_smallest_pack: bool = False
    or_one_course: bool = False

    def __str__(self) -> str:
        text = str(self.duration)
        if self.or_smallest_pack:
            text += " or the smallest pack"
        if self.or_one_course:
            text += " or one course"
        return text


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` plus calendar months; a missing day becomes the month's last day."""
    index = start.year * 12 + start.month - 1 + months
    year, month0 = divmod(index, 12)
    day = start.day
    if day > 28:
        last = _MONTH_DAYS[month0] + (month0 == 1 and calendar.isleap(year))
        day = min(day, last)
    try:
        return dt.date(year, month0 + 1, day)
    except ValueError:  # beyond year 9999: an overflow, as a date plus too many days is (RX505, not a crash)
        raise OverflowError(f"date value out of range: {start} + {months} months") from None


def whole_years_between(born: dt.date, on: dt.date) -> int:
    """Age in whole years on a date.

    A birthday is laid with the same calendar arithmetic as every other period (the contract's
    month rule): someone born on 29 February has a birthday on 28 February in other years, so the
    age and ``born_on + 216 months`` (the 18th birthday) always agree.
    """
    # The birthday in ``on``'s year is ``add_months(born, 12 * years)``: the same month and day, but 28 February
    # for a 29 February birthday in a common year. Compared without building it (a case's age is worked out
    # whenever a case is read).
    years, month, day = on.year - born.year, born.month, born.day
    if day == 29 and month == 2 and not calendar.isleap(on.year):
        day = 28
    if month > on.month or (month == on.month and day > on.day):
        years -= 1
    return years


def days_in_year(year: int) -> int:
    """365, or 366 in a leap year."""
    return 366 if calendar.isleap(year) else 365


class Rounding(enum.Enum):
    """An explicit rounding step: mode and the unit rounded to."""

    HALF_UP_EUROS = ("half up", "whole euros")
    HALF_UP_CENTS = ("half up", "cents")
    DOWN_EUROS = ("down", "whole euros")
    DOWN_CENTS = ("down", "cents")
    UP_EUROS = ("up", "whole euros")
    UP_CENTS = ("up", "cents")
    HALF_EVEN_EUROS = ("half even", "whole euros")
    HALF_EVEN_CENTS = ("half even", "cents")

    @property
    def mode(self) -> str:
        """The rounding mode as written in a rule file."""
        return self.value[0]

    @property
    def unit(self) -> str:
        """'whole euros' or 'cents'."""
        return self.value[1]

    @property
    def decimal_mode(self) -> str:
        """The :mod:`decimal` rounding mode (``ROUND_HALF_UP``, …): the one table both the code writer and
        :func:`round_money` use."""
        return _DECIMAL_MODES[self.mode]

    @property
    def quantum(self) -> Decimal:
        """What the amount is rounded to: ``1`` for whole euros, ``0.01`` for cents."""
        return Decimal(1) if self.unit == "whole euros" else CENT


_DECIMAL_MODES = {"half up": ROUND_HALF_UP, "down": ROUND_DOWN, "up": ROUND_UP, "half even": ROUND_HALF_EVEN}


def round_money(amount: Decimal, rounding: Rounding) -> Decimal:
    """Round an amount as a rule says; the result keeps two decimals (``137.00``)."""
    context = MONEY_CONTEXT.copy()  # its own flags: the shared context is never written to
    rounded = amount.quantize(rounding.quantum, rounding=rounding.decimal_mode, context=context)
    return rounded.quantize(CENT, context=context)


def format_money(amount: Decimal) -> str:
    """Money as the contract writes it: a string with exactly two decimals."""
    text = str(amount)
    # Already in cents (what money in a case or a decision is): the text quantizing would give, without copying a
    # context per call (explanations write some thirty amounts a case).
    if text[-3:-2] == "." and "E" not in text and len(text) < 28:
        return text
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP, context=MONEY_CONTEXT.copy()))


def describe(value: object) -> str:
    """A value in plain words for a message: ``yes``/``no``, ``12.40 EUR``, ``1 month``, ``not applicable``."""
    if value is None:
        return "not applicable"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{format_money(value)} EUR"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
