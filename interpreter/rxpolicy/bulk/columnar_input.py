"""A chunk of claims as the columns the columnar path evaluates, and which claims it may evaluate at all.

The per-case validator (:mod:`rxpolicy.engine.case_check`) decides what a valid case is. The columns here are
allowed only on claims that are *certainly* valid: typed input columns (Parquet: ``bool``, integers, ``decimal``
with at most two places, ``date32``, strings, lists of strings) whose values pass the same checks, field by field
and date against date. Every other claim is left to the per-case path, which accepts or refuses it with its
exact words; so this module may be stricter than the validator but never more lenient
(``tests/unit/test_columnar.py`` probes every field at its edges to keep it so).

Defaults come from the facts' own declarations (a value, or a function of the dispensing date evaluated once
per distinct date), and derived facts from :func:`rxpolicy.language.facts.derived_facts`, once per claim.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

import polars as pl

from rxpolicy.language.facts import AUTHORISATION_DATES, DERIVED, FIELDS, derived_facts
from rxpolicy.language.types import Kind

from .columnar import field_column

__all__ = ["prepare"]

_WRITTEN = tuple(path for path, spec in FIELDS.items() if not spec.derived)
#: The ATC code form the validator accepts (a letter, then digit pairs and letters as far as written).
_ATC = r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"
#: Money the columns hold exactly in 64-bit cents, with room for products.
_MONEY_BOUND = 10 ** 11
#: Limits the validator puts on single fields beyond their type (rxpolicy.engine.case_check._check_limits).
_AT_LEAST_ONE = ("dispensing.supply_days",)
_VOLUNTARY_EXCESS = ("insured.voluntary_excess", (0, 100, 200, 300, 400, 500))
_PLAN = "insured.plan"
#: Dates that must not come before another (the validator's cross-checks), as (earlier, later).
_ORDERED = (("insured.born_on", "dispensed_on"), ("insured.insured_from", "insured.insured_until"), AUTHORISATION_DATES)


def prepare(table: Any, plans: Collection[str]) -> tuple[pl.DataFrame, pl.Series] | None:
    """The prepared columns of a chunk and, per claim, whether the columns may evaluate it.

    None when the chunk as a whole is not for the columns (an unknown column, a column of another type): then
    every claim goes per case.
    """
    if table is None:
        return None
    names = set(table.column_names)
    if not names <= set(_WRITTEN) or "dispensed_on" not in names:
        return None
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    checks: list[pl.Expr] = []
    columns: list[pl.Expr] = []
    for path in _WRITTEN:
        spec = FIELDS[path]
        kind = spec.type.kind
        if path not in names:
            if spec.required:
                return None
            column: pl.Expr = pl.lit(None)
        else:
            dtype = frame.schema[path]
            typed = _typed(pl.col(path), dtype, kind)
            if typed is None:
                return None
            column = typed
            given = pl.col(path)
            if spec.required:
                checks.append(given.is_not_null())
            checks.append(_valid(given, column, path, kind, spec.type.choices, spec.open_choice, plans))
        columns.append(column.alias(field_column(path)))
    written_ok = frame.select(pl.all_horizontal([c.fill_null(False) for c in checks])).to_series()
    checks = []
    frame = frame.select(columns)
    # Defaults: a value, or a function of the dispensing date computed once per distinct date.
    days = frame.get_column(field_column("dispensed_on"))
    fills = []
    for path in _WRITTEN:
        spec = FIELDS[path]
        name = field_column(path)
        if spec.required:
            continue
        if callable(spec.default):
            distinct = days.unique().drop_nulls().to_list()
            fill = pl.col(field_column("dispensed_on")).replace_strict(
                distinct, [spec.default_for(d) for d in distinct], default=None, return_dtype=pl.Date)
        else:
            fill = _literal(spec.default, spec.type.kind)
        fills.append(pl.col(name).fill_null(fill).alias(name))
    frame = frame.with_columns(fills)
    for earlier, later in _ORDERED:
        a, b = pl.col(field_column(earlier)), pl.col(field_column(later))
        checks.append(a.is_null() | b.is_null() | (a <= b))
    granted, until = (pl.col(field_column(p)) for p in AUTHORISATION_DATES)
    checks.append(granted.is_null() == until.is_null())
    clean = written_ok & frame.select(pl.all_horizontal([c.fill_null(False) for c in checks])).to_series()
    frame = frame.with_columns(_derived(frame))
    return frame, clean


def _typed(column: pl.Expr, dtype: pl.DataType, kind: Kind) -> pl.Expr | None:
    """The column in the representation the compiler expects, or None when its type does not fit the field."""
    if dtype == pl.Null:
        return pl.lit(None)
    if kind is Kind.BOOL:
        return column if dtype == pl.Boolean else None
    if kind is Kind.DATE:
        return column if dtype == pl.Date else None
    if kind in (Kind.TEXT, Kind.ATC, Kind.ENUM):
        return column if dtype == pl.String else None
    if kind is Kind.LIST:
        return column if dtype == pl.List(pl.String) else None
    if kind is Kind.NUMBER:
        return column.cast(pl.Int64) if dtype.is_integer() else None
    if kind is Kind.MONEY:
        if dtype.is_integer():
            return column.cast(pl.Int64) * 100
        if isinstance(dtype, pl.Decimal) and dtype.scale is not None and dtype.scale <= 2:
            # Cents as integers: the decimal's unscaled value, brought to two places.
            return (column.cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64)
        return None
    return None


def _valid(given: pl.Expr, column: pl.Expr, path: str, kind: Kind, choices: tuple[str, ...], open_choice: bool,
           plans: Collection[str]) -> pl.Expr:
    """Whether a written value is certainly one the validator accepts (an empty cell: the default applies)."""
    ok: pl.Expr = pl.lit(True)
    if kind is Kind.MONEY:
        ok = (column >= 0) & (column < _MONEY_BOUND)
    elif kind is Kind.NUMBER:
        ok = column >= (1 if path in _AT_LEAST_ONE else 0)
    elif kind is Kind.ATC:
        ok = column.str.contains(_ATC)
    elif kind is Kind.ENUM and not open_choice:
        ok = column.is_in(list(choices))
    elif kind is Kind.LIST:
        ok = column.list.eval(pl.element().is_in(list(choices))).list.all()
    if path == _VOLUNTARY_EXCESS[0]:
        ok = ok & column.is_in([euros * 100 for euros in _VOLUNTARY_EXCESS[1]])
    if path == _PLAN:
        ok = ok & column.is_in(list(plans)) if plans else pl.lit(False)
    return given.is_null() | ok


def _literal(value: object, kind: Kind) -> pl.Expr:
    if value is None:
        return pl.lit(None)
    if kind is Kind.MONEY:
        assert isinstance(value, Decimal)
        return pl.lit(int(value * 100), pl.Int64)
    if kind is Kind.LIST:
        return pl.lit(list(value), pl.List(pl.String))  # type: ignore[call-overload]
    return pl.lit(value)


#: The derived facts :func:`_derived_columns` computes as columns, in :data:`DERIVED` order.
_VECTORISED = ("insured.age", "insured.days_insured", "days_in_year", "start_of_year", "end_of_year")


def _derived_columns() -> list[pl.Expr]:
    """:func:`rxpolicy.language.facts.derived_facts` as column expressions (used while the facts are these).

    The age counts whole years with the contract's month arithmetic: the birthday in the dispensing year is the
    date of birth's month and day, 29 February becoming 28 February outside leap years. The days insured count
    only the dispensing year. ``tests/unit/test_columnar.py`` compares both on every day of a leap cycle.
    """
    on, born = pl.col(field_column("dispensed_on")), pl.col(field_column("insured.born_on"))
    start, end = pl.col(field_column("insured.insured_from")), pl.col(field_column("insured.insured_until"))
    year = on.dt.year()
    leap = on.dt.is_leap_year()
    birthday_day = pl.when((born.dt.month() == 2) & (born.dt.day() == 29) & ~leap).then(28) \
        .otherwise(born.dt.day())
    before_birthday = (born.dt.month().cast(pl.Int32) * 100 + birthday_day.cast(pl.Int32)) > \
        (on.dt.month().cast(pl.Int32) * 100 + on.dt.day().cast(pl.Int32))
    age = (year.cast(pl.Int64) - born.dt.year().cast(pl.Int64)) - before_birthday.cast(pl.Int64)
    first_day = pl.date(year, 1, 1)
    last_day = pl.date(year, 12, 31)
    insured = (pl.min_horizontal(end, last_day) - pl.max_horizontal(start, first_day)).dt.total_days() + 1
    return [age.alias(field_column("insured.age")),
            pl.max_horizontal(insured, pl.lit(0)).cast(pl.Int64).alias(field_column("insured.days_insured")),
            pl.when(leap).then(366).otherwise(365).cast(pl.Int64).alias(field_column("days_in_year")),
            first_day.alias(field_column("start_of_year")), last_day.alias(field_column("end_of_year"))]


def _derived(frame: pl.DataFrame) -> list[pl.Series] | list[pl.Expr]:
    """The derived facts: as columns while they are the ones :func:`_derived_columns` knows, else worked out
    by the facts' own function once per claim."""
    if DERIVED == _VECTORISED:
        return _derived_columns()
    on, born, start, end = (frame.get_column(field_column(p)).to_list()
                            for p in ("dispensed_on", "insured.born_on", "insured.insured_from",
                                      "insured.insured_until"))
    rows = [derived_facts(*args) if None not in args else (None,) * len(DERIVED)
            for args in zip(on, born, start, end)]
    out = []
    for position, path in enumerate(DERIVED):
        values = [row[position] for row in rows]
        kind = FIELDS[path].type.kind
        out.append(pl.Series(field_column(path), values, dtype=pl.Date if kind is Kind.DATE else pl.Int64))
    return out

