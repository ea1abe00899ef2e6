"""A JSON Lines chunk as the typed, flattened Arrow table the columnar path reads, for the claims it can trust.

``rxpolicy batch`` reads JSON Lines in chunks of lines (:class:`rxpolicy.bulk.records.Chunk`); on the per-case
path each line is decoded (``json.loads``, numbers with a fraction as ``Decimal``) and checked by the case
validator. Here a whole chunk is read at once by Arrow's JSON reader (``pyarrow.json.read_json``, in C++, on
several threads) with an explicit schema made from the facts the policy declares: sections as struct columns
(flattened to ``medicine.atc``), money as ``decimal128(12, 2)``, numbers as ``int64``, yes/no as ``bool``, lists as
lists of strings, texts and dates as strings (dates are then read here, strictly: Arrow's own date parser
normalises ``2025-02-30``). Unknown fields are errors.

The table must never say something the line does not, so every claim the reading cannot vouch for is named, and
the columns never see it (:func:`rxpolicy.bulk.run.evaluate_chunk`): it goes to the per-case path, which decodes
its line and accepts or refuses it with its exact words. Marked are the lines where
Arrow and ``json.loads`` + the validator could differ (each probed in ``tests/unit/test_jsonl_columns.py``):

* a line that is not one JSON object beginning with ``{`` (Arrow would read two objects on one line, or a
  byte-order mark, as rows), or that holds a control character (Arrow splits rows at a carriage return);
* an explicit ``null``, except where the validator reads it as the field or section left out (a section; a
  fact that may be unknown, without a default, outside an `all or none` section): it refuses ``null`` for others;
* an empty section ``{}``; a digit followed by ``e`` or ``E`` (Arrow reads the text ``"1e3"`` as money, the
  validator only the number ``1e3``);
* a date not written exactly ``YYYY-MM-DD``, not a real day, or outside the dates rxpolicy works with;
* a text or choice without a letter or digit (the validator refuses a blank one), a number or amount beyond the
  fact's ``at most``, a negative amount (refused in words that quote it as written), a top-level fact left out
  (the columns read an empty top-level cell as a ``null`` written).

A line with dotted keys (``"medicine.atc": …`` at the top level, which the reader accepts) is read on its own with
a flat schema (a field per fact path); there a ``null`` under a dotted key is a field not given, as
:func:`rxpolicy.bulk.records.unflatten` reads it. A line mixing dotted keys and sections goes per case. Where
Arrow refuses the dotted lines, they are screened as nested lines are (below), with their keys as fact paths.

Where Arrow refuses the text (a type the schema does not hold, an unknown or repeated field, an amount with
three decimals, a line that is not JSON), the chunk is read again once in groups of 64 lines, a refused group once
in parts of 8, and a refused part is left per case: each line is parsed at most three times, and a bad line
costs a few good neighbours going per case, never a wrong result.
"""

from __future__ import annotations

import collections
import io
import itertools
import math
import re
import threading
from collections.abc import Sequence
from decimal import ROUND_FLOOR
from typing import Any

import attrs

from rxpolicy.language.facts import CaseSchema
from rxpolicy.language.limits import FIRST_DATE, LAST_DATE
from rxpolicy.language.types import Kind
from rxpolicy.language.values import CENT

from .records import FIELD_ORDER, PER_RECORD

__all__ = ["jsonl_table"]

