"""Stage 4: :class:`CheckedPolicy` → :class:`CompiledPolicy`, Python code generated once per period.

The dispensing date selects which rules and amounts are in force. The dates at which anything
starts or stops split time into periods ("epochs") in which the rules in force do not change; for
each, the checked rules become the source of two Python functions, compiled with ``compile()``
once: a fast one and one that records the trace. Generated code is built from the checked AST
only: names become indices into the case's value tuple, literals become constants bound by name,
never pasted source text, so nothing written in a rule file is executed as Python.

Evaluation of one case is then a straight run through definitions and decisions in dependency
order, without walking a tree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from . import ast, runtime
from . import types as t
from .check import CheckedPolicy, LayerKind, SymbolKind
from .check.model import DecisionInfo, LayerInfo
from .grammar import grammar_sha256
from .schema import FIELDS, field_index
from .source import Span
from .types import Kind
from .values import Duration, SupplyLimit, Unit

__all__ = ["CompiledPolicy", "Epoch", "LeafMeta", "RuleMeta", "compile_policy", "ENGINE_VERSION"]

ENGINE_VERSION = "0.1.0"
_ATOMIC = (ast.Compare, ast.OneOf, ast.InList, ast.Known, ast.Matches, ast.FitsWithin)


@attrs.frozen(kw_only=True)
class RuleMeta:
    """What the evaluator and the renderers need to know of a rule."""

    index: int
    id: str
    layer: str
    layer_kind: LayerKind
    citations: tuple[str, ...]
    interpretation: str | None
    explains: Mapping[str, str]
    rejection_code: str | None
    validity: ast.Validity | None
    decides: tuple[str, ...]
    parents: tuple[str, ...]
    table: str | None
    rule: ast.Rule = attrs.field(eq=False, repr=False)

    @property
    def span(self) -> Span:
        """Where the rule is written."""
        return self.rule.span

    @property
    def source(self) -> str:
        """The citation as one text (several are joined with '; ')."""
        return "; ".join(self.citations)


@attrs.frozen(kw_only=True)
class LeafMeta:
    """One test whose outcome the trace records: a comparison, a match, a yes/no fact or definition."""

    index: int
    node: ast.Expr = attrs.field(eq=False)
    #: ('rule', rule index) for a `when`, ('value', rule index) for an assigned value, ('definition', name).
    owner: tuple[str, object]
    #: True when an odd number of `not`s surround it: then a false outcome supports its condition.
    negated: bool


@attrs.frozen(kw_only=True)
class Epoch:
    """A period in which the rules and amounts in force do not change, with its compiled functions."""

    start: dt.date
    end: dt.date | None
    fast: Callable[[tuple[object, ...]], tuple[tuple[object, ...], tuple[tuple[int, ...], ...]]] = attrs.field(
        eq=False, repr=False)
    traced: Callable[..., tuple[tuple[object, ...], tuple[tuple[int, ...], ...]]] = attrs.field(eq=False, repr=False)
    python: str = attrs.field(eq=False, repr=False)
    rules_in_force: frozenset[int]

    def contains(self, day: dt.date) -> bool:
        """Whether the period includes ``day``."""
        return self.start <= day and (self.end is None or day <= self.end)


@attrs.frozen(kw_only=True)
class CompiledPolicy:
    """A policy ready to evaluate cases: immutable, shareable between threads."""

    name: str
    title: str
    validity: ast.Validity | None
    plans: tuple[str, ...]
    layers: tuple[LayerInfo, ...]
    #: The decisions this policy produces, in declaration order.
    decisions: tuple[DecisionInfo, ...]
    rules: tuple[RuleMeta, ...]
    leaves: tuple[LeafMeta, ...]
    epochs: tuple[Epoch, ...]
    fingerprint: str
    file_hashes: Mapping[str, str]
    checked: CheckedPolicy = attrs.field(eq=False, repr=False)

    def epoch_for(self, day: dt.date) -> Epoch | None:
        """The period that holds ``day``, or None when the policy is not in force then."""
        for epoch in self.epochs:
            if epoch.contains(day):
                return epoch
        return None

    def rule(self, rule_id: str) -> RuleMeta:
        """A rule by id (the first version when a rule has several periods)."""
        return next(r for r in self.rules if r.id == rule_id)


def compile_policy(checked: CheckedPolicy) -> CompiledPolicy:
    """Compile a checked policy; a failure here is a bug in rxpolicy, not in the rule files."""
    rules = tuple(_rule_meta(i, info) for i, info in enumerate(checked.rules))
    leaves, leaf_ids = _number_leaves(checked)
    decided = {d for r in rules for d in r.decides}
    decisions = tuple(d for d in checked.decisions.values() if d.name in decided)
    epochs = tuple(_Generator(checked, rules, decisions, leaf_ids, start, end).epoch()
                   for start, end in _epochs(checked))
    file_hashes = MappingProxyType({f.path: f.sha256 for f in checked.files})
    digest = hashlib.sha256(ENGINE_VERSION.encode())
    digest.update(grammar_sha256().encode())
    for path, sha in sorted(file_hashes.items()):
        digest.update(f"{path}:{sha}".encode())
    return CompiledPolicy(name=checked.name, title=checked.title, validity=checked.validity, plans=checked.plans,
                          layers=checked.layers, decisions=decisions, rules=rules, leaves=leaves, epochs=epochs,
                          fingerprint=digest.hexdigest(), file_hashes=file_hashes, checked=checked)


def _rule_meta(index: int, info: Any) -> RuleMeta:
    rule: ast.Rule = info.rule
    return RuleMeta(index=index, id=rule.id, layer=info.layer, layer_kind=info.layer_kind,
                    citations=tuple(c.text for c in rule.citations), interpretation=rule.interpretation,
                    explains=MappingProxyType({e.lang: e.text for e in rule.explains}),
                    rejection_code=rule.rejection_code, validity=rule.validity, decides=info.decides,
                    parents=tuple(p.id for p in rule.exception_to), table=rule.table, rule=rule)


# ----------------------------------------------------------------------------- periods

def _epochs(checked: CheckedPolicy) -> list[tuple[dt.date, dt.date | None]]:
    """Split time at every date where a rule, amount or the policy starts or stops."""
    cuts: set[dt.date] = set()

    def add(validity: ast.Validity | None) -> None:
        if validity is not None:
            cuts.add(validity.start)
            if validity.end is not None and validity.end < dt.date.max:
                cuts.add(validity.end + dt.timedelta(days=1))

    add(checked.validity)
    for info in checked.rules:
        add(info.rule.validity)
    for parameter in checked.parameters.values():
        for value in parameter.values:
            add(value.validity)
    bounds = sorted(cuts)
    starts = [dt.date.min, *bounds]
    periods = [(s, (n - dt.timedelta(days=1)) if n else None)
               for s, n in zip(starts, [*bounds, None])]
    policy = checked.validity
    return [(s, e) for s, e in periods if policy is None or policy.contains(s)]


# ----------------------------------------------------------------------------- trace leaves

def _number_leaves(checked: CheckedPolicy) -> tuple[tuple[LeafMeta, ...], Mapping[int, int]]:
    leaves: list[LeafMeta] = []
    ids: dict[int, int] = {}

    def leaf(node: ast.Expr, owner: tuple[str, object], negated: bool) -> None:
        if id(node) not in ids:
            ids[id(node)] = len(leaves)
            leaves.append(LeafMeta(index=len(leaves), node=node, owner=owner, negated=negated))

    def walk(node: ast.Expr, owner: tuple[str, object], condition: bool, negated: bool, in_test: bool) -> None:
        if isinstance(node, ast.BoolOp):
            walk(node.left, owner, True, negated, in_test)
            walk(node.right, owner, True, negated, in_test)
        elif isinstance(node, ast.Not):
            walk(node.operand, owner, True, not negated, in_test)
        elif isinstance(node, ast.IfThenElse):
            walk(node.condition, owner, True, False, in_test)
            walk(node.then, owner, False, negated, in_test)
            walk(node.otherwise, owner, False, negated, in_test)
        elif isinstance(node, _ATOMIC):
            leaf(node, owner, negated)
        elif isinstance(node, ast.Name) and (condition or (not in_test and _is_input(node))):
            # Yes/no names are tests; in a computed value every name is an input the explanation shows.
            leaf(node, owner, negated)
        for child in _children(node):
            if not isinstance(node, (ast.BoolOp, ast.Not, ast.IfThenElse)):
                walk(child, owner, False, negated, in_test or isinstance(node, _ATOMIC))

    def _is_input(node: ast.Name) -> bool:
        resolved = checked.names.get(id(node))
        return resolved is not None and resolved.kind is not SymbolKind.CHOICE

    for name, definition in checked.definitions.items():
        walk(definition.expr, ("definition", name), checked.expr_types.get(id(definition.expr)) == t.BOOL, False,
             False)
    for index, info in enumerate(checked.rules):
        if info.rule.when is not None:
            walk(info.rule.when, ("rule", index), True, False, False)
        for assignment in info.rule.assignments:
            walk(assignment.value, ("value", index), False, False, False)
    return tuple(leaves), MappingProxyType(ids)


def _children(node: ast.Expr) -> Iterator[ast.Expr]:
    for field in attrs.fields(type(node)):
        value = getattr(node, field.name)
        if isinstance(value, tuple):
            yield from (v for v in value if attrs.has(type(v)) and not isinstance(v, (str, Span)))
        elif attrs.has(type(value)) and not isinstance(value, Span):
            yield value


# ----------------------------------------------------------------------------- code generation

class _Generator:
    """Writes the Python source of one period's evaluate functions."""

    def __init__(self, checked: CheckedPolicy, rules: tuple[RuleMeta, ...], decisions: tuple[DecisionInfo, ...],
                 leaf_ids: Mapping[int, int], start: dt.date, end: dt.date | None) -> None:
        self.checked, self.rules, self.decisions = checked, rules, decisions
        self.leaf_ids, self.start, self.end = leaf_ids, start, end
        self.in_force = frozenset(r.index for r in rules if r.validity is None or r.validity.contains(start))
        self.constants: dict[str, object] = {}
        self.traced = False
        self.lines: list[str] = []
        self.counter = 0
        self.children: dict[int, list[int]] = {r.index: [] for r in rules}
        for r in rules:
            if r.index not in self.in_force:
                continue
            for parent in rules:
                if parent.index in self.in_force and (parent.id in r.parents or (parent.table in r.parents)):
                    self.children[parent.index].append(r.index)

    # ------------------------------------------------------------------ functions
    def epoch(self) -> Epoch:
        fast_src = self.function("evaluate_fast", traced=False)
        traced_src = self.function("evaluate_traced", traced=True)
        python = fast_src + "\n\n" + traced_src
        namespace: dict[str, Any] = {
            "settle": runtime.settle, "missing": runtime.missing, "fits_within": runtime.fits_within,
            "duration_key": runtime.duration_key, "date_add": runtime.date_add, "round_to": runtime.round_to,
            "longest": runtime.longest, "shortest": runtime.shortest,
            "first_day_of_next_month": runtime.first_day_of_next_month, "Decimal": Decimal,
            "Duration": Duration, "SupplyLimit": SupplyLimit, "DAYS": Unit.DAYS, "MONTHS": Unit.MONTHS,
            "_lf": _lf, "_rc": _rc, **self.constants,
        }
        code = compile(python, f"<rxpolicy {self.checked.name} from {self.start}>", "exec")
        exec(code, namespace)  # noqa: S102 - source generated from the checked AST, literals bound as constants
        return Epoch(start=self.start, end=self.end, fast=namespace["evaluate_fast"],
                     traced=namespace["evaluate_traced"], python=python, rules_in_force=self.in_force)

    def function(self, name: str, traced: bool) -> str:
        self.traced = traced
        self.lines = [f"def {name}(V{', TL, TR' if traced else ''}):",
                      f"    D = V[{field_index('dispensed_on')}]"]
        for kind, symbol in self.checked.order:
            if kind is SymbolKind.DEFINITION:
                definition = self.checked.definitions[symbol]
                self.emit(1, f"{self.var(kind, symbol)} = {self.expr(definition.expr)}")
            elif any(d.name == symbol for d in self.decisions):
                self.decision(symbol)
        values = ", ".join(f"v_{i}" for i in range(len(self.decisions)))
        deciders = ", ".join(f"r_{i}" for i in range(len(self.decisions)))
        self.emit(1, f"return ({values}{',' if len(self.decisions) == 1 else ''}), "
                     f"({deciders}{',' if len(self.decisions) == 1 else ''})")
        return "\n".join(self.lines)

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def var(self, kind: SymbolKind, name: str) -> str:
        if kind is SymbolKind.DECISION:
            return f"v_{next(i for i, d in enumerate(self.decisions) if d.name == name)}"
        return f"d_{list(self.checked.definitions).index(name)}"

    def const(self, value: object) -> str:
        if value is None or isinstance(value, (bool, int, str)):
            return repr(value)
        name = f"K{len(self.constants)}"
        self.constants[name] = value
        return name

    # ------------------------------------------------------------------ decisions
    def decision(self, name: str) -> None:
        index = next(i for i, d in enumerate(self.decisions) if d.name == name)
        self.emit(1, "h = []")
        seen_tables: set[str] = set()
        for rule in self.rules:
            if rule.index not in self.in_force or name not in rule.decides or rule.parents:
                continue
            if rule.table is None:
                self.emit(1, f"if {self.condition(rule)}:")
                self.node(rule, name, 2)
            elif rule.table not in seen_tables:
                seen_tables.add(rule.table)
                rows = [r for r in self.rules if r.table == rule.table and r.index in self.in_force and not r.parents]
                for position, row in enumerate(rows):
                    self.emit(1, f"{'if' if position == 0 else 'elif'} {self.condition(row)}:")
                    self.node(row, name, 2)
        self.emit(1, f"v_{index}, r_{index} = settle(h, {index})")

    def condition(self, rule: RuleMeta) -> str:
        test = "True" if rule.rule.when is None else self.expr(rule.rule.when)
        return f"_rc(TR, {rule.index}, {test})" if self.traced else test

    def reaches(self, rule: RuleMeta, name: str) -> bool:
        return name in rule.decides or any(self.reaches(self.rules[c], name) for c in self.children[rule.index])

    def node(self, rule: RuleMeta, name: str, depth: int) -> None:
        """Code for when ``rule`` applies: its exceptions that apply decide, else it does."""
        kids = [self.rules[c] for c in self.children[rule.index] if self.reaches(self.rules[c], name)]
        own = name in rule.decides
        value = None
        if own:
            assignment = next(a for a in rule.rule.assignments if a.decision == name)
            value = f"h.append(({rule.index}, {self.expr(assignment.value)}))"
        if not kids:
            self.emit(depth, value or "pass")
            return
        self.counter += 1
        mark = f"n{self.counter}"
        self.emit(depth, f"{mark} = len(h)")
        for kid in kids:
            self.emit(depth, f"if {self.condition(kid)}:")
            self.node(kid, name, depth + 1)
        if value:
            self.emit(depth, f"if len(h) == {mark}: {value}")

    # ------------------------------------------------------------------ expressions
    def expr(self, node: ast.Expr) -> str:
        code: str = getattr(self, "_" + type(node).__name__.lower())(node)
        if self.traced and id(node) in self.leaf_ids and isinstance(node, (ast.Name, *_ATOMIC)):
            leaf = self.leaf_ids[id(node)]
            observed = self.observed(node)
            return f"_lf(TL, {leaf}, {observed}, {code})"
        return code

    def observed(self, node: ast.Expr) -> str:
        """The value the trace shows beside a test's outcome: its left operand."""
        operand = getattr(node, "operand", None) or getattr(node, "left", None) or getattr(node, "supply", None)
        if operand is None:
            return "None"
        saved, self.traced = self.traced, False
        try:
            return self.expr(operand)
        finally:
            self.traced = saved

    def typ(self, node: ast.Expr) -> t.Type:
        return self.checked.expr_types.get(id(node), t.NOTHING)

    def _literal(self, node: ast.Literal) -> str:
        value = node.value
        if isinstance(value, Decimal) and node.kind is ast.LiteralKind.NUMBER and value == value.to_integral_value():
            value = int(value)
        return self.const(value)

    def _name(self, node: ast.Name) -> str:
        resolved = self.checked.names[id(node)]
        kind = resolved.kind
        if kind is SymbolKind.FIELD:
            return f"V[{field_index(resolved.target)}]"
        if kind is SymbolKind.CHOICE:
            return repr(resolved.target)
        if kind is SymbolKind.PARAMETER:
            value = self.checked.parameters[resolved.target].value_on(self.start)
            if value is None:
                return f"missing({resolved.target!r})"
            number = value.value
            if isinstance(number, Decimal) and self.checked.parameters[resolved.target].type.kind is Kind.NUMBER \
                    and number == number.to_integral_value():
                number = int(number)
            return self.const(number)
        return self.var(kind, resolved.target)

    def _not(self, node: ast.Not) -> str:
        return f"(not {self.expr(node.operand)})"

    def _boolop(self, node: ast.BoolOp) -> str:
        return f"({self.expr(node.left)} {node.op} {self.expr(node.right)})"

    def _ifthenelse(self, node: ast.IfThenElse) -> str:
        return f"({self.expr(node.then)} if {self.expr(node.condition)} else {self.expr(node.otherwise)})"

    def _compare(self, node: ast.Compare) -> str:
        left, right = self.expr(node.left), self.expr(node.right)
        if node.op == "is":
            return f"({left} == {right})"
        if node.op == "is not":
            return f"({left} != {right})"
        if self.typ(node.left).kind is Kind.DURATION:
            return f"(duration_key({left}, D) {node.op} duration_key({right}, D))"
        return f"({left} {node.op} {right})"

    def _oneof(self, node: ast.OneOf) -> str:
        options = ", ".join(self.expr(o) for o in node.options)
        return f"({self.expr(node.operand)} {'not in' if node.negated else 'in'} ({options},))"

    def _inlist(self, node: ast.InList) -> str:
        return f"({self.expr(node.operand)} {'not in' if node.negated else 'in'} {self.expr(node.collection)})"

    def _known(self, node: ast.Known) -> str:
        return f"({self.expr(node.operand)} {'is' if node.negated else 'is not'} None)"

    def _matches(self, node: ast.Matches) -> str:
        operand = self.expr(node.operand)
        prefixes = tuple(p[:-1] for p in node.patterns if p.endswith("*"))
        exact = tuple(p for p in node.patterns if not p.endswith("*"))
        tests = []
        if prefixes:
            tests.append(f"{operand}.startswith({self.const(prefixes)})")
        if exact:
            tests.append(f"{operand} in {self.const(frozenset(exact))}")
        return "(" + " or ".join(tests) + ")"

    def _fitswithin(self, node: ast.FitsWithin) -> str:
        return (f"fits_within({self.expr(node.supply)}, {self.expr(node.limit)}, D, "
                f"V[{field_index('dispensing.smallest_pack')}], V[{field_index('prescription.course_days')}])")

    def _arith(self, node: ast.Arith) -> str:
        left, right = self.expr(node.left), self.expr(node.right)
        kinds = (self.typ(node.left).kind, self.typ(node.right).kind)
        if kinds[0] is Kind.DATE:
            return f"date_add({left}, {right}, {1 if node.op == '+' else -1})"
        if Kind.PERCENT in kinds:
            return f"({left} * {right} / 100)"
        if node.op == "/":
            return f"(Decimal({left}) / {right})"
        return f"({left} {node.op} {right})"

    def _rounded(self, node: ast.Rounded) -> str:
        return f"round_to({self.expr(node.operand)}, {self.const(node.rounding)})"

    def _withunit(self, node: ast.WithUnit) -> str:
        operand = self.expr(node.operand)
        if node.unit in ("EUR", "%"):
            return f"Decimal({operand})"
        return f"Duration(int({operand}), {'DAYS' if node.unit.startswith('day') else 'MONTHS'})"

    def _call(self, node: ast.Call) -> str:
        args = ", ".join(self.expr(a) for a in node.args)
        if node.function == "days_between":
            first, second = (self.expr(a) for a in node.args)
            return f"({second} - {first}).days"
        if node.function == "first_day_of_next_month":
            return f"first_day_of_next_month({args})"
        if self.typ(node).kind is Kind.DURATION:
            return f"{'shortest' if node.function == 'min' else 'longest'}(D, {args})"
        return f"{node.function}({args})"

    def _supplylimitexpr(self, node: ast.SupplyLimitExpr) -> str:
        if isinstance(node.duration, ast.Literal):
            assert isinstance(node.duration.value, Duration)
            return self.const(SupplyLimit(node.duration.value, node.or_smallest_pack, node.or_one_course))
        return f"SupplyLimit({self.expr(node.duration)}, {node.or_smallest_pack}, {node.or_one_course})"


def _lf(records: list[tuple[int, object, bool]], leaf: int, observed: object, outcome: Any) -> Any:
    """Trace helper bound into generated code: records a test's outcome and passes it on."""
    records.append((leaf, observed, outcome))
    return outcome


def _rc(records: dict[int, bool], rule: int, outcome: bool) -> bool:
    """Trace helper bound into generated code: records whether a rule's condition held."""
    records[rule] = outcome
    return outcome
