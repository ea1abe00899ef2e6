"""Writing the Python source of one expression (the part of :mod:`rxpolicy.engine.codegen` below decisions).

:class:`ExpressionWriter` turns a checked expression into Python source: names become positions in
the case's value tuple (``V[23]``), decisions ``v_3`` (``VALS[3]`` in an explainer), definitions a
placeholder the function writer later inlines or binds; literals and amounts in force become
constants bound by name, folded at compile time where every case gives the same value. In an
explainer every test is wrapped so its outcome is recorded in ``TL``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal

from rxpolicy.language import ast
from rxpolicy.language import types as t
from rxpolicy.language.check import CheckedPolicy, SymbolKind
from rxpolicy.language.types import Kind
from rxpolicy.language.values import CENT, Duration, SupplyLimit, Unit, whole_count

__all__ = ["ATOMIC", "ExpressionWriter", "NOT_CONSTANT", "placeholder"]

ATOMIC = (ast.Compare, ast.OneOf, ast.InList, ast.Known, ast.Matches, ast.FitsWithin)
#: What :meth:`ExpressionWriter.fold` gives for an expression that differs per case.
NOT_CONSTANT = object()


#: Code as cheap to read twice as to keep: a constant, a case value, a decision.
_SIMPLE = re.compile(r"K\d+|V\[\d+\]|v_\d+|-?\d+")


def placeholder(index: int) -> str:
    """Stands for a definition in generated code until it is inlined or bound to a variable."""
    return f"\x00d{index}\x00"


class ExpressionWriter:
    """Python source for expressions; the function writer provides the state named here."""

    checked: CheckedPolicy
    leaf_ids: Mapping[int, int]
    start: dt.date
    constants: dict[str, object]
    explaining: bool
    standalone: bool
    definition_index: dict[str, int]
    decision_index: dict[str, int]
    #: Local variables ``t_<n>`` taken so far for a value computed once and used twice (``min``/``max``).
    temporaries: int = 0

    def const(self, value: object) -> str:
        """A constant bound into the generated module by name."""
        if value is None or isinstance(value, (bool, int, str)):
            return repr(value)
        name = f"K{len(self.constants)}"
        self.constants[name] = value
        return name

    def expr(self, node: ast.Expr) -> str:
        """Python source for an expression (with trace recording in the traced function)."""
        folded = self.fold(node)
        if folded is not NOT_CONSTANT and not (self.explaining and self.has_leaf(node)):
            return self.const(folded)
        code: str = getattr(self, "_" + type(node).__name__.lower())(node)
        if self.explaining and id(node) in self.leaf_ids and isinstance(node, (ast.Name, *ATOMIC)):
            return f"_lf(TL, {self.leaf_ids[id(node)]}, {self.observed(node)}, {code})"
        return self.common(node, code)

    def common(self, node: ast.Expr, code: str) -> str:
        """Where the function writer computes a sub-expression written more than once only once."""
        return code

    def has_leaf(self, node: ast.Expr) -> bool:
        return id(node) in self.leaf_ids or any(self.has_leaf(c) for c in ast.children(node))

    def observed(self, node: ast.Expr) -> str:
        """The value the trace shows beside a test's outcome: its left operand."""
        operand = getattr(node, "operand", None) or getattr(node, "left", None) or getattr(node, "supply", None)
        if operand is None:
            return "None"
        saved, self.explaining = self.explaining, False
        try:
            return self.expr(operand)
        finally:
            self.explaining = saved

    def typ(self, node: ast.Expr) -> t.Type:
        return self.checked.expr_types.get(id(node), t.NOTHING)

    def fold(self, node: ast.Expr) -> object:
        """The value of an expression that is the same for every case in this period, if it is one."""
        if isinstance(node, ast.Literal):
            value = node.value
            if isinstance(value, Decimal) and node.kind is ast.LiteralKind.NUMBER and value == value.to_integral_value():
                return int(value)
            return value
        if isinstance(node, ast.Name):
            resolved = self.checked.names.get(id(node))
            if resolved is not None and resolved.kind is SymbolKind.PARAMETER:
                found = self.checked.parameters[resolved.target].value_on(self.start)
                if found is None:
                    return NOT_CONSTANT
                value = found.value
                if isinstance(value, Decimal) and self.typ(node).kind is Kind.NUMBER \
                        and value == value.to_integral_value():
                    return int(value)
                return value
            return NOT_CONSTANT
        if isinstance(node, ast.WithUnit):
            value = self.fold(node.operand)
            if value is NOT_CONSTANT:
                return value
            if node.unit in ("EUR", "%"):
                return Decimal(value)  # type: ignore[arg-type]
            unit = Unit.DAYS if node.unit.startswith("day") else Unit.MONTHS
            return Duration(whole_count(value), unit)  # type: ignore[arg-type]
        if isinstance(node, ast.Arith) and self.typ(node).kind is Kind.NUMBER:
            left, right = self.fold(node.left), self.fold(node.right)
            if NOT_CONSTANT in (left, right) or node.op == "/":
                return NOT_CONSTANT
            return {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}[node.op](left, right)
        if isinstance(node, ast.IfThenElse):
            condition = self.fold(node.condition)
            if isinstance(condition, bool):
                return self.fold(node.then if condition else node.otherwise)
        return NOT_CONSTANT

    def _literal(self, node: ast.Literal) -> str:
        return self.const(self.fold(node))

    def _name(self, node: ast.Name) -> str:
        resolved = self.checked.names[id(node)]
        if resolved.kind is SymbolKind.FIELD:
            return f"V[{self.checked.facts.field_index(resolved.target)}]"
        if resolved.kind is SymbolKind.CHOICE:
            return repr(resolved.target)
        if resolved.kind is SymbolKind.PARAMETER:
            value = self.fold(node)
            return self.const(value) if value is not NOT_CONSTANT else f"missing({resolved.target!r})"
        if resolved.kind is SymbolKind.DECISION:
            index = self.decision_index[resolved.target]
            return f"VALS[{index}]" if self.standalone else f"v_{index}"
        if self.standalone:
            return f"({self.expr(self.checked.definitions[resolved.target].expr)})"
        return placeholder(self.definition_index[resolved.target])

    def _not(self, node: ast.Not) -> str:
        return f"(not {self.expr(node.operand)})"

    def _boolop(self, node: ast.BoolOp) -> str:
        return f"({self.expr(node.left)} {node.op} {self.expr(node.right)})"

    def _ifthenelse(self, node: ast.IfThenElse) -> str:
        condition = self.fold(node.condition)
        if isinstance(condition, bool) and not self.explaining:
            return self.expr(node.then if condition else node.otherwise)
        return f"({self.expr(node.then)} if {self.expr(node.condition)} else {self.expr(node.otherwise)})"

    def _compare(self, node: ast.Compare) -> str:
        left = self.expr(node.left)
        right_literal = node.right.value if isinstance(node.right, ast.Literal) else NOT_CONSTANT
        if node.op in ("is", "is not") and isinstance(right_literal, bool):
            # `x is yes` on a yes/no that may be unknown: identity, since None is neither.
            return f"({left} {node.op} {right_literal})"
        right = self.expr(node.right)
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
        # What "or the smallest pack" and "or one course" read is declared by the facts (`stands for`).
        facts = self.checked.facts
        smallest = f"V[{facts.field_index(facts.smallest_pack)}]" if facts.smallest_pack else "False"
        course = f"V[{facts.field_index(facts.one_course)}]" if facts.one_course else "None"
        extra = f"D, {smallest}, {course}"
        supply = node.supply
        if isinstance(supply, ast.WithUnit) and supply.unit.startswith("day"):
            # A supply in days needs no Duration: the day count is compared directly.
            return f"fits_days({self.count(supply.operand)}, {self.expr(node.limit)}, {extra})"
        return f"fits_within({self.expr(supply)}, {self.expr(node.limit)}, {extra})"

    def _arith(self, node: ast.Arith) -> str:
        left, right = self.expr(node.left), self.expr(node.right)
        kinds = (self.typ(node.left).kind, self.typ(node.right).kind)
        if kinds[0] is Kind.DATE:
            period = self.fold(node.right) if not (self.explaining and self.has_leaf(node.right)) else None
            if isinstance(period, Duration) and period.unit is Unit.MONTHS:
                return f"add_months({left}, {period.amount if node.op == '+' else -period.amount})"
            if isinstance(period, Duration):
                # `+ 1 days`: one timedelta made at compile time, not a Duration per call.
                return f"({left} {node.op} {self.const(dt.timedelta(days=period.amount))})"
            days = node.right
            if isinstance(days, ast.WithUnit) and days.unit.startswith("day"):
                return f"({left} {node.op} timedelta(days={self.count(days.operand)}))"
            return f"date_add({left}, {right}, {1 if node.op == '+' else -1})"
        if Kind.PERCENT in kinds:
            return f"({left} * {right} / 100)"
        if node.op == "/" and kinds[0] is not Kind.MONEY:
            return f"(Decimal({left}) / {right})"
        return f"({left} {node.op} {right})"

    def _rounded(self, node: ast.Rounded) -> str:
        quantum, mode = node.rounding.quantum, node.rounding.decimal_mode  # the table round_money/round_number use
        operand = self.expr(node.operand)
        if node.rounding.money:
            return f"{operand}.quantize({self.const(quantum)}, {mode!r}).quantize({self.const(CENT)})"
        # A number (int, or a Decimal after a division) rounded exactly in the engine's decimal context; to a
        # whole number it is an int again, as a whole number is everywhere else (round_number does the same).
        rounded = f"Decimal({operand}).quantize({self.const(quantum)}, {mode!r})"
        return f"int({rounded})" if node.rounding.decimals == 0 and self.typ(node).kind is Kind.NUMBER else rounded

    def _withunit(self, node: ast.WithUnit) -> str:
        operand = self.expr(node.operand)
        if node.unit in ("EUR", "%"):
            return f"Decimal({operand})"
        return f"Duration({self.count(node.operand)}, {'DAYS' if node.unit.startswith('day') else 'MONTHS'})"

    def count(self, node: ast.Expr) -> str:
        """A number of days or months as an int. The checker has proved it whole (RX354); a number read as a whole
        count (a fact that counts whole days, a number rounded to a whole number) is an int already, anything else
        goes through ``whole_count``, which turns a whole Decimal into an int and refuses a fraction (never
        ``int()``, which would cut it off)."""
        code = self.expr(node)
        if isinstance(node, ast.Rounded) and node.rounding.decimals == 0 and self.typ(node).kind is Kind.NUMBER:
            return code
        if isinstance(node, ast.Name):
            resolved = self.checked.names.get(id(node))
            if resolved is not None and resolved.kind is SymbolKind.FIELD \
                    and self.checked.facts.fields[resolved.target].whole is not None:
                return code
        return f"whole_count({code})"

    def _call(self, node: ast.Call) -> str:
        args = [self.expr(a) for a in node.args]
        if node.function == "days_between":
            return f"({args[1]} - {args[0]}).days"
        if node.function == "first_day_of_next_month":
            return f"first_day_of_next_month({args[0]})"
        if node.function in ("year_of", "month_of", "day_of"):
            return f"{args[0]}.{node.function[:-3]}"
        if node.function == "birthday":  # laid by the policy's reading of a 29 February birthday
            leap_day, years = self.const(self.checked.facts.leap_day_birthday), self.fold(node.args[1])
            if isinstance(years, int) and not isinstance(years, bool) and not self.explaining:
                # Whole and written: the date built directly (an explainer still records the number's test).
                return f"birthday_in({args[0]}, {years}, {leap_day})"
            return f"birthday({args[0]}, {args[1]}, {leap_day})"
        if node.function in ("date_from", "quotient", "remainder"):
            return f"{node.function}({', '.join(args)})"
        if self.typ(node).kind is Kind.DURATION:
            return f"{'shortest' if node.function == 'min' else 'longest'}(D, {', '.join(args)})"
        if node.function in ("min", "max") and len(args) > 1:
            return self._min_max(node.function, args)
        return f"{node.function}({', '.join(args)})"

    def _min_max(self, function: str, args: list[str]) -> str:
        """``min``/``max`` as comparisons (a builtin call costs three times as much), keeping what it returns.

        The builtin keeps the first of equal values (``max(0.00, 0)`` is ``0.00``) and takes a later one
        only when it is strictly greater (smaller): so does this, each argument computed once, in order.
        """
        best = args[0]
        for arg in args[1:]:
            # A constant or a case value is read again rather than kept in a variable.
            kept, keep = (best, best) if _SIMPLE.fullmatch(best) else self._temporary(best)
            other, take = (arg, arg) if _SIMPLE.fullmatch(arg) else self._temporary(arg)
            best = f"({other} if {keep} {'<' if function == 'max' else '>'} {take} else {kept})"
        return best

    def _temporary(self, code: str) -> tuple[str, str]:
        """A new local variable for ``code``: its name, and the code that computes it into the variable."""
        self.temporaries += 1
        name = f"t_{self.temporaries}"
        return name, f"({name} := {code})"

    def _supplylimitexpr(self, node: ast.SupplyLimitExpr) -> str:
        period = self.fold(node.duration)
        if isinstance(period, Duration):
            return self.const(SupplyLimit(period, node.or_smallest_pack, node.or_one_course))
        return f"SupplyLimit({self.expr(node.duration)}, {node.or_smallest_pack}, {node.or_one_course})"
