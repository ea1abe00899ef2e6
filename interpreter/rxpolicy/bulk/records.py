"""Reading claims files in chunks: JSON Lines, CSV and Parquet, streamed, every record accounted for.

A claims file holds one dispensing case per record. JSON Lines records have the case-file shape (nested
sections; dotted keys such as ``"medicine.atc"`` are accepted too); CSV and Parquet columns are the flattened
field paths (``medicine.atc``, ``dispensing.fees.delivery``). A record that cannot even be read as a record
(a JSON Lines line that is not JSON, or not an object) becomes a :class:`RecordProblem` in its place, so the
record numbers stay those of the file; a file that cannot be read at all raises :class:`RxError` (RX801).

CSV cells are read as a YAML scalar written in a case file would be (``true``, ``12.40``, ``2025-03-14``,
``[gp, specialist]``), an empty cell as a field left out; Parquet cells arrive as typed Python values (a
``decimal128`` column as ``Decimal``, a ``date32`` column as ``date``). Everything then goes through the one case
validator, so a claim is accepted or refused exactly as its case file would be.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import yaml

from rxpolicy.diagnostics import Diagnostic, RxError

__all__ = ["Chunk", "FIELD_ORDER", "FORMATS", "PER_RECORD", "RecordProblem", "check_readable", "input_format",
           "read_chunks", "refuse_columns_named_twice", "text_records", "unflatten", "within_python_dates"]

#: The claims formats, by the suffix that names them.
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

#: The Arrow schema metadata with which a chunk's table (``Chunk.table``) says that each record listed its fields in
#: an order of its own (``FIELD_ORDER: PER_RECORD``: a JSON line's keys come in any order), not in the table's
#: column order (a CSV header, Parquet columns). The validator names a refused record's first problem in its
#: listed order, so the columns then write no error row that must choose one of several problems.
FIELD_ORDER = b"rxpolicy.field_order"
PER_RECORD = b"per record"


@attrs.frozen
class RecordProblem:
    """A record that is not a case: the code, the field it concerns (if one) and what is wrong, with the fix."""

    code: str
    field: str | None
    message: str
    help: str | None = None


Record = Mapping[str, Any] | RecordProblem


@attrs.define
class Chunk:
    """Consecutive records of a claims file; ``first`` is the number of the first (records count from 1).

    Parquet chunks also hold the records as an Arrow table of flattened columns (``table``), which the
    columnar path reads; the records as mappings are made from it only when asked for. JSON Lines chunks hold
    their lines as read (``lines``), CSV chunks their cells as text (``texts``): each record is decoded only when
    asked for, and the columnar path reads all of them at once (:mod:`.jsonl_columns`, :mod:`.csv_columns`).
    """

    index: int
    first: int
    count: int
    table: Any = attrs.field(default=None, eq=False, repr=False)
    given: list[Record] | None = attrs.field(default=None, eq=False, repr=False)
    #: The chunk's JSON Lines lines (blank lines left out), where the records come from (None: other formats).
    lines: list[bytes] | None = attrs.field(default=None, eq=False, repr=False)
    #: The chunk's CSV cells as text (an Arrow table of strings), where the records come from (None: other formats).
    texts: Any = attrs.field(default=None, eq=False, repr=False)

    def __len__(self) -> int:
        return self.count

    @property
    def records(self) -> list[Record]:
        """Every record of the chunk, in order."""
        if self.given is None:
            if self.lines is not None:
                self.given = [_jsonl_record(line) for line in self.lines]
            elif self.texts is not None:
                self.given = text_records(self.texts)
            else:
                self.given = self.table.to_pylist() if self.table is not None else []
        return self.given

    def subset(self, positions: list[int]) -> list[Record]:
        """The records at some positions of the chunk (without making the others)."""
        if self.given is None and self.lines is not None:
            # The lines, not the columns read from them: a record's own decoding (and its problem) is the truth.
            return [_jsonl_record(self.lines[i]) for i in positions]
        if self.given is None and self.texts is not None:
            return text_records(self.texts.take(positions))
        if self.given is None and self.table is not None:
            return list(self.table.take(positions).to_pylist())
        records = self.records
        return [records[i] for i in positions]


def input_format(path: Path, given: str | None = None) -> str:
    """The format of a claims file: as given, else from its suffix; RX801 when neither says."""
    if given:
        return given
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise RxError(Diagnostic(
            code="RX801", message=f"cannot tell the format of {path} from its name",
            help="name the file .jsonl, .csv or .parquet, or give `--input-format jsonl|csv|parquet`"))
    return found


def read_chunks(path: Path, fmt: str, size: int, *, skip: int = 0) -> Iterator[Chunk]:
    """The records of a claims file in chunks of ``size`` records; the first ``skip`` chunks are read past
    without converting their records (a resumed run)."""
    check_readable(path)
    reader = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}[fmt]
    index = 0
    first = 1
    for count, records, table in reader(path, size, skip):
        if index >= skip:
            if isinstance(records, _Lines):
                yield Chunk(index=index, first=first, count=count, lines=records.lines)
            elif isinstance(records, _Texts):
                yield Chunk(index=index, first=first, count=count, texts=records.table)
            else:
                yield Chunk(index=index, first=first, count=count, table=table, given=records)
        first += count
        index += 1


def check_readable(path: Path) -> None:
    """RX801 unless ``path`` is a file."""
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise RxError(Diagnostic(code="RX801", message=f"the claims file {path} {what}",
                                 help="give the path of a .jsonl, .csv or .parquet file of claims"))


def unflatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record in the case-file shape: dotted keys become sections; empty values are left out (defaults apply)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if value is None and "." in key:
            continue  # an empty flattened cell: the field is not given
        *sections, name = key.split(".")
        node = out
        for section in sections:
            child = node.get(section)
            if not isinstance(child, dict):
                child = node[section] = {}
            node = child
        if isinstance(value, Mapping) and isinstance(node.get(name), dict):
            node[name].update(unflatten(value))
        else:
            node[name] = value
    return out


def refuse_columns_named_twice(names: Sequence[str], where: str, fix: str) -> None:
    """RX801 when two columns of claims (a Parquet file's, a CSV header's, a table's) have one name: which of the
    two holds the field cannot be told, so nothing is evaluated rather than one of them silently ignored."""
    twice = [name for name, count in collections.Counter(names).items() if count > 1]
    if twice:
        raise RxError(Diagnostic(
            code="RX801", message=f"{where} has two columns named {', '.join(f'`{n}`' for n in twice)}: "
                                  "which one holds the field cannot be told",
            help=f"keep one column per case field: {fix}"))


def _unreadable(path: Path, fmt: str, error: Exception) -> RxError:
    return RxError(Diagnostic(code="RX801", message=f"{path} cannot be read as {fmt}: {error}",
                              help=f"check that the file is {fmt}, or give `--input-format` for its real format"))


# ------------------------------------------------------------------------------------------- JSON Lines

@attrs.frozen
class _Lines:
    """The lines of a JSON Lines chunk, decoded later (by :attr:`Chunk.records` or the columnar reading)."""

    lines: list[bytes]


def _jsonl(path: Path, size: int, skip: int) -> Iterator[tuple[int, Any, Any]]:
    lines: list[bytes] = []
    chunks = 0
    try:
        with path.open("rb") as handle:
            while block := handle.readlines(1 << 24):  # lines as `for raw in handle` gives them, many at a time
                # A blank line holds no record (a line beginning with `{` is not blank: no need to strip it).
                lines.extend([raw for raw in block if raw[:1] == b"{" or raw.strip()])
                while len(lines) >= size:
                    # A chunk already done (a resumed run) needs its length only.
                    yield size, (_Lines(lines[:size]) if chunks >= skip else []), None
                    lines, chunks = lines[size:], chunks + 1
    except OSError as error:
        raise _unreadable(path, "JSON Lines", error) from None
    if lines:
        yield len(lines), (_Lines(lines) if chunks >= skip else []), None


def _jsonl_record(raw: bytes) -> Record:
    try:
        # Decimal for every number with a fraction: money stays exact, as in a case file.
        value = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as error:
        return RecordProblem("RX802", None, f"the line is not valid JSON: {error}",
                             "write one case per line as a JSON object, e.g. "
                             '{"dispensed_on": "2025-03-14", "medicine": {"atc": "N05BA04", ...}, ...}')
    if not isinstance(value, dict):
        return RecordProblem("RX802", None, f"the line holds {type(value).__name__}, not a JSON object",
                             "write one case per line as a JSON object with the case file's sections")
    return value


# ------------------------------------------------------------------------------------------- CSV

def _csv(path: Path, size: int, skip: int) -> Iterator[tuple[int, Any, Any]]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first column's name, as for Arrow.
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            header = handle.readline()
        import csv
        names = next(csv.reader([header]))
        refuse_columns_named_twice(names, str(path), "remove or rename the other one in the header line")
        # Every column as text: a cell is read as its YAML scalar below, like a value in a case file.
        options = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                       quoted_strings_can_be_null=False)
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 22), convert_options=options)
    except (OSError, UnicodeDecodeError, StopIteration, pa.ArrowInvalid) as error:
        raise _unreadable(path, "CSV", error) from None
    pending: list[Any] = []
    held = chunks = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as error:
            raise _unreadable(path, "CSV", error) from None
        pending.append(batch)
        held += batch.num_rows
        while held >= size:
            table = pa.Table.from_batches(pending)
            # A chunk already done (a resumed run) needs its length only.
            yield size, (_Texts(table.slice(0, size)) if chunks >= skip else []), None
            rest = table.slice(size)
            pending, held, chunks = rest.to_batches(), rest.num_rows, chunks + 1
    if held:
        yield held, (_Texts(pa.Table.from_batches(pending)) if chunks >= skip else []), None


@attrs.frozen
class _Texts:
    """The cells of a CSV chunk as text, read as YAML scalars later (by :attr:`Chunk.records` or the columns)."""

    table: Any


def text_records(table: Any) -> list[Record]:
    """CSV rows (a table of text cells) as records: each cell the YAML scalar it would be in a case file."""
    return [{k: _cell(v) for k, v in row.items()} for row in table.to_pylist()]


_RESOLVER = yaml.resolver.Resolver()


def _cell(text: str) -> object:
    """A CSV cell as the YAML scalar it would be in a case file; an empty cell is None (not given)."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("["):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text
    resolved: str = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    tag = resolved.rpartition(":")[2]
    if tag == "bool":
        return text.lower() in ("true", "yes", "on")
    if tag == "int":
        try:
            return int(text)
        except ValueError:
            return text
    if tag == "float":
        try:
            return Decimal(text)
        except ArithmeticError:
            return text
    if tag == "timestamp":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return text  # the validator says what is wrong with it
    if tag == "null":
        return None
    return text


# ------------------------------------------------------------------------------------------- Parquet

def _parquet(path: Path, size: int, skip: int) -> Iterator[tuple[int, list[Record] | None, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as error:
        raise _unreadable(path, "Parquet", error) from None
    refuse_columns_named_twice(parquet.schema_arrow.names, str(path), "write the file again with one of them")
    chunk = 0
    pending: list[Any] = []
    held = 0

    def take(table: Any) -> tuple[int, list[Record] | None, Any]:
        nonlocal chunk
        chunk += 1
        if chunk <= skip:  # a chunk already done: only its length matters
            return table.num_rows, [], None
        return table.num_rows, None, within_python_dates(table)

    try:
        # Batches end at row-group boundaries; they are cut into chunks of exactly `size` rows, so a chunk
        # (and an output partition) holds the same records whatever the file's row groups are.
        for batch in parquet.iter_batches(batch_size=size):
            pending.append(batch)
            held += batch.num_rows
            while held >= size:
                table = pa.Table.from_batches(pending).combine_chunks()
                yield take(table.slice(0, size))
                rest = table.slice(size)
                pending, held = ([rest] if rest.num_rows else []), rest.num_rows
                pending = [b for t in pending for b in t.to_batches()]
        if held:
            yield take(pa.Table.from_batches(pending).combine_chunks())
    except (OSError, pa.ArrowInvalid) as error:
        raise _unreadable(path, "Parquet", error) from None


def within_python_dates(table: Any) -> Any:
    """A Parquet chunk whose date and time columns hold only days Python can hold (years 1 to 9999): a column
    holding any other (Parquet can hold a day of the year 10183) is given as the text of its days
    (``10183-09-21``), which the case check refuses as a date outside those rxpolicy works with (RX405), where
    reading the day would fail."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for position, field in enumerate(table.schema):
        if not (pa.types.is_date(field.type) or pa.types.is_timestamp(field.type)):
            continue
        column = table.column(position)
        if column.null_count == len(column):
            continue
        extremes = pc.min_max(column)
        try:
            extremes["min"].as_py(), extremes["max"].as_py()
        except (OverflowError, ValueError):
            texts = [None if day is None else _day_text(day) for day in _days(column)]
            table = table.set_column(position, field.with_type(pa.string()), pa.array(texts, pa.string()))
    return table


def _days(column: Any) -> list[int | None]:
    """A date or time column as whole days since 1970-01-01 (a time of day left out; a rare road, in Python)."""
    import pyarrow as pa

    if pa.types.is_date32(column.type):
        return list(column.cast(pa.int32()).to_pylist())
    per_day = 86_400 * {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[
        "ms" if pa.types.is_date64(column.type) else column.type.unit]
    return [None if count is None else count // per_day for count in column.cast(pa.int64()).to_pylist()]


def _day_text(days: int) -> str:
    """The proleptic Gregorian day ``days`` after 1970-01-01 as ``YYYY-MM-DD``, for any year (``-0221-09-04``,
    ``10183-09-21``); the civil-from-days arithmetic of the 400-year cycle."""
    shifted = days + 719_468  # days since 0000-03-01
    era, day_of_era = divmod(shifted, 146_097)
    year_of_era = (day_of_era - day_of_era // 1_460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_from_march = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_from_march + 2) // 5 + 1
    month = month_from_march + 3 if month_from_march < 10 else month_from_march - 9
    year = year_of_era + era * 400 + (month <= 2)
    return f"{'-' if year < 0 else ''}{abs(year):04d}-{month:02d}-{day:02d}"
