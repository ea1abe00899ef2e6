"""Claims in bulk for embedders: claims held in memory (an Arrow table, a Polars DataFrame, case mappings) or a
claims file in, the result table of ``rxpolicy batch`` out, in the same process.

:class:`ClaimsEvaluator` holds a policy compiled to columns and the decisions reported, so a claims service that
evaluates one message batch after another compiles once; :func:`evaluate_claims` and
:func:`evaluate_claims_file` are the one-off forms. Every input record is accounted for: a result row, or an
error row (its code, field, message and fix) for a record that is not a valid case or that the policy cannot
decide, in record order, numbered from 1. The tables are those ``rxpolicy batch --format parquet`` writes for the
same records (:func:`rxpolicy.bulk.core.result_schema`), made by the same code (:func:`.run.evaluate_chunk`).

Problems with the input as a whole raise :class:`RxError` with the codes the command uses: claims of a type this
module does not read or a file that cannot be read (RX801), an unknown decision (RX803), an option out of range
(RX804); and, for a table, a column that is no field of a case (RX403, RX401) or a required field without a
column (RX402) — for a table these hold for every record, so they are said once instead of as an error row per
record (which is what ``rxpolicy batch`` writes for such a file, and what :func:`evaluate_claims_file` gives).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.engine.case_check import KIND_WORDS, CheckRun, from_python
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.language.facts import CaseSchema
from rxpolicy.language.types import Kind

from .core import result_schema, rows_table, select_decisions
from .records import (FORMATS, Chunk, Record, RecordProblem, check_readable, read_chunks, refuse_columns_named_twice,
                      unflatten, within_python_dates)
from .run import ChunkSettings, evaluate_chunk

__all__ = ["ENGINES", "ClaimsEvaluator", "evaluate_claims", "evaluate_claims_file"]

#: The engines: ``columnar`` (a chunk at a time in vectorised columns where they apply, per case elsewhere; the
#: results are the same) and ``per-case`` (one claim at a time).
ENGINES = ("columnar", "per-case")
_LANGUAGES = ("en", "nl")
_CODES_OF_COLUMNS = ("RX401", "RX402", "RX403")


class ClaimsEvaluator:
    """A policy ready to evaluate claims in bulk (*declaraties*): compiled to columns once, then any number of
    tables evaluated, from any number of threads at once (nothing changes after construction).

    ``decisions`` are the decisions reported, in order (names, or one comma-separated text as ``--decisions``;
    default: every decision of the policy; RX803 for a name the policy does not have). ``explain`` adds each row's
    JSON explanation in ``lang`` (``en`` or ``nl``; per case, slower). ``chunk_size`` claims are evaluated at a
    time (memory grows with it). ``engine`` is ``columnar`` or ``per-case``: the tables are the same.
    """

    def __init__(self, policy: CompiledPolicy, *, decisions: Sequence[str] | str | None = None,
                 explain: bool = False, lang: str = "en", chunk_size: int = 50_000,
                 engine: str = "columnar") -> None:
        if not isinstance(policy, CompiledPolicy):
            raise TypeError(f"policy is {type(policy).__name__}, not a compiled policy; load one by name first: "
                            f"`ClaimsEvaluator(PolicyStore().load({policy!r}))`" if isinstance(policy, str) else
                            f"policy is {type(policy).__name__}, not a compiled policy; load one first, e.g. "
                            "`PolicyStore().load(\"hollandzorg\")`")
        if not isinstance(explain, bool):
            raise RxError(Diagnostic(code="RX804", message=f"explain={explain!r} is not True or False",
                                     help="give explain=True (each row's explanation) or explain=False"))
        if engine not in ENGINES:
            raise _option("engine", engine, ENGINES)
        if lang not in _LANGUAGES:
            raise _option("lang", lang, _LANGUAGES)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise RxError(Diagnostic(code="RX804", message=f"chunk_size={chunk_size!r} is not a number of claims",
                                     help="give a whole number of claims of 1 or more, e.g. chunk_size=50_000"))
        names = [n.strip() for n in decisions.split(",") if n.strip()] if isinstance(decisions, str) else decisions
        self._settings = ChunkSettings(policy=policy, selection=select_decisions(policy, names), explain=explain,
                                       lang=lang, engine=engine).with_columnar()
        self._chunk_size = chunk_size

    def __repr__(self) -> str:
        settings = self._settings
        return (f"ClaimsEvaluator(policy={settings.policy.name!r}, decisions={list(settings.selection.names)!r}, "
                f"explain={settings.explain!r}, lang={settings.lang!r}, chunk_size={self._chunk_size!r}, "
                f"engine={settings.engine!r})")

    @property
    def policy(self) -> CompiledPolicy:
        """The policy the claims are evaluated by."""
        return self._settings.policy

    @property
    def decisions(self) -> tuple[str, ...]:
        """The decisions reported, in the order of their columns."""
        return self._settings.selection.names

    @property
    def schema(self) -> Any:
        """The Arrow schema of the result tables: ``record``, ``outcome``, per decision its value and ``….rule``,
        ``error_code``, ``error_field``, ``error_message``, ``error_help`` (and ``explanation``)."""
        return result_schema(self._settings.selection, self._settings.explain)

    def unsupported(self) -> list[str]:
        """Lines saying which periods of the policy the columnar engine leaves to the per-case one, and why (what
        ``rxpolicy batch`` prints once); empty when every period runs on the columns, or per case is asked for."""
        columnar = self._settings.columnar
        return [] if columnar is None else list(columnar.unsupported())

    def evaluate(self, claims: Any) -> Any:
        """The result table (a ``pyarrow.Table``) of ``claims``: one row per claim, in order, records numbered from 1.

        ``claims`` is a ``pyarrow.Table`` or ``RecordBatch`` or a Polars ``DataFrame`` whose columns are the
        flattened field paths (``dispensed_on``, ``medicine.atc``, ``dispensing.fees.delivery``: those of a
        Parquet claims file), or an iterable of case mappings (nested sections, as a JSON Lines line decodes to;
        dotted keys are accepted too). An item of the iterable that is not a mapping gets an error row (RX802).
        """
        tables = list(self._results(_chunks(claims, self._settings.policy.facts, self._chunk_size)))
        if not tables:
            return rows_table([], self._settings.selection, self._settings.explain)
        if len(tables) == 1:
            return tables[0]
        import pyarrow as pa

        return pa.concat_tables(tables)

    def evaluate_file(self, path: str | PathLike[str], *, format: str | None = None) -> Iterator[Any]:
        """The result tables of a claims file (JSON Lines, CSV or Parquet, ``format`` or the suffix says), one per
        chunk of ``chunk_size`` claims, read as they are asked for (memory stays flat): the partitions
        ``rxpolicy batch --out DIR --format parquet --chunk-size N`` writes (one empty table for a file without
        claims). RX801 (at once, not at the first
        table) for a file that is not there or a format that cannot be told."""
        claims = Path(path)
        if format is not None and format not in FORMATS.values():
            raise RxError(Diagnostic(code="RX801", message=f"format={format!r} is not a claims format",
                                     help="give format='jsonl', 'csv' or 'parquet' (or None: the suffix says)"))
        kind = format or FORMATS.get(claims.suffix.lower())
        if kind is None:
            raise RxError(Diagnostic(code="RX801", message=f"cannot tell the format of {claims} from its name",
                                     help="name the file .jsonl, .csv or .parquet, or give format='jsonl', 'csv' "
                                          "or 'parquet'"))
        check_readable(claims)
        return self._results(read_chunks(claims, kind, self._chunk_size), at_least_one=True)

    def _results(self, chunks: Iterable[Chunk], at_least_one: bool = False) -> Iterator[Any]:
        none = True
        for chunk in chunks:
            none = False
            yield evaluate_chunk(self._settings, chunk)
        if none and at_least_one:
            # A file without claims gives one empty table of the schema, so `pa.concat_tables(...)` of the
            # tables holds for it too (`rxpolicy batch` writes no partition for it).
            yield rows_table([], self._settings.selection, self._settings.explain)


def evaluate_claims(policy: CompiledPolicy, claims: Any, *, decisions: Sequence[str] | str | None = None,
                    explain: bool = False, lang: str = "en", chunk_size: int = 50_000,
                    engine: str = "columnar") -> Any:
    """The result table of ``claims`` by ``policy``: :meth:`ClaimsEvaluator.evaluate` of a new evaluator (which
    compiles the policy to columns: to evaluate many tables, make one :class:`ClaimsEvaluator` and keep it)."""
    return ClaimsEvaluator(policy, decisions=decisions, explain=explain, lang=lang, chunk_size=chunk_size,
                           engine=engine).evaluate(claims)


def evaluate_claims_file(policy: CompiledPolicy, path: str | PathLike[str], *, format: str | None = None,
                         decisions: Sequence[str] | str | None = None, explain: bool = False, lang: str = "en",
                         chunk_size: int = 50_000, engine: str = "columnar") -> Iterator[Any]:
    """The result tables of a claims file, one per chunk: :meth:`ClaimsEvaluator.evaluate_file` of a new
    evaluator."""
    return ClaimsEvaluator(policy, decisions=decisions, explain=explain, lang=lang, chunk_size=chunk_size,
                           engine=engine).evaluate_file(path, format=format)


def _option(name: str, given: object, choices: tuple[str, ...]) -> RxError:
    return RxError(Diagnostic(code="RX804", message=f"{name}={given!r} is not one of {', '.join(choices)}",
                              help=f"give {' or '.join(f'{name}={c!r}' for c in choices)}"))


# ------------------------------------------------------------------------------------------- reading claims

def _chunks(claims: Any, facts: CaseSchema, size: int) -> Iterator[Chunk]:
    """The claims as the chunks :func:`.run.evaluate_chunk` reads: a table's as Parquet's (typed columns), the
    mappings' as records given (per case). The type and the columns are checked before the first chunk."""
    import pyarrow as pa
    import polars as pl

    if isinstance(claims, pl.DataFrame):
        claims = _from_polars(claims)
    if isinstance(claims, pa.RecordBatch):
        claims = pa.Table.from_batches([claims])
    if isinstance(claims, pa.Table):
        claims = _flat(claims)
        refuse_columns_named_twice(claims.schema.names, "the table",
                                   "drop or rename the other one (a section's struct column and a dotted column of "
                                   "the same field count as two)")
        _check_columns(claims.schema, facts)
        claims = _typed(claims)
        _check_types(claims, facts)
        return _table_chunks(within_python_dates(claims), size)
    # (A frame or array of another kind is iterable too, over its column names or values: never claims.)
    if isinstance(claims, (str, bytes, PathLike, Mapping)) or not isinstance(claims, Iterable) or \
            type(claims).__module__.partition(".")[0] in ("pandas", "polars", "pyarrow"):
        raise _not_claims(claims)
    return _record_chunks(iter(claims), size)


