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

from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import Any

import attrs
import polars as pl

from rxpolicy.engine.case_limits import CASE_LIMITS
from rxpolicy.language.facts import CaseSchema, FactRef, FieldSpec
from rxpolicy.language.limits import FIRST_DATE, LAST_DATE, MAX_WHOLE_DIGITS
from rxpolicy.language.types import Kind
from rxpolicy.language.values import DEFAULT_LEAP_DAY_BIRTHDAY

from .columnar import field_column

__all__ = ["Check", "Checks", "prepare"]

#: The ATC code form the validator accepts (a letter, then digit pairs and letters as far as written).
_ATC = r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"
#: Money the columns hold exactly in 64-bit cents, with room for products.
_MONEY_BOUND = 10 ** 11


@attrs.frozen
class Check:
    """One of the checks that make a claim certainly valid, and what its failing says about the claim.

    ``kind``: ``required`` (the fact is not written), ``value`` (the written value may be one the validator
    refuses), ``shape`` (a text or list so long that the case limits may refuse it, RX409), ``section`` (an
    `all or none` section written in part), ``order`` (``path`` is after, or before, ``other``: ``after`` and
    ``why`` as the fact declares them), ``computed`` (a computed fact that must have a value has none).
    """

    kind: str
    path: str
    other: str = ""
    after: bool = False
    why: str | None = None


@attrs.frozen(eq=False)
class Checks:
    """What the error rows of the claims the columns may not evaluate are worked out from: the input (Arrow,
    as the per-case path reads it), whether each claim passed each check (a column per check, named by its
    index in ``checks``, which says what each means), per claim whether it passed them all (``clean``) and the
    prepared values.

    A check the input's columns settle for every claim of the chunk (a column without an empty cell is always
    written; one of only empty cells has no value to doubt; one whose least and greatest values are within the
    fact's range) has no column: no claim fails it."""

    table: Any
    passed: pl.DataFrame
    checks: tuple[Check, ...]
    values: pl.DataFrame
    schema: CaseSchema
    plans: Collection[str]
    clean: pl.Series


def prepare(table: Any, schema: CaseSchema,
            plans: Collection[str]) -> tuple[pl.DataFrame, pl.Series, Checks] | None:
    """The prepared columns of a chunk, per claim whether the columns may evaluate it, and the checks behind
    that (from which :mod:`.columnar_errors` writes the error rows of many claims refused).

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


def _prepare(table: Any, schema: CaseSchema,
             plans: Collection[str]) -> tuple[pl.DataFrame, pl.Series, Checks] | None:
    names = frozenset(table.column_names)
    if not names <= set(schema.written) or schema.period_date not in names:
        return None
    if len(names) < table.num_columns:
        return None  # a column named twice: a record keeps the last, Polars refuses the table; per case
    if not all(_holdable(field.type) for field in table.schema):
        return None  # a type Polars cannot take in (decimal256 panics, an interval is refused): per case
    # What the Arrow columns say without reading a value (their counts of empty cells): a column with no empty
    # cell needs no test of being written, and one of only empty cells no test of its values, nor converting
    # (its facts are their defaults). The plan is made for that, so a chunk's plan fits its columns.
    empty, full = _empty_and_full(table)
    read = [name for name in table.column_names if name not in empty or schema.fields[name].required]
    frame = pl.from_arrow(table.select(read) if len(read) < table.num_columns else table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    within = _within(frame, schema)
    # The expressions depend on the facts, the plans, the input's column types and which columns are full, empty
    # or within range only: made once for the chunks of a file (building them costs ~2 ms, less than the checks
    # the columns settle save, so a file whose chunks differ in all of these is no slower).
    key = (schema.fingerprint, frozenset(plans), table.schema, empty, full, within)
    plan = _PLANS.get(key)
    if plan is None:
        shape = pl.from_arrow(table.slice(0, 0), rechunk=False)  # every column's Polars type
        assert isinstance(shape, pl.DataFrame)
        types = shape.schema
        built = _plan(frame, types, schema, plans, _Columns(names, empty, full, within))
        if built is None:
            return None
        widened, plan = built
        if widened.width == frame.width:  # no computed fact called per value: the plan holds for any chunk
            if len(_PLANS) >= 64:
                _PLANS.clear()
            _PLANS[key] = plan
        frame = widened
    prepared = frame.lazy().select(*plan.outputs).with_columns(plan.clean).collect(optimizations=_SHARED_PARTS)
    # (Slicing the result's columns costs half of selecting them by name.)
    values = len(plan.values)
    values_frame = prepared[:, :values]
    verdict = prepared.get_column(_CLEAN)
    return values_frame, verdict, Checks(table=table, passed=prepared[:, values:values + len(plan.checks)],
                                         checks=plan.checks, values=values_frame, schema=schema, plans=plans,
                                         clean=verdict)


def _empty_and_full(table: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The columns of a chunk with only empty cells, and those with none (Arrow keeps the counts: no value is
    read). A chunk without claims has neither."""
    rows = table.num_rows
    counts = {name: table.column(name).null_count for name in table.column_names} if rows else {}
    return (frozenset(name for name, count in counts.items() if count == rows),
            frozenset(name for name, count in counts.items() if count == 0))


