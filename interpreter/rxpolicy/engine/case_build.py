"""A case builder generated once per declared case schema: the fast road from a plain mapping to a case.

:func:`builder_for` writes, compiles and caches (by the schema's fingerprint and the limits) a Python
function that reads a mapping of Python values the way :mod:`rxpolicy.engine.case_check` does, with
the checks written out in straight-line code for each declared fact instead of interpreted per value:
one dict lookup per fact (its default, a constant, as the lookup's fallback), an exact type test first
(``type(x) is bool``, ``date``, ``Decimal``, ``int``, ``str``), choices as a frozenset lookup, limits as
one chained comparison, dates in order, computed facts once, in the order they need each other.

It only ever accepts what the full check accepts, giving the same values; anything else (a problem,
or a value it does not read itself, such as a float, a ``Decimal`` number of days or a non-dict
mapping) makes it give up and return None, and the caller runs the full check, which reports every
problem with the same messages as before. So the guarantees and messages are the full check's; the
generated function only makes the common, valid case cheap. An exception on the way (a ``TypeError``
from an unhashable value, a ``decimal`` signal, an impossible date) also means "give up".

**The case limits (RX409) in the same pass.** :func:`~rxpolicy.engine.case_limits.check_python_shape`
walks a mapping for its depth, its number of values, a value that contains itself and the length of
its texts. A mapping the builder accepts has only the declared sections (dicts, each read once) and
facts, every value of an exact scalar type or a list of declared codes: its depth is the schema's,
it cannot contain itself, and it holds at most the declared facts plus the entries of its lists. So
the builder checks what can still go beyond a limit, the length of texts and of lists, and gives up
on anything longer; when the schema itself is deeper or larger than the limits allow (no real schema
is), the generated function walks the shape first, as before. The caller walks the shape of any
mapping the builder gives up on, before the full check, so a limit is reported first on both roads.
"""

from __future__ import annotations

import datetime as dt
import json
import marshal
import math
import re
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from decimal import Decimal
from types import CodeType
from typing import Any

import yaml

from rxpolicy.engine.case_check import accepts_as_written
from rxpolicy.engine.case_limits import CASE_LIMITS, Limits, check_python_shape, compose_unmeasured
from rxpolicy.language.facts import BUILTINS, CaseSchema, FactRef, FieldSpec
from rxpolicy.language.limits import FIRST_DATE, LAST_DATE, MAX_WHOLE_DIGITS
from rxpolicy.language.types import Kind
from rxpolicy.language.values import CENT

__all__ = ["Builder", "TextRead", "adopt_builder", "builder_code", "builder_for", "builder_source", "read_text_fast"]

#: ``build(data, plans)`` → the case's values in schema order, or None: run the full check.
Builder = Callable[[Mapping[str, object], "Collection[str] | None"], "tuple[object, ...] | None"]

_lock = threading.Lock()
_built: dict[tuple[str, Limits], Builder] = {}
_built_for_cases: dict[str, Builder] = {}  # the same, for the case limits, by fingerprint
# ASCII only, as in case_check: `\d` alone also matches other scripts' digits, which Decimal accepts.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII).fullmatch
_ATC = re.compile(r"[A-Z](\d\d([A-Z]([A-Z](\d\d)?)?)?)?", re.ASCII).fullmatch
#: Money and counts have at most this many digits before the decimal point (the full check says why).
_TOO_LARGE = 10 ** MAX_WHOLE_DIGITS
#: Whole euros as money, for the small amounts a mapping often gives as an int (`"voluntary_excess": 100`):
#: built once, read only.
_EUROS = {euros: Decimal(euros).quantize(CENT) for euros in range(1001)}