def _from_polars(frame: Any) -> Any:
    """A Polars DataFrame of claims as an Arrow table: Int128 columns as the decimal that holds their values (Arrow
    has no 128-bit integers); RX405 for such a column holding a value beyond 38 digits."""
    import polars as pl

    wide = [name for name, kind in frame.schema.items() if kind == getattr(pl, "Int128", None)]
    # A value beyond 38 digits fits no such decimal (Polars would raise on the cast): no fact takes one, so
    # the column is refused as a whole, named, before any claim is read.
    most = 10**38 - 1
    beyond = [name for name in wide if frame.select((pl.col(name) > most) | (pl.col(name) < -most)).to_series().any()]
    if beyond:
        raise RxError([Diagnostic(
            code="RX405", field=name,
            message=f"the column `{name}` is Int128 and holds a value of more than 38 digits, which no fact takes",
            help=f"correct the values of `{name}` (a number of days or euros has a few digits), or give the claims "
                 "as a Parquet file or table of int64 columns") for name in beyond])
    if wide:
        frame = frame.with_columns([pl.col(name).cast(pl.Decimal(38, 0)) for name in wide])
    return frame.to_arrow()  # (large strings and lists: `_typed` makes them what a Parquet file holds)


def _table_chunks(table: Any, size: int) -> Iterator[Chunk]:
    for index, start in enumerate(range(0, table.num_rows, size)):
        part = table.slice(start, size).combine_chunks()
        yield Chunk(index=index, first=start + 1, count=part.num_rows, table=part)