#: Lines per group read again once when Arrow refuses a part (a chunk, say), then per smaller group read once
#: when Arrow refuses a group; a refused group of the least size goes per case as a whole.
_GROUPS = (1024, 64)
#: Bytes per block of Arrow's reader (blocks are parsed on separate threads; a line longer fails the read).
_BLOCK = 1 << 20
#: What a line may not hold to be read by Arrow: a control character (but its end of line), an empty section, an
#: exponent (after a digit or a point, as numbers write it: not after a letter's point, as in the dotted key
#: ``"insured.excess_used"``, which sent every line with it per case), a first character other than ``{``, an
#: escaped ASCII character.
_HAZARDS = r"[\x00-\x09\x0b\x0c\x0e-\x1f]|\r(?:[^\n]|$)|\{[ \t]*\}|[0-9][eE]|[^A-Za-z_]\.[eE]|^[^{]|\\u00[0-7]"
#: A ``\\uXXXX`` escape of a character beyond ASCII (``\\u00e9`` is é, not a number with an exponent): taken out
#: before the hazards are looked for. An escaped ASCII character (``\\u0065`` is ``e``) is a hazard itself.
_WIDE_ESCAPE = r"\\u(?:00[89a-fA-F][0-9a-fA-F]|0[1-9a-fA-F][0-9a-fA-F]{2}|[1-9a-fA-F][0-9a-fA-F]{3})"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#: A dotted key (``"medicine.atc":``), which a line may use instead of sections.
_DOTTED = r'"[A-Za-z0-9_]+\.[A-Za-z0-9_.]+"[ \t]*:'
#: A text the validator certainly reads as not blank.
_SOMETHING = r"[0-9A-Za-z]"


@attrs.frozen
class _Reading:
    """What reading a schema's claims needs, worked out once per schema."""

    arrow: Any
    #: The schema of a line with dotted keys: a top-level field per written fact, named by its path.
    flat: Any
    kinds: dict[str, Kind]
    #: The written facts with their declared most (numbers and money).
    at_most: dict[str, Any]
    #: A regex finding each ``null`` that means what leaving its field out means (None: no field has one).
    null_ok: re.Pattern[bytes] | None
    #: The same in a line with dotted keys, where a dotted key's ``null`` is always a field left out.
    flat_null_ok: re.Pattern[bytes]
    #: The top-level facts whose ``null`` is not a field left out: in a flattened table (Parquet's) an empty
    #: top-level cell is such a ``null`` written, so a line that leaves one out cannot be told from it there.
    top_level: tuple[str, ...]
    #: A regex (RE2) finding a value Arrow would refuse: a known key whose value is of another shape, or an
    #: amount with more than two decimals.
    refused: str
    #: A regex (RE2) finding each known key (or a dotted one), taken out before an unknown one is looked for.
    known_key: str
    #: The same two for a line with dotted keys, whose keys are fact paths (a section's name is unknown there).
    flat_refused: str
    flat_known_key: str


