"""A case builder generated once per declared case schema: the fast road from a plain mapping to a case.

:func:`builder_for` writes, compiles and caches (by the schema's fingerprint) a Python function that
reads a mapping of Python values the way :mod:`rxpolicy.case_check` does, field by field, with the
checks written out for each declared fact (its type, limits, defaults, date order, computed facts)
instead of interpreted per value. It only ever accepts what the full check accepts, giving the same
values; anything else (a problem, or a value it does not read itself, such as a float or a
non-dict mapping) makes it give up and return None, and the caller runs the full check, which
reports every problem with the same messages as before. So the guarantees and messages are the full
check's; the generated function only makes the common, valid case cheap.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from rxpolicy.language.facts import CaseSchema, FactRef, FieldSpec
from rxpolicy.language.limits import FIRST_DATE, LAST_DATE, MAX_WHOLE_DIGITS
from rxpolicy.language.types import Kind
from rxpolicy.language.values import CENT

__all__ = ["Builder", "builder_for", "builder_source"]

#: ``build(data, plans)`` → the case's values in schema order, or None: run the full check.
Builder = Callable[[Mapping[str, object], "Collection[str] | None"], "tuple[object, ...] | None"]

_lock = threading.Lock()
_built: dict[str, Builder] = {}
# ASCII only, as in case_check: `\d` alone also matches other scripts' digits, which Decimal accepts.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII).fullmatch
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII).fullmatch
_ATC = re.compile(r"[A-Z](\d\d([A-Z]([A-Z](\d\d)?)?)?)?", re.ASCII).fullmatch


def builder_for(schema: CaseSchema) -> Builder:
    """The generated builder of a schema, written and compiled the first time it is asked for."""
    found = _built.get(schema.fingerprint)  # a dict read is atomic: no lock once it is written
    if found is not None:
        return found
    with _lock:
        found = _built.get(schema.fingerprint)
        if found is None:
            namespace: dict[str, Any] = {"M": _MISSING, "date": dt.date, "Decimal": Decimal, "CENT": CENT,
                                         "InvalidOperation": InvalidOperation, "ISO": _ISO_DATE, "NUM": _NUMBER,
                                         "ATC": _ATC, "fromiso": dt.date.fromisoformat, "EMPTY": {},
                                         "FIRST": FIRST_DATE, "LAST": LAST_DATE}
            source, constants = builder_source(schema)
            namespace.update(constants)
            exec(compile(source, f"<rxpolicy case builder {schema.fingerprint[:12]}>", "exec"), namespace)  # noqa: S102
            found = _built[schema.fingerprint] = namespace["build"]
        return found


class _Missing:
    """Marks a key a mapping does not have."""


_MISSING = _Missing()


def builder_source(schema: CaseSchema) -> tuple[str, dict[str, object]]:
    """The Python source of a schema's builder and the constants it refers to by name.

    Only declared names, codes and values reach the source, each as a constant bound by name (``K3``)
    or a ``repr`` of a declared identifier, never text from a case.
    """
    writer = _Writer(schema)
    return writer.write(), writer.constants


class _Writer:
    def __init__(self, schema: CaseSchema) -> None:
        self.schema = schema
        self.constants: dict[str, object] = {}
        self.lines: list[str] = ["def build(data, plans):"]
        self.var = {path: f"v{i}" for i, path in enumerate(schema.fields)}
        self.section_var = {"": "data"}

    def const(self, value: object) -> str:
        for name, known in self.constants.items():
            if type(known) is type(value) and known == value:
                return name
        name = f"K{len(self.constants)}"
        self.constants[name] = value
        return name

    def emit(self, line: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + line)

    def write(self) -> str:
        schema = self.schema
        self.emit("if type(data) is not dict: return None")
        self.keys("")
        for section in schema.sections:
            parent, _, name = section.rpartition(".")
            var = self.section_var[section] = f"s{len(self.section_var)}"
            self.emit(f"{var} = {self.section_var[parent]}.get({name!r}, M)")
            self.emit(f"if {var} is M or {var} is None: {var} = EMPTY")
            self.emit(f"elif type({var}) is not dict: return None")
            if section in schema.all_or_none:
                fields = [s.name for s in schema.fields.values()
                          if not s.derived and s.path.rpartition(".")[0] == section]
                self.emit(f"elif len({var}) != {len(fields)} or not {var}.keys() >= {self.const(frozenset(fields))}: "
                          "return None")
            self.keys(section)
        for path in schema.written:
            self.field(schema.fields[path])
        for path in self._later_order():
            spec = schema.fields[path]
            if spec.derived:
                args = ", ".join(self.var[a] for a in spec.arguments)
                self.emit(f"{self.var[path]} = {self.const(spec.compute)}({args})")
            else:
                assert isinstance(spec.default, FactRef)
                self.emit(f"if {self.var[path]} is M: {self.var[path]} = {self.var[spec.default.path]}")
        for path in schema.written:
            for other, after, _ in schema.fields[path].orders:
                first, later = (self.var[other], self.var[path]) if not after else (self.var[path], self.var[other])
                self.emit(f"if {first} is not None and {later} is not None and {later} < {first}: return None")
        for section in schema.all_or_none:
            fields = [self.var[p] for p in schema.written if p.rpartition(".")[0] == section]
            known = " + ".join(f"({v} is not None)" for v in fields)
            self.emit(f"if ({known}) not in (0, {len(fields)}): return None")
        self.emit(f"return ({''.join(v + ', ' for v in self.var.values())})")
        return "\n".join(self.lines) + "\n"

    def keys(self, section: str) -> None:
        prefix = f"{section}." if section else ""
        names = {p[len(prefix):].split(".")[0] for p in [*self.schema.written, *self.schema.sections]
                 if p.startswith(prefix)}
        self.emit(f"if not {self.section_var[section]}.keys() <= {self.const(frozenset(names))}: return None")

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
        section = spec.path.rpartition(".")[0]
        var, x = self.var[spec.path], "x"
        self.emit(f"x = {self.section_var[section]}.get({spec.name!r}, M)")
        if spec.required:
            missing = "return None"
        elif isinstance(spec.default, FactRef):
            missing = f"{var} = M"  # filled in once the fact it names is known
        else:
            missing = f"{var} = {self.const(spec.default)}"
        self.emit(f"if x is M: {missing}")
        self.emit(f"elif x is None: {var} = None" if spec.type.nullable else "elif x is None: return None")
        kind = spec.type.kind
        if kind is Kind.BOOL:
            self.emit(f"elif x is True or x is False: {var} = x")
        elif kind is Kind.MONEY:
            # Within the limits of rxpolicy.language.limits (MAX_WHOLE_DIGITS), else the full check says why.
            self.emit(f"elif type(x) is int and 0 <= x < {10 ** MAX_WHOLE_DIGITS}: " + f"{var} = Decimal(x).quantize(CENT)")
            self.emit("elif (type(x) is Decimal and x.is_finite() and x >= 0) or (type(x) is str and NUM(x) "
                      "and Decimal(x) >= 0):")
            self.emit("try:", 2)
            self.emit("d = Decimal(x)", 3)
            self.emit(f"{var} = d.quantize(CENT)", 3)
            self.emit("except InvalidOperation: return None", 2)
            self.emit(f"if {var} != d or {var} >= {10 ** MAX_WHOLE_DIGITS}: return None", 2)
        elif kind is Kind.NUMBER:
            self.emit(f"elif type(x) is int and 0 <= x < {10 ** MAX_WHOLE_DIGITS}: {var} = x")
        elif kind is Kind.DATE:
            self.emit(f"elif type(x) is date and FIRST <= x <= LAST: {var} = x")
            self.emit("elif type(x) is str and ISO(x):")
            self.emit("try:", 2)
            self.emit(f"{var} = fromiso(x)", 3)
            self.emit("except ValueError: return None", 2)
            self.emit(f"if not FIRST <= {var} <= LAST: return None", 2)
        elif kind is Kind.TEXT:  # an empty text is refused by the full check
            self.emit(f"elif type(x) is str and x.strip(): {var} = x")
        elif kind is Kind.ATC:
            self.emit(f"elif type(x) is str and ATC(x): {var} = x")
        elif kind is Kind.ENUM:
            test = " and x.strip()" if spec.open_choice else f" and x in {self.const(frozenset(spec.type.choices))}"
            self.emit(f"elif type(x) is str{test}: {var} = x")
        elif kind is Kind.LIST:
            codes = self.const(frozenset(spec.type.choices))
            self.emit(f"elif (type(x) is list or type(x) is tuple) and all(type(e) is str and e in {codes} "
                      f"for e in x): {var} = tuple(x)")
        self.emit("else: return None")
        # The declared limits; a value at its default needs none of them (a default meets its own limits).
        checks = []
        if spec.at_least is not None:
            checks.append(f"{var} < {self.const(spec.at_least)}")
        if spec.at_most is not None:
            checks.append(f"{var} > {self.const(spec.at_most)}")
        if spec.allowed:
            self.emit(f"if x is not M and {var} not in {self.const(frozenset(spec.allowed))}: return None")
        if spec.one_of_plans:
            checks.append(f"(plans is not None and {var} is not None and {var} not in plans)")
        if checks:
            self.emit(f"if x is not M and x is not None and ({' or '.join(checks)}): return None")
        _ = x
