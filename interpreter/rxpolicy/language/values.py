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
from collections.abc import Mapping
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal
from types import MappingProxyType
from typing import ClassVar

import attrs

from rxpolicy.language.types import Kind, Type

__all__ = [
    "CENT",
    "MONEY_CONTEXT",
    "MONEY_ROUNDINGS",
    "Duration",
    "FractionalCount",
    "ROUNDING_MODES",
    "ROUNDING_UNITS",
    "Rounding",
    "SupplyLimit",
    "Unit",
    "DEFAULT_LEAP_DAY_BIRTHDAY",
    "LEAP_DAY_BIRTHDAYS",
    "add_months",
    "birthday",
    "describe",
    "days_in_year",
    "format_money",
    "is_money",
    "number_text",
    "round_money",
    "round_number",
    "whole_count",
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


class FractionalCount(ArithmeticError):
    """A number of days or months (``x days``) that has a fraction (*een gebroken aantal dagen of maanden*).

    The checker refuses a duration of a number that may have one (RX354), so a checked policy never raises it;
    it stands for the engine's side of that promise: a fraction is refused, never cut off."""


def whole_count(number: int | Decimal) -> int:
    """A number of days or months as an ``int``, exactly: ``Decimal("30")`` is 30; a fraction raises
    :class:`FractionalCount` (an ``ArithmeticError``: evaluation reports it as RX505), never cut off as ``int()``
    would."""
    if type(number) is int:
        return number
    whole = int(number)
    if whole != number:
        raise FractionalCount(f"{number} is not a whole number of days or months")
    return whole


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


#: Where a birthday on 29 February falls in a year without 29 February: the day after 28 February (Dutch
#: practice, the default) or 28 February itself (the calendar-month rule, as `born_on + 12 months` lays it).
LEAP_DAY_BIRTHDAYS = ("1 March", "28 February")
#: The reading rxpolicy takes where a policy does not declare one (docs/readings.md, "A birthday on 29 February").
DEFAULT_LEAP_DAY_BIRTHDAY = "1 March"


def birthday(born: dt.date, years: int, leap_day: str = DEFAULT_LEAP_DAY_BIRTHDAY) -> dt.date:
    """The day someone born on ``born`` turns ``years`` (verjaardag).

    A 29 February birthday falls on ``leap_day`` in a year without 29 February: on 1 March (the year is
    complete only when all of February has passed) or on 28 February (the calendar-month rule).
    """
    day = add_months(born, 12 * years)
    if born.month == 2 and born.day == 29 and day.day == 28 and leap_day == "1 March":
        day += dt.timedelta(days=1)
    return day


def whole_years_between(born: dt.date, on: dt.date, leap_day: str = DEFAULT_LEAP_DAY_BIRTHDAY) -> int:
    """Age in whole years on a date (leeftijd): the birthdays :func:`birthday` lays, counted up to ``on``.

    Someone born on 29 February turns a year older on ``leap_day`` in a year without 29 February, so the
    age and ``birthday(born, n, leap_day)`` always agree.
    """
    month, day = born.month, born.day
    if day == 29 and month == 2 and leap_day == "28 February" and not calendar.isleap(on.year):
        day = 28
    years = on.year - born.year
    # Compared without building the birthday (a case's age is worked out whenever a case is read); comparing
    # (month, day) is the 1 March reading: 28 February comes before a 29 February birthday.
    if on.month < month or (on.month == month and on.day < day):
        years -= 1
    return years


def days_in_year(year: int) -> int:
    """365, or 366 in a leap year."""
    return 366 if calendar.isleap(year) else 365


#: The rounding modes a rule may write, with their :mod:`decimal` modes (``down`` and ``up`` go toward and away
#: from zero, as :mod:`decimal`'s do: -1.5 rounded down is -1, rounded half up -2).
ROUNDING_MODES: Mapping[str, str] = MappingProxyType(
    {"half up": ROUND_HALF_UP, "half even": ROUND_HALF_EVEN, "down": ROUND_DOWN, "up": ROUND_UP})
#: What a rule may round to: money to ``whole euros`` or ``cents``; a number or percentage to ``a whole number``
#: or to ``N decimals`` (``decimals`` below).
ROUNDING_UNITS = ("whole euros", "cents", "a whole number", "decimals")


@attrs.frozen
class Rounding:
    """An explicit rounding step as a rule writes it: the mode and what is rounded to.

    ``rounded half up to whole euros`` is ``Rounding("half up", "whole euros")``; ``rounded down to a whole
    number`` is ``Rounding("down", "a whole number")``; ``rounded half up to 2 decimals`` is
    ``Rounding("half up", "decimals", 2)``.
    """

    mode: str = attrs.field(validator=attrs.validators.in_(tuple(ROUNDING_MODES)))
    unit: str = attrs.field(validator=attrs.validators.in_(ROUNDING_UNITS))
    #: Only for ``decimals``: how many (0 to 6, the decimals a number of a rule file may have).
    places: int = 0

    # The eight money roundings by name (``Rounding.HALF_UP_EUROS``), as before numbers could be rounded.
    HALF_UP_EUROS: ClassVar[Rounding]
    HALF_UP_CENTS: ClassVar[Rounding]
    DOWN_EUROS: ClassVar[Rounding]
    DOWN_CENTS: ClassVar[Rounding]
    UP_EUROS: ClassVar[Rounding]
    UP_CENTS: ClassVar[Rounding]
    HALF_EVEN_EUROS: ClassVar[Rounding]
    HALF_EVEN_CENTS: ClassVar[Rounding]

    @property
    def money(self) -> bool:
        """Whether this rounds money (to whole euros or cents); otherwise it rounds a number or percentage."""
        return self.unit in ("whole euros", "cents")

    @property
    def decimals(self) -> int:
        """The decimals the result keeps: 0 for whole euros and a whole number, 2 for cents."""
        if self.unit == "cents":
            return 2
        return self.places if self.unit == "decimals" else 0

    @property
    def decimal_mode(self) -> str:
        """The :mod:`decimal` rounding mode (``ROUND_HALF_UP``, …): the one table both the code writer and
        :func:`round_money` / :func:`round_number` use."""
        return ROUNDING_MODES[self.mode]

    @property
    def quantum(self) -> Decimal:
        """What the value is rounded to: ``1`` for whole euros or a whole number, ``0.01`` for cents or 2 decimals."""
        return Decimal(1).scaleb(-self.decimals)

    @property
    def written(self) -> str:
        """As a rule file writes it after ``rounded``: ``half up to whole euros``, ``down to 2 decimals``."""
        if self.unit == "decimals":
            return f"{self.mode} to {self.places} decimal{'' if self.places == 1 else 's'}"
        return f"{self.mode} to {self.unit}"


#: Every rounding of money: each mode to whole euros and to cents.
MONEY_ROUNDINGS = tuple(Rounding(mode, unit) for mode in ROUNDING_MODES for unit in ("whole euros", "cents"))
for _rounding in MONEY_ROUNDINGS:
    setattr(Rounding, f"{_rounding.mode.replace(' ', '_').upper()}_{'CENTS' if _rounding.decimals else 'EUROS'}",
            _rounding)


def round_money(amount: Decimal, rounding: Rounding) -> Decimal:
    """Round an amount as a rule says; the result keeps two decimals (``137.00``)."""
    context = MONEY_CONTEXT.copy()  # its own flags: the shared context is never written to
    rounded = amount.quantize(rounding.quantum, rounding=rounding.decimal_mode, context=context)
    return rounded.quantize(CENT, context=context)


def round_number(value: int | Decimal, rounding: Rounding) -> int | Decimal:
    """Round a number (or a percentage) as a rule says, exactly: to a whole number an ``int``, to N decimals a
    Decimal with N decimals (``2.50``). The generated code uses the same table (:attr:`Rounding.decimal_mode`)."""
    context = MONEY_CONTEXT.copy()
    rounded = Decimal(value).quantize(rounding.quantum, rounding=rounding.decimal_mode, context=context)
    return int(rounded) if rounding.decimals == 0 else rounded


def format_money(amount: Decimal) -> str:
    """Money as the contract writes it: a string with exactly two decimals."""
    text = str(amount)
    # Already in cents (what money in a case or a decision is): the text quantizing would give, without copying a
    # context per call (explanations write some thirty amounts a case).
    if text[-3:-2] == "." and "E" not in text and len(text) < 28:
        return text
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP, context=MONEY_CONTEXT.copy()))