def jsonl_table(lines: Sequence[bytes], schema: CaseSchema) -> tuple[Any, list[int]]:
    """The chunk's claims as a flattened Arrow table, one row per line, and the positions of the lines the reading
    cannot vouch for (their rows say nothing: those claims go per case)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    reading = _reading(schema)
    count = len(lines)
    if not count:
        return pa.table({}), []
    # The lines as read, each with its end of line ("\n" or "\r\n", which Arrow reads alike): only the file's
    # last line may lack one.
    body = list(lines)
    if not body[-1].endswith(b"\n"):
        body[-1] += b"\n"
    data = b"".join(body)
    # The lines as one binary array over the joined bytes (no copy per line), for the hazard test in C++.
    offsets = pa.array(list(itertools.accumulate(map(len, body), initial=0)), pa.int64())
    array = pa.Array.from_buffers(pa.large_binary(), count, [None, offsets.buffers()[1], pa.py_buffer(data)])
    if b"\\u" in data:
        array = pc.replace_substring_regex(array, _WIDE_ESCAPE, "x")
    # One pass for the hazards, `null` and dotted keys; the (few) lines found are looked at again, kind by kind.
    found = pc.match_substring_regex(array, f"{_HAZARDS}|null|{_DOTTED}")
    doubtful: set[int] = set()
    #: Lines with dotted keys (``"medicine.atc": …``), read with the flat schema.
    dotted: set[int] = set()
    if pc.any(found).as_py():
        suspects = pc.indices_nonzero(found)
        some = array.take(suspects)
        hazards = pc.match_substring_regex(some, _HAZARDS).to_pylist()
        flat = pc.match_substring_regex(some, _DOTTED).to_pylist()
        for position, hazard, dots in zip(suspects.to_pylist(), hazards, flat):
            if hazard or _bad_null(body[position], reading.flat_null_ok if dots else reading.null_ok):
                doubtful.add(position)
            elif dots:
                dotted.add(position)
    for position in doubtful | dotted:
        body[position] = b"{}\n"
    parts: list[Any] = []
    if len(doubtful) + len(dotted) == count:  # (a file of dotted lines, say: no nested line to read)
        table = pa.Table.from_arrays([pa.nulls(count, f.type) for f in reading.arrow], schema=reading.arrow)
    else:
        table = _arrow_read(b"".join(body) if doubtful or dotted else data, count, reading.arrow)
    if table is not None:
        parts.append(table)
    else:
        # Arrow refused the chunk: the lines it would refuse that can be told cheaply (an unknown key, a value of
        # another shape, three decimals) go per case, so the rest is read in one go again, or in few groups.
        for position in _refused(array, reading.refused, reading.known_key):
            if position not in dotted:
                doubtful.add(position)
                body[position] = b"{}\n"
        _read(body, 0, count, reading.arrow, parts, doubtful)
    table = (pa.concat_tables(parts) if len(parts) > 1 else parts[0]).combine_chunks()
    while any(pa.types.is_struct(column.type) for column in table.columns):
        table = table.flatten()
    if dotted:
        # The dotted lines read on their own (every other line an empty placeholder), then put in their rows.
        flat_body = [b"{}\n"] * count
        for position in dotted:
            flat_body[position] = lines[position] if lines[position].endswith(b"\n") else lines[position] + b"\n"
        flat_parts: list[Any] = []
        flat_table = _arrow_read(b"".join(flat_body), count, reading.flat)
        if flat_table is not None:
            flat_parts.append(flat_table)
        else:
            # As for nested lines: the dotted lines Arrow would refuse that can be told cheaply go per case first.
            positions = sorted(dotted)
            some = array.take(pa.array(positions, pa.int64()))
            for index in _refused(some, reading.flat_refused, reading.flat_known_key):
                doubtful.add(positions[index])
                flat_body[positions[index]] = b"{}\n"
            _read(flat_body, 0, count, reading.flat, flat_parts, doubtful)
        flat_table = (pa.concat_tables(flat_parts) if len(flat_parts) > 1 else flat_parts[0]).combine_chunks()
        mask = pa.array([position in dotted for position in range(count)], pa.bool_())
        table = pa.table({name: pc.if_else(mask, flat_table.column(name), table.column(name))
                          for name in table.column_names})
    trusted = pa.array([position not in doubtful for position in range(count)], pa.bool_()) if doubtful \
        else pa.array([True] * count, pa.bool_())
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        kind = reading.kinds[name]
        if kind is Kind.DATE:
            column, ok = _dates(column)
            trusted = pc.and_kleene(trusted, ok)
        elif kind in (Kind.TEXT, Kind.ENUM):
            ok = pc.match_substring_regex(column, _SOMETHING)
            trusted = pc.and_kleene(trusted, pc.or_kleene(pc.is_null(column), ok))
        most = reading.at_most.get(name)
        if most is not None:
            trusted = pc.and_kleene(trusted, pc.or_kleene(pc.is_null(column), pc.less_equal(column, most)))
        if kind is Kind.MONEY:
            # A negative amount is refused in words that quote it as written (`-14.1`), which the column holds
            # only as -14.10: its error row is the validator's to write.
            trusted = pc.and_kleene(trusted, pc.or_kleene(pc.is_null(column),
                                                          pc.greater_equal(column, pa.scalar(0, column.type))))
        if name in reading.top_level:
            # Left out of the line (a null written is marked above): the validator's "missing", which the columns'
            # error rows, reading the table as Parquet's, would call "has no value".
            trusted = pc.and_kleene(trusted, pc.is_valid(column))
        columns[name] = column
    # Each line lists its keys in an order of its own (the first of several problems is named in that order).
    return pa.table(columns, metadata={FIELD_ORDER: PER_RECORD}), _untrusted(trusted)


def _untrusted(trusted: Any) -> list[int]:
    """The positions where a mask of trusted rows is false or null, in order."""
    import pyarrow.compute as pc

    return list(pc.indices_nonzero(pc.invert(pc.fill_null(trusted, False))).to_pylist())


def _read(body: list[bytes], start: int, stop: int, arrow: Any, parts: list[Any],
          doubtful: set[int], joined: bytes | None = None) -> None:
    """Lines ``start`` to ``stop`` read by Arrow into ``parts`` (``joined``: those lines joined, when at hand).

    A part Arrow refuses is read again once in groups of :data:`_GROUPS` ``[0]`` lines, a refused group once in
    groups of the next size, and a refused group of the least size goes per case: each line is parsed at most
    three times, however the refused lines are spread (halving down to a few lines parsed each line about ten
    times when they were spread through the chunk), in few calls (each costs about as much as several claims)."""
    table = _arrow_read(joined if joined is not None else b"".join(body[start:stop]), stop - start, arrow)
    if table is not None:
        parts.append(table)
    else:
        _read_groups(body, start, stop, arrow, parts, doubtful, _GROUPS)


def _read_groups(body: list[bytes], start: int, stop: int, arrow: Any, parts: list[Any], doubtful: set[int],
                 sizes: tuple[int, ...]) -> None:
    """Lines ``start`` to ``stop`` (which Arrow refused as a whole) read once in groups of ``sizes[0]`` lines, a
    refused group in groups of the next size; a refused group of the last size is left per case."""
    size, smaller = sizes[0], sizes[1:]
    for group in range(start, stop, size):
        end = min(group + size, stop)
        # A group as large as the part was read already (and refused).
        table = _arrow_read(b"".join(body[group:end]), end - group, arrow) if stop - start > size else None
        if table is not None:
            parts.append(table)
        elif smaller:
            _read_groups(body, group, end, arrow, parts, doubtful, smaller)
        else:
            doubtful.update(range(group, end))
            parts.append(_arrow_read(b"{}\n" * (end - group), end - group, arrow))


def _arrow_read(data: bytes, rows: int, arrow: Any) -> Any:
    """Lines (joined) read by Arrow with the schema, or None where Arrow refuses them (e.g. an unknown field, a
    number where text belongs, an amount with three decimals) or reads other than one row per line."""
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(block_size=_BLOCK),
                             parse_options=pj.ParseOptions(explicit_schema=arrow,
                                                           unexpected_field_behavior="error"))
    except (pa.ArrowException, ValueError, OverflowError):
        return None
    # One row per line: every line begins with `{`, so a line is at least one row; more is refused here.
    return table if table.num_rows == rows else None


def _refused(array: Any, refused: str, known_key: str) -> list[int]:
    """The positions of the lines (a binary array) with an unknown key or a value Arrow refuses for its key
    (some of them: the others are found by reading in groups; a line named here needlessly only goes per case);
    ``refused`` and ``known_key`` are the reading's patterns for nested lines or for dotted ones."""
    import pyarrow.compute as pc

    unknown = pc.match_substring_regex(pc.replace_substring_regex(array, known_key, ":"), r'"[ \t]*:')
    return list(pc.indices_nonzero(pc.or_(unknown, pc.match_substring_regex(array, refused))).to_pylist())


