"""Checking a case field by field: the conversion and validation behind :mod:`rxpolicy.engine.case`.

A case arrives as a tree of scalars, each kept as the text its author wrote with the type YAML resolves
it to (:class:`Scalar`): from composed YAML (:meth:`CheckRun.from_node`) or from Python values
(:func:`from_python`, which turns a float into a tag that money refuses), so that both roads share one
validator. :class:`CheckRun` sorts the names into fields and sections, converts every field (dates as
``datetime.date``, money as a two-place ``Decimal`` read from its text, never via a float), checks the
limits some fields have beyond their type and the dates against each other, applies defaults and
derives the computed fields. It guarantees that every problem becomes a :class:`Diagnostic` naming the
field (and, for a file, its line and column) and that all of them are raised together in one
:class:`RxError`; it never returns a half-checked case.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TypeAlias, Union

import attrs
import yaml

from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean
from rxpolicy.engine.case_limits import CASE_LIMITS, Limits, compose_fast, compose_limited
from rxpolicy.language.facts import CaseSchema, FactRef, FieldSpec
from rxpolicy.language.limits import FIRST_DATE, LAST_DATE, MAX_WHOLE_DIGITS
from rxpolicy.language.source import SourceFile, Span
from rxpolicy.language.types import Kind
from rxpolicy.language.values import CENT

__all__ = ["KIND_WORDS", "CheckRun", "Item", "Scalar", "accepts_as_written", "compose_yaml", "from_python",
           "mark_span", "example_line", "missing_problem", "order_problem"]

# ASCII only: `\d` alone also matches other scripts' digits (١٢, １２), which Decimal and int would accept.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATE_LIKE = re.compile(r"(?=.*\d)[\d\s./:T-]+")
#: A day of a year before 1 or after 9999, as Arrow writes one a Parquet file holds (``10183-09-21``,
#: ``-0221-09-04``): a date, but none Python (or rxpolicy) can hold.
_FAR_DATE = re.compile(r"(?:[+-]?\d{5,}|-\d{4})-\d{2}-\d{2}", re.ASCII)
_ATC = re.compile(r"[A-Z](\d\d([A-Z]([A-Z](\d\d)?)?)?)?", re.ASCII)
#: Tags a scalar may carry: YAML's own, plus those of Python values (``pyfloat`` so that money can refuse it).
_KNOWN_TAGS = frozenset({"null", "bool", "int", "float", "str", "timestamp", "date", "datetime", "pyfloat"})
#: What a value of each kind of fact is, in words a message says (``needs a date (YYYY-MM-DD), not …``): the
#: same words for a case's value refused here and a claims column of a type that never holds the kind
#: (:mod:`rxpolicy.bulk.evaluator`).
KIND_WORDS = MappingProxyType({
    Kind.BOOL: "yes or no (true or false)", Kind.MONEY: "an amount in euros", Kind.NUMBER: "a number",
    Kind.DATE: "a date (YYYY-MM-DD)", Kind.TEXT: "text", Kind.ATC: "an ATC code", Kind.ENUM: "one of its choices",
    Kind.LIST: "a list"})
#: Example values by kind, where a fact's declaration gives none (``example "…"``).
_EXAMPLES = MappingProxyType({
    Kind.DATE: "2025-01-10", Kind.MONEY: "12.40", Kind.NUMBER: "30", Kind.BOOL: "true", Kind.TEXT: "text",
    Kind.ATC: "N05BA04"})


@attrs.frozen
class Scalar:
    """One scalar as written: its text and the type YAML resolves it to (``str`` when quoted)."""

    text: str
    tag: str


_Tree: TypeAlias = Union[Scalar, list["Item"], dict[str, "Item"]]


@attrs.frozen
class Item:
    """A value of the case tree, with where it was written (no spans for Python values)."""

    value: _Tree
    span: Span | None = None
    key_span: Span | None = None


def compose_yaml(source: SourceFile, *, code: str, what: str, help: str,
                 limits: Limits = CASE_LIMITS) -> yaml.Node | None:
    """The YAML node tree of a file the user wrote (None when it is empty), or :class:`RxError` with
    ``code`` saying where the YAML breaks: "``what`` is not valid YAML: …", located, with ``help``;
    RX409 for a text beyond ``limits`` (an alias of itself, too deep, too large)."""
    try:
        # libyaml composes the same nodes about ten times faster, but enforces no limit: it is used only for
        # a text whose shape cannot exceed them (compose_fast says), and its tree is then measured.
        fast = compose_fast(source, limits, what)
        if fast is not None:
            return fast[0]
    except yaml.YAMLError:
        pass
    try:
        # The pure-Python reader with the limits enforced as it reads (RX409), whose messages the
        # diagnostics are written for (and which has the last word where the two readers differ).
        return compose_limited(source, limits, what)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        # A reader error (a control character in the text) only knows its offset.
        offset = mark.index if mark else int(getattr(error, "position", 0))
        problem = getattr(error, "problem", None) or getattr(error, "reason", None) or str(error)
        if getattr(error, "context", None):  # "expected a single document", "but found another document"
            problem = f"{getattr(error, 'context')}, {problem}"
        raise RxError(Diagnostic(code=code, message=f"{what} is not valid YAML: {problem}",
                                 span=source.span(offset, offset + 1), help=help)) from None


def mark_span(path: str, start: yaml.Mark | None, end: yaml.Mark | None) -> Span:
    """The span between two YAML marks (0-based) of a file; without marks, its first line and column."""
    line, column = (start.line + 1, start.column + 1) if start else (1, 1)
    end_line, end_column = (end.line + 1, end.column + 1) if end else (line, column)
    return Span(path=path, line=line, column=column, end_line=end_line, end_column=end_column)


def from_python(value: object) -> Item:
    """The case tree of nested Python values (mappings, lists, scalars), without spans."""
    # The exact types a decoded record holds first: an ABC check (Mapping) costs several times a type test.
    kind = type(value)
    if kind is str:
        return Item(Scalar(value, "str"))  # type: ignore[arg-type]
    if kind is dict:
        return Item({str(key): from_python(v) for key, v in value.items()})  # type: ignore[attr-defined]
    if kind is bool:
        return _TRUE if value else _FALSE
    if value is None:
        return _NULL
    if isinstance(value, Mapping):
        return Item({str(key): from_python(v) for key, v in value.items()})
    if isinstance(value, (list, tuple)):
        return Item([from_python(v) for v in value])
    return Item(_py_scalar(value))


#: The items of the scalars with one value each (frozen, so one of each serves every case).
_TRUE, _FALSE, _NULL = Item(Scalar("true", "bool")), Item(Scalar("false", "bool")), Item(Scalar("", "null"))


def _py_scalar(value: object) -> Scalar:
    """A Python value as the scalar a case file would hold; the tag keeps what matters for checking it."""
    if value is None:
        return Scalar("", "null")
    if isinstance(value, bool):
        return Scalar(str(value).lower(), "bool")
    if isinstance(value, int):
        # str, not format(…, "f"): that goes through a float; a huge int via Decimal, exact and without
        # Python's limit on converting more than 4,300 digits (the size is refused when checked).
        return Scalar(str(value) if value.bit_length() < 4000 else format(Decimal(value), "f"), "int")
    if isinstance(value, Decimal):
        return Scalar(format(value, "f"), "float")
    if isinstance(value, float):
        return Scalar(format(Decimal(repr(value)), "f"), "pyfloat")
    if isinstance(value, dt.date):
        return Scalar(value.isoformat(), "datetime" if isinstance(value, dt.datetime) else "date")
    return Scalar(value, "str") if isinstance(value, str) else Scalar(repr(value), type(value).__name__)


class _Problem(Exception):
    """A field value that cannot be used: the code, what is wrong (said after the field name) and the fix."""

    def __init__(self, code: str, what: str, help: str) -> None:
        super().__init__(what)
        self.code, self.what, self.help = code, what, help


def example_line(spec: FieldSpec) -> str:
    """An example line for a field, e.g. ``price: 12.40``."""
    typ = spec.type
    example = spec.example or _EXAMPLES.get(typ.kind) or (typ.choices or ("...",))[0]
    return f"{spec.name}: {f'[{example}]' if typ.kind is Kind.LIST else example}"


_line = example_line


def _shown(item: Item | Scalar) -> str:
    value = item.value if isinstance(item, Item) else item
    if isinstance(value, Scalar):
        return f"`{value.text}`" if value.tag != "null" else "empty"
    return "a list" if isinstance(value, list) else "a section of fields"


def _wrong_type(spec: FieldSpec, item: Item | Scalar) -> _Problem:
    return _Problem("RX404", f"needs {KIND_WORDS[spec.type.kind]}, not {_shown(item)}",
                    f"write one value, e.g. `{_line(spec)}`")


def _convert(spec: FieldSpec, s: Scalar, converter: Callable[[FieldSpec, Scalar], object] | None = None) -> object:
    """The value of one scalar for a field, or a :class:`_Problem` (``converter``: the field's kind's, when the
    caller has looked it up)."""
    if s.tag == "null":
        if spec.type.nullable:
            return None
        default = "" if spec.required else ", or leave the line out for the default"
        raise _Problem("RX402" if spec.required else "RX404", "has no value",
                       f"write a value, e.g. `{_line(spec)}`{default}")
    if s.tag not in _KNOWN_TAGS:
        raise _wrong_type(spec, s)
    if s.tag == "str" and not s.text.strip() and spec.type.kind in (Kind.TEXT, Kind.ENUM):
        # `name: ''` names nothing; an empty text would show as a blank in every explanation.
        leave_out = "" if spec.required else ", or leave the line out"
        raise _Problem("RX405", "is empty", f"write a value, e.g. `{_line(spec)}`{leave_out}")
    return (converter or _CONVERTERS[spec.type.kind])(spec, s)


def _bool(spec: FieldSpec, s: Scalar) -> bool:
    if s.tag != "bool":
        name = spec.path.rpartition(".")[2]
        raise _Problem("RX404", f"needs yes or no, not {_shown(s)}", f"write `{name}: true` or `{name}: false`")
    return s.text.lower() in ("true", "yes", "on")


def _decimal(spec: FieldSpec, s: Scalar) -> Decimal:
    """A non-negative number read from its text (never via a float)."""
    if s.tag == "pyfloat" and spec.type.kind is Kind.MONEY:
        raise _Problem("RX404", "is a float; write money as a string or Decimal, a float cannot hold cents "
                       "exactly", 'pass the amount as `"12.40"` or `Decimal("12.40")`')
    if s.tag not in ("int", "float", "str", "pyfloat") or not _NUMBER.fullmatch(s.text.strip()):
        digits = " with the digits 0-9" if any(c.isdigit() and not c.isascii() for c in s.text) else ""
        raise _Problem("RX404", f"needs {KIND_WORDS[spec.type.kind]}, not {_shown(s)}",
                       f"write a plain number{digits}, e.g. `{_line(spec)}`")
    value = Decimal(s.text.strip())
    if value and value.adjusted() >= MAX_WHOLE_DIGITS:
        # Far beyond any amount or count in a dispensing, and beyond what the rules compute with exactly.
        text = s.text.strip()
        shown = text if len(text) <= 30 else f"{text[:12]}… ({len(text)} characters)"
        raise _Problem("RX405", f"is {shown}, larger than rxpolicy works with (at most {MAX_WHOLE_DIGITS} digits "
                       "before the decimal point)", f"check the value, e.g. `{_line(spec)}`")
    if value < 0:
        # A fact declared `at least 1` (supply_days) must not be told "0 or more".
        least = _plain_number(spec.at_least) if spec.at_least is not None and spec.at_least > 0 else "0"
        raise _Problem("RX405", f"cannot be negative ({s.text.strip()})",
                       f"write {least} or more, e.g. `{_line(spec)}`")
    return value


def _money(spec: FieldSpec, s: Scalar) -> Decimal:
    value = _decimal(spec, s)
    try:
        cents = value.quantize(CENT, context=decimal.Context(prec=28))  # not the caller's context
    except InvalidOperation:  # more digits than a Decimal context holds
        raise _Problem("RX405", f"is too large ({s.text})", "check the amount") from None
    if cents != value:
        raise _Problem("RX405", f"has more than two decimals ({s.text.strip()})",
                       "write the amount in whole cents, e.g. `12.40`")
    return cents


def _number(spec: FieldSpec, s: Scalar) -> int | Decimal:
    value = _decimal(spec, s)
    return int(value) if value == value.to_integral_value() else value


def _date(spec: FieldSpec, s: Scalar) -> dt.date:
    text, written = s.text.strip(), s.tag in ("str", "timestamp", "date")
    if written and _ISO_DATE.fullmatch(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise _Problem("RX405", f"is `{text}`, a date that does not exist",
                           "check the day and the month; dates are written YYYY-MM-DD") from None
        if not FIRST_DATE <= day <= LAST_DATE:
            # The rules lay periods of up to 100 years from these dates; they must stay dates.
            raise _Problem("RX405", f"is `{text}`, outside the dates rxpolicy works with ({FIRST_DATE} to "
                           f"{LAST_DATE})", f"check the year, e.g. `{_line(spec)}`")
        return day
    if written and _FAR_DATE.fullmatch(text):
        raise _Problem("RX405", f"is `{text}`, outside the dates rxpolicy works with ({FIRST_DATE} to {LAST_DATE})",
                       f"check the year, e.g. `{_line(spec)}`")
    if (written or s.tag == "datetime") and _DATE_LIKE.fullmatch(text):
        raise _Problem("RX405", f"is `{text}`, not a date written as YYYY-MM-DD",
                       f"write the date as year-month-day, e.g. `{_line(spec)}`")
    raise _Problem("RX404", f"needs a date, not {_shown(s)}", f"write a date as YYYY-MM-DD, e.g. `{_line(spec)}`")


def _atc(spec: FieldSpec, s: Scalar) -> str:
    if not _ATC.fullmatch(s.text):
        fix = s.text.strip().upper()
        raise _Problem("RX405", f"is `{s.text}`, which is not a WHO ATC code",
                       f"write `atc: {fix}`" if _ATC.fullmatch(fix) else "write an ATC code such as `N05BA04`")
    return s.text


def _choice(spec: FieldSpec, s: Scalar) -> str:
    typ = spec.type
    if spec.open_choice or s.text in typ.choices:
        return s.text
    hint = _choice_hint(s.text.lower(), typ.choices)
    suggestion = f"; did you mean `{hint}`?" if hint else ""
    raise _Problem("RX406", f"is `{s.text}`, which is not a {typ.name}{suggestion}",
                   f"write one of: {', '.join(typ.choices)}")


@functools.lru_cache(maxsize=4096)
def _choice_hint(word: str, choices: tuple[str, ...]) -> str | None:
    """The choice a misspelt one probably meant: difflib's comparison costs ~20 µs, and a batch of claims repeats
    the same wrong choice many times (bounded, and safe across threads: ``lru_cache`` locks its bookkeeping)."""
    return did_you_mean(word, choices)


_CONVERTERS: Mapping[Kind, Callable[[FieldSpec, Scalar], object]] = MappingProxyType({
    Kind.BOOL: _bool, Kind.MONEY: _money, Kind.NUMBER: _number, Kind.DATE: _date,
    Kind.TEXT: lambda _, s: s.text, Kind.ATC: _atc, Kind.ENUM: _choice})


def _plain_number(value: object) -> str:
    """A limit as a message writes it: whole amounts without cents (``100``, not ``100.00``)."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


