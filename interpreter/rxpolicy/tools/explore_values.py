"""The representative values of the case fields a policy's rules read on one date.

Values the rules cannot tell apart behave alike, so :mod:`rxpolicy.tools.explore` needs only a few per
field, and the rules themselves say which:

* every choice of a choice field (plus a text outside the list for an open choice such as
  ``prescription.indication``), yes and no, and ``null`` where a field may be unknown;
* for numbers, money and dates each constant the rules compare the field with, and one step
  (1, EUR 0.01, one day) either side; ages become the birth dates that give them;
* for a comparison between two fields (``medicine.price > medicine.cheapest_in_group * 103 %``)
  the other side worked out for each of its own representative values, with one step either side;
* for ATC codes one well-formed code per combination of patterns it matches (``N05B*`` →
  ``N05BA01``), and one code matching none;
* for ``fits within`` the supply lengths around each duration the rules name, laid from the
  dispensing date (30/31/32 days for a month from 1 January), and courses of those lengths.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

from rxpolicy.engine.case import Case
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.language import ast
from rxpolicy.language.ast import walk
from rxpolicy.language.check import SymbolKind
from rxpolicy.language.facts import BUILTINS, CaseSchema, FieldSpec
from rxpolicy.language.types import Kind
from rxpolicy.language.values import CENT, Duration, Unit, whole_count

__all__ = ["collect_values", "written_sources"]

_ATC_SHAPE = "A00AA00"  # letter, 2 digits, letter, letter, 2 digits
_NO_MATCH = ("C08CA01", "A02BC01", "M01AE01", "R03AC02", "D07AC01", "S01ED01", "V03AE01", "Z99ZZ99")
#: A known value for a field that may be unknown and that the rules compare with nothing.
_KNOWN: Mapping[Kind, object] = MappingProxyType({Kind.MONEY: Decimal("10.00"), Kind.NUMBER: 1})
_OTHER_TEXT = "other"
_Points = list[tuple[str, tuple[object, ...]]]


class _Vary(Exception):
    """The expression depends on a case field that varies, or cannot be worked out here."""


def written_sources(facts: CaseSchema, path: str) -> tuple[str, ...]:
    """The written fields a field comes from: itself, or for a derived fact the fields it is worked out from."""
    return facts.sources(path)


def collect_values(policy: CompiledPolicy, day: dt.date, expressions: Sequence[ast.Expr], fields: Collection[str],
                   base: Case, *, every_choice: bool) -> tuple[dict[str, tuple[object, ...]], bool]:
    """Representative values of ``fields`` from the comparisons, choices and patterns in ``expressions``,
    and whether they meet every outcome of every test there (False when a test is beyond them)."""
    collector = _Collector(policy, day, base, every_choice)
    for top in expressions:
        for node in walk(top):
            collector.visit(node)
    found = {path: collector.finish(path) for path in policy.facts.fields if path in fields}
    return found, collector.complete and collector.relations_complete()


class _Collector:
    """Gathers, per field, the values an expression set compares it with."""

    def __init__(self, policy: CompiledPolicy, day: dt.date, base: Case, every_choice: bool) -> None:
        self.policy, self.day, self.base, self.every_choice = policy, day, base, every_choice
        self.points: dict[str, set[object]] = {}
        self.patterns: set[str] = set()
        self.durations: set[Duration] = set()
        self.relations: list[tuple[ast.Expr, ast.Expr]] = []
        self.supplies: set[str] = set()
        #: Cleared by a test whose outcomes the values may not all meet (arithmetic over several fields).
        self.complete = True
        #: Fields compared with a constant by an ordering (<, <=, >, >=).
        self.ordered: set[str] = set()
        self.facts = facts = policy.facts
        # The period date is the day; facts computed from it alone are fixed with it.
        self.fixed: dict[str, object] = {facts.period_date: day}
        for path in facts.derived:
            spec = facts.fields[path]
            if all(a == facts.period_date for a in spec.arguments):
                self.fixed[path] = spec.compute(*(day for _ in spec.arguments))

    def field(self, node: ast.Expr) -> str | None:
        """The field a plain name stands for (derived or written), else None."""
        resolved = self.policy.checked.names.get(id(node)) if isinstance(node, ast.Name) else None
        return resolved.target if resolved is not None and resolved.kind is SymbolKind.FIELD else None

    def add(self, found: _Points) -> None:
        for path, values in found:
            self.points.setdefault(path, set()).update(values)

    def visit(self, node: ast.Expr) -> None:
        if isinstance(node, ast.Compare):
            self.compare(node.op, node.left, node.right)
        elif isinstance(node, (ast.OneOf, ast.Matches)):
            path = self.field(node.operand)
            self.complete &= path is not None
            if isinstance(node, ast.Matches) and path is not None and self.facts.fields[path].type.kind is not Kind.ATC:
                # A text: one value per pattern that matches it, and one that matches none.
                self.add([(path, (*(p[:-1] + "x" if p.endswith("*") else p for p in node.patterns), "-"))])
            elif isinstance(node, ast.Matches):
                self.patterns.update(node.patterns)
            elif path is not None:
                for option in node.options:
                    self.add([(path, self.constant(option))])
        elif isinstance(node, ast.InList):
            self.complete &= self.field(node.operand) is not None and self.field(node.collection) is not None
        elif isinstance(node, ast.FitsWithin):
            supply = node.supply.operand if isinstance(node.supply, ast.WithUnit) else node.supply
            path = self.field(supply)
            self.complete &= path is not None and isinstance(node.supply, ast.WithUnit)
            if path is not None:
                self.supplies.add(path)
        elif isinstance(node, ast.SupplyLimitExpr):
            self.complete &= bool(self.constant(node.duration))
        elif isinstance(node, ast.Literal) and isinstance(node.value, Duration):
            self.durations.add(node.value)

    def constant(self, node: ast.Expr) -> tuple[object, ...]:
        """A choice named, or a constant written (none when the expression varies)."""
        resolved = self.policy.checked.names.get(id(node)) if isinstance(node, ast.Name) else None
        if resolved is not None and resolved.kind is SymbolKind.CHOICE:
            return (resolved.target,)
        try:
            return (self.evaluate(node, {}),)
        except _Vary:
            return ()

    def compare(self, op: str, left: ast.Expr, right: ast.Expr) -> None:
        sides = [self.constant(left), self.constant(right)]
        if op in ("is", "is not"):
            for one, other, value in ((left, right, sides[1]), (right, left, sides[0])):
                if (path := self.field(one)) is not None:
                    self.add([(path, value)])
            # Complete against a constant when the other side is a field, or a yes/no whose own tests are seen.
            self.complete &= any(value and (self.field(one) is not None or self.is_bool(one))
                                 for one, value in ((left, sides[1]), (right, sides[0])))
            return
        if sides[0] and sides[1]:
            return
        if sides[0] or sides[1]:
            varying, constant = (left, sides[1][0]) if sides[1] else (right, sides[0][0])
            found = self.threshold(varying, constant)
            self.complete &= bool(found)
            self.add(found)
            self.ordered.update(path for path, _ in found)
        else:
            self.relations.append((left, right))
            self.complete &= self.related_fields(left, right)

    def relations_complete(self) -> bool:
        """A field compared with a computation on another field meets every outcome only when that is its one
        comparison: beside a constant, or a second computation, the order of the thresholds varies."""
        receivers = [self.receiver(left) or self.receiver(right) for left, right in self.relations]
        return all(receivers.count(path) == 1 and path not in self.ordered for path in receivers)

    def kind(self, node: ast.Expr) -> Kind | None:
        """The kind of value an expression has, as the checker found it."""
        typ = self.policy.checked.expr_types.get(id(node))
        return typ.kind if typ is not None else None

    def is_bool(self, node: ast.Expr) -> bool:
        return self.kind(node) is Kind.BOOL

    def related_fields(self, left: ast.Expr, right: ast.Expr) -> bool:
        """Whether a comparison of two varying sides is one field against a computation on one other field."""
        receiver, other = (left, right) if self.receiver(left) is not None else (right, left)
        return self.receiver(receiver) is not None and len(self.fields_in(other)) == 1

    def fields_in(self, node: ast.Expr) -> set[str]:
        """The varying written fields an expression reads, through definitions.

        A decision read counts as two fields: its value is no plain computation on one field.
        """
        found: set[str] = set()
        for inner in walk(node):
            resolved = self.policy.checked.names.get(id(inner)) if isinstance(inner, ast.Name) else None
            if resolved is None or resolved.kind in (SymbolKind.CHOICE, SymbolKind.PARAMETER):
                continue
            if resolved.kind is SymbolKind.FIELD:
                found.update(written_sources(self.facts, resolved.target))
            elif resolved.kind is SymbolKind.DEFINITION:
                found |= self.fields_in(self.policy.checked.definitions[resolved.target].expr)
            else:
                found |= {f"decision {resolved.target}", "its rules"}
        return found

    # ------------------------------------------------------------------ constants and thresholds
    def evaluate(self, node: ast.Expr, env: Mapping[str, object]) -> object:
        """The value of an expression when the fields in ``env`` have those values; :class:`_Vary` otherwise."""
        if isinstance(node, ast.Literal):
            return node.value
        if isinstance(node, ast.Name):
            return self.name_value(node, env)
        if isinstance(node, ast.WithUnit):
            value = self.evaluate(node.operand, env)
            if not isinstance(value, (int, Decimal)):
                raise _Vary
            if node.unit in ("EUR", "%"):
                return Decimal(value)
            return Duration(whole_count(value), Unit.DAYS if node.unit.startswith("day") else Unit.MONTHS)
        if isinstance(node, ast.Arith):
            percent = any(self.kind(side) is Kind.PERCENT for side in (node.left, node.right))
            return _arith(node.op, self.evaluate(node.left, env), self.evaluate(node.right, env), percent)
        if isinstance(node, ast.Call) and node.function in ("min", "max"):
            args = [self.evaluate(a, env) for a in node.args]
            if not all(isinstance(a, (int, Decimal)) for a in args):
                raise _Vary
            return min(args) if node.function == "min" else max(args)  # type: ignore[type-var]
        raise _Vary

    def name_value(self, node: ast.Name, env: Mapping[str, object]) -> object:
        checked = self.policy.checked
        resolved = checked.names.get(id(node))
        if resolved is None or resolved.kind in (SymbolKind.DECISION, SymbolKind.CHOICE):
            raise _Vary
        if resolved.kind is SymbolKind.PARAMETER:
            found = checked.parameters[resolved.target].value_on(self.day)
            if found is None:
                raise _Vary
            return found.value
        if resolved.kind is SymbolKind.DEFINITION:
            return self.evaluate(checked.definitions[resolved.target].expr, env)
        if resolved.target in self.fixed:
            return self.fixed[resolved.target]
        if resolved.target in env:
            return env[resolved.target]
        raise _Vary

    def threshold(self, node: ast.Expr, value: object) -> _Points:
        """Values of the field in ``node`` on, just below and just above the point where ``node`` equals ``value``."""
        if isinstance(node, ast.WithUnit) and isinstance(value, Duration):
            return self.threshold(node.operand, (value.end_from(self.day) - self.day).days)
        if isinstance(node, ast.WithUnit) and isinstance(value, Decimal):
            return self.threshold(node.operand, value)
        if isinstance(node, ast.Arith) and node.op in ("+", "-"):
            return self.invert(node, value)
        path = self.field(node)
        spec = self.facts.fields[path] if path is not None else None
        if spec is not None and spec.derived and isinstance(value, (int, Decimal)):
            # A computed fact: its built-in says which of its facts to vary, and how.
            inverse = BUILTINS[spec.computed_by].inverse  # type: ignore[index]
            if inverse is None:
                return []
            position, values, complete = inverse(int(value), self.day)
            self.complete = self.complete and complete
            return [(spec.arguments[position], values)]
        if spec is not None and not spec.derived and spec.path != self.facts.period_date:
            return [(spec.path, _around(spec, value))]
        return []

    def invert(self, node: ast.Arith, value: object) -> _Points:
        """``field + k`` (or ``- k``) against a constant: the threshold moves by ``k``."""
        try:
            right = self.evaluate(node.right, {})
        except _Vary:
            return []
        sign = -1 if node.op == "+" else 1
        if isinstance(value, dt.date) and isinstance(right, Duration):
            return self.threshold(node.left, Duration(sign * right.amount, right.unit).end_from(value))
        if isinstance(value, (int, Decimal)) and isinstance(right, (int, Decimal)):
            return self.threshold(node.left, value + sign * right)
        return []

    # ------------------------------------------------------------------ the values of one field
    def finish(self, path: str, busy: frozenset[str] = frozenset()) -> tuple[object, ...]:
        """The representative values of one field, its base value first."""
        spec, base = self.facts.fields[path], self.base.get(path)
        kind = spec.type.kind
        found: set[object] = set(self.points.get(path, ()))
        if kind is Kind.BOOL:
            found.update((True, False))
        elif kind is Kind.ENUM:
            unnamed = [c for c in spec.type.choices if c not in found]
            found.update(unnamed if self.every_choice else unnamed[:0 if spec.open_choice else 1])
            found.update((_OTHER_TEXT,) if spec.open_choice else ())
        elif kind is Kind.LIST:
            found = {(), tuple(spec.type.choices)}
        elif kind is Kind.ATC:
            found = set(_atc_codes(self.patterns, str(base)))
        elif spec.one_of_plans:
            found.update([p for p in self.policy.plans if p not in found][:1])
        elif path in self.supplies or (path == self.facts.one_course and self.supplies):
            found.update(self.supply_lengths(spec))  # `or one course`: courses as long as the supplies tried
        found.update(self.related(path, busy))
        if spec.allowed and found - {base}:
            found = set(spec.allowed)  # the values one may choose, and no others
        if spec.type.nullable:
            found.add(None)
            if base is None and not found - {None} and kind in _KNOWN:
                found.add(_KNOWN[kind])
        rest = sorted((v for v in found if v != base and _valid(spec, v, self.day, self.facts.period_date)),
                      key=_order)
        return (base, *rest)

    def supply_lengths(self, spec: FieldSpec) -> set[object]:
        lengths: set[object] = set()
        for duration in self.durations:
            lengths.update(_around(spec, (duration.end_from(self.day) - self.day).days))
        return lengths

    def related(self, path: str, busy: frozenset[str]) -> set[object]:
        """Values from comparisons with another field: the other side worked out for each of its values."""
        found: set[object] = set()
        for left, right in self.relations:
            receiver, other = (left, right) if self.receiver(left) is not None else (right, left)
            if self.receiver(receiver) != path:
                continue
            fields = self.fields_in(other)
            if len(fields) != 1 or fields & busy:
                continue  # several fields at once: not covered (docs/tools/check.md)
            source = next(iter(fields))
            for value in self.finish(source, busy | {path}):
                try:
                    result = self.evaluate(other, {source: value})
                except (_Vary, TypeError, ArithmeticError):
                    self.complete &= value is None  # unknown is ruled out by an `is known` test
                    continue
                found.update(v for target, values in self.threshold(receiver, result) if target == path
                             for v in values)
        return found

    def receiver(self, node: ast.Expr) -> str | None:
        """The written field a comparison side is plainly about (itself, in days or in euros)."""
        path = self.field(node.operand if isinstance(node, ast.WithUnit) else node)
        return path if path is not None and self.facts.sources(path) == (path,) else None


def _around(spec: FieldSpec, value: object) -> tuple[object, ...]:
    """A threshold and one step either side, in the field's own type (whole days, cents, days)."""
    kind = spec.type.kind
    if kind is Kind.DATE and isinstance(value, dt.date):
        return tuple(value + dt.timedelta(days=n) for n in (-1, 0, 1))
    if not isinstance(value, (int, Decimal)) or isinstance(value, bool):
        return (value,) if kind in (Kind.ENUM, Kind.TEXT) and isinstance(value, str) else ()
    number = Decimal(value)
    if kind is Kind.MONEY:
        low, high = number.quantize(CENT, "ROUND_FLOOR"), number.quantize(CENT, "ROUND_CEILING")
        return (low - CENT, low, high, high + CENT)
    if kind is Kind.NUMBER and (number == number.to_integral_value() or spec.whole is not None):
        floor, ceiling = int(number.to_integral_value("ROUND_FLOOR")), int(number.to_integral_value("ROUND_CEILING"))
        return (floor - 1, floor, ceiling, ceiling + 1)
    return (number - 1, number, number + 1) if kind is Kind.NUMBER else ()


