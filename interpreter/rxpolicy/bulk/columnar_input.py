"""A chunk of claims as the columns the columnar path evaluates, and which claims it may evaluate at all.

The per-case validator (:mod:`rxpolicy.engine.case_check`) decides what a valid case is, from the facts the policy
declares (:class:`rxpolicy.language.facts.CaseSchema`: types, required facts, choices, limits, date orders,
all-or-none sections, defaults, computed facts). The columns here are allowed only on claims that are *certainly*
valid by the same declarations: typed input columns (Parquet: ``bool``, integers, ``decimal`` with at most two
places, ``date32``, strings, lists of strings) whose values pass the same checks. Every other claim is left to the
per-case path, which accepts or refuses it with its exact words; so this module may be stricter than the
validator but never more lenient (``tests/unit/test_columnar.py`` probes every fact at its edges).

Defaults come from the declarations (a value, or another fact); computed facts from their built-in functions,
written here as date arithmetic on whole columns (a built-in without such a form is called once per distinct
combination of arguments).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

import polars as pl

from rxpolicy.language.facts import CaseSchema, FactRef, FieldSpec
from rxpolicy.language.types import Kind
from rxpolicy.language.values import DEFAULT_LEAP_DAY_BIRTHDAY

from .columnar import field_column

__all__ = ["prepare"]

#: The ATC code form the validator accepts (a letter, then digit pairs and letters as far as written).
_ATC = r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"
#: Money the columns hold exactly in 64-bit cents, with room for products.
_MONEY_BOUND = 10 ** 11


def prepare(table: Any, schema: CaseSchema, plans: Collection[str]) -> tuple[pl.DataFrame, pl.Series] | None:
    """The prepared columns of a chunk and, per claim, whether the columns may evaluate it.

    None when the chunk as a whole is not for the columns (an unknown column, a column of another type): then
    every claim goes per case.
    """
    if table is None:
        return None
    try:
        return _prepare(table, schema, plans)
    except _NotForColumns:
        return None


class _NotForColumns(Exception):
    """Something in the chunk the columns cannot hold: every claim of it goes per case."""


def _prepare(table: Any, schema: CaseSchema, plans: Collection[str]) -> tuple[pl.DataFrame, pl.Series] | None:
    names = set(table.column_names)
    written = schema.written
    if not names <= set(written) or schema.period_date not in names:
        return None
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    # Every prepared column and every check is one expression over the input columns, evaluated in one pass:
    # Polars computes a part two of them share (a default read by a computed fact, say) once.
    checks: list[pl.Expr] = []
    given: dict[str, pl.Expr] = {}
    for path in written:
        spec = schema.fields[path]
        if path not in names:
            if spec.required:
                return None
            given[path] = pl.lit(None, _dtype(spec.type.kind))
            continue
        typed = _typed(pl.col(path), frame.schema[path], spec.type.kind)
        if typed is None:
            return None
        given[path] = typed
        if spec.required:
            checks.append(pl.col(path).is_not_null())
        checks.append(pl.col(path).is_null() | _valid(typed, spec, plans))
    # Sections written with all their facts or none: as given, before defaults.
    for section in schema.all_or_none:
        inside = [given[p].is_null() for p in written if p.rpartition(".")[0] == section]
        if inside:
            checks.append(pl.all_horizontal(inside) | ~pl.any_horizontal(inside))
    frame, values = _values(frame, schema, given)
    for path in written:
        for other, after, _ in schema.fields[path].orders:
            first, later = (other, path) if not after else (path, other)
            a, b = values[first], values[later]
            checks.append(a.is_null() | b.is_null() | (a <= b))
    for path in schema.derived:
        if not schema.fields[path].type.nullable:
            checks.append(values[path].is_not_null())
    clean = pl.all_horizontal([c.fill_null(False) for c in checks]) if checks else pl.lit(True)
    prepared = frame.lazy().select(*(value.alias(field_column(path)) for path, value in values.items()),
                                   clean.alias(_CLEAN)).collect()
    return prepared.drop(_CLEAN), prepared.get_column(_CLEAN)


#: The column saying whether the columns may evaluate a claim (dropped before the frame is returned).
_CLEAN = "_clean"


def _dtype(kind: Kind) -> pl.DataType | type[pl.DataType]:
    types: dict[Kind, pl.DataType | type[pl.DataType]] = {
        Kind.BOOL: pl.Boolean, Kind.DATE: pl.Date, Kind.MONEY: pl.Int64, Kind.NUMBER: pl.Int64,
        Kind.LIST: pl.List(pl.String)}
    return types.get(kind, pl.String)


def _typed(column: pl.Expr, dtype: pl.DataType, kind: Kind) -> pl.Expr | None:
    """The column in the representation the compiler expects, or None when its type does not fit the fact."""
    if dtype == pl.Null:
        return pl.lit(None, _dtype(kind))
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
            # Cents as integers: the decimal brought to two places, times 100 (exact in decimals).
            return (column.cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64)
        return None
    return None


def _valid(column: pl.Expr, spec: FieldSpec, plans: Collection[str]) -> pl.Expr:
    """Whether a written value is certainly one the validator accepts."""
    kind = spec.type.kind
    ok: pl.Expr = pl.lit(True)
    unit = 100 if kind is Kind.MONEY else 1
    if kind is Kind.MONEY:
        ok = (column >= 0) & (column < _MONEY_BOUND)
    elif kind is Kind.NUMBER:
        ok = column >= 0
    elif kind is Kind.ATC:
        ok = column.str.contains(_ATC)
    elif kind is Kind.ENUM and not spec.open_choice:
        ok = column.is_in(list(spec.type.choices))
    elif kind is Kind.LIST:
        ok = column.list.eval(pl.element().is_in(list(spec.type.choices))).list.all()
    if spec.at_least is not None:
        if kind not in (Kind.MONEY, Kind.NUMBER):
            return pl.lit(False)
        ok = ok & (column >= int(spec.at_least * unit)) if spec.at_least * unit == int(spec.at_least * unit) \
            else pl.lit(False)
    if spec.allowed:
        if kind not in (Kind.MONEY, Kind.NUMBER) or not all(isinstance(v, (int, Decimal)) for v in spec.allowed):
            ok = ok & column.is_in([v for v in spec.allowed if isinstance(v, str)])
        else:
            ok = ok & column.is_in([int(Decimal(str(v)) * unit) for v in spec.allowed])
    if spec.one_of_plans:
        ok = ok & column.is_in(list(plans)) if plans else pl.lit(False)
    return ok


def _values(frame: pl.DataFrame, schema: CaseSchema,
            given: dict[str, pl.Expr]) -> tuple[pl.DataFrame, dict[str, pl.Expr]]:
    """Every fact's expression: defaults filled in, computed facts added, each after the facts it reads (as
    the validator does). A computed fact without a vectorised form is called per distinct combination of its
    arguments and added to the frame as a column of its own."""
    values: dict[str, pl.Expr] = {}

    def value(path: str) -> pl.Expr:
        nonlocal frame
        if path in values:
            return values[path]
        spec = schema.fields[path]
        if spec.derived:
            arguments = [value(a) for a in spec.arguments]
            vector = _VECTORISED.get(spec.computed_by or "")
            if vector is not None:
                unknown = pl.any_horizontal([a.is_null() for a in arguments])
                # A fact that counts birthdays passes its reading of 29 February on, as `spec.compute` does.
                reading = {} if spec.leap_day_birthday is None else {"leap_day": spec.leap_day_birthday}
                found = pl.when(unknown).then(None).otherwise(vector(*arguments, **reading)) \
                    .cast(_dtype(spec.type.kind))
            else:
                inputs = frame.select(*(a.alias(field_column(n)) for a, n in zip(arguments, spec.arguments)))
                frame = frame.with_columns(_computed(inputs, spec, schema).alias(field_column(path)))
                found = pl.col(field_column(path))
        elif not spec.required:
            fill = value(spec.default.path) if isinstance(spec.default, FactRef) \
                else _literal(spec.default, spec.type.kind)
            found = given[path].fill_null(fill)
        else:
            found = given[path]
        values[path] = found
        return found

    for path in schema.fields:
        value(path)
    return frame, {path: values[path] for path in schema.fields}


def _whole_years_between(born: pl.Expr, on: pl.Expr, leap_day: str = DEFAULT_LEAP_DAY_BIRTHDAY) -> pl.Expr:
    """Age in whole years as :func:`rxpolicy.language.values.whole_years_between` counts it.

    The age is one less while the birthday in ``on``'s year is still to come. A 29 February birthday in a year that
    is not a leap year is on 1 March (comparing month and day does that: 28 February is before it), or on
    28 February under the other reading (``leap_day``).
    """
    day: pl.Expr = born.dt.day()
    if leap_day == "28 February":
        day = pl.when((born.dt.month() == 2) & (born.dt.day() == 29) & ~on.dt.is_leap_year()) \
            .then(pl.lit(28, pl.Int8)).otherwise(born.dt.day())
    born_key = born.dt.month().cast(pl.Int32) * 100 + day.cast(pl.Int32)
    on_key = on.dt.month().cast(pl.Int32) * 100 + on.dt.day().cast(pl.Int32)
    years = on.dt.year().cast(pl.Int64) - born.dt.year().cast(pl.Int64)
    return years - (born_key > on_key).cast(pl.Int64)


def _days_insured_in_year(insured_from: pl.Expr, insured_until: pl.Expr, on: pl.Expr) -> pl.Expr:
    """The days of the insured period in ``on``'s year (never fewer than none), as the built-in counts them."""
    first_day = pl.max_horizontal(insured_from, pl.date(on.dt.year(), 1, 1))
    last_day = pl.min_horizontal(insured_until, pl.date(on.dt.year(), 12, 31))
    return ((last_day - first_day).dt.total_days() + 1).clip(lower_bound=0)