def builder_for(schema: CaseSchema, limits: Limits = CASE_LIMITS) -> Builder:
    """The generated builder of a schema, written and compiled the first time it is asked for."""
    if limits is CASE_LIMITS:  # the common key without hashing the limits for every case
        found = _built_for_cases.get(schema.fingerprint)  # a dict read is atomic: no lock once it is written
        if found is not None:
            return found
    key = (schema.fingerprint, limits)
    found = _built.get(key)
    if found is not None:
        return found
    with _lock:
        found = _built.get(key)
        if found is None:
            source, constants = builder_source(schema, limits)
            found = _built[key] = _bound(_compiled(source, schema), constants, limits)
            if limits is CASE_LIMITS:
                _built_for_cases[schema.fingerprint] = found
        return found


def builder_code(schema: CaseSchema) -> tuple[bytes, dict[str, object]]:
    """The builder of a schema for the case limits as compiled code (``marshal``) and the constants it refers
    to by name: what the cache on disk keeps with a compiled policy (:mod:`rxpolicy.engine.persist`), so that
    a new process does not write and compile it again."""
    source, constants = builder_source(schema, CASE_LIMITS)
    return marshal.dumps(_compiled(source, schema)), constants


def adopt_builder(schema: CaseSchema, code: bytes, constants: dict[str, object]) -> None:
    """Take the builder :func:`builder_code` gave (from the cache on disk: authenticated bytes only) as the
    schema's builder for the case limits, unless one is built already."""
    if schema.fingerprint in _built_for_cases:
        return
    compiled = marshal.loads(code)
    if not isinstance(compiled, CodeType):
        raise TypeError("a cache entry holds no builder code")
    with _lock:
        if schema.fingerprint not in _built_for_cases:
            _built[(schema.fingerprint, CASE_LIMITS)] = _built_for_cases[schema.fingerprint] = _bound(
                compiled, constants, CASE_LIMITS)


def _compiled(source: str, schema: CaseSchema) -> CodeType:
    return compile(source, f"<rxpolicy case builder {schema.fingerprint[:12]}>", "exec")


def _bound(code: CodeType, constants: Mapping[str, object], limits: Limits) -> Builder:
    """The ``build`` function of a builder's compiled module, with what it refers to by name bound."""
    namespace: dict[str, Any] = {
        "M": _MISSING, "date": dt.date, "Decimal": Decimal, "CENT": CENT,
        "NUM": _NUMBER, "ATC": _ATC, "fromiso": dt.date.fromisoformat, "EMPTY": {}, "FIRST": FIRST_DATE,
        "LAST": LAST_DATE, "ZERO": Decimal(0), "TOO_LARGE": Decimal(_TOO_LARGE), "EUROS": _EUROS,
        "SHAPE": check_python_shape, "LIMITS": limits}
    namespace.update(constants)
    exec(code, namespace)  # noqa: S102 - code this module wrote (compiled here, or read back from the HMAC'd cache)
    return namespace["build"]  # type: ignore[no-any-return]


class _Missing:
    """Marks a key a mapping does not have."""


_MISSING = _Missing()


def builder_source(schema: CaseSchema, limits: Limits = CASE_LIMITS) -> tuple[str, dict[str, object]]:
    """The Python source of a schema's builder and the constants it refers to by name.

    Only declared names, codes and values reach the source, each as a constant bound by name (``K3``)
    or a ``repr`` of a declared identifier, never text from a case.
    """
    writer = _Writer(schema, limits)
    return writer.write(), writer.constants


