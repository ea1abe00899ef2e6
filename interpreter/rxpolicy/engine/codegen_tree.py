"""Decisions written as `if/elif` where the rules are proven not to overlap (part of :mod:`rxpolicy.engine.codegen`).

The general code for a decision with exceptions collects every rule that applies in a list and
settles it: agreeing rules are all reasons, disagreeing ones a conflict (RX503). Where the code
writer can prove from the conditions alone that at most one of a rule's exceptions applies (they
test one yes/no both ways, one field for different values, an ATC code for prefixes that cannot
both match), the exceptions become an `if/elif` chain that decides directly: no list, no settling,
and no condition evaluated after one that held. That is the same decision, the same deciding rules
and the same errors, because

* only conditions that cannot fail (no division by a value, no date built from parts: see
  :func:`total`) are ever left unevaluated, so a computation that fails still fails;
* an exception to every other exception of a rule (``exception to`` each of them) is tested first:
  when it applies, each path of the general code reaches it, and the reasons are its own;
* an exception list that cannot be proven exclusive keeps the general code, within its branch.

A table that decides two values (the maximum and the minimum dispensing period) is one chain that
sets both, when nothing either value reads is decided in between.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rxpolicy.engine.meta import RuleMeta
from rxpolicy.language import ast
from rxpolicy.language.check import CheckedPolicy, SymbolKind
from rxpolicy.language.types import Kind

__all__ = ["TreeWriter", "disjoint", "total"]


class TreeWriter:
    """Structured code for the rules deciding one decision (or several decided by the same table)."""

    checked: CheckedPolicy
    rules: tuple[RuleMeta, ...]
    decision_index: dict[str, int]
    children: dict[int, list[int]]

    # Provided by the function writer (which comes first in its class's order): never called here.
    def expr(self, node: ast.Expr) -> str:
        raise NotImplementedError

    def const(self, value: object) -> str:
        raise NotImplementedError

    def kids(self, rule: RuleMeta, name: str) -> list[RuleMeta]:
        raise NotImplementedError

    def value(self, rule: RuleMeta, name: str) -> str:
        raise NotImplementedError

    def node(self, rule: RuleMeta, name: str, depth: int, lines: list[str]) -> None:
        raise NotImplementedError

    def fold(self, node: ast.Expr) -> object:
        raise NotImplementedError

    def structured(self, names: Sequence[str], units: list[list[RuleMeta]]) -> list[str] | None:
        """The lines deciding ``names`` from their top-level units, or None where overlaps are not ruled out."""
        lines: list[str] = []
        gap = f"settle([], {self.decision_index[names[0]]})"
        gap_target = ", ".join(f"v_{self.decision_index[n]}, r_{self.decision_index[n]}" for n in names[:1])
        if not units:
            return None
        if len(units) == 1:
            rows = units[0]
        elif all(len(u) == 1 for u in units) and self._exclusive([u[0] for u in units]):
            rows = [u[0] for u in units]  # separate rules that cannot both apply: a chain, like a table's rows
        else:
            return None
        # `when X` then `when not X`: the second applies exactly where the first does not (an `else`).
        otherwise = len(rows) == 2 and _complementary(rows[0].rule.when, rows[1].rule.when)
        for position, row in enumerate(rows):
            last = row.rule.when is None or (otherwise and position == 1)
            if last:
                if position == 0:
                    return self._subtree(names, row, 1, frozenset())
                lines.append("    else:")
            else:
                lines.append(f"    {'if' if position == 0 else 'elif'} {self.expr(row.rule.when)}:")  # type: ignore
            body = self._subtree(names, row, 2, frozenset())
            if body is None:
                return None
            lines += body
            if last:
                return lines
        lines.append("    else:")
        if len(names) > 1:
            return None  # a table that may decide nothing decides one value at a time (the gap names it)
        lines.append(f"        {gap_target} = {gap}")
        return lines

    def _subtree(self, names: Sequence[str], rule: RuleMeta, depth: int, excluded: frozenset[int]) -> list[str] | None:
        """Lines that decide ``names`` when ``rule`` applies: its exceptions that apply, else the rule."""
        pad = "    " * depth
        kids = self._kids(names, rule, excluded)
        if kids is None:
            return None
        own = self._assign(names, rule) if all(n in rule.decides for n in names) else None
        if not kids:
            return [f"{pad}{own}"] if own else None
        if own is not None and len(kids) > 1 and self._flat(names, kids):
            values = ", ".join(f"{self.value(kids[0], n)}, r" for n in names)
            lines = [f"{pad}r = ()"]
            lines += [f"{pad}if {self._condition(k)}: r += ({k.index},)" for k in kids]
            lines.append(f"{pad}if r: {self._targets(names)} = {values}")
            lines.append(f"{pad}else: {own}")
            return lines
        if not all(k.rule.when is None or total(self.checked, k.rule.when, self.fold) for k in kids):
            return self._general(names, rule, depth)
        for first in kids:
            if first.rule.when is not None and self._dominates(names, first, rule, excluded) \
                    and self._all_total(names, rule, excluded):
                # An exception to every other exception here: tested first, and alone when it applies.
                inner = self._subtree(names, first, depth + 1, excluded)
                rest = self._subtree(names, rule, depth + 1, excluded | {first.index})
                if inner is None or rest is None:
                    return self._general(names, rule, depth)
                return [f"{pad}if {self.expr(first.rule.when)}:", *inner, f"{pad}else:", *rest]
        if own is None or not self._exclusive(kids):
            return self._general(names, rule, depth)
        lines = []
        for position, kid in enumerate(kids):
            body = self._subtree(names, kid, depth + 1, excluded | {k.index for k in kids[:position]})
            if body is None:
                return self._general(names, rule, depth)
            lines.append(f"{pad}{'if' if position == 0 else 'elif'} {self._condition(kid)}:")
            lines += body
        lines += [f"{pad}else:", f"{pad}    {own}"]
        return lines

    def _general(self, names: Sequence[str], rule: RuleMeta, depth: int) -> list[str] | None:
        """The list-and-settle code for one rule's branch (exclusive of every other branch, so settled alone)."""
        if len(names) != 1:
            return None
        name = names[0]
        index = self.decision_index[name]
        pad = "    " * depth
        inner: list[str] = []
        self.node(rule, name, depth, inner)
        return [f"{pad}h = []", *inner,
                f"{pad}v_{index}, r_{index} = (h[0][1], (h[0][0],)) if len(h) == 1 else settle(h, {index})"]

    # ------------------------------------------------------------------ helpers
    def _kids(self, names: Sequence[str], rule: RuleMeta, excluded: frozenset[int]) -> list[RuleMeta] | None:
        """The exceptions of ``rule`` deciding ``names`` (None when they differ between the names)."""
        found = [[k for k in self.kids(rule, n) if k.index not in excluded] for n in names]
        if any([k.index for k in f] != [k.index for k in found[0]] for f in found):
            return None
        return found[0]

    def _flat(self, names: Sequence[str], kids: list[RuleMeta]) -> bool:
        """Exceptions with none of their own that all give each decision one constant: collected, never in conflict."""
        if any(self.children[k.index] or not all(n in k.decides for n in names) for k in kids):
            return False
        from rxpolicy.engine.codegen_expr import NOT_CONSTANT

        for name in names:
            values = [self.fold(next(a.value for a in k.rule.assignments if a.decision == name)) for k in kids]
            if any(v is NOT_CONSTANT for v in values) or any(v != values[0] or type(v) is not type(values[0])
                                                              for v in values):
                return False
        return True

    def _dominates(self, names: Sequence[str], first: RuleMeta, rule: RuleMeta, excluded: frozenset[int]) -> bool:
        """Whether, when ``first`` applies, ``rule``'s branch decides as ``first`` alone does.

        True when every other exception of ``rule`` cannot apply together with ``first``, or has
        ``first`` as an exception of its own that dominates there in turn.
        """
        kids = self._kids(names, rule, excluded)
        if kids is None:
            return False
        for other in kids:
            if other.index == first.index or disjoint(self.checked, first.rule.when, other.rule.when):
                continue
            inner = self._kids(names, other, excluded)
            if inner is None or first.index not in [k.index for k in inner] \
                    or not self._dominates(names, first, other, excluded):
                return False
        return True

    def _all_total(self, names: Sequence[str], rule: RuleMeta, excluded: frozenset[int]) -> bool:
        """Whether no test below ``rule`` can fail (each may then go unevaluated)."""
        kids = self._kids(names, rule, excluded) or []
        return all((k.rule.when is None or total(self.checked, k.rule.when, self.fold)) and self._all_total(names, k, excluded)
                   for k in kids)

    def _exclusive(self, rules: list[RuleMeta]) -> bool:
        """Whether no two of ``rules`` can apply together, all but the first tested only where they cannot fail."""
        if any(r.rule.when is None for r in rules):
            return False
        if not all(total(self.checked, r.rule.when, self.fold) for r in rules[1:]):  # type: ignore[arg-type]
            return False
        return all(disjoint(self.checked, a.rule.when, b.rule.when)
                   for i, a in enumerate(rules) for b in rules[i + 1:])

    def _condition(self, rule: RuleMeta) -> str:
        return "True" if rule.rule.when is None else self.expr(rule.rule.when)

    def _targets(self, names: Sequence[str]) -> str:
        return ", ".join(f"v_{self.decision_index[n]}, r_{self.decision_index[n]}" for n in names)

    def _assign(self, names: Sequence[str], rule: RuleMeta) -> str:
        deciders = self.const((rule.index,))
        return f"{self._targets(names)} = " + ", ".join(f"{self.value(rule, n)}, {deciders}" for n in names)