def _check_limits(spec: FieldSpec, value: object, plans: Collection[str] | None) -> None:
    """The limits a fact's declaration sets beyond its type."""
    if spec.at_least is not None and isinstance(value, (int, Decimal)) and value < spec.at_least:
        reason = spec.at_least_reason or f"it is at least {_plain_number(spec.at_least)}"
        noun = spec.noun.get("en", spec.name)
        raise _Problem("RX405", f"is {value}, but {reason}",
                       f"write {noun}, e.g. `{spec.name}: {spec.example or 30}`")
    if spec.at_most is not None and isinstance(value, (int, Decimal)) and value > spec.at_most:
        # Named as a fault of the case: beyond it, a rule using the value would fail and be blamed.
        reason = spec.at_most_reason or f"it is at most {_plain_number(spec.at_most)}"
        raise _Problem("RX405", f"is {value}, but {reason} (at most {_plain_number(spec.at_most)})",
                       f"check the value, e.g. `{spec.name}: {spec.example or 30}`")
    if spec.whole is not None and isinstance(value, Decimal) and value != value.to_integral_value():
        # Days and months are counted whole: the month arithmetic lays whole days from the dispensing date.
        raise _Problem("RX405", f"is {value}, but it counts whole {spec.whole}",
                       f"write a whole number of {spec.whole}, e.g. `{spec.name}: 30`")
    if spec.allowed and value not in spec.allowed:
        options = [_plain_number(a) for a in spec.allowed]
        listed = ", ".join(options[:-1]) + f" or {options[-1]}" if len(options) > 1 else options[0]
        raise _Problem("RX405", f"is {value}, not a {spec.name.replace('_', ' ')} one can choose", f"write {listed}")
    if spec.one_of_plans and plans is not None and value is not None and not plans:
        raise _Problem("RX407", f"is `{value}`, but this policy knows no supplementary plans",
                       f"write `{spec.name}: null` (or leave it out), or choose the policy that has this plan")
    if spec.one_of_plans and plans is not None and value is not None and value not in plans:
        hint = _choice_hint(str(value), tuple(plans))
        suggestion = f"; did you mean `{hint}`?" if hint else ""
        raise _Problem("RX407", f"is `{value}`, a plan the policy does not know{suggestion}",
                       f"write one of: {', '.join(sorted(plans))}, or `null`")