class _Writer:
    def __init__(self, schema: CaseSchema, limits: Limits) -> None:
        self.schema = schema
        self.limits = limits
        self.constants: dict[str, object] = {}
        self.lines: list[str] = ["def build(data, plans):"]
        self.var = {path: f"v{i}" for i, path in enumerate(schema.fields)}
        self.section_var = {"": "data"}
        lists = [p for p in schema.written if schema.fields[p].type.kind is Kind.LIST]
        # Values of a mapping the builder accepts, lists left out: the case, its sections and its facts.
        values = 1 + len(schema.sections) + len(schema.written)
        #: Entries one list may have so that all of them together stay within the limit on values.
        self.list_entries = (limits.max_values - values) // max(1, len(lists))
        depth = max((p.count(".") + 1 + (schema.fields[p].type.kind is Kind.LIST) for p in schema.written),
                    default=1)
        codes = [c for s in schema.fields.values() for c in s.type.choices]
        #: Whether an accepted mapping can still go beyond a limit other than its texts and lists: then the
        #: builder walks its shape first.
        self.walk_shape = depth > limits.max_depth or self.list_entries < 1 or any(
            len(c) > limits.max_text for c in codes)

    def const(self, value: object) -> str:
        for name, known in self.constants.items():
            if type(known) is type(value) and known == value:
                return name
        name = f"K{len(self.constants)}"
        self.constants[name] = value
        return name

    def emit(self, line: str, depth: int = 2) -> None:
        self.lines.append("    " * depth + line)

    def write(self) -> str:
        schema = self.schema
        self.emit("if type(data) is not dict: return None", 1)
        if self.walk_shape:
            self.emit("SHAPE(data, LIMITS)", 1)
        # Anything unexpected on the way (an unhashable value, a decimal signal, an impossible date) leaves the
        # case to the full check, which says what is wrong.
        self.emit("try:", 1)
        self.keys("")
        for section in schema.sections:
            parent, _, name = section.rpartition(".")
            var = self.section_var[section] = f"s{len(self.section_var)}"
            known = self.known_keys(section)
            self.emit(f"{var} = {self.section_var[parent]}.get({name!r})")
            self.emit(f"if {var} is None: {var} = EMPTY")
            if section in schema.all_or_none:
                fields = [s.name for s in schema.fields.values()
                          if not s.derived and s.path.rpartition(".")[0] == section]
                # All or none: with exactly its facts (then no other key), or none of them (None).
                self.emit(f"elif type({var}) is not dict or len({var}) != {len(fields)} or not "
                          f"{var}.keys() >= {self.const(frozenset(fields))}: return None")
            else:
                self.emit(f"elif type({var}) is not dict or not {var}.keys() <= {self.const(known)}: return None")
        for path in schema.written:
            self.field(schema.fields[path])
        for path in self._later_order():
            spec = schema.fields[path]
            if spec.derived:
                builtin = BUILTINS[spec.computed_by]  # type: ignore[index]
                args = ", ".join(self.var[a] for a in spec.arguments)
                if builtin.of_year:  # every date a case may hold is within these years (FIRST to LAST)
                    table = {year: builtin.function(dt.date(year, 1, 1))
                             for year in range(FIRST_DATE.year, LAST_DATE.year + 1)}
                    self.emit(f"{self.var[path]} = {self.const(table)}[{args}.year]")
                else:
                    self.emit(f"{self.var[path]} = {self.const(spec.compute)}({args})")  # its readings bound
            else:
                assert isinstance(spec.default, FactRef)
                self.emit(f"if {self.var[path]} is M: {self.var[path]} = {self.var[spec.default.path]}")
        for path in schema.written:
            for other, after, _ in schema.fields[path].orders:
                first, later = (other, path) if not after else (path, other)
                a, b = self.var[first], self.var[later]
                tests = [f"{v} is not None" for p, v in ((first, a), (later, b)) if self.may_be_none(p)]
                self.emit(f"if {' and '.join([*tests, f'{b} < {a}'])}: return None")
        for section in schema.all_or_none:
            fields = [self.var[p] for p in schema.written if p.rpartition(".")[0] == section]
            given = " + ".join(f"({v} is not None)" for v in fields)
            self.emit(f"if ({given}) not in (0, {len(fields)}): return None")
        self.emit("except (TypeError, ValueError, ArithmeticError): return None", 1)
        self.emit(f"return ({''.join(v + ', ' for v in self.var.values())})", 1)
        return "\n".join(self.lines) + "\n"

    def may_be_none(self, path: str) -> bool:
        spec = self.schema.fields[path]
        return spec.type.nullable or (spec.default is None and not spec.required and not spec.derived)

    def known_keys(self, section: str) -> frozenset[str]:
        prefix = f"{section}." if section else ""
        return frozenset(p[len(prefix):].split(".")[0] for p in [*self.schema.written, *self.schema.sections]
                         if p.startswith(prefix))

    def keys(self, section: str) -> None:
        self.emit(f"if not {self.section_var[section]}.keys() <= {self.const(self.known_keys(section))}: return None")

    def _later_order(self) -> list[str]:
        """Computed facts and defaults naming another fact, each after the facts it needs."""
        fields, done, order = self.schema.fields, set(self.schema.written), []

        def needs(path: str) -> tuple[str, ...]:
            spec = fields[path]
            return spec.arguments if spec.derived else (spec.default.path,) if isinstance(spec.default, FactRef) \
                else ()

        later = [p for p, s in fields.items() if s.derived or isinstance(s.default, FactRef)]
        visiting: set[str] = set()

        def visit(path: str) -> None:
            if path in visiting or (path in done and path not in later) or path in order:
                return
            visiting.add(path)
            for need in needs(path):
                if need in later:
                    visit(need)
            order.append(path)

        for path in later:
            visit(path)
        return order

    def field(self, spec: FieldSpec) -> None:
        """Straight-line code reading one written fact into its variable, or giving up (``return None``).

        The lookup's fallback is the default when it is a value, ``M`` when it names another fact (filled in
        later), None when the fact is required (refused below). The fallback and null (where the fact may be
        unknown) pass untested; a default the full check would not read as itself when written (none that
        the declarations allow) is not a fallback, so a case leaving it out goes to the full check.
        """
        v, kind, nullable = self.var[spec.path], spec.type.kind, spec.type.nullable
        if isinstance(spec.default, FactRef):
            fallback = "M"
        elif spec.required or spec.default is None or not accepts_as_written(spec, spec.default):
            fallback = "None"
        elif isinstance(spec.default, bool):
            fallback = repr(spec.default)
        else:
            fallback = self.const(spec.default)
        passes = sorted(({"None"} if nullable else set()) | ({fallback} if fallback != "None" else set()))
        self.emit(f"{v} = {self.section_var[spec.path.rpartition('.')[0]]}.get({spec.name!r}, {fallback})")
        text = f"len({v}) <= {self.limits.max_text}"
        if kind is Kind.BOOL:
            # True, False and what passes: three identity tests.
            tests = dict.fromkeys(["True", "False", *passes])
            self.emit(f"if {' and '.join(f'{v} is not {p}' for p in tests)}: return None")
            return self.plan_and_allowed(spec, v, passes)
        if passes:
            self.emit(f"if {' or '.join(f'{v} is {p}' for p in passes)}: pass")
        first = len(self.lines)  # without a value that passes, the first test below is an `if`, not an `elif`
        if kind is Kind.DATE:
            self.emit(f"elif (t := type({v})) is date:")  # the type once, for the tests below
            self.emit(f"if not FIRST <= {v} <= LAST: return None", 3)
            # YYYY-MM-DD in ASCII: of the forms fromisoformat reads, only this one has ten characters with dashes
            # at these places (it reads ASCII digits only); a date that does not exist is a ValueError.
            self.emit(f"elif t is str and len({v}) == 10 and {v}[4] == '-' and {v}[7] == '-' and "
                      f"{v}.isascii():")
            self.emit(f"{v} = fromiso({v})", 3)
            self.emit(f"if not FIRST <= {v} <= LAST: return None", 3)
        elif kind is Kind.MONEY:
            # Exactly in cents and within the digits rxpolicy works with, else the full check says why. A value in
            # cents quantizes to itself exactly, whatever the caller's decimal context (one that cannot hold it
            # signals, or gives NaN, which is not equal: the full check then reads it in its own context).
            self.emit(f"elif (t := type({v})) is Decimal:")
            self.emit(f"if not ZERO <= {v} < TOO_LARGE: return None", 3)
            self.emit(f"d = {v}.quantize(CENT)", 3)
            self.emit(f"if d != {v}: return None", 3)
            self.emit(f"{v} = d", 3)
            self.emit("elif t is int:")
            self.emit(f"d = EUROS.get({v})", 3)
            self.emit(f"if d is not None: {v} = d", 3)
            self.emit(f"elif 0 <= {v} < {_TOO_LARGE}: {v} = Decimal({v}).quantize(CENT)", 3)
            self.emit("else: return None", 3)
            # Text of digits and a point only (what Decimal reads of it is then a plain number without a sign, or
            # an error); with two decimals written, already in cents. Any other text goes through the pattern.
            self.emit(f"elif t is str and {text} and not {v}.strip('0123456789.'):")
            self.emit(f"d = Decimal({v})", 3)
            self.emit(f"if {v}[-3:-2] != '.':", 3)
            self.emit("q = d.quantize(CENT)", 4)
            self.emit("if q != d: return None", 4)
            self.emit("d = q", 4)
            self.emit("if d >= TOO_LARGE: return None", 3)
            self.emit(f"{v} = d", 3)
            self.emit(f"elif t is str and {text} and NUM({v}):")
            self.emit(f"d = Decimal({v})", 3)
            self.emit(f"{v} = d.quantize(CENT)", 3)
            self.emit(f"if not ZERO <= d < TOO_LARGE or {v} != d: return None", 3)
        elif kind is Kind.NUMBER:
            low, high = _whole_range(spec)
            self.emit(f"elif type({v}) is int:")
            self.emit(f"if not {low} <= {v} <= {high}: return None", 3)
        elif kind in (Kind.TEXT, Kind.ATC) or (kind is Kind.ENUM and spec.open_choice):
            # An empty text (or only spaces) is refused by the full check; an ATC code is at most 7 characters.
            test = f"ATC({v})" if kind is Kind.ATC else f"{text} and {v} and not {v}.isspace()"
            self.emit(f"elif type({v}) is str:")
            self.emit(f"if not ({test}): return None", 3)
        elif kind is Kind.ENUM:
            self.emit(f"elif type({v}) is str:")
            self.emit(f"if {v} not in {self.const(frozenset(spec.type.choices))}: return None", 3)
        elif kind is Kind.LIST and not spec.open_choice:
            codes = self.const(frozenset(spec.type.choices))
            self.emit(f"elif type({v}) is list or type({v}) is tuple:")
            self.emit(f"if len({v}) > {self.list_entries} or not all(type(e) is str and e in {codes} for e in {v}): "
                      "return None", 3)
            self.emit(f"{v} = tuple({v})", 3)
        self.emit("else: return None")  # any other value, or a kind the builder does not read: the full check
        if not passes:
            self.lines[first] = self.lines[first].replace("elif ", "if ", 1)
        self.plan_and_allowed(spec, v, passes)

    def plan_and_allowed(self, spec: FieldSpec, v: str, passes: list[str]) -> None:
        """The declared choices of values beyond the type (``one of …``, ``one of the plans``) and an amount's
        declared limits (a number's are in its range test), for a written value."""
        checks = []
        if spec.allowed:
            checks.append(f"{v} not in {self.const(frozenset(spec.allowed))}")
        if spec.type.kind is Kind.MONEY:
            if spec.at_least is not None:
                checks.append(f"{v} < {self.const(spec.at_least)}")
            if spec.at_most is not None:
                checks.append(f"{v} > {self.const(spec.at_most)}")
        if checks:
            skip = "".join(f"{v} is not {p} and " for p in passes)
            self.emit(f"if {skip}({' or '.join(checks)}): return None")
        if spec.one_of_plans:  # a default is not checked against the plans, but a written value is, even the same
            known = f"{v} is not None and " if spec.type.nullable else ""
            self.emit(f"if plans is not None and {known}{v} not in plans: return None")