def number_text(value: int | Decimal) -> str:
    """A number or a percentage as every renderer writes it: exact, with no exponent and no trailing zeros
    (``0.125``, ``1.5``, ``3``, ``0.3333333333333333333333333333``).

    The text of the value, not of the decimals the arithmetic happened to leave: ``2 * 1.50`` is ``3.00`` per case
    and 300 at scale 2 on the batch columns, and both are written ``3``, so the two roads give one text. (Money is
    different: always exactly two decimals, :func:`format_money`.)
    """
    if isinstance(value, int) or not value:  # no "-0" for a zero a negative factor left
        return str(int(value))
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def is_money(value: object, typ: Type | None) -> bool:
    """Whether a value is shown as money: by its declared type where known (a number or percentage with two
    decimals is not money); a value of unknown type only by its shape, a Decimal of exactly two decimals."""
    if typ is not None:
        return typ.kind is Kind.MONEY and isinstance(value, Decimal)
    return isinstance(value, Decimal) and (text := str(value))[-3:-2] == "." and "E" not in text


def describe(value: object, typ: Type | None = None) -> str:
    """A value in plain words for a message: ``yes``/``no``, ``12.40 EUR``, ``1 month``, ``not applicable``.

    ``typ``, the value's declared type where known, tells money (``1.50 EUR``) from a number (``1.5``) or a
    percentage (``1.5 %``); without it a Decimal is taken for money."""
    if value is None:
        return "not applicable"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal) and typ is not None and not is_money(value, typ):
        return number_text(value) + (" %" if typ.kind is Kind.PERCENT else "")
    if isinstance(value, Decimal):
        return f"{format_money(value)} EUR"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