def accepts_as_written(spec: FieldSpec, value: object) -> bool:
    """Whether the full check reads a Python value written for a fact as that very value: no problem, an equal
    value of the same type (the generated builder lets a fact's default through untested only then)."""
    if spec.type.kind is Kind.LIST:
        return isinstance(value, tuple) and all(isinstance(e, str) and e in spec.type.choices for e in value)
    try:
        read = _convert(spec, _py_scalar(value))
        _check_limits(spec, read, None)
    except _Problem:
        return False
    return type(read) is type(value) and read == value


#: Marks a field whose value could not be read (its problem is reported).
_FAILED = object()


#: One fact to fill in: its path, declaration, the function computing it (None: written), its arguments, and
#: the fact its default names (None: a value, or no default).
_FillEntry: TypeAlias = tuple[str, FieldSpec, Callable[..., object] | None, tuple[str, ...], str | None]


@attrs.frozen
class _Tables:
    """What a check run reads from its schema, worked out once per schema instead of once per case: the
    written and computed facts, where each name is at home, the required facts with their example lines,
    and the order in which defaults and computed facts are filled in."""

    written: tuple[str, ...]
    written_set: frozenset[str]
    derived_names: frozenset[str]
    #: A field or section name → the sections (``""``: the top level) that have it, in schema order.
    homes: Mapping[str, tuple[str, ...]]
    #: A section (``""``: the top level) → the names of its fields and sections, in schema order.
    names: Mapping[str, tuple[str, ...]]
    #: Per written fact: its path, its section, whether it is required, and the line a message suggests.
    needed: tuple[tuple[str, str, bool, str], ...]
    #: Facts in an order where each one's arguments and default come before it (None: dependencies
    #: that cannot be ordered, left to the recursive fill of :meth:`CheckRun.cross_check`).
    fill: tuple[_FillEntry, ...] | None
    #: The part of ``fill`` that the checks of dates against each other and of `all or none` sections read
    #: (closed under what it depends on), and the rest: a case refused by then needs no more (its values are
    #: never used).
    check_fill: tuple[_FillEntry, ...] | None
    rest_fill: tuple[_FillEntry, ...] | None
    #: Per written fact with order constraints: (path, other, after, why).
    orders: tuple[tuple[str, str, bool, str | None], ...]
    #: Per `all or none` section its written facts.
    section_facts: Mapping[str, tuple[str, ...]]
    #: Computed facts that may not be empty.
    needs_value: tuple[str, ...]
    #: Per written fact: its declaration and its kind's converter (None for a list).
    converters: Mapping[str, tuple[FieldSpec, Callable[[FieldSpec, Scalar], object] | None]]


