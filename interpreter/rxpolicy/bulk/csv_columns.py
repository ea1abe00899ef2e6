"""A CSV chunk as the typed, flattened Arrow table the columnar path reads, for the cells it can prove alike.

``rxpolicy batch`` reads a CSV chunk as text cells (:class:`rxpolicy.bulk.records.Chunk`, ``texts``); per case,
each cell becomes the YAML scalar it would be in a case file (:func:`rxpolicy.bulk.records._cell`: stripped, an
empty cell not given, ``true``, ``12.40``, ``2025-03-14`` typed by YAML's resolver) and the record goes to the case
validator. Both roads start from the same cells, so the columns only have to read a cell as that scalar would be
read; a cell is typed here only in a form where that is certain, and any other cell leaves its claim per case:

* yes/no: exactly ``true`` or ``false`` (YAML's bool, read as those);
* money: ``0`` or digits without a leading zero, with one or two decimals or none (YAML's int or float; the
  validator reads ``12.4`` and ``12.40`` alike); a number: the same without decimals;
* a date: exactly ``YYYY-MM-DD``, a real day within the dates rxpolicy works with (YAML's timestamp, which the
  reader turns into that day);
* a text, code or choice: a cell that the YAML reading gives back unchanged as text (checked once per distinct
  cell with the reading itself: ``yes``, ``null``, ``12``, `` gp`` are not), with a letter or a digit;
* an empty cell: a field not given, except a field outside a section whose ``null`` the validator refuses (a
  flattened record keeps an empty top-level cell as ``null``); a list: only an empty cell.

Numbers and amounts beyond the fact's ``at most`` are left per case too, as for JSON Lines.
"""

from __future__ import annotations

from typing import Any

from rxpolicy.language.facts import CaseSchema
from rxpolicy.language.types import Kind

from .jsonl_columns import _dates, _reading, _untrusted
from .records import _cell

__all__ = ["csv_table"]

_MONEY = r"^(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?$"
_WHOLE = r"^(0|[1-9][0-9]{0,14})$"
_SOMETHING = r"[0-9A-Za-z]"


def csv_table(texts: Any, schema: CaseSchema) -> tuple[Any, list[int]] | None:
    """The chunk's claims as a flattened Arrow table, one row per CSV row, and the positions of the rows whose cells
    are not all certain (those claims go per case). None when the columns are not the schema's facts (every claim
    goes per case, where each unknown column is named)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = texts.column_names
    written = set(schema.written)
    if len(set(names)) != len(names) or not set(names) <= written or schema.period_date not in names:
        return None
    reading = _reading(schema)
    count = texts.num_rows
    trusted = pa.array([True] * count, pa.bool_())
    columns = {}
    for name in names:
        cells = texts.column(name)
        spec = schema.fields[name]
        kind = spec.type.kind
        empty = pc.equal(cells, "")
        given = pc.if_else(empty, pa.scalar(None, pa.string()), cells)
        if "." not in name and not (spec.type.nullable and spec.default is None and not spec.required):
            trusted = pc.and_kleene(trusted, pc.invert(empty))  # an empty top-level cell is `null` to the validator
        if kind is Kind.BOOL:
            ok = pc.is_in(given, pa.array(["true", "false"]))
            column = pc.equal(given, "true")
        elif kind in (Kind.MONEY, Kind.NUMBER):
            ok = pc.match_substring_regex(given, _MONEY if kind is Kind.MONEY else _WHOLE)
            target = pa.decimal128(12, 2) if kind is Kind.MONEY else pa.int64()
            column = pc.cast(pc.if_else(ok, given, pa.scalar(None, pa.string())), target)
        elif kind is Kind.DATE:
            column, ok = _dates(given)
        elif kind is Kind.LIST:
            ok = pa.array([False] * count, pa.bool_())
            column = pa.nulls(count, pa.list_(pa.string()))
        else:
            distinct = pc.unique(given).to_pylist()
            same = [text for text in distinct if text is not None and _cell(text) == text]
            ok = pc.and_kleene(pc.is_in(given, pa.array(same, pa.string())), pc.match_substring_regex(given, _SOMETHING))
            column = given
        # A cell not given is fine (the date check says so itself); a given one only when certain.
        trusted = pc.and_kleene(trusted, pc.or_kleene(pc.is_null(given), pc.fill_null(ok, False)))
        most = reading.at_most.get(name)
        if most is not None:
            trusted = pc.and_kleene(trusted, pc.or_kleene(pc.is_null(column), pc.less_equal(column, most)))
        columns[name] = column
    return pa.table(columns), _untrusted(trusted)