#: The built-in functions of computed facts as date arithmetic on whole columns (arguments are never null here:
#: a null argument gives null, as the built-in's caller does). A built-in not listed is called per distinct
#: combination of its arguments. ``tests/unit/test_columnar_input.py`` compares each with its function.
_VECTORISED: dict[str, Callable[..., pl.Expr]] = {
    "whole_years_between": _whole_years_between,
    "days_insured_in_year": _days_insured_in_year,
    "days_in_year": lambda on: pl.when(on.dt.is_leap_year()).then(366).otherwise(365),
    "start_of_year": lambda on: pl.date(on.dt.year(), 1, 1),
    "end_of_year": lambda on: pl.date(on.dt.year(), 12, 31),
}


def _computed(frame: pl.DataFrame, spec: FieldSpec, schema: CaseSchema) -> pl.Series:
    """A computed fact by its built-in function, once per distinct combination of its arguments."""
    function = spec.compute  # the fact's readings bound (leap day birthday), as the per-case builder has them
    arguments = [frame.get_column(field_column(a)) for a in spec.arguments]
    money = [schema.fields[a].type.kind is Kind.MONEY for a in spec.arguments]
    cache: dict[tuple[object, ...], object] = {}
    values = []
    for row in zip(*(a.to_list() for a in arguments)):
        found = cache.get(row, cache)
        if found is cache:
            args = [Decimal(v) / 100 if m and v is not None else v for v, m in zip(row, money)]
            found = cache[row] = None if any(a is None for a in args) else function(*args)
        values.append(found)
    kind = spec.type.kind
    if kind is Kind.NUMBER and any(v is not None and not isinstance(v, int) for v in values):
        raise _NotForColumns  # a number that is not whole: the columns hold whole numbers only
    return pl.Series(field_column(spec.path), values, dtype=_dtype(kind))


def _literal(value: object, kind: Kind) -> pl.Expr:
    if value is None:
        return pl.lit(None, _dtype(kind))
    if kind is Kind.MONEY:
        assert isinstance(value, (int, Decimal))
        return pl.lit(int(Decimal(value) * 100), pl.Int64)
    if kind is Kind.LIST:
        assert isinstance(value, (tuple, list))
        return pl.lit(list(value), pl.List(pl.String))
    return pl.lit(value, _dtype(kind))