def _order(value: object) -> tuple[bool, object]:
    """Representative values in order: unknown first, then their own order."""
    return (value is not None, value)


def _valid(spec: FieldSpec, value: object, day: dt.date, period_date: str) -> bool:
    """Whether a case may hold this value in this field (its type, its least value, not after the day)."""
    if value is None:
        return spec.type.nullable
    if spec.type.kind in (Kind.NUMBER, Kind.MONEY):
        low = spec.at_least if spec.at_least is not None else 0
        return isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value >= low
    not_after_day = any(other == period_date and after for other, after, _ in spec.orders)
    return not isinstance(value, dt.date) or not not_after_day or value <= day


def _arith(op: str, left: object, right: object, percent: bool) -> object:
    """``left op right`` as the compiled rules compute it (percentages divide by 100, months clamp)."""
    if isinstance(left, dt.date) and isinstance(right, Duration):
        return Duration(right.amount if op == "+" else -right.amount, right.unit).end_from(left)
    if not all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in (left, right)):
        raise _Vary
    a, b = Decimal(left), Decimal(right)  # type: ignore[arg-type]
    if percent:
        return a * b / 100
    return {"+": a + b, "-": a - b, "*": a * b}[op] if op != "/" else a / b


def _atc_codes(patterns: Collection[str], base: str) -> tuple[str, ...]:
    """One well-formed ATC code per combination of patterns it matches: the base code first, one matching none."""
    def matched(code: str) -> frozenset[str]:
        return frozenset(p for p in patterns if (code.startswith(p[:-1]) if p.endswith("*") else code == p))

    candidates = [base, *sorted(p for p in patterns if not p.endswith("*"))]
    for prefix in sorted(p[:-1] for p in patterns if p.endswith("*")):
        candidates.extend(_completions(prefix))
    found: dict[frozenset[str], str] = {}
    for code in [*candidates, *_NO_MATCH]:
        found.setdefault(matched(code), code)
    return tuple(found.values())


def _completions(prefix: str) -> list[str]:
    """Codes of the full shape starting with ``prefix``: the plainest, and a few differing right after it."""
    if len(prefix) >= len(_ATC_SHAPE):
        return [prefix]
    plain = prefix + "A01AA01"[len(prefix):]  # letters where the shape has them, 0 and 1 for digits
    options = ("B", "Z") if _ATC_SHAPE[len(prefix)] == "A" else ("9",)
    return [plain] + [prefix + o + plain[len(prefix) + 1:] for o in options]