# ----------------------------------------------------------------------------- proofs on conditions

def _complementary(a: ast.Expr | None, b: ast.Expr | None) -> bool:
    """Whether one condition is written as `not` the other (AST equality ignores places)."""
    return (isinstance(a, ast.Not) and a.operand == b) or (isinstance(b, ast.Not) and b.operand == a)


def _expand(checked: CheckedPolicy, node: ast.Expr) -> ast.Expr:
    """A definition's name replaced by what it defines (other names as they are)."""
    while isinstance(node, ast.Name):
        resolved = checked.names.get(id(node))
        if resolved is None or resolved.kind is not SymbolKind.DEFINITION:
            return node
        node = checked.definitions[resolved.target].expr
    return node


def _conjuncts(checked: CheckedPolicy, node: ast.Expr) -> list[ast.Expr]:
    node = _expand(checked, node)
    if isinstance(node, ast.BoolOp) and node.op == "and":
        return _conjuncts(checked, node.left) + _conjuncts(checked, node.right)
    if isinstance(node, ast.Not):
        inner = _expand(checked, node.operand)
        if isinstance(inner, ast.BoolOp) and inner.op == "or":  # not (a or b) = not a and not b
            return (_conjuncts(checked, ast.Not(operand=inner.left, span=node.span))
                    + _conjuncts(checked, ast.Not(operand=inner.right, span=node.span)))
        return [ast.Not(operand=inner, span=node.span)]
    return [node]