def _whole_range(spec: FieldSpec) -> tuple[int, int]:
    """The least and the greatest whole number a number fact takes: its type's range within its declared limits.

    A limit that is not whole is rounded inwards (``at least 1.5`` takes 2), as a whole number meets it."""
    low, high = 0, _TOO_LARGE - 1
    if spec.at_least is not None:
        low = max(low, math.ceil(spec.at_least))
    if spec.at_most is not None:
        high = min(high, math.floor(spec.at_most))
    return low, high


# ----------------------------------------------------------------------------- the fast road of a case text

#: What a case text's values are on the fast road: its values and the line each written fact is on.
TextRead = tuple[tuple[object, ...], Mapping[str, int]]
_YAML_TAG = "tag:yaml.org,2002:"
#: Characters the YAML reader refuses in a text (a JSON text holding one goes the YAML road, which says so).
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]").search
#: What YAML counts as a line break (a JSON text on one line has none).
_LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")
_TRUE = frozenset({"true", "yes", "on"})


class _GiveUp(Exception):
    """The fast road cannot read this text as the full check would: take the full road."""


def read_text_fast(text: str, schema: CaseSchema, plans: Collection[str] | None,
                   limits: Limits = CASE_LIMITS) -> TextRead | None:
    """A case text read the fast way: the values and lines the full check would give, or None (take the full road).

    A JSON object on one line (as ``rxpolicy eval -`` reads JSON Lines) is decoded with :mod:`json`; any other
    text is composed by libyaml (when its shape cannot go beyond the limits on its way in) and its nodes read
    as the full check reads them: the text as written, ``int`` for plain digits tagged int, True or False for
    a YAML bool, None for null; then the generated builder checks the values. Anything this road does not
    read exactly as the full check does (an unusual tag, a key written twice, a list where a fact is, a JSON
    escape ``\\u`` that YAML would read differently, a tab, which JSON allows between values and PyYAML does
    not, a text beyond a limit) gives it up; the full road then
    reads the text and reports every problem, with its place in the text, as before. The caller has checked
    the text's size.
    """
    core = text.strip(" \t\n\r")
    try:
        if core.startswith("{") and not any(b in core for b in _LINE_BREAKS) and "\\u" not in core \
                and "\t" not in core and _NOT_PRINTABLE(core) is None:
            data, lines = _json_case(core, schema)
        else:
            composed = compose_unmeasured(text, limits)
            if composed is None or composed[0] is None:
                return None
            data, lines = _NodeReader(schema, limits).case(composed[0])
    except (_GiveUp, ValueError, RecursionError, yaml.YAMLError):
        return None
    values = builder_for(schema, limits)(data, plans)
    return None if values is None else (values, lines)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _GiveUp  # a key written twice: the full road names it
    return data