def _record_chunks(claims: Iterator[object], size: int) -> Iterator[Chunk]:
    first = 1
    for index in itertools.count():
        records = [_record(claim) for claim in itertools.islice(claims, size)]
        if not records:
            return
        yield Chunk(index=index, first=first, count=len(records), given=records)
        first += len(records)


def _record(claim: object) -> Record:
    """A case mapping as a record; anything else as the problem of its error row (as a JSON line that is not an
    object)."""
    if isinstance(claim, Mapping):
        odd = _key_not_text(claim, "")
        if odd is None:
            return claim
        section, key = odd
        here = f"`{section}`" if section else "the top level of the claim"
        # (A key that is no text names no field, as an unknown name in a case file: RX403, said of this claim.)
        return RecordProblem("RX403", section or None,
                             f"{here} has the key {key!r} ({type(key).__name__}), which is no field name",
                             "write each field name as text, e.g. \"dispensed_on\", \"medicine.atc\" or "
                             "{\"medicine\": {\"atc\": ...}}")
    return RecordProblem("RX802", None, f"the record is {type(claim).__name__}, not a mapping",
                         "give each claim as a mapping in the case file's shape, e.g. "
                         '{"dispensed_on": "2025-03-14", "medicine": {"atc": "N05BA04", ...}, ...}')