def _implies(checked: CheckedPolicy, condition: ast.Expr, claim: ast.Expr) -> bool:
    """Whether ``condition`` holding proves ``claim`` (by its conjuncts; a disjunction by either side)."""
    conjuncts = _conjuncts(checked, condition)
    if any(_same(checked, c, claim) for c in conjuncts):
        return True
    claim = _expand(checked, claim)
    if isinstance(claim, ast.BoolOp) and claim.op == "or":
        return _implies(checked, condition, claim.left) or _implies(checked, condition, claim.right)
    if isinstance(claim, ast.BoolOp) and claim.op == "and":
        return _implies(checked, condition, claim.left) and _implies(checked, condition, claim.right)
    return False


def _same(checked: CheckedPolicy, a: ast.Expr, b: ast.Expr) -> bool:
    a, b = _expand(checked, a), _expand(checked, b)
    if isinstance(a, ast.Not) and isinstance(b, ast.Not):
        return _same(checked, a.operand, b.operand)
    return a == b


def disjoint(checked: CheckedPolicy, a: ast.Expr | None, b: ast.Expr | None, depth: int = 0) -> bool:
    """Whether two conditions can never both hold (a sound, syntactic proof: False means 'not proven').

    They cannot when one has a test the other proves false (``x`` and ``not x``; ``x is no`` and
    ``x is unknown``; one choice and another; ATC prefixes neither of which extends the other), or
    when one requires ``p or q`` and neither ``p`` nor ``q`` can hold with the other.
    """
    if a is None or b is None or depth > 8:
        return False
    left, right = _conjuncts(checked, a), _conjuncts(checked, b)
    for tests, whole, other in ((left, a, b), (right, b, a)):
        for test in tests:
            if isinstance(test, ast.Not) and _implies(checked, other, test.operand):
                return True
            if isinstance(test, ast.BoolOp) and test.op == "or" and disjoint(checked, test.left, other, depth + 1) \
                    and disjoint(checked, test.right, other, depth + 1):
                return True
    return any(_excludes(checked, p, q) for p in left for q in right)


def _excludes(checked: CheckedPolicy, p: ast.Expr, q: ast.Expr) -> bool:
    """Whether two tests of one value (conjuncts) can never both hold."""
    a, b = _values_of(checked, p), _values_of(checked, q)
    if a is not None and b is not None and a[0] == b[0]:
        if a[2] and b[2]:  # each holds only for its values: they share none
            return not (a[1] & b[1])
        return bool(a[2] and not b[2] and a[1] <= b[1]) or bool(b[2] and not a[2] and b[1] <= a[1])
    if isinstance(p, ast.Matches) and isinstance(q, ast.Matches) and p.operand == q.operand:
        return not any(_patterns_meet(x, y) for x in p.patterns for y in q.patterns)
    return False


