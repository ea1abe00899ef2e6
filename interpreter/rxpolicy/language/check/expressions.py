"""Names and types inside expressions: every name resolved, every operator given operands it accepts.

A value that may be unknown (a ``null`` case field, a ``not applicable`` decision) can only be
used in arithmetic or an ordering comparison where an ``is known`` test has already ruled out the
unknown case, e.g. ``medicine.reimbursement_limit is known and medicine.price > medicine.reimbursement_limit``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

import attrs

from rxpolicy.diagnostics import Diagnostic, Severity, did_you_mean
from rxpolicy.language import ast
from rxpolicy.language import types as t
from rxpolicy.language.check.model import Resolved, SymbolKind
from rxpolicy.language.facts import FieldSpec
from rxpolicy.language.types import Kind, Type

__all__ = ["ExprChecker", "LITERAL_TYPES"]

LITERAL_TYPES = {
    ast.LiteralKind.NUMBER: t.NUMBER, ast.LiteralKind.MONEY: t.MONEY, ast.LiteralKind.PERCENT: t.PERCENT,
    ast.LiteralKind.DATE: t.DATE, ast.LiteralKind.DURATION: t.DURATION, ast.LiteralKind.TEXT: t.TEXT,
    ast.LiteralKind.BOOL: t.BOOL, ast.LiteralKind.NOT_APPLICABLE: t.NOTHING,
}
_ORDERED = {Kind.NUMBER, Kind.MONEY, Kind.DATE, Kind.DURATION, Kind.PERCENT}
_ATC_PATTERN = re.compile(r"^[A-Z][0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?\*?$")
_ARITH: dict[tuple[str, Kind, Kind], Kind] = {
    ("+", Kind.NUMBER, Kind.NUMBER): Kind.NUMBER, ("-", Kind.NUMBER, Kind.NUMBER): Kind.NUMBER,
    ("+", Kind.MONEY, Kind.MONEY): Kind.MONEY, ("-", Kind.MONEY, Kind.MONEY): Kind.MONEY,
    ("+", Kind.DATE, Kind.DURATION): Kind.DATE, ("-", Kind.DATE, Kind.DURATION): Kind.DATE,
    ("*", Kind.NUMBER, Kind.NUMBER): Kind.NUMBER, ("*", Kind.MONEY, Kind.NUMBER): Kind.MONEY,
    ("*", Kind.NUMBER, Kind.MONEY): Kind.MONEY, ("*", Kind.MONEY, Kind.PERCENT): Kind.MONEY,
    ("*", Kind.PERCENT, Kind.MONEY): Kind.MONEY, ("/", Kind.MONEY, Kind.NUMBER): Kind.MONEY,
    ("/", Kind.NUMBER, Kind.NUMBER): Kind.NUMBER, ("/", Kind.MONEY, Kind.MONEY): Kind.NUMBER,
}
_SIMPLE = {k: Type(k) for k in Kind}
#: Date functions: how many dates they take and what they give.
#: Functions with fixed arguments: name → (the kind of each argument, the result).
_FUNCTIONS: dict[str, tuple[tuple[Kind, ...], Type]] = {
    "days_between": ((Kind.DATE, Kind.DATE), t.NUMBER),
    "first_day_of_next_month": ((Kind.DATE,), t.DATE),
    "year_of": ((Kind.DATE,), t.NUMBER), "month_of": ((Kind.DATE,), t.NUMBER), "day_of": ((Kind.DATE,), t.NUMBER),
    "date_from": ((Kind.NUMBER, Kind.NUMBER, Kind.NUMBER), t.DATE),
    "quotient": ((Kind.NUMBER, Kind.NUMBER), t.NUMBER), "remainder": ((Kind.NUMBER, Kind.NUMBER), t.NUMBER),
    "birthday": ((Kind.DATE, Kind.NUMBER), t.DATE),
}
_KIND_WORDS = {Kind.DATE: "a date", Kind.NUMBER: "a number"}
#: Functions that always give a whole number, and those that do when their arguments are whole.
_WHOLE_FUNCTIONS = frozenset({"days_between", "year_of", "month_of", "day_of", "quotient"})
_WHOLE_OF_WHOLE_FUNCTIONS = frozenset({"remainder", "min", "max"})

Lookup = Callable[[str], tuple[SymbolKind, Type] | None]


@attrs.define
class ExprChecker:
    """Checks expressions against the names a policy declares; collects problems and annotations.

    ``lookup`` answers for definitions, decisions and parameters (the checker of the policy knows
    their types, possibly by checking a definition first); case fields come from the schema.
    """

    lookup: Lookup
    known_names: Callable[[], list[str]]
    #: The facts of a case the policy declares, by path.
    fields: Mapping[str, FieldSpec] = attrs.field(factory=dict)
    #: The plan names the policy declares; rules may only name these.
    plans: tuple[str, ...] = ()
    problems: list[Diagnostic] = attrs.field(factory=list)
    names: dict[int, Resolved] = attrs.field(factory=dict)
    types: dict[int, Type] = attrs.field(factory=dict)
    #: Names each checked expression used: (kind, name).
    used: set[tuple[SymbolKind, str]] = attrs.field(factory=set)
    #: The expression of a definition by name (None: not a definition), to tell whether it is always whole.
    definition_expr: Callable[[str], ast.Expr | None] = lambda name: None
    #: The values the rules give a decision, by name, to tell whether it is always whole (asked once all rules are
    #: checked: see ``durations``).
    decision_exprs: Callable[[str], Sequence[ast.Expr]] = lambda name: ()
    #: The dated values of a parameter, by name (each written out: RX362).
    parameter_values: Callable[[str], Sequence[object]] = lambda name: ()
    #: Every `… days` / `… months` made from a computed number, checked to be whole once all rules are checked
    #: (a decision's wholeness rests on every rule deciding it): RX354.
    durations: list[ast.WithUnit] = attrs.field(factory=list)
    _whole_seen: set[str] = attrs.field(factory=set)

    def problem(self, code: str, node: object, message: str, help: str) -> Type:
        self.problems.append(Diagnostic(code=code, span=getattr(node, "span"), message=message, help=help))
        return t.NOTHING

    # ---------------------------------------------------------------- entry points
    def condition(self, expr: ast.Expr, known: frozenset[str] = frozenset()) -> None:
        """Check an expression that must be yes/no and always known (a `when` clause)."""
        typ = self.infer(expr, known)
        if typ.kind is not Kind.NOTHING and (typ.kind is not Kind.BOOL or typ.nullable):
            self.problem("RX341", expr, f"this condition is a {typ}, not a yes/no that is always known",
                         "write a test such as `… is yes`, `… is known` or a comparison")

    def infer(self, expr: ast.Expr, known: frozenset[str] = frozenset()) -> Type:
        """The type of an expression (recorded in ``types``); problems are collected."""
        method: Callable[[ast.Expr, frozenset[str]], Type] = getattr(self, "_" + type(expr).__name__.lower())
        typ = method(expr, known)
        self.types[id(expr)] = typ
        return typ

    # ---------------------------------------------------------------- leaves
    def _literal(self, node: ast.Literal, known: frozenset[str]) -> Type:
        return LITERAL_TYPES[node.kind]

    def _name(self, node: ast.Name, known: frozenset[str]) -> Type:
        dotted = node.dotted
        typ: Type
        if dotted in self.fields:
            self.names[id(node)] = Resolved(SymbolKind.FIELD, dotted)
            typ = self.fields[dotted].type
        elif (found := self.lookup(dotted)) is not None:
            kind, typ = found
            self.names[id(node)] = Resolved(kind, dotted)
            self.used.add((kind, dotted))
        else:
            guess = did_you_mean(dotted, self.known_names())
            hint = f"did you mean `{guess}`?" if guess else (
                "use a case field (see docs/case-file.md), or a definition, parameter or decision of this policy")
            return self.problem("RX340", node, f"`{dotted}` is not a case field, definition, parameter or decision",
                                hint)
        return typ.known() if dotted in known else typ

    def _choice(self, node: ast.Expr, of: Type, known: frozenset[str]) -> Type:
        """An operand compared with a choice field: a bare name is read as one of its choices."""
        if isinstance(node, ast.Name) and len(node.parts) == 1 and of.kind in (Kind.ENUM, Kind.LIST):
            value = node.parts[0]
            if value in of.choices:
                self.names[id(node)] = Resolved(SymbolKind.CHOICE, value)
                self.types[id(node)] = Type(Kind.ENUM, choices=of.choices, name=of.name, words=of.words)
                return self.types[id(node)]
            if node.dotted not in self.fields and self.lookup(node.dotted) is None:
                guess = did_you_mean(value, of.choices)
                return self.problem("RX344", node, f"`{value}` is not a {of.name or 'choice'}",
                                    f"did you mean `{guess}`?" if guess else "write one of: " + ", ".join(of.choices))
        return self.infer(node, known)

    # ---------------------------------------------------------------- logic
    def _not(self, node: ast.Not, known: frozenset[str]) -> Type:
        self.condition(node.operand, known)
        return t.BOOL

    def _boolop(self, node: ast.BoolOp, known: frozenset[str]) -> Type:
        self.condition(node.left, known)
        narrowed = known | (known_when(node.left, node.op == "and"))
        self.condition(node.right, narrowed)
        return t.BOOL

    def _ifthenelse(self, node: ast.IfThenElse, known: frozenset[str]) -> Type:
        self.condition(node.condition, known)
        a = self.infer(node.then, known | known_when(node.condition, True))
        b = self.infer(node.otherwise, known | known_when(node.condition, False))
        if a.kind is Kind.NOTHING:
            return b.maybe()
        if b.kind is Kind.NOTHING:
            return a.maybe()
        if not a.same_values(b):
            return self.problem("RX345", node, f"the two branches give different kinds of value ({a} and {b})",
                                "make `then` and `else` give the same kind of value")
        return a.maybe() if (a.nullable or b.nullable) else a

    # ---------------------------------------------------------------- comparisons
    def _plan_name(self, subject: ast.Expr, value: ast.Expr) -> None:
        """A plan written in a rule must be one the policy declares (a typo would never match)."""
        spec = self.fields.get(subject.dotted) if isinstance(subject, ast.Name) else None
        if spec is not None and spec.one_of_plans and isinstance(value, ast.Literal) \
                and isinstance(value.value, str) and value.value not in self.plans:
            guess = did_you_mean(value.value, self.plans)
            self.problem("RX351", value, f'"{value.value}" is not a plan this policy declares',
                         f'did you mean "{guess}"?' if guess else "add it to the policy's `plans`, or fix the name")

    def _compare(self, node: ast.Compare, known: frozenset[str]) -> Type:
        left = self.infer(node.left, known)
        right = self._choice(node.right, left, known)
        self._plan_name(node.left, node.right)
        if Kind.NOTHING in (left.kind, right.kind):
            return t.BOOL
        if node.op in ("is", "is not"):
            if not left.same_values(right):
                self.problem("RX342", node, f"a {left} is compared with a {right}",
                             "compare values of the same kind")
            return t.BOOL
        if left.kind not in _ORDERED or not left.same_values(right):
            return self._bool_problem(node, f"`{node.op}` cannot compare a {left} with a {right}",
                                      "compare two numbers, amounts, dates or durations")
        self._require_known(node.left, left)
        self._require_known(node.right, right)
        return t.BOOL

    def _bool_problem(self, node: object, message: str, help: str) -> Type:
        self.problem("RX342", node, message, help)
        return t.BOOL

    def _require_known(self, node: ast.Expr, typ: Type) -> None:
        if typ.nullable and typ.kind is not Kind.NOTHING:
            what = getattr(node, "dotted", "this value")
            self.problem("RX343", node, f"`{what}` may be unknown in a case, so it cannot be used here as it is",
                         f"test it first: `{what} is known and …`, or `if {what} is known then … else …`")

    def _oneof(self, node: ast.OneOf, known: frozenset[str]) -> Type:
        left = self.infer(node.operand, known)
        for option in node.options:
            right = self._choice(option, left, known)
            self._plan_name(node.operand, option)
            if Kind.NOTHING not in (left.kind, right.kind) and not left.same_values(right):
                self.problem("RX342", option, f"a {left} is compared with a {right}", "list values of the same kind")
        return t.BOOL

    def _inlist(self, node: ast.InList, known: frozenset[str]) -> Type:
        collection = self.infer(node.collection, known)
        if collection.kind is not Kind.LIST:
            return self._bool_problem(node.collection, f"`is in` needs a list, not a {collection}",
                                      "use a list field such as `medicine.doctors_note_prescribers`")
        item = self._choice(node.operand, collection, known)
        if item.kind not in (Kind.ENUM, Kind.NOTHING) or (item.kind is Kind.ENUM and item.choices != collection.choices):
            self.problem("RX342", node.operand, f"a {item} cannot be in a {collection}", "compare values of one kind")
        return t.BOOL

    def _known(self, node: ast.Known, known: frozenset[str]) -> Type:
        typ = self.infer(node.operand, known)
        if typ.kind is not Kind.NOTHING and not typ.nullable:
            self.problems.append(Diagnostic(
                code="RX346", span=node.span, message="this value is never unknown, so the test always gives the same answer",
                help="remove the `is known` / `is unknown` test", severity=Severity.WARNING))
        return t.BOOL

    def _matches(self, node: ast.Matches, known: frozenset[str]) -> Type:
        typ = self.infer(node.operand, known)
        if typ.kind in (Kind.TEXT, Kind.ENUM):
            # A text against its beginnings (`"oxazepam*"`) or whole texts; any pattern is one.
            self._require_known(node.operand, typ)
            for pattern in node.patterns:
                if pattern in ("", "*"):
                    self.problem("RX347", node, f"`\"{pattern}\"` matches every text",
                                 "write the beginning of the text before the `*`, e.g. `\"oxazepam*\"`")
            return t.BOOL
        if typ.kind not in (Kind.ATC, Kind.NOTHING):
            self.problem("RX342", node, f"`matches` compares ATC codes or texts, not a {typ}",
                         "use `medicine.atc matches N05B*` or `medicine.name matches \"oxazepam*\"`")
        for pattern in node.patterns:
            if not _ATC_PATTERN.match(pattern):
                self.problem("RX347", node, f"`{pattern}` is not an ATC code or prefix",
                             "write an ATC level such as `N05`, `N05B`, `N05BA` or `N05BA04`, with `*` for a prefix")
        return t.BOOL

    def _fitswithin(self, node: ast.FitsWithin, known: frozenset[str]) -> Type:
        supply = self.infer(node.supply, known)
        limit = self.infer(node.limit, known)
        if supply.kind not in (Kind.DURATION, Kind.NOTHING):
            self.problem("RX342", node.supply, f"`fits within` needs a duration on its left, not a {supply}",
                         "write e.g. `dispensing.supply_days days fits within max_supply`")
        if limit.kind not in (Kind.SUPPLY, Kind.DURATION, Kind.NOTHING):
            self.problem("RX342", node.limit, f"`fits within` needs a supply limit or duration, not a {limit}",
                         "write e.g. `… fits within max_supply`")
        self._require_known(node.limit, limit)
        return t.BOOL

    # ---------------------------------------------------------------- arithmetic
    def _arith(self, node: ast.Arith, known: frozenset[str]) -> Type:
        left, right = self.infer(node.left, known), self.infer(node.right, known)
        if Kind.NOTHING in (left.kind, right.kind):
            return t.NOTHING
        self._require_known(node.left, left)
        self._require_known(node.right, right)
        result = _ARITH.get((node.op, left.kind, right.kind))
        if result is None:
            return self.problem("RX348", node, f"`{node.op}` cannot combine a {left} and a {right}",
                                "amounts add to amounts; multiply an amount by a number or percentage")
        return _SIMPLE[result]

    def _rounded(self, node: ast.Rounded, known: frozenset[str]) -> Type:
        typ = self.infer(node.operand, known)
        rounding = node.rounding
        if typ.kind is Kind.NOTHING:
            return t.MONEY if rounding.money else t.NUMBER
        if rounding.money and typ.kind is not Kind.MONEY:
            fix = (f"round a {typ.kind.value} `to a whole number` or `to 2 decimals`"
                   if typ.kind in (Kind.NUMBER, Kind.PERCENT) else "round an amount of money")
            return self.problem("RX348", node, f"only money is rounded to {rounding.unit}, not a {typ}", fix)
        if not rounding.money and typ.kind is Kind.MONEY:
            target = rounding.written.partition(" to ")[2]
            return self.problem("RX348", node, f"money is rounded to whole euros or cents, not to {target}",
                                f"write `rounded {rounding.mode} to whole euros` or `rounded {rounding.mode} to cents`")
        if not rounding.money and typ.kind not in (Kind.NUMBER, Kind.PERCENT):
            return self.problem("RX348", node, f"only numbers, percentages and money are rounded, not a {typ}",
                                "round a computation that gives a number, a percentage or an amount of money")
        self._require_known(node.operand, typ)
        if not rounding.money and self.whole(node.operand):
            self.problems.append(Diagnostic(
                code="RX353", span=node.span, severity=Severity.WARNING,
                message=f"{_what(node.operand)} is always a whole number, so rounding it {rounding.written} changes "
                        "nothing",
                help=f"remove `rounded {rounding.written}`, or round the computation that can give a fraction "
                     "(a division)"))
        return typ.known()

    def whole(self, node: ast.Expr, *, settled: bool = False) -> bool:
        """Whether a number expression is always whole, as far as its form shows (false when unsure): a whole
        literal, a fact that counts whole days or months or is computed as a count, a definition that is, a date
        part, a number rounded to a whole number, and `+`, `-`, `*`, `quotient`, `remainder`, `min`, `max`, `if` of
        such; a division is not. ``settled`` (every rule checked: RX354) also counts a parameter whose every dated
        value is whole and a decision every rule of which gives a whole number; without it (RX353, asked while
        rules are still being checked) a parameter or decision is not counted whole."""
        if isinstance(node, ast.Literal):
            value = node.value
            return node.kind is ast.LiteralKind.NUMBER and isinstance(value, Decimal) \
                and value == value.to_integral_value()
        if isinstance(node, ast.Name):
            resolved = self.names.get(id(node))
            if resolved is None:
                return False
            if resolved.kind is SymbolKind.FIELD:
                spec = self.fields[resolved.target]
                # Every built-in a number fact is computed by counts (years, days): its value is whole.
                return spec.whole is not None or (spec.derived and spec.type.kind is Kind.NUMBER)
            if resolved.kind is SymbolKind.DEFINITION:
                return self._whole_named("definition " + resolved.target, (self.definition_expr(resolved.target),),
                                         settled)
            if settled and resolved.kind is SymbolKind.DECISION:
                return self._whole_named("decision " + resolved.target, self.decision_exprs(resolved.target), settled)
            if settled and resolved.kind is SymbolKind.PARAMETER:
                values = self.parameter_values(resolved.target)
                return bool(values) and all(isinstance(v, (int, Decimal)) and not isinstance(v, bool)
                                            and v == int(v) for v in values)
            return False
        if isinstance(node, ast.Arith):
            return node.op != "/" and self.whole(node.left, settled=settled) and self.whole(node.right, settled=settled)
        if isinstance(node, ast.Rounded):
            return not node.rounding.money and node.rounding.decimals == 0
        if isinstance(node, ast.IfThenElse):
            return self.whole(node.then, settled=settled) and self.whole(node.otherwise, settled=settled)
        if isinstance(node, ast.Call):
            return node.function in _WHOLE_FUNCTIONS or (
                node.function in _WHOLE_OF_WHOLE_FUNCTIONS and all(self.whole(a, settled=settled) for a in node.args))
        return False

    def _whole_named(self, key: str, exprs: Sequence[ast.Expr | None], settled: bool) -> bool:
        """Whether a definition or decision is always whole: each of its expressions is (a name met again inside
        itself, or without an expression: unsure, no). A value already refused (its type is nothing, e.g. an
        unknown name) or `not applicable` is left out, so that one mistake is not reported twice."""
        if not exprs or None in exprs or key in self._whole_seen:
            return False
        self._whole_seen.add(key)
        try:
            return all(self.whole(e, settled=settled) for e in exprs
                       if e is not None and self.types.get(id(e), t.NUMBER).kind is not Kind.NOTHING)
        finally:
            self._whole_seen.discard(key)

    def _withunit(self, node: ast.WithUnit, known: frozenset[str]) -> Type:
        typ = self.infer(node.operand, known)
        if typ.kind not in (Kind.NUMBER, Kind.NOTHING):
            return self.problem("RX348", node, f"`{node.unit}` follows a number, not a {typ}",
                                "put a number or a number field before the unit")
        self._require_known(node.operand, typ)
        if node.unit not in ("EUR", "%") and typ.kind is Kind.NUMBER:
            self.durations.append(node)
        return {"EUR": t.MONEY, "%": t.PERCENT}.get(node.unit, t.DURATION)

    def _call(self, node: ast.Call, known: frozenset[str]) -> Type:
        if node.function in _FUNCTIONS:
            return self._fixed_function(node, known)
        types = [self.infer(arg, known) for arg in node.args]
        real = [x for x in types if x.kind is not Kind.NOTHING]
        for arg, typ in zip(node.args, types):
            self._require_known(arg, typ)
        if not real:
            return t.NOTHING
        first = real[0]
        if first.kind not in _ORDERED or any(not first.same_values(x) for x in real):
            return self.problem("RX348", node, f"`{node.function}` needs values of one kind that can be ordered",
                                "give it numbers, amounts, dates or durations, all of one kind")
        return first.known()

    def _fixed_function(self, node: ast.Call, known: frozenset[str]) -> Type:
        kinds, result = _FUNCTIONS[node.function]
        if len(node.args) != len(kinds):
            wanted = ", ".join(_KIND_WORDS[k] for k in kinds)
            return self.problem("RX349", node, f"`{node.function}` takes {len(kinds)} argument"
                                f"{'s' if len(kinds) > 1 else ''} ({wanted})", f"write `{node.function}({wanted})`")
        for arg, kind in zip(node.args, kinds):
            typ = self.infer(arg, known)
            self._require_known(arg, typ)
            if typ.kind not in (kind, Kind.NOTHING):
                self.problem("RX348", arg, f"`{node.function}` needs {_KIND_WORDS[kind]} here, not a {typ}",
                             f"give it {_KIND_WORDS[kind]}")
        return result

    def _supplylimitexpr(self, node: ast.SupplyLimitExpr, known: frozenset[str]) -> Type:
        typ = self.infer(node.duration, known)
        if typ.kind not in (Kind.DURATION, Kind.NOTHING):
            self.problem("RX342", node.duration, f"`at most` needs a duration, not a {typ}",
                         "write e.g. `at most 15 days`")
        self._require_known(node.duration, typ)
        return t.SUPPLY


def _what(node: ast.Expr) -> str:
    """A name as written (`` `insured.age` ``), or "this" for any other expression."""
    return f"`{node.dotted}`" if isinstance(node, ast.Name) else "this"


def known_when(expr: ast.Expr, outcome: bool) -> frozenset[str]:
    """Names an expression proves known when it evaluates to ``outcome``."""
    if isinstance(expr, ast.Known) and isinstance(expr.operand, ast.Name) and expr.negated != outcome:
        return frozenset({expr.operand.dotted})
    if isinstance(expr, ast.BoolOp) and (expr.op == "and") == outcome:
        return known_when(expr.left, outcome) | known_when(expr.right, outcome)
    if isinstance(expr, ast.Not):
        return known_when(expr.operand, not outcome)
    return frozenset()