@attrs.frozen
class _Columns:
    """The input columns of a chunk: their names, those with only empty cells, those with none, and those whose
    values are all within their facts' range and limits."""

    names: frozenset[str]
    empty: frozenset[str]
    full: frozenset[str]
    within: frozenset[str] = frozenset()  # (columns whose values are all within their facts' ranges: `_within`)

    def never(self, path: str) -> bool:
        """Whether no claim of the chunk writes the fact."""
        return path not in self.names or path in self.empty


@attrs.frozen
class _Plan:
    """The expressions of a chunk's prepared values and checks (output columns), with what each check means."""

    outputs: tuple[pl.Expr, ...]
    clean: pl.Expr
    values: tuple[str, ...]
    named: tuple[str, ...]
    checks: tuple[Check, ...]


#: Plans by (facts, plans, input types, empty, full and within-range columns): written whole by one thread or
#: another (the same plan either way), and Polars expressions are immutable, so threads share them.
_PLANS: dict[tuple[object, ...], _Plan] = {}

#: The kinds whose column is the fact's value as it is (no conversion that could leave a written cell empty).
_AS_WRITTEN = frozenset({Kind.BOOL, Kind.DATE, Kind.TEXT, Kind.ATC, Kind.ENUM, Kind.LIST})


def _plan(frame: pl.DataFrame, types: Mapping[str, pl.DataType], schema: CaseSchema, plans: Collection[str],
          columns: _Columns) -> tuple[pl.DataFrame, _Plan] | None:
    """The plan of a chunk, and the frame it runs on (with a column for each computed fact called per value);
    None when a column's type does not fit its fact. ``types`` are the Polars types of every input column
    (``frame`` lacks the empty ones that no check reads)."""
    written = schema.written
    names = columns.names
    # Every prepared column and every check is one expression over the input columns, evaluated in one pass:
    # Polars computes a part two of them share (a default read by a computed fact, say) once. Each expression
    # costs ~40 µs a chunk to plan whatever the chunk's size, so a check the columns settle as a whole (by their
    # counts of empty cells, or their least and greatest values) is left out: no claim fails it.
    checks: list[pl.Expr] = []
    meaning: list[Check] = []
    given: dict[str, pl.Expr] = {}
    always: set[str] = set()  # facts written in every claim of the chunk, as written
    lists = sum(1 for p in written if p in names and schema.fields[p].type.kind is Kind.LIST)
    # Entries a list may hold so that a whole claim (its fields, sections and list entries) stays within the
    # number of values a case may hold (RX409, which the validator checks before anything else).
    entries = (CASE_LIMITS.max_values - 2 * len(names) - 1) // max(lists, 1)
    for path in written:
        spec = schema.fields[path]
        if path not in names:
            if spec.required:
                return None
            given[path] = pl.lit(None, _dtype(spec.type.kind))
            continue
        typed = _typed(pl.col(path), types[path], spec.type.kind)
        if typed is None:
            return None
        if path in columns.empty:
            # No claim writes it: nothing to doubt but its absence (the column stays in the frame for that).
            given[path] = pl.lit(None, _dtype(spec.type.kind))
            if spec.required:
                checks.append(pl.col(path).is_not_null())
                meaning.append(Check("required", path))
            continue
        given[path] = typed
        full = path in columns.full
        if full and spec.type.kind in _AS_WRITTEN:
            always.add(path)
        if spec.required and not full:
            checks.append(pl.col(path).is_not_null())
            meaning.append(Check("required", path))
        valid = _valid(typed, spec, plans, within=path in columns.within)
        if valid is not None:
            if spec.type.kind not in _AS_WRITTEN or spec.type.kind is Kind.LIST:
                # Empty where a written amount or number is beyond 64 bits, and a list's entries may be: refused.
                # (The other checks are never empty: filling them costs ~12 µs a check a chunk to plan.)
                valid = valid.fill_null(False)
            checks.append(valid if full else pl.col(path).is_null() | valid)
            meaning.append(Check("value", path))
        # A closed choice, an ATC code or a plan is short whatever it is (or refused as a value).
        open_text = spec.type.kind is Kind.TEXT and not spec.one_of_plans or spec.open_choice
        shape = _within_limits(pl.col(path), types[path], entries) \
            if open_text or spec.type.kind is Kind.LIST else None
        if shape is not None:
            if spec.type.kind is Kind.LIST:
                shape = shape.fill_null(False)
            checks.append(shape if full else pl.col(path).is_null() | shape)
            meaning.append(Check("shape", path))
    # Sections written with all their facts or none: as given, before defaults. (A section no claim writes a
    # fact of, or every claim all of, needs no check.)
    for section in schema.all_or_none:
        facts = [p for p in written if p.rpartition(".")[0] == section]
        if not facts or all(map(columns.never, facts)) or all(p in always for p in facts):
            continue
        inside = [given[p].is_null() for p in facts]
        checks.append(pl.all_horizontal(inside) | ~pl.any_horizontal(inside))
        meaning.append(Check("section", section))
    never = frozenset(p for p in written if columns.never(p))
    frame, values, known = _values(frame, schema, given, always, never)
    for path in written:
        for other, after, why in schema.fields[path].orders:
            first, later = (other, path) if not after else (path, other)
            a, b = values[first], values[later]
            order = a <= b
            for fact in (later, first):
                if known[fact] is not None:
                    order = values[fact].is_null() | order
            checks.append(order)
            meaning.append(Check("order", path, other, after, why))
    for path in schema.derived:
        has_value = known[path]
        if not schema.fields[path].type.nullable and has_value is not None:
            checks.append(has_value)
            meaning.append(Check("computed", path))
    # The checks are kept as columns (a bit each per claim): the error rows of refused claims read which failed.
    named = tuple(f"{_CHECK}{i}" for i in range(len(checks)))
    clean = pl.all_horizontal(named) if checks else pl.lit(True)
    outputs = (*(value.alias(field_column(path)) for path, value in values.items()),
               *(c.alias(n) for c, n in zip(checks, named)))
    return frame, _Plan(outputs=outputs, clean=clean.alias(_CLEAN), values=tuple(field_column(p) for p in values),
                        named=named, checks=tuple(meaning))