def _no_constant(name: str) -> object:
    raise _GiveUp  # NaN, Infinity: not JSON proper; YAML reads them as texts


def _json_int(text: str) -> int:
    if text.startswith("-"):
        raise _GiveUp  # refused either way, but `-0` is the amount -0.00 to YAML: the full road decides
    return int(text)


#: Numbers with a point kept as their text, as YAML keeps a scalar's text. Built once (``json.loads`` with
#: options builds a decoder per call); decoding keeps no state between calls, as json's own shared decoder.
_JSON = json.JSONDecoder(parse_float=str, parse_int=_json_int, parse_constant=_no_constant,
                         object_pairs_hook=_unique_keys)


def _json_case(text: str, schema: CaseSchema) -> tuple[dict[str, Any], Mapping[str, int]]:
    """A one-line JSON case, every fact written on line 1."""
    data = _JSON.decode(text)
    if type(data) is not dict:
        raise _GiveUp
    return data, _OnLineOne(data, schema)


class _OnLineOne(Mapping[str, int]):
    """The lines of the facts a one-line text writes (all 1), worked out when asked: most cases never ask.

    Holds the decoded mapping, which no one else holds, so it cannot change."""

    def __init__(self, data: dict[str, Any], schema: CaseSchema) -> None:
        self._data, self._schema = data, schema

    def __getitem__(self, path: str) -> int:
        spec = self._schema.fields.get(path)
        section: Any = self._data
        for part in path.split(".")[:-1]:
            section = section.get(part) if type(section) is dict else None
        if spec is None or spec.derived or type(section) is not dict or path.rpartition(".")[2] not in section:
            raise KeyError(path)
        return 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._written(self._data, ""))

    def __len__(self) -> int:
        return len(self._written(self._data, ""))

    def __repr__(self) -> str:  # as the lines of a case read on the full road show
        return f"mappingproxy({dict(self)!r})"

    def _written(self, section: dict[str, Any], prefix: str) -> list[str]:
        """The facts written in a section, in the order written (as the full check lists them)."""
        found = []
        for key, value in section.items():
            path = f"{prefix}{key}"
            spec = self._schema.fields.get(path)
            if spec is not None and not spec.derived:
                found.append(path)
            elif path in self._schema.sections and type(value) is dict:
                found += self._written(value, path + ".")
        return found