def _bad_null(line: bytes, null_ok: re.Pattern[bytes] | None) -> bool:
    """Whether a line has a ``null`` the validator reads otherwise than a field left out (or the letters
    ``null`` anywhere else, inside a text say: the line is left per case then too)."""
    written = line.count(b"null")  # (most suspects are lines with dotted keys and no `null`)
    return written > 0 and written != (len(null_ok.findall(line)) if null_ok is not None else 0)


def _dates(column: Any) -> tuple[Any, Any]:
    """Date texts as ``date32``, and per row whether the validator certainly reads the same day (or none)."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.compute as pc

    written = pc.match_substring_regex(column, _DATE)
    shaped = pc.if_else(written, column, pa.scalar(None, pa.string()))
    try:
        days = pc.cast(shaped, pa.date32())
    except pa.ArrowInvalid:  # a day that does not exist (2025-02-30): read one by one
        found = []
        for text in shaped.to_pylist():
            try:
                found.append(dt.date.fromisoformat(text) if text is not None else None)
            except ValueError:
                found.append(None)
        days = pa.chunked_array([pa.array(found, pa.date32())])
    # Fine: not written, or written as a real day within the dates rxpolicy works with.
    ok = pc.or_kleene(pc.is_null(column), pc.fill_null(_inside(days), False))
    return days, ok


def _inside(days: Any) -> Any:
    """Per day whether it lies within the dates rxpolicy works with (null for no day)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.and_kleene(pc.greater_equal(days, pa.scalar(FIRST_DATE, pa.date32())),
                         pc.less_equal(days, pa.scalar(LAST_DATE, pa.date32())))