#: Of Polars' optimisations, the plan needs only the sharing of common parts (a date's day of the year, read by
#: several computed facts and defaults: ~3 % of a 50,000-claim chunk); the others find nothing in one `select`
#: and cost ~0.4 ms a chunk to try.
_SHARED_PARTS = pl.QueryOptFlags.none(comm_subexpr_elim=True)

#: The column saying whether the columns may evaluate a claim, and the prefix of the checks' columns (numbered).
_CLEAN, _CHECK = "_clean", "_check"


def _holdable(dtype: Any) -> bool:
    """Whether an input column's Arrow type is one the columns may hold (the types :func:`_typed` takes, as
    Arrow spells them); a column of another type sends its chunk per case before Polars reads it."""
    import pyarrow as pa

    types = pa.types
    if types.is_list(dtype) or types.is_large_list(dtype):
        return _holdable(dtype.value_type) and not types.is_list(dtype.value_type) \
            and not types.is_large_list(dtype.value_type)
    if types.is_decimal(dtype):
        return bool(dtype.bit_width <= 128 and dtype.scale >= 0)  # (Polars reads no negative scale)
    return bool(types.is_boolean(dtype) or types.is_integer(dtype) or types.is_date32(dtype)
                or types.is_string(dtype) or types.is_large_string(dtype) or types.is_null(dtype)
                or getattr(types, "is_string_view", lambda _: False)(dtype))


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
        # (Beyond 64 signed bits: null, which the check of the value refuses, as a written value not valid.)
        return column.cast(pl.Int64, strict=False) if dtype.is_integer() else None
    if kind is Kind.MONEY:
        if dtype.is_integer():
            # Whole euros as cents: only where the product fits in 64 bits (else it wraps to a small amount,
            # 184467440737095517 euros to 0.84); beyond that, null, which the check of the value refuses.
            whole = column.cast(pl.Int64, strict=False)
            return pl.when(whole.is_between(-_MONEY_BOUND, _MONEY_BOUND)).then(whole * 100)
        if isinstance(dtype, pl.Decimal) and dtype.scale == 2:
            # Cents as integers: a decimal of two places is stored as its cents (beyond 64 bits: null, which the
            # check of the value refuses, as a written value that is not valid).
            return column.to_physical().cast(pl.Int64, strict=False)
        if isinstance(dtype, pl.Decimal) and dtype.scale is not None and dtype.scale <= 2:
            # Fewer places: the stored integer brought to cents, where that fits in 64 bits (bringing the decimal
            # to two places fails beyond 36 digits); beyond, null, refused as above.
            stored = column.to_physical().cast(pl.Int64, strict=False)
            return pl.when(stored.is_between(-_MONEY_BOUND, _MONEY_BOUND)).then(stored * 10 ** (2 - dtype.scale))
        return None
    return None