#: What a name read under a section is: a fact (its path, and whether it is a list), or a section.
_FACT, _LIST, _SECTION = 0, 1, 2
_Names = Mapping[str, Mapping[str, tuple[str, int]]]
_names_of: dict[str, _Names] = {}


def _names(schema: CaseSchema) -> _Names:
    """Per section (``""``, ``"insured."``, …): each name written there, what it is and its path; once per schema."""
    found = _names_of.get(schema.fingerprint)
    if found is None:
        table: dict[str, dict[str, tuple[str, int]]] = {"": {}, **{s + ".": {} for s in schema.sections}}
        for path in schema.written:
            prefix, _, name = path.rpartition(".")
            role = _LIST if schema.fields[path].type.kind is Kind.LIST else _FACT
            table[prefix + "." if prefix else ""][name] = (path, role)
        for section in schema.sections:
            prefix, _, name = section.rpartition(".")
            table[prefix + "." if prefix else ""][name] = (section + ".", _SECTION)
        found = _names_of.setdefault(schema.fingerprint, table)  # the same table whoever writes it first
    return found


_STR, _FLOAT, _TIMESTAMP = _YAML_TAG + "str", _YAML_TAG + "float", _YAML_TAG + "timestamp"
_INT, _BOOL, _NULL = _YAML_TAG + "int", _YAML_TAG + "bool", _YAML_TAG + "null"


