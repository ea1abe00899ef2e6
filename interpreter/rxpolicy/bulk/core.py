"""The batch core: claims records in, one result row per record out, in order. No files, no command line.

:func:`evaluate_records` is what ``rxpolicy batch`` runs per chunk on the per-case path, and what an embedder
(or the HTTP service's ``/v1/batch``) calls with records it already holds: each record is validated by the case
validator and evaluated by the compiled policy; the record's own ``dispensed_on`` picks the period. A record
that is not a valid case, or that the policy cannot decide (RX5xx), becomes an error row with its code, field
and message: it never stops the others. :func:`rows_table` lays rows out as an Arrow table (money as
``decimal128(12, 2)``), :func:`row_dict` as JSON-ready data (money as two-decimal strings).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from rxpolicy.engine.case import case_from_mapping
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean
from rxpolicy.engine.evaluate import evaluate
from rxpolicy.explain.json import evaluation_dict
from rxpolicy.explain.words import json_value
from rxpolicy.language.types import Kind, Type
from rxpolicy.language.values import CENT

from .dictionaries import arrow_dictionaries, column_dictionaries, dictionary_type
from .records import Record, RecordProblem, unflatten

__all__ = ["MONEY_LIMIT", "ResultRow", "Selection", "evaluate_records", "null_column", "result_schema", "row_dict",
           "rows_table", "select_decisions", "unwritable_money"]


@attrs.frozen
class Selection:
    """The decisions a batch reports, with their indices in the policy and their types."""

    names: tuple[str, ...]
    indices: tuple[int, ...]
    kinds: tuple[Kind, ...]
    #: The declared types (what tells money from a number in the output, whatever the value's decimals).
    types: tuple[Type, ...]
    #: The closed-set text columns of the results (``outcome``, ``<decision>.rule``, a decision of constant texts)
    #: with their fixed dictionaries (see :mod:`.dictionaries`); other text columns are plain strings.
    dictionaries: tuple[tuple[str, tuple[str, ...]], ...] = ()


def select_decisions(policy: CompiledPolicy, names: Sequence[str] | None = None) -> Selection:
    """The decisions to report: every decision of the policy, or the ones named (RX803 for an unknown name, or one
    named twice)."""
    known = [d.name for d in policy.decisions]
    wanted = list(names) if names else known
    unknown = [n for n in wanted if n not in known]
    if unknown:
        # (A name that is no text, e.g. None from an embedder's list, is shown as Python writes it.)
        named = ", ".join(f"`{n}`" if isinstance(n, str) else repr(n) for n in unknown)
        hint = did_you_mean(unknown[0], known) if isinstance(unknown[0], str) else None
        raise RxError(Diagnostic(code="RX803", message=f"the policy `{policy.name}` has no decision {named}"
                                 + (f"; did you mean `{hint}`?" if hint else ""),
                                 help=f"choose from: {', '.join(known)}"))
    twice = next((n for i, n in enumerate(wanted) if n in wanted[:i]), None)
    if twice is not None:  # (two result columns of one name: no table can hold them)
        raise RxError(Diagnostic(code="RX803", message=f"the decision `{twice}` is named twice",
                                 help=f"name each decision once, e.g. {', '.join(dict.fromkeys(wanted))}"))
    indices = tuple(known.index(n) for n in wanted)
    types = tuple(policy.decisions[i].type for i in indices)
    every = column_dictionaries(policy)
    columns = ["outcome", *(c for n in wanted for c in (n, f"{n}.rule"))]
    return Selection(names=tuple(wanted), indices=indices, kinds=tuple(t.kind for t in types), types=types,
                     dictionaries=tuple((c, every[c]) for c in columns if c in every))


@attrs.frozen(kw_only=True)
class ResultRow:
    """One record's result: its decisions (selected ones, in order) or the problem that stopped it."""

    record: int
    outcome: str | None = None
    values: tuple[object, ...] = ()
    #: Per decision the deciding rule id (several agreeing rules joined with ", ").
    rules: tuple[str, ...] = ()
    error: RecordProblem | None = None
    explanation: str | None = None