def _valid(column: pl.Expr, spec: FieldSpec, plans: Collection[str], within: bool = False) -> pl.Expr | None:
    """Whether a written value is certainly one the validator accepts; None when every value of the column's
    type is (a yes or no: no check to compute). ``within``: every value of the column is known to be within
    the fact's range and limits (:func:`_range`), which are then not tested."""
    kind = spec.type.kind
    parts: list[pl.Expr] = []
    unit = 100 if kind is Kind.MONEY else 1
    # (`is_between`: one pass, where two comparisons and their `&` are three.)
    if kind is Kind.MONEY:
        if not within:
            parts.append(column.is_between(0, _MONEY_BOUND - 1))
    elif kind is Kind.NUMBER:
        # More digits: "larger than rxpolicy works with".
        if not within:
            parts.append(column.is_between(0, 10 ** MAX_WHOLE_DIGITS - 1))
    elif kind is Kind.DATE:
        if not within:
            parts.append(column.is_between(FIRST_DATE, LAST_DATE))
    elif kind is Kind.ATC:
        parts.append(column.str.contains(_ATC))
    elif kind is Kind.ENUM and not spec.open_choice:
        parts.append(column.is_in(list(spec.type.choices)))
    elif kind is Kind.LIST:
        # A null entry is not a choice (the validator refuses it); `list.all` alone would pass over it.
        parts.append(column.list.eval(pl.element().is_in(list(spec.type.choices)).fill_null(False)).list.all())
    # Texts the value must be one of (none: any text): a value among them is not empty when none of them is.
    among: list[str] | None = None
    for limit, below in ((spec.at_least, False), (spec.at_most, True)):
        if limit is None:
            continue
        if kind not in (Kind.MONEY, Kind.NUMBER) or limit * unit != int(limit * unit):
            return pl.lit(False)
        if not within:
            parts.append(column <= int(limit * unit) if below else column >= int(limit * unit))
    if spec.whole is not None and kind is Kind.MONEY:
        parts.append(column % 100 == 0)
    if spec.allowed:
        if kind not in (Kind.MONEY, Kind.NUMBER) or not all(isinstance(v, (int, Decimal)) for v in spec.allowed):
            among = [v for v in spec.allowed if isinstance(v, str)]
            parts.append(column.is_in(among))
        else:
            parts.append(column.is_in([int(Decimal(str(v)) * unit) for v in spec.allowed]))
    if spec.one_of_plans:
        if not plans:
            return pl.lit(False)
        among = list(plans) if among is None else [p for p in among if p in plans]
        parts.append(column.is_in(list(plans)))
    if kind in (Kind.TEXT, Kind.ENUM) and (spec.open_choice or kind is Kind.TEXT) \
            and (among is None or not all(text.strip() for text in among)):
        # A text of only white space "is empty" to the validator (Python's `str.strip`, which also strips
        # the separators \x1c-\x1f that the regex's Unicode `\s` does not count). (Testing a text costs
        # ~20 ns a claim; a value among texts that are not empty is not empty.)
        parts.append(column.str.contains(r"[^\s\x1c-\x1f]"))
    if not parts:
        return None
    ok = parts[0]
    for part in parts[1:]:
        ok = ok & part
    return ok


