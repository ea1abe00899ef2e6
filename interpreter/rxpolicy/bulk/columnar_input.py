"""A chunk of claims as the columns the columnar path evaluates, and which claims it may evaluate at all.

The per-case validator (:mod:`rxpolicy.engine.case_check`) decides what a valid case is, from the facts the policy
declares (:class:`rxpolicy.language.facts.CaseSchema`: types, required facts, choices, limits, date orders,
all-or-none sections, defaults, computed facts). The columns here are allowed only on claims that are *certainly*
valid by the same declarations: typed input columns (Parquet: ``bool``, integers, ``decimal`` with at most two
places, ``date32``, strings, lists of strings) whose values pass the same checks. Every other claim is left to the
per-case path, which accepts or refuses it with its exact words; so this module may be stricter than the
validator but never more lenient (``tests/unit/test_columnar.py`` probes every fact at its edges).

Defaults come from the declarations (a value, or another fact); computed facts from their built-in functions,
called once per distinct combination of arguments.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

import polars as pl

from rxpolicy.language.facts import CaseSchema, FactRef, FieldSpec
from rxpolicy.language.types import Kind

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
    checks: list[pl.Expr] = []
    columns: list[pl.Expr] = []
    for path in written:
        spec = schema.fields[path]
        if path not in names:
            if spec.required:
                return None
            column: pl.Expr = pl.lit(None, _dtype(spec.type.kind))
        else:
            typed = _typed(pl.col(path), frame.schema[path], spec.type.kind)
            if typed is None:
                return None
            column = typed
            given = pl.col(path)
            if spec.required:
                checks.append(given.is_not_null())
            checks.append(given.is_null() | _valid(column, spec, plans))
        columns.append(column.alias(field_column(path)))
    written_ok = frame.select(pl.all_horizontal([c.fill_null(False) for c in checks])).to_series()
    frame = frame.select(columns)
    # Sections written with all their facts or none: as given, before defaults.
    checks = []
    for section in schema.all_or_none:
        inside = [pl.col(field_column(p)).is_null() for p in written if p.rpartition(".")[0] == section]
        if inside:
            checks.append(pl.all_horizontal(inside) | ~pl.any_horizontal(inside))
    frame = _values(frame, schema)
    for path in written:
        for other, after, _ in schema.fields[path].orders:
            first, later = (other, path) if not after else (path, other)
            a, b = pl.col(field_column(first)), pl.col(field_column(later))
            checks.append(a.is_null() | b.is_null() | (a <= b))
    for path in schema.derived:
        if not schema.fields[path].type.nullable:
            checks.append(pl.col(field_column(path)).is_not_null())
    clean = written_ok
    if checks:
        clean = clean & frame.select(pl.all_horizontal([c.fill_null(False) for c in checks])).to_series()
    return frame, clean


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


def _values(frame: pl.DataFrame, schema: CaseSchema) -> pl.DataFrame:
    """Defaults filled in and computed facts added, each fact after the ones it reads (as the validator does)."""
    done: set[str] = set()

    def value(path: str) -> None:
        nonlocal frame
        if path in done:
            return
        spec = schema.fields[path]
        name = field_column(path)
        if spec.derived:
            for argument in spec.arguments:
                value(argument)
            frame = frame.with_columns(_computed(frame, spec, schema))
        elif not spec.required:
            if isinstance(spec.default, FactRef):
                value(spec.default.path)
                fill = pl.col(field_column(spec.default.path))
            else:
                fill = _literal(spec.default, spec.type.kind)
            frame = frame.with_columns(pl.col(name).fill_null(fill).alias(name))
        done.add(path)

    for path in schema.fields:
        value(path)
    return frame


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