#: The value ``is unknown`` tests for (a yes/no is True, False or this).
_UNKNOWN = object()


def _values_of(checked: CheckedPolicy, test: ast.Expr) -> tuple[ast.Expr, frozenset[object], bool] | None:
    """A test of one operand against constants: (operand, values, True when it holds only for those values,
    False when it holds for all but those). Unknown is the value ``_UNKNOWN``."""
    if isinstance(test, ast.Known):
        return test.operand, frozenset({_UNKNOWN}), test.negated
    if isinstance(test, ast.Compare) and test.op in ("is", "is not"):
        value = _constant(checked, test.right)
        if value is not None:
            return test.left, frozenset({value}), test.op == "is"
    if isinstance(test, ast.OneOf):
        values = [_constant(checked, o) for o in test.options]
        if all(v is not None for v in values):
            return test.operand, frozenset(values), not test.negated
    return None


def _constant(checked: CheckedPolicy, node: ast.Expr) -> object:
    """A yes/no or a text (a literal or a choice value, compared as the text it is), else None."""
    if isinstance(node, ast.Literal) and isinstance(node.value, (bool, str)):
        return node.value
    if isinstance(node, ast.Name):
        resolved = checked.names.get(id(node))
        if resolved is not None and resolved.kind is SymbolKind.CHOICE:
            return resolved.target
    return None


def _patterns_meet(a: str, b: str) -> bool:
    """Whether one text can match both ``matches`` patterns (``X*`` a prefix, else the whole text)."""
    if a.endswith("*") and b.endswith("*"):
        return a[:-1].startswith(b[:-1]) or b[:-1].startswith(a[:-1])
    if a.endswith("*"):
        return b.startswith(a[:-1])
    if b.endswith("*"):
        return a.startswith(b[:-1])
    return a == b


# ----------------------------------------------------------------------------- what cannot fail

_PARTIAL_CALLS = frozenset({"date_from", "quotient", "remainder", "first_day_of_next_month"})


def total(checked: CheckedPolicy, node: ast.Expr, fold: Callable[[ast.Expr], object]) -> bool:
    """Whether an expression gives a value for every case (no ArithmeticError, no amount missing).

    Sums, differences and products of a case's bounded values cannot overflow, nor can a rounding of them;
    a division by anything but a constant other than zero may fail, as may dates built or moved by
    computed amounts, and an amount with no value in force. ``fold`` gives an expression's value when it
    is the same for every case in the period (else ``NOT_CONSTANT``).
    """
    from rxpolicy.engine.codegen_expr import NOT_CONSTANT

    if isinstance(node, ast.Name):
        resolved = checked.names.get(id(node))
        if resolved is None:
            return False
        if resolved.kind is SymbolKind.DEFINITION:
            return total(checked, checked.definitions[resolved.target].expr, fold)
        if resolved.kind is SymbolKind.PARAMETER:
            return fold(node) is not NOT_CONSTANT  # an amount with no value in this period fails
        return True
    if isinstance(node, ast.Arith):
        if node.op == "/" and fold(node.right) in (NOT_CONSTANT, 0):
            return False
        kinds = [getattr(checked.expr_types.get(id(side)), "kind", None) for side in (node.left, node.right)]
        if kinds[0] is Kind.DATE and kinds[1] is not Kind.DATE and fold(node.right) is NOT_CONSTANT:
            return False  # a date moved by a computed number of days or months (it may leave the calendar)
    if isinstance(node, ast.IfThenElse):
        condition = fold(node.condition)
        if isinstance(condition, bool):  # written as the branch it takes in this period
            return total(checked, node.then if condition else node.otherwise, fold)
    if isinstance(node, ast.Call) and node.function in _PARTIAL_CALLS:
        return False
    if isinstance(node, ast.Call) and node.function == "birthday":  # fails for a number of years not whole
        years = fold(node.args[1]) if len(node.args) > 1 else NOT_CONSTANT
        if years is NOT_CONSTANT or years != int(years):  # type: ignore[call-overload]
            return False
    if isinstance(node, ast.FitsWithin) and not (isinstance(node.supply, ast.WithUnit)
                                                 and isinstance(node.supply.operand, ast.Name)):
        return False
    return all(total(checked, child, fold) for child in ast.children(node))