def _range(spec: FieldSpec) -> tuple[object, object] | None:
    """The least and greatest value of a fact that :func:`_valid` accepts by range and limits (cents for money),
    or None when its kind has no such range or a limit is one the columns never vouch for."""
    kind = spec.type.kind
    if kind is Kind.DATE:
        return None if spec.at_least is not None or spec.at_most is not None else (FIRST_DATE, LAST_DATE)
    if kind not in (Kind.MONEY, Kind.NUMBER):
        return None
    unit = 100 if kind is Kind.MONEY else 1
    low, high = 0, _MONEY_BOUND - 1 if kind is Kind.MONEY else 10 ** MAX_WHOLE_DIGITS - 1
    for limit, below in ((spec.at_least, False), (spec.at_most, True)):
        if limit is None:
            continue
        if limit * unit != int(limit * unit):
            return None
        low, high = (low, min(high, int(limit * unit))) if below else (max(low, int(limit * unit)), high)
    return low, high


def _within(frame: pl.DataFrame, schema: CaseSchema) -> frozenset[str]:
    """The columns of money, numbers and dates whose every written value is within its fact's range and limits,
    from their least and greatest value (~5-40 µs a column, where testing each claim's value costs ~40 µs a
    chunk to plan and ~1-2 ns a claim): their values need no test of range."""
    found = []
    for series in frame.get_columns():
        spec = schema.fields[series.name]
        bounds = _range(spec)
        if bounds is None or series.null_count() == series.len():
            continue
        dtype = series.dtype
        least, greatest = series.min(), series.max()
        if spec.type.kind is Kind.MONEY:
            # Cents, as `_typed` makes them: of whole euros, or of a decimal with at most two places.
            if not (dtype.is_integer() or isinstance(dtype, pl.Decimal) and dtype.scale is not None
                    and 0 <= dtype.scale <= 2):
                continue
            assert isinstance(least, (int, Decimal)) and isinstance(greatest, (int, Decimal))
            least, greatest = int(Decimal(least) * 100), int(Decimal(greatest) * 100)
        elif spec.type.kind is Kind.NUMBER and not dtype.is_integer():
            continue
        elif spec.type.kind is Kind.DATE and dtype != pl.Date:
            continue
        low, high = bounds
        if low <= least and greatest <= high:  # type: ignore[operator]
            found.append(series.name)
    return frozenset(found)