class _NodeReader:
    """Reads composed YAML nodes into the plain values the generated builder takes, with each fact's line."""

    def __init__(self, schema: CaseSchema, limits: Limits) -> None:
        self.names, self.limits = _names(schema), limits
        self.lines: dict[str, int] = {}

    def case(self, root: yaml.Node) -> tuple[dict[str, Any], dict[str, int]]:
        if type(root) is not yaml.MappingNode:
            raise _GiveUp
        return self.section(root, ""), self.lines

    def section(self, node: yaml.MappingNode, prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        names, lines, scalar = self.names[prefix], self.lines, self.scalar
        for key, value in node.value:
            name = key.value
            if type(key) is not yaml.ScalarNode or name in out:
                raise _GiveUp  # a key written twice: the full road names it
            found = names.get(name)
            if found is None:
                raise _GiveUp  # an unknown name: the full road says where it belongs
            path, role = found
            if role == _FACT:
                lines[path] = key.start_mark.line + 1
                out[name] = scalar(value)
            elif role == _LIST:
                lines[path] = key.start_mark.line + 1
                if type(value) is yaml.SequenceNode and len(value.value) <= self.limits.max_values:
                    out[name] = [scalar(entry) for entry in value.value]
                else:
                    out[name] = scalar(value)
            elif type(value) is yaml.MappingNode:
                out[name] = self.section(value, path)
            elif type(value) is yaml.ScalarNode and value.tag == _NULL:
                out[name] = None
            else:
                raise _GiveUp  # a section that is not one: the full road says what it is
        return out

    def scalar(self, node: yaml.Node) -> object:
        """A scalar as the full check reads it; the builder then takes or refuses it for its fact."""
        if type(node) is not yaml.ScalarNode:
            raise _GiveUp
        tag, text = node.tag, node.value
        if len(text) > self.limits.max_text:
            raise _GiveUp
        if tag == _STR or tag == _FLOAT or tag == _TIMESTAMP:
            return text
        if tag == _INT:
            return int(text) if text.isdigit() and text.isascii() else text
        if tag == _BOOL:
            return text.lower() in _TRUE
        if tag == _NULL:
            return None
        raise _GiveUp