def _key_not_text(claim: Mapping[Any, object], section: str) -> tuple[str, object] | None:
    """The section and the first key of ``claim`` (or of a section in it) that is not a text, if any."""
    for key, value in claim.items():
        if not isinstance(key, str):
            return section, key
        if isinstance(value, Mapping):
            odd = _key_not_text(value, f"{section}.{key}".lstrip("."))
            if odd is not None:
                return odd
    return None


def _not_claims(claims: object) -> RxError:
    kind = f"{type(claims).__module__}.{type(claims).__qualname__}".removeprefix("builtins.")
    if isinstance(claims, (str, PathLike)):
        fix = "for a claims file use `evaluate_claims_file` (or `ClaimsEvaluator.evaluate_file`)"
    elif isinstance(claims, Mapping):
        fix = "for one claim give a list of one mapping: `[claim]`"
    elif kind.startswith("pandas."):
        fix = "make it an Arrow table first: `pyarrow.Table.from_pandas(frame, preserve_index=False)`"
    elif kind.startswith("polars.") and hasattr(claims, "collect"):
        fix = "collect it first: `frame.collect()`"
    else:
        fix = "give a pyarrow Table or RecordBatch, a Polars DataFrame, or an iterable of case mappings"
    return RxError(Diagnostic(code="RX801", message=f"claims of type {kind} cannot be read as claims", help=fix))


def _typed(table: Any) -> Any:
    """The table with the types a Parquet claims file holds where it has their large or dictionary-encoded forms
    (Polars gives ``large_string``; pandas categories are dictionaries), so the columns read it as they read a
    file."""
    import pyarrow as pa

    def plain(kind: Any) -> Any:
        if pa.types.is_dictionary(kind):
            return plain(kind.value_type)
        if pa.types.is_large_string(kind) or _is(pa, "string_view", kind):
            return pa.string()
        if pa.types.is_large_list(kind) or _is(pa, "list_view", kind) or pa.types.is_list(kind):
            return pa.list_(plain(kind.value_type))
        return kind

    target = pa.schema([field.with_type(plain(field.type)) for field in table.schema])
    return table if target.equals(table.schema) else table.cast(target)


def _is(pa: Any, name: str, kind: Any) -> bool:
    """Whether ``kind`` is a type of the name that older pyarrow releases do not have."""
    test = getattr(pa.types, f"is_{name}", None)
    return bool(test(kind)) if test is not None else False


def _check_columns(schema: Any, facts: CaseSchema) -> None:
    """RX403 (RX401) for a column that is no field of a case, RX402 for a required field without a column: what
    the case validator says of every record of such a table, said once. The validator itself is asked, with a
    record that writes every column (a struct column as its section), so the words are its own."""
    probe = unflatten({field.name: _written(field.type) for field in schema})
    run = CheckRun(schema=facts, source="claims", from_file=False)
    run.walk(from_python(probe), "")
    run.missing()
    # (A missing fact of an `all or none` section is a problem only in the records that write the section.)
    problems = [d for d in run.problems if d.code in _CODES_OF_COLUMNS and not (
        d.code == "RX402" and d.field is not None and d.field in facts.fields and not facts.fields[d.field].required)]
    if problems:
        raise RxError(problems)