def _within_limits(column: pl.Expr, dtype: pl.DataType, entries: int) -> pl.Expr | None:
    """Whether a text or list column's value is certainly within the case limits (a text of at most
    ``max_text`` characters, a list of at most ``entries``); None for a column of another type."""
    # Bytes, not characters: a text of no more bytes has no more characters, and counting bytes costs a third
    # (a longer text of fewer characters, in letters beyond ASCII, goes per case: stricter, never more lenient).
    if dtype == pl.String:
        return column.str.len_bytes() <= CASE_LIMITS.max_text
    if dtype == pl.List(pl.String):
        return (column.list.len() <= entries) & \
            column.list.eval(pl.element().str.len_bytes() <= CASE_LIMITS.max_text).list.all()
    return None


def _values(frame: pl.DataFrame, schema: CaseSchema, given: dict[str, pl.Expr], always: Collection[str],
            never: Collection[str]) -> tuple[pl.DataFrame, dict[str, pl.Expr], dict[str, pl.Expr | None]]:
    """Every fact's expression: defaults filled in, computed facts added, each after the facts it reads (as
    the validator does). A computed fact without a vectorised form is called per distinct combination of its
    arguments and added to the frame as a column of its own.

    And per fact whether it has a value, without computing it: a vectorised fact has one exactly when all its
    arguments have (testing the fact itself would compute it again, 4-11 ms per 50,000 claims for an age or
    the days insured); None for a fact that has one in every claim of the chunk (``always``: the facts every
    claim writes as they are), so that no test of it is planned. ``never``: the facts no claim writes."""
    values: dict[str, pl.Expr] = {}
    known: dict[str, pl.Expr | None] = {}

    def value(path: str) -> pl.Expr:
        nonlocal frame
        if path in values:
            return values[path]
        spec = schema.fields[path]
        if spec.derived:
            arguments = [value(a) for a in spec.arguments]
            vector = _VECTORISED.get(spec.computed_by or "")
            if vector is not None:
                # A fact that counts birthdays passes its reading of 29 February on, as `spec.compute` does.
                reading = {} if spec.leap_day_birthday is None else {"leap_day": spec.leap_day_birthday}
                found = vector(*arguments, **reading)
                unknown = [a.is_null() for a, p in zip(arguments, spec.arguments) if known[p] is not None]
                if unknown:
                    found = pl.when(pl.any_horizontal(unknown)).then(None).otherwise(found)
                    known[path] = pl.all_horizontal([k for p in spec.arguments if (k := known[p]) is not None])
                else:
                    known[path] = None
                found = found.cast(_dtype(spec.type.kind))
            else:
                # (`with_columns` keeps the frame's height where every argument is a constant: an empty column.)
                inputs = frame.with_columns(*(a.alias(field_column(n)) for a, n in zip(arguments, spec.arguments)))
                frame = frame.with_columns(_computed(inputs, spec, schema).alias(field_column(path)))
                found = pl.col(field_column(path))
                known[path] = found.is_not_null()
        elif path in always:
            found = given[path]
            known[path] = None
        elif not spec.required:
            if isinstance(spec.default, FactRef):
                fill = value(spec.default.path)
                other = known[spec.default.path]
                known[path] = other if path in never else None if other is None else given[path].is_not_null() | other
            else:
                fill = _literal(spec.default, spec.type.kind)
                known[path] = None if spec.default is not None else given[path].is_not_null()
            # A fact no claim of the chunk writes is its default (a constant, or the other fact); one without a
            # default is as written.
            found = fill if path in never else given[path] if spec.default is None else given[path].fill_null(fill)
        else:
            found = given[path]
            known[path] = found.is_not_null()
        values[path] = found
        return found

    for path in schema.fields:
        value(path)
    return frame, {path: values[path] for path in schema.fields}, known