def _reading(schema: CaseSchema) -> _Reading:
    """The schema's reading: kept for the schemas used last, built (~7 ms) for another."""
    key = schema.fingerprint
    with _LOCK:
        found = _readings.get(key)
        if found is not None:
            _readings.move_to_end(key)
            return found
    # Built outside the lock (two threads may both build one: equal readings, the last written stays).
    found = _build_reading(schema)
    with _LOCK:
        _readings[key] = found
        while len(_readings) > _KEPT:
            _readings.popitem(last=False)
    return found


#: Readings kept, the least recently used dropped beyond: a long-running process (the HTTP service, the language
#: server, a Dask worker) meets ever new schemas as rule files are edited, and a reading holds regexes and schemas.
_KEPT = 16
_LOCK = threading.Lock()
#: Schema fingerprint → its reading, least recently used first (read and written under ``_LOCK`` only).
_readings: collections.OrderedDict[str, _Reading] = collections.OrderedDict()


def _build_reading(schema: CaseSchema) -> _Reading:
    import pyarrow as pa

    types = {Kind.DATE: pa.string(), Kind.MONEY: pa.decimal128(12, 2), Kind.NUMBER: pa.int64(),
             Kind.BOOL: pa.bool_(), Kind.LIST: pa.list_(pa.string())}
    tree: dict[str, Any] = {}
    kinds: dict[str, Kind] = {}
    at_most: dict[str, Any] = {}
    leaves: dict[str, list[bool]] = {}
    for path in schema.written:
        spec = schema.fields[path]
        kind = spec.type.kind
        kinds[path] = kind
        *sections, name = path.split(".")
        node = tree
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = types.get(kind, pa.string())
        if spec.at_most is not None and kind in (Kind.NUMBER, Kind.MONEY):
            # The limit as the column's values meet it: floored to cents or to a whole number (a two-place amount
            # or a whole number is at most the limit exactly when it is at most that), money in a type wide
            # enough for any limit a rule file may write (twelve whole digits, six decimals), not the column's.
            if kind is Kind.MONEY:
                at_most[path] = pa.scalar(spec.at_most.quantize(CENT, ROUND_FLOOR), pa.decimal128(38, 2))
            else:
                at_most[path] = pa.scalar(math.floor(spec.at_most), pa.int64())
        # `null` means "left out" only for a fact that may be unknown and whose default is unknown anyway.
        same = spec.type.nullable and spec.default is None and not spec.required \
            and path.rpartition(".")[0] not in schema.all_or_none
        leaves.setdefault(name, []).append(same)

    def fields(node: dict[str, Any]) -> list[Any]:
        return [pa.field(key, pa.struct(fields(value)) if isinstance(value, dict) else value)
                for key, value in node.items()]

    # A section written as null is read as a section left out (an empty one, `{}`, is not: see the hazards).
    for path in schema.written:
        for section in path.split(".")[:-1]:
            leaves.setdefault(section, []).append(True)
    names = sorted(name for name, same in leaves.items() if all(same))
    null_ok = re.compile(rb'"(?:' + b"|".join(re.escape(n.encode()) for n in names) + rb')"[ \t]*:[ \t]*null') \
        if names else None
    # In a flattened record a null under a dotted key is a field not given (`records.unflatten` drops it); at
    # the top level it is the validator's null, as in a nested line.
    top = [n for n in names if n in kinds]
    flat_null_ok = re.compile(rb'"(?:[A-Za-z0-9_]+\.[A-Za-z0-9_.]+' + b"".join(b"|" + re.escape(n.encode()) for n in top)
                              + rb')"[ \t]*:[ \t]*null')
    flat = pa.schema([pa.field(path, types.get(kind, pa.string())) for path, kind in kinds.items()])
    top_level = tuple(path for path in kinds if "." not in path and path not in top)
    return _Reading(arrow=pa.schema(fields(tree)), flat=flat, kinds=kinds, at_most=at_most, null_ok=null_ok,
                    flat_null_ok=flat_null_ok, top_level=top_level, refused=_refused_pattern(kinds),
                    known_key=_known_key_pattern(kinds), flat_refused=_refused_pattern(kinds, flat=True),
                    flat_known_key=f'"(?:{_names(set(kinds))})"[ \\t]*:')