def _written(kind: Any) -> object:
    """A value standing for a column's cells in the probe record: a struct's fields as a section."""
    import pyarrow as pa

    if pa.types.is_struct(kind):
        return {kind.field(i).name: _written(kind.field(i).type) for i in range(kind.num_fields)}
    return True


def _flat(table: Any) -> Any:
    """The table with its struct columns (a section as nested mappings make it, e.g. ``pl.DataFrame(cases)``) as
    the dotted columns a Parquet claims file has: a null inside a struct, or a null struct, is then an empty cell,
    a field not given, as a key left out of a case mapping (a struct keeps a null where a mapping leaves a key out)."""
    import pyarrow as pa

    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    return table


#: Per kind of fact, the kinds of Arrow column (see :func:`_column_kind`) whose values the case check can ever
#: accept; a column of another kind refuses every value it holds (e.g. a float for money: a float cannot hold
#: cents exactly, as a float in a case mapping is refused; a timestamp for a date). Texts take any scalar.
_READABLE = {
    Kind.BOOL: {"bool"}, Kind.MONEY: {"int", "decimal", "text"}, Kind.NUMBER: {"int", "float", "decimal", "text"},
    Kind.DATE: {"date", "text"}, Kind.ATC: {"text"},
    Kind.TEXT: {"bool", "int", "float", "decimal", "text", "date", "timestamp"},
    Kind.ENUM: {"bool", "int", "float", "decimal", "text", "date", "timestamp"}, Kind.LIST: {"list"},
}
#: The Arrow type to cast such a column to, as the fix says.
_CAST_TO = {Kind.BOOL: "bool", Kind.MONEY: "decimal128(12, 2)", Kind.NUMBER: "int64", Kind.DATE: "date32",
            Kind.ATC: "string", Kind.TEXT: "string", Kind.ENUM: "string", Kind.LIST: "list<string>"}


def _column_kind(kind: Any) -> str:
    import pyarrow as pa

    for name, test in (("bool", pa.types.is_boolean), ("int", pa.types.is_integer), ("float", pa.types.is_floating),
                       ("decimal", pa.types.is_decimal), ("text", pa.types.is_string), ("date", pa.types.is_date),
                       ("timestamp", pa.types.is_timestamp), ("list", pa.types.is_list)):
        if test(kind):
            return name
    return "other"  # (bytes, times of day, durations…: no value of a case reads as one)


def _check_types(table: Any, facts: CaseSchema) -> None:
    """RX404 (RX405 for a timestamp for a date, as per record) for a column whose type never holds a valid value
    of its fact: what the case validator says of every record that fills the column, said once with the fix for
    a table. A column of nothing but empty cells gives no record a value, so it is let through."""
    import pyarrow as pa

    problems = []
    for field, column in zip(table.schema, table.columns):
        spec = facts.fields.get(field.name)
        if spec is None or pa.types.is_null(field.type) or column.null_count == len(column):
            continue
        kind, readable = spec.type.kind, _READABLE.get(spec.type.kind)
        found = _column_kind(field.type)
        if readable is None or found in readable:
            continue
        why = ", and a float cannot hold cents exactly" if kind is Kind.MONEY and found == "float" else ""
        fix = f"cast the column to {_CAST_TO[kind]}"
        if kind is Kind.BOOL and found == "text":
            fix = f"make it a bool column, e.g. `pyarrow.compute.equal(table[{field.name!r}], \"true\")`"
        code = "RX405" if kind is Kind.DATE and found == "timestamp" and field.type.tz is None else "RX404"
        problems.append(Diagnostic(
            code=code, field=field.name,
            message=f"the column `{field.name}` is {field.type}, which never holds {KIND_WORDS[kind]}{why}",
            help=f"{fix}; for a CSV file, read it with `rxpolicy.bulk.evaluate_claims_file(policy, 'claims.csv')` "
                 "(which reads each cell as a case file's value)"))
    if problems:
        raise RxError(problems)