def _tables(schema: CaseSchema) -> _Tables:
    """The tables of a schema, built the first time they are asked for (a dict write of an immutable value:
    two threads may both build them, and either result is the same)."""
    found = _tables_by_schema.get(schema.fingerprint)  # the fingerprint names the facts (as builder_for keys)
    if found is None:
        found = _tables_by_schema[schema.fingerprint] = _build_tables(schema)
    return found


#: Fingerprint → the schema's tables: written once per schema, read only after.
_tables_by_schema: dict[str, _Tables] = {}


def _build_tables(schema: CaseSchema) -> _Tables:
    fields = schema.fields
    written = schema.written
    homes: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    for home, _, name in (n.rpartition(".") for n in (*written, *schema.sections)):
        homes.setdefault(name, []).append(home)
        names.setdefault(home, []).append(name)
    needed = tuple((path, path.rpartition(".")[0], fields[path].required, _line(fields[path])) for path in written)
    orders = tuple((path, other, after, why) for path in written for other, after, why in fields[path].orders)
    section_facts = {section: tuple(p for p in written if p.rpartition(".")[0] == section)
                     for section in schema.all_or_none}
    fill = _fill_order(schema)
    check_fill = rest_fill = None
    if fill is not None:
        # What the cross-checks read, and everything that goes into those values.
        read = {p for path, other, _, _ in orders for p in (path, other)} | {
            p for paths in section_facts.values() for p in paths}
        for path, _, _, arguments, ref in reversed(fill):  # dependents come after what they depend on
            if path in read:
                read.update(arguments)
                if ref is not None:
                    read.add(ref)
        check_fill = tuple(entry for entry in fill if entry[0] in read)
        rest_fill = tuple(entry for entry in fill if entry[0] not in read)
    return _Tables(
        written=written, written_set=frozenset(written),
        derived_names=frozenset(d.rpartition(".")[2] for d in schema.derived),
        homes=MappingProxyType({k: tuple(v) for k, v in homes.items()}),
        names=MappingProxyType({k: tuple(v) for k, v in names.items()}),
        needed=needed, fill=fill, check_fill=check_fill, rest_fill=rest_fill, orders=orders, section_facts=MappingProxyType(section_facts),
        needs_value=tuple(p for p in schema.derived if not fields[p].type.nullable),
        converters=MappingProxyType({p: (fields[p], None if fields[p].type.kind is Kind.LIST else
                                         _CONVERTERS[fields[p].type.kind]) for p in written}))