#: What a value of each kind may begin with for Arrow to read it (``n``: ``null``), after the key's colon.
_STARTS = {Kind.NUMBER: "-0-9", Kind.MONEY: '"0-9-',
           Kind.BOOL: "tf", Kind.LIST: r"\["}


def _names(names: set[str]) -> str:
    return "|".join(re.escape(name) for name in sorted(names))


def _refused_pattern(kinds: dict[str, Kind], flat: bool = False) -> str:
    """A regex finding a value Arrow refuses for its key: a shape other than the kind's, a section that is not an
    object, a whole number with a fraction, an amount with three decimals. A leaf name used for facts of two
    kinds, or for a fact and a section, is not looked at (Arrow's refusal finds it). ``flat``: for a line with
    dotted keys, whose keys are the facts' paths (each of one kind; no sections)."""
    leaf: dict[str, set[Kind]] = {}
    sections: set[str] = set()
    for path, kind in kinds.items():
        *within, name = [path] if flat else path.split(".")
        leaf.setdefault(name, set()).add(kind)
        sections.update(within)
    by_kind: dict[Kind, set[str]] = {}
    for name, found in leaf.items():
        if len(found) == 1 and name not in sections:
            by_kind.setdefault(next(iter(found)), set()).add(name)
    colon = r'"[ \t]*:[ \t]*'
    alternatives = [f'"(?:{_names(names)}){colon}[^{_STARTS.get(kind, chr(34))}n \t]' for kind, names in by_kind.items()]
    only_sections = sections - set(leaf)
    if only_sections:
        alternatives.append(f'"(?:{_names(only_sections)}){colon}[^{{n \t]')
    if Kind.NUMBER in by_kind:
        alternatives.append(f'"(?:{_names(by_kind[Kind.NUMBER])}){colon}-?[0-9]+\\.')
    if Kind.MONEY in by_kind:
        alternatives.append(f'"(?:{_names(by_kind[Kind.MONEY])}){colon}"?-?[0-9]*\\.[0-9]{{3}}')
    return "|".join(alternatives) or "$^"


def _known_key_pattern(kinds: dict[str, Kind]) -> str:
    """A regex finding a key the schema knows (a fact's or a section's name, or a dotted path)."""
    names = {part for path in kinds for part in path.split(".")}
    return f'"(?:{_names(names)}|[A-Za-z0-9_]+\\.[A-Za-z0-9_.]+)"[ \t]*:'