def evaluate_records(policy: CompiledPolicy, records: Iterable[Record], *, first: int = 1,
                     numbers: Iterable[int] | None = None, selection: Selection | None = None,
                     explain: bool = False, lang: str = "en") -> list[ResultRow]:
    """Evaluate records (case-file shaped or flattened mappings, or problems found while reading them).

    Record numbers count from ``first``, or are ``numbers``. Thread-safe: nothing is shared but the
    immutable policy.
    """
    chosen = selection or select_decisions(policy)
    rows: list[ResultRow] = []
    for number, record in zip(numbers if numbers is not None else itertools.count(first), records):
        if isinstance(record, RecordProblem):
            rows.append(ResultRow(record=number, error=record))
            continue
        try:
            case = case_from_mapping(unflatten(record), source=f"record {number}", policy=policy)
            evaluation = evaluate(policy, case, trace=explain)
        except RxError as error:
            rows.append(ResultRow(record=number, error=problem_of(error.diagnostics[0], len(error.diagnostics))))
            continue
        values = tuple(evaluation.values[i] for i in chosen.indices)
        unwritable = unwritable_money(chosen, values)
        if unwritable is not None:
            rows.append(ResultRow(record=number, error=unwritable))
            continue
        ids = tuple(", ".join(policy.rules[r].id for r in evaluation.deciders[i]) for i in chosen.indices)
        text = json.dumps(evaluation_dict(evaluation, lang), ensure_ascii=False) if explain else None
        rows.append(ResultRow(record=number, outcome=evaluation.outcome, values=values, rules=ids,
                              explanation=text))
    return rows


#: The money columns of the results: ``decimal128(12, 2)`` (the issue's contract for Parquet), so at most ten whole
#: digits. The validator accepts amounts of twelve whole digits, whose sums a decision may hold; such a record
#: becomes an error row rather than a value the table cannot hold.
MONEY_PRECISION, MONEY_SCALE = 12, 2
#: The first amount the money columns cannot hold (10,000,000,000.00).
MONEY_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)


def unwritable_money(selection: Selection, values: Sequence[object]) -> RecordProblem | None:
    """RX805 when a selected money decision cannot be written exactly in the results' money columns.

    The evaluation itself is exact; only the table cannot hold the value: ten billion euros or more (a claim's
    amounts out of all proportion), or more than two decimals (a decision the rule file leaves unrounded).
    """
    for name, kind, value in zip(selection.names, selection.kinds, values):
        if kind is not Kind.MONEY or not isinstance(value, Decimal):
            continue
        if abs(value) >= MONEY_LIMIT:
            return RecordProblem(
                "RX805", None,
                f"the decision `{name}` is {value:,} euros, more than the results' money columns hold "
                f"(at most {MONEY_LIMIT - Decimal('0.01'):,}); the claim's amounts are out of all proportion",
                "check the claim's amounts (price, fees, amounts used); `rxpolicy eval` shows the evaluation of "
                "such a case in full")
        if value != value.quantize(CENT):
            return RecordProblem(
                "RX805", None,
                f"the decision `{name}` is {value}, with more than the two decimals the results' money "
                f"columns hold",
                f"round `{name}` to cents in the rule file, e.g. `… rounded half up to cents`")
    return None


def problem_of(diagnostic: Diagnostic, count: int = 1) -> RecordProblem:
    """An error row's problem from the first diagnostic of a refused record (the others are counted)."""
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    field, help = diagnostic.field, diagnostic.help
    return RecordProblem(diagnostic.code, field if field is None else _writable(field),
                         _writable(diagnostic.message + more), help if help is None else _writable(help))


def _writable(text: str) -> str:
    """A text the result columns can hold (UTF-8): a lone surrogate quoted from a claim (a JSON line's ``\\udcff``,
    which ``json.loads`` reads as that surrogate) written as its escape, not an internal error when the row is
    written."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def row_dict(row: ResultRow, selection: Selection) -> dict[str, Any]:
    """A row as JSON-ready data in the contract's value forms (money ``"12.40"``, durations ``"1 month"``)."""
    data: dict[str, Any] = {"record": row.record, "outcome": row.outcome}
    if row.error is None:
        for name, typ, value, rule in zip(selection.names, selection.types, row.values, row.rules):
            data[name] = json_value(value, typ)
            data[f"{name}.rule"] = rule
    else:
        data.update({"error_code": row.error.code, "error_field": row.error.field,
                     "error_message": row.error.message, "error_help": row.error.help})
    if row.explanation is not None:
        data["explanation"] = json.loads(row.explanation)
    return data