def _fill_order(schema: CaseSchema) -> tuple[_FillEntry, ...] | None:
    """Every fact once, after what it is computed from and what its default names (depth first, in schema
    order, as the recursive fill visits them); None for dependencies in a circle (the schema reader refuses
    those, RX350)."""
    fields = schema.fields
    order: list[_FillEntry] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(path: str) -> bool:
        if path in done:
            return True
        if path in visiting:
            return False
        visiting.add(path)
        spec = fields[path]
        ref = spec.default.path if isinstance(spec.default, FactRef) else None
        needs = spec.arguments if spec.derived else (ref,) if ref is not None else ()
        if not all(visit(n) for n in needs):
            return False
        function = spec.compute if spec.computed_by is not None else None
        order.append((path, spec, function, spec.arguments, ref))
        done.add(path)
        return True

    return tuple(order) if all(visit(p) for p in fields) else None


@attrs.define
class CheckRun:
    """One validation: walks the case tree, converts every field and collects every problem."""

    schema: CaseSchema
    source: str
    from_file: bool
    plans: Collection[str] | None = None
    problems: list[Diagnostic] = attrs.Factory(list)
    written: dict[str, Item] = attrs.Factory(dict)
    sections: dict[str, Span | None] = attrs.Factory(dict)
    broken: list[str] = attrs.Factory(list)
    tables: _Tables = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.tables = _tables(self.schema)

    def report(self, code: str, field: str | None, message: str, span: Span | None, help: str) -> None:
        """Collect one problem with a field (``None``: the case as a whole)."""
        if span is None and self.from_file:  # e.g. a missing section: point at the top of the case
            span = self.sections.get("") or mark_span(self.source, None, None)
        self.problems.append(Diagnostic(code=code, message=message, field=field, span=span, help=help))

    def from_node(self, node: yaml.Node, prefix: str) -> Item:
        """The case tree of a composed YAML node; a key written twice is reported (YAML forbids it)."""
        span = mark_span(self.source, node.start_mark, node.end_mark)
        if isinstance(node, yaml.MappingNode):
            entries: dict[str, Item] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                path, key_span = f"{prefix}.{name}".lstrip("."), mark_span(self.source, key.start_mark, key.end_mark)
                if name in entries:
                    self.report("RX401", path, f"`{path}` is written twice", key_span, "keep one of the two lines")
                entries[name] = attrs.evolve(self.from_node(value, path), key_span=key_span)
            return Item(entries, span)
        if isinstance(node, yaml.SequenceNode):
            return Item([self.from_node(v, prefix) for v in node.value], span)
        tag = node.tag.rpartition(":")[2] if node.tag.startswith("tag:yaml.org,2002:") else node.tag
        return Item(Scalar(str(node.value), tag), span)

    def check(self, root: Item) -> tuple[tuple[object, ...], Mapping[str, int]]:
        """The values of the validated case (one per schema field, in schema order) and the line each
        written field is on; or :class:`RxError` with every problem."""
        self.walk(root, "")
        self.missing()
        converted = ((path, self.convert(path, item)) for path, item in self.written.items())
        got = {path: value for path, value in converted if value is not _FAILED}
        values = self.cross_check(got) if self.schema.period_date in got else ()
        if self.problems:
            raise RxError(self.problems)
        lines = {path: item.key_span.line for path, item in self.written.items() if item.key_span}
        return values, MappingProxyType(lines)

    def walk(self, item: Item, prefix: str) -> None:
        """Sort the keys of one section into fields, sections and unknown names."""
        if not isinstance(item.value, dict):
            name = prefix.rpartition(".")[2]
            what, fix = (f"the section `{prefix}`", f"`{prefix}` indented under `{name}:`") if prefix else (
                "a case", "the case as `name: value` lines")
            self.report("RX401", prefix or None, f"{what} must hold `name: value` lines, not {_shown(item)}",
                        item.span, f"write the fields of {fix}")
            self.broken.append(prefix)
            return
        self.sections[prefix] = item.span
        for key, child in item.value.items():
            path = f"{prefix}.{key}".lstrip(".")
            if path in self.tables.written_set:
                self.written[path] = child
            elif path in self.schema.sections and not (isinstance(child.value, Scalar) and child.value.tag == "null"):
                self.walk(child, path)
            elif path not in self.schema.sections:  # (`insured:` with nothing under it, `authorisation: null`: fine)
                self.unknown(key, prefix, child)

    def unknown(self, key: str, prefix: str, child: Item) -> None:
        """An unknown name: say where it belongs, or which name was probably meant."""
        path, here = f"{prefix}.{key}".lstrip("."), f"`{prefix}`" if prefix else "the top level of a case"
        span = child.key_span or child.span
        homes = [home for home in self.tables.homes.get(key, ()) if home != prefix]
        names = self.tables.names.get(prefix, ())
        hint = did_you_mean(key, names)
        if key in self.tables.derived_names:
            self.report("RX403", path, f"`{key}` is worked out from the other fields, so a case does not write it",
                        span, f"remove the line `{key}: ...`")
        elif homes:
            where = " or ".join(f"`{h}`" if h else "the top level" for h in homes)
            self.report("RX403", path, f"`{key}` belongs in {where}, not in {here}", span,
                        f"move the line `{key}: ...` to {where}")
        elif hint:
            self.report("RX403", path, f"{here} has no field `{key}`; did you mean `{hint}`?", span,
                        f"rename `{key}` to `{hint}`")
        else:
            self.report("RX403", path, f"{here} has no field `{key}`", span,
                        f"remove the line, or use one of the fields of {here}: {', '.join(names)}")

    def missing(self) -> None:
        """Report required fields not written (every fact of an `all or none` section once it is given)."""
        all_or_none, written, broken = self.schema.all_or_none, self.written, self.broken
        for path, section, required, line in self.tables.needed:
            if path in written or not (required or (section in all_or_none and section in self.sections)):
                continue
            # Inside a section that is not a mapping nothing was read, so nothing is reported missing.
            if broken and any(b in ("", section) or section.startswith(b + ".") for b in broken):
                continue
            message, help = missing_problem(path, section, line)
            self.report("RX402", path, message, self.sections.get(section), help)

    def convert(self, path: str, item: Item) -> object:
        """The value of one written field; a problem is reported and gives :data:`_FAILED`."""
        spec, converter = self.tables.converters[path]
        try:
            if converter is None:
                return self.list_value(spec, item)
            if not isinstance(item.value, Scalar):
                raise _wrong_type(spec, item)
            value = _convert(spec, item.value, converter)
            _check_limits(spec, value, self.plans)
            return value
        except _Problem as problem:
            self.report(problem.code, path, f"`{path}` {problem.what}", item.span, problem.help)
            return _FAILED

    def list_value(self, spec: FieldSpec, item: Item) -> object:
        """A list of choices; each wrong entry is reported where it is written."""
        if not isinstance(item.value, list):
            raise _Problem("RX404", f"needs a list, not {_shown(item)}", f"write a list, e.g. `{_line(spec)}`")
        values = []
        for entry in item.value:
            try:
                if not isinstance(entry.value, Scalar):
                    raise _wrong_type(spec, entry)
                values.append(_choice(spec, entry.value))
            except _Problem as problem:
                self.report(problem.code, spec.path, f"an entry of `{spec.path}` {problem.what}",
                            entry.span or item.span, problem.help)
        return tuple(values) if len(values) == len(item.value) else _FAILED

    def half_section(self, v: Mapping[str, object], section: str) -> None:
        """Report an `all or none` section with some of its facts written as null and others not."""
        paths = self.tables.section_facts[section]
        for path in paths:
            others = [p for p in paths if p != path and v[p] is not None]
            if v[path] is None and path in self.written and others:
                every = "both" if len(paths) == 2 else "all"
                self.report("RX402", path, f"`{path}` is null, but {_a(section)} {section} has {every} "
                            f"{'dates' if all(self.schema.fields[p].type.kind is Kind.DATE for p in paths) else 'facts'}"
                            " or none", self.written[path].span,
                            f"write the {'date' if self.schema.fields[path].type.kind is Kind.DATE else 'value'} of "
                            f"`{path}`, or write `{section}: null` when there is no {section}")

    def cross_check(self, got: dict[str, object]) -> tuple[object, ...]:
        """Apply defaults, check dates against each other and derive the computed fields."""
        fields = self.schema.fields
        failed = set(self.written) - set(got)
        v: dict[str, object] = {}
        tables = self.tables

        def value(path: str) -> object:
            if path not in v:
                spec = fields[path]
                if spec.derived:
                    args = [value(a) for a in spec.arguments]
                    # A date that could not be read leaves its computations out; its problem is reported.
                    v[path] = None if any(a is None for a in args) else \
                        spec.compute(*args)
                elif path in got:
                    v[path] = got[path]
                else:  # not written, or written wrong (its problem is reported): the default
                    v[path] = spec.default_in(value)
            return v[path]

        if tables.check_fill is None or tables.rest_fill is None:
            for path in fields:
                value(path)
        else:
            # The values the checks below read first; the others only for a case that is still clean (the
            # values of a refused case are never used). The same values as the recursive fill above, filled in
            # an order worked out once per schema.
            self.fill(tables.check_fill, got, v)
        for path, other, after, why in tables.orders:
            first, later = (other, path) if not after else (path, other)
            a, b = v[first], v[later]
            if isinstance(a, dt.date) and isinstance(b, dt.date) and b < a and not failed & {first, later}:
                blame, said, help = order_problem(path, other, after, why, v, self.written)
                span = self.written[blame].span if blame in self.written else None
                self.report("RX405", blame, said, span, help)
        for section in self.schema.all_or_none:
            if section in self.sections:
                self.half_section(v, section)
        if self.problems:
            return ()  # refused: the values are not used
        if tables.rest_fill is not None:
            self.fill(tables.rest_fill, got, v)
        if any(v[p] is None for p in tables.needs_value):
            return ()  # a value could not be read; its problem is already reported
        return tuple(v[path] for path in fields)

    @staticmethod
    def fill(entries: tuple[_FillEntry, ...],
             got: Mapping[str, object], v: dict[str, object]) -> None:
        """Fill in facts in a dependency order: computed ones from their arguments (empty when one is), written
        ones as read, or their default (a value, or another fact's)."""
        for path, spec, function, arguments, ref in entries:
            if function is not None:
                args = [v[a] for a in arguments]
                for arg in args:  # a loop, not any(…): this runs some 60 times per case
                    if arg is None:
                        v[path] = None
                        break
                else:
                    v[path] = function(*args)
            elif path in got:
                v[path] = got[path]
            else:  # not written, or written wrong (its problem is reported): the default
                v[path] = v[ref] if ref is not None else spec.default


def missing_problem(path: str, section: str, line: str) -> tuple[str, str]:
    """The message and fix of a required field not written (RX402); ``line`` is its example line."""
    where = f"under `{section}:`" if section else "at the top level"
    return f"the required field `{path}` is missing", f"add the line `{line}` {where}"


def order_problem(path: str, other: str, after: bool, why: str | None, values: Mapping[str, object],
                  written: Collection[str]) -> tuple[str, str, str]:
    """The field blamed, the message and the fix of two dates in the wrong order (RX405): ``path`` must not be
    after (``after``) or before ``other``, ``values`` hold both dates, ``written`` the fields the case wrote."""
    first, later = (other, path) if not after else (path, other)
    # Blame a field the author wrote; the other may be a default (the insured period).
    blame = path if path in written else other if other in written else path
    a_, b_ = (f"`{p}` ({values[p]}{'' if p in written else ', the default'})" for p in (first, later))
    said = f"{a_} is after {b_}" if blame == first else f"{b_} is before {a_}"
    return blame, said, f"check both dates: {why or 'one is written wrong'}"


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