def _whole_years_between(born: pl.Expr, on: pl.Expr, leap_day: str = DEFAULT_LEAP_DAY_BIRTHDAY) -> pl.Expr:
    """Age in whole years as :func:`rxpolicy.language.values.whole_years_between` counts it.

    The age is one less while the birthday in ``on``'s year is still to come. A 29 February birthday in a year that
    is not a leap year is on 1 March (comparing places in a leap year's calendar does that: 28 February is before
    it), or on 28 February under the other reading (``leap_day``).
    """
    born_place = _place_in_leap_year(born)
    if leap_day == "28 February":
        born_place = born_place - ((born_place == 60) & ~on.dt.is_leap_year()).cast(pl.Int32)
    years = on.dt.year().cast(pl.Int64) - born.dt.year().cast(pl.Int64)
    return years - (born_place > _place_in_leap_year(on)).cast(pl.Int64)


def _place_in_leap_year(date: pl.Expr) -> pl.Expr:
    """The date's day in a leap year's calendar (1 January is 1, 29 February 60, 1 March 61, 31 December 366):
    comparing these compares month and day. From the day of the year and whether it is a leap year, which the
    start, end and length of ``on``'s year read too (Polars computes each once): each part of a date costs
    ~12 ns a claim, its month and day alone would be a fifth of the computed facts' time."""
    ordinal = date.dt.ordinal_day().cast(pl.Int32)
    return ordinal + ((ordinal >= 60) & ~date.dt.is_leap_year()).cast(pl.Int32)


# Dates as day numbers (a Polars date is its days since 1970-01-01): the first of January of a date's year is the
# date less its day of the year; this costs a quarter of building the date from its year (`pl.date(y, 1, 1)`).

def _day(date: pl.Expr) -> pl.Expr:
    return date.cast(pl.Int32)


def _first_of_year(on: pl.Expr) -> pl.Expr:
    """The day number of 1 January of ``on``'s year."""
    return _day(on) - on.dt.ordinal_day().cast(pl.Int32) + 1


def _days_in_year(on: pl.Expr) -> pl.Expr:
    return pl.when(on.dt.is_leap_year()).then(366).otherwise(365)


def _days_insured_in_year(insured_from: pl.Expr, insured_until: pl.Expr, on: pl.Expr) -> pl.Expr:
    """The days of the insured period in ``on``'s year (never fewer than none), as the built-in counts them."""
    first_of_year = _first_of_year(on)
    first_day = pl.max_horizontal(_day(insured_from), first_of_year)
    last_day = pl.min_horizontal(_day(insured_until), first_of_year + _days_in_year(on) - 1)
    return (last_day - first_day + 1).clip(lower_bound=0)


#: The built-in functions of computed facts as date arithmetic on whole columns (arguments are never null here:
#: a null argument gives null, as the built-in's caller does; and each gives a value for any dates it is given,
#: which `_values` relies on to tell which facts have a value). A built-in not listed is called per distinct
#: combination of its arguments. ``tests/unit/test_columnar_input.py`` compares each with its function.
_VECTORISED: dict[str, Callable[..., pl.Expr]] = {
    "whole_years_between": _whole_years_between,
    "days_insured_in_year": _days_insured_in_year,
    "days_in_year": _days_in_year,
    "start_of_year": lambda on: _first_of_year(on).cast(pl.Date),
    "end_of_year": lambda on: (_first_of_year(on) + _days_in_year(on) - 1).cast(pl.Date),
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