def result_schema(selection: Selection, explain: bool) -> Any:
    """The Arrow schema of result rows: record, outcome, per decision its value and rule, the error columns.

    A closed-set text column (``selection.dictionaries``) is ``dictionary<values=string, indices=int16>``.
    """
    import pyarrow as pa

    closed = dict(selection.dictionaries)

    def text(column: str, plain: Any) -> Any:
        return dictionary_type(len(closed[column])) if column in closed else plain

    fields = [pa.field("record", pa.int64(), nullable=False), pa.field("outcome", text("outcome", pa.string()))]
    for name, kind in zip(selection.names, selection.kinds):
        fields.append(pa.field(name, text(name, _arrow_type(kind))))
        fields.append(pa.field(f"{name}.rule", text(f"{name}.rule", pa.string())))
    fields += [pa.field(n, pa.string()) for n in ("error_code", "error_field", "error_message", "error_help")]
    if explain:
        fields.append(pa.field("explanation", pa.string()))
    return pa.schema(fields)


def _arrow_type(kind: Kind) -> Any:
    import pyarrow as pa

    if kind is Kind.BOOL:
        return pa.bool_()
    if kind is Kind.MONEY:
        return pa.decimal128(MONEY_PRECISION, MONEY_SCALE)
    # Durations, numbers, percentages, text: the contract's text form ("1 month"). A number as exact text
    # (`number_text`: "0.125", "1.5", "3"): a decimal column would need one scale for all, and a number the rules
    # leave unrounded (a division) has up to 28 digits.
    return pa.string()


def _cell(typ: Type, value: object) -> object:
    if value is None or typ.kind in (Kind.BOOL, Kind.MONEY):
        return value
    return str(json_value(value, typ))


def rows_table(rows: Sequence[ResultRow], selection: Selection, explain: bool = False) -> Any:
    """Rows as an Arrow table of :func:`result_schema`."""
    import pyarrow as pa

    schema = result_schema(selection, explain)
    closed = arrow_dictionaries(selection.dictionaries)
    columns: dict[str, list[object]] = {f.name: [] for f in schema}
    for row in rows:
        columns["record"].append(row.record)
        columns["outcome"].append(row.outcome)
        ok = row.error is None
        for position, (name, typ) in enumerate(zip(selection.names, selection.types)):
            columns[name].append(_cell(typ, row.values[position]) if ok else None)
            columns[f"{name}.rule"].append(row.rules[position] if ok else None)
        error = row.error
        columns["error_code"].append(error.code if error else None)
        columns["error_field"].append(error.field if error else None)
        columns["error_message"].append(error.message if error else None)
        columns["error_help"].append(error.help if error else None)
        if explain:
            columns["explanation"].append(row.explanation)
    arrays = [_encoded(columns[f.name], found, f.name) if (found := closed.get(f.name)) is not None
              else pa.array(columns[f.name], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def null_column(selection: Selection, field: Any, count: int) -> Any:
    """A result column of ``count`` nulls (the decisions of error rows); a closed-set text column's with its fixed
    dictionary, as every chunk's, so that chunks concatenate and compare as they are."""
    import pyarrow as pa

    found = arrow_dictionaries(selection.dictionaries).get(field.name)
    if found is None:
        return pa.nulls(count, field.type)
    return pa.DictionaryArray.from_arrays(pa.nulls(count, pa.int16()), found[0])


def _encoded(texts: list[object], dictionary: tuple[Any, Mapping[str, int]], column: str) -> Any:
    """Texts as indices into a column's fixed dictionary (a text not in it is a fault of :mod:`.dictionaries`)."""
    import pyarrow as pa

    values, position = dictionary
    try:
        indices = [None if text is None else position[text] for text in texts]  # type: ignore[index]
    except KeyError as missing:
        raise AssertionError(f"the result column `{column}` got {missing}, a text its dictionary lacks") from None
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int16()), values)
