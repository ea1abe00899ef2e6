"""Writing the Python source of one period's evaluate functions (used by :mod:`rxpolicy.engine.compile`).

The source is built from the checked AST only: case fields become positions in the case's value
tuple, literals and amounts become constants bound by name (``K3``), never pasted text. Per period
it writes the fast evaluate function (mode ``fast``: values and deciding rules, nothing recorded) and
the explainers (mode ``explain``: one function per rule condition, rule value and definition that
recomputes it and records each test's outcome in ``TL``), which the trace runs on request.

What makes the generated code fast, and why it stays correct:

* constants fold at compile time (amounts in force in the period, unit conversions, `if` on a
  yes/no parameter), except where folding would hide a test the trace must record;
* a definition is computed only where a rule that needs it is reached (docs/language.md): used once,
  it is written in place; used more often, its first use computes it and keeps it for the others;
* a decision is an `if/elif` chain wherever its rules are proven exclusive (:mod:`rxpolicy.engine.codegen_tree`:
  a table's rows, rules or exceptions whose conditions cannot hold together, exceptions that all give one
  value); a table deciding two values is one chain; only exceptions that may overlap collect the
  applicable rules in a list and settle them (agreeing rules are all reasons, disagreeing ones a conflict);
* a computation written more than once is an unnamed definition, computed once; a definition whose
  first use every evaluation reaches is computed there, with no "not computed yet" test.
"""

from __future__ import annotations

import ast as pyast
import datetime as dt
import re
from collections.abc import Mapping

from rxpolicy.engine.codegen_expr import ATOMIC, NOT_CONSTANT, ExpressionWriter, placeholder
from rxpolicy.engine.codegen_tree import TreeWriter, total
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.language import ast
from rxpolicy.language.check import CheckedPolicy, SymbolKind
from rxpolicy.language.check.model import DecisionInfo

__all__ = ["FunctionWriter", "ATOMIC", "decisions_computed"]


def decisions_computed(local_names: Mapping[str, object], count: int) -> dict[int, object]:
    """The decisions a generated evaluate function had worked out when it stopped, by index.

    Read from the local variables of its frame after it raised (the value of decision ``i`` is
    ``v_i``): only an evaluation that failed pays for finding out where.
    """
    return {i: local_names[f"v_{i}"] for i in range(count) if f"v_{i}" in local_names}


class FunctionWriter(ExpressionWriter, TreeWriter):
    """Writes one evaluate function for one period; ``constants`` is shared by a period's functions."""

    def __init__(self, checked: CheckedPolicy, rules: tuple[RuleMeta, ...], decisions: tuple[DecisionInfo, ...],
                 leaf_ids: Mapping[int, int], start: dt.date, in_force: frozenset[int],
                 constants: dict[str, object], mode: str, structured: bool = True) -> None:
        """``mode``: 'fast' (the evaluate function) or 'explain' (explainers that record test outcomes in TL);
        ``structured``: write `if/elif` chains where rules are proven exclusive (codegen_tree), else the general code."""
        self.checked, self.rules, self.decisions = checked, rules, decisions
        self.leaf_ids, self.start, self.in_force = leaf_ids, start, in_force
        self.constants = constants
        self.explaining = mode == "explain"
        #: Explainers are standalone functions: every definition and decision is reached from there.
        self.standalone = mode == "explain"
        self.structuring = structured and not self.standalone
        #: Sub-expressions met more than once (the same computation, wherever it is written): each is an
        #: unnamed definition numbered after the named ones, kept in ``d_<i>`` like them when used twice.
        self.common_index: dict[ast.Expr, int] = {}
        self.common_code: dict[int, str] = {}
        self.definition_index = {name: i for i, name in enumerate(checked.definitions)}
        self.decision_index = {d.name: i for i, d in enumerate(decisions)}
        self.counter = 0
        self.children: dict[int, list[int]] = {r.index: [] for r in rules}
        for r in rules:
            for parent in rules:
                if r.index in in_force and parent.index in in_force and \
                        (parent.id in r.parents or (parent.table is not None and parent.table in r.parents)):
                    self.children[parent.index].append(r.index)

    # ------------------------------------------------------------------ the function
    def common(self, node: ast.Expr, code: str) -> str:
        """A computation (arithmetic, a rounding, a function, an ATC test) as an unnamed definition.

        Equal expressions (the AST compares without places) compute the same value from the same case,
        so the evaluate function computes one once, at its first use reached, like a definition; one
        written only once is put back in place (``_inline``). Explainers recompute each as written.
        """
        if not self.structuring or not isinstance(node, _COMPUTATIONS):
            return code
        index = self.common_index.get(node)
        if index is None:
            index = self.common_index[node] = len(self.checked.definitions) + len(self.common_index)
            self.common_code[index] = code
        return placeholder(index)

    def write(self, name: str) -> str:
        """The source of the function ``name(V)`` returning (values, deciders)."""
        segments: list[tuple[str, object]] = []
        code: dict[int, str] = {}
        together = self._decided_together()
        for kind, symbol in self.checked.order:
            if kind is SymbolKind.DEFINITION:
                index = self.definition_index[symbol]
                code[index] = self.expr(self.checked.definitions[symbol].expr)
                segments.append(("definition", index))
            elif symbol in self.decision_index and symbol in together:
                names = together[symbol]
                if names[0] == symbol:  # a table deciding several values: one chain sets them all
                    segments.append(("lines", self.structured(names, self.units(symbol)) or []))
            elif symbol in self.decision_index:
                lines: list[str] = []
                self.decision(symbol, lines)
                segments.append(("lines", lines))
        code.update(self.common_code)
        body, shared = self._inline(segments, code)
        values = "".join(f"v_{i}, " for i in range(len(self.decisions)))
        deciders = "".join(f"r_{i}, " for i in range(len(self.decisions)))
        # `U=U`: the marker of a definition not computed yet, read as a fast local.
        head = [f"def {name}(V, U=U):",
                f"    D = V[{self.checked.facts.period_index}]",
                *(f"    d_{index} = U" for index in shared)]
        return "\n".join(head + body + [f"    return ({values}), ({deciders})"])

    def write_explainers(self) -> tuple[str, dict[tuple[str, object], str]]:
        """Functions that recompute one rule's condition, values or definition on demand, recording its tests.

        The evaluation itself records nothing; whether a rule held and what it rested on is
        recomputed only for the rules an explanation shows, on the same case (evaluation is pure).
        Each returns the value of its last expression (a rule's condition: whether it held).
        """
        functions: list[str] = []
        names: dict[tuple[str, object], str] = {}

        def add(owner: tuple[str, object], expressions: list[ast.Expr]) -> None:
            name = f"x_{len(names)}"
            names[owner] = name
            body = [f"    _ = {self.expr(e)}" for e in expressions[:-1]] + [f"    return {self.expr(expressions[-1])}"]
            functions.append("\n".join([f"def {name}(V, VALS, TL):", f"    D = V[{self.checked.facts.period_index}]", *body]))

        for rule in self.rules:
            if rule.index in self.in_force:
                if rule.rule.when is not None:
                    add(("rule", rule.index), [rule.rule.when])
                add(("value", rule.index), [a.value for a in rule.rule.assignments])
        for definition in self.checked.definitions.values():
            add(("definition", definition.name), [definition.expr])
        for index, warning in enumerate(self.checked.warnings):
            if warning.warning.when is not None:
                add(("warning", index), [warning.warning.when])
        return "\n\n".join(functions), names

    def _inline(self, segments: list[tuple[str, object]], code: dict[int, str]) -> tuple[list[str], list[int]]:
        """Put every definition where it is used, so it is computed only when a rule that needs it is reached.

        A definition used once is written in place. One used more often is computed by its first use
        that evaluation reaches and kept in ``d_<i>`` for the others (``U`` until then): every use reads
        ``(d_i if d_i is not U else (d_i := <its expression>))``; where the first use written is one every
        evaluation reaches before any other (a top-level test, not behind `and`/`or`/`if`), it reads
        ``(d_i := <its expression>)`` and the others ``d_i``. Whichever its use count, a definition
        behind a condition that does not hold is never computed (docs/language.md, "When a definition
        is computed"). Returns the lines and the definitions that start as ``U``.
        """
        shared = set(code)
        text = {i: "\n".join(p) for i, (kind, p) in enumerate(segments) if kind == "lines"}  # type: ignore[arg-type]
        changed = True
        while changed:
            changed = False
            for index in sorted(shared):
                mark = placeholder(index)
                uses = sum(t.count(mark) for t in text.values()) + sum(code[e].count(mark) for e in shared)
                if uses <= 1 or _TRIVIAL.fullmatch(code[index]):
                    # Used once, or costs nothing to repeat (a constant, a case field): written in place.
                    shared.discard(index)
                    inline = _grouped(code[index])
                    text = {k: v.replace(mark, inline) for k, v in text.items()}
                    code = {k: v.replace(mark, inline) for k, v in code.items()}
                    changed = True
        # Definitions whose code holds the placeholders of others first: every use of one is then in the
        # text, where it can be seen which of them evaluation reaches first.
        source = "\n".join(text[position] for position, (kind, _) in enumerate(segments) if kind == "lines")
        lazy: list[int] = []
        remaining = set(shared)
        while remaining:
            ready = [i for i in sorted(remaining)
                     if not any(placeholder(i) in code[j] for j in remaining if j != i)]
            for index in ready:
                remaining.discard(index)
                mark, expression = placeholder(index), code[index]
                first = source.find(mark)
                if first >= 0 and _reached_first_always(source, first):
                    # Its first use is evaluated on every run, before any other: computed there, read after.
                    source = (source[:first] + f"(d_{index} := {_ungrouped(expression)})"
                              + source[first + len(mark):].replace(mark, f"d_{index}"))
                elif first >= 0:
                    lazy.append(index)
                    source = source.replace(
                        mark, f"(d_{index} if d_{index} is not U else (d_{index} := {_ungrouped(expression)}))")
        return (source.split("\n") if source else []), sorted(lazy)

    # ------------------------------------------------------------------ decisions
    def units(self, name: str) -> list[list[RuleMeta]]:
        """The top-level units deciding ``name``: a rule alone, or a table's rows in order."""
        units: list[list[RuleMeta]] = []
        tables: dict[str, list[RuleMeta]] = {}
        for rule in self.rules:
            if rule.index not in self.in_force or name not in rule.decides or rule.parents:
                continue
            if rule.table is None:
                units.append([rule])
            elif rule.table in tables:
                tables[rule.table].append(rule)
            else:
                tables[rule.table] = [rule]
                units.append(tables[rule.table])
        return units

    def _decided_together(self) -> dict[str, list[str]]:
        """Decisions decided by one table and nothing else, grouped by table, where one chain can set them all.

        The chain is written where the first of them is due; so nothing any of them reads may be decided
        between that place and theirs, and the values of the later ones must not fail (computing them
        earlier must not move where an evaluation fails).
        """
        if not self.structuring:
            return {}
        position = {symbol: i for i, (_, symbol) in enumerate(self.checked.order)}
        by_table: dict[tuple[int, ...], list[str]] = {}
        for decision in self.decisions:
            units = self.units(decision.name)
            if len(units) == 1 and units[0][0].table is not None:
                by_table.setdefault(tuple(r.index for r in units[0]), []).append(decision.name)
        together: dict[str, list[str]] = {}
        for names in by_table.values():
            names.sort(key=lambda n: position[n])
            if len(names) < 2:
                continue
            first = position[names[0]]
            rules = self._subtree_rules(names)
            reads = {self.checked.names[id(n)].target for r in rules for e in self._expressions(r, names)
                     for n in ast.walk(e) if isinstance(n, ast.Name) and id(n) in self.checked.names
                     and self.checked.names[id(n)].kind is SymbolKind.DECISION}
            late_values = [a.value for r in rules for a in r.rule.assignments if a.decision in names[1:]]
            if all(position.get(d, first) < first for d in reads) and all(total(self.checked, v, self.fold) for v in late_values) \
                    and self.structured(names, self.units(names[0])) is not None:
                together.update({n: names for n in names})
        return together

    def _subtree_rules(self, names: list[str]) -> list[RuleMeta]:
        found: dict[int, RuleMeta] = {}
        pending = [r for unit in self.units(names[0]) for r in unit]
        while pending:
            rule = pending.pop()
            if rule.index not in found:
                found[rule.index] = rule
                pending += [k for n in names for k in self.kids(rule, n)]
        return list(found.values())

    @staticmethod
    def _expressions(rule: RuleMeta, names: list[str]) -> list[ast.Expr]:
        return ([rule.rule.when] if rule.rule.when is not None else []) + \
            [a.value for a in rule.rule.assignments if a.decision in names]

    def decision(self, name: str, lines: list[str]) -> None:
        index = self.decision_index[name]
        units = self.units(name)
        if self.structuring:
            structured = self.structured([name], units)
            if structured is not None:
                lines += structured
                return
        target = f"v_{index}, r_{index}"
        simple = not any(self.kids(rule, name) for unit in units for rule in unit)
        if simple and len(units) == 1:
            self.chain(units[0], name, target, index, lines)
            return
        if simple and len(units) == 2 and all(len(u) == 1 for u in units) \
                and _complementary(units[0][0].rule.when, units[1][0].rule.when):
            # `when X` and `when not X`: exactly one applies, so an if/else decides.
            first, second = units[0][0], units[1][0]
            lines.append(f"    if {self.expr(first.rule.when)}:")  # type: ignore[arg-type]
            lines.append(f"        {target} = {self.value(first, name)}, {self.const((first.index,))}")
            lines.append("    else:")
            lines.append(f"        {target} = {self.value(second, name)}, {self.const((second.index,))}")
            return
        if len(units) == 1 and len(units[0]) == 1 and self.constant_kids(units[0][0], name):
            self.flat(units[0][0], name, target, index, lines)
            return
        lines.append("    h = []")
        for unit in units:
            for position, rule in enumerate(unit):
                keyword = "if" if position == 0 else "elif"
                lines.append(f"    {keyword} {self.condition(rule)}:")
                self.node(rule, name, 2, lines)
        # One rule applied (the usual case): its value and id straight away; settle() for none or several.
        lines.append(f"    {target} = (h[0][1], (h[0][0],)) if len(h) == 1 else settle(h, {index})")

    def chain(self, rows: list[RuleMeta], name: str, target: str, index: int, lines: list[str]) -> None:
        """One table (or rule) without exceptions: the first row that applies decides, directly."""
        for position, row in enumerate(rows):
            value = f"{self.value(row, name)}, {self.const((row.index,))}"
            if row.rule.when is None:
                if position == 0:
                    lines.append(f"    {target} = {value}")
                else:
                    lines.append("    else:")
                    lines.append(f"        {target} = {value}")
                return
            lines.append(f"    {'if' if position == 0 else 'elif'} {self.expr(row.rule.when)}:")
            lines.append(f"        {target} = {value}")
        lines.append("    else:")
        lines.append(f"        {target} = settle([], {index})")

    def constant_kids(self, rule: RuleMeta, name: str) -> bool | None:
        """Whether all of a rule's exceptions give one constant value and have no exceptions of their own."""
        kids = self.kids(rule, name)
        if not kids or any(self.kids(k, name) or name not in k.decides for k in kids):
            return None
        values = [self.fold(next(a.value for a in k.rule.assignments if a.decision == name)) for k in kids]
        if any(v is NOT_CONSTANT for v in values) or any(v != values[0] for v in values):
            return None
        return True

    def flat(self, rule: RuleMeta, name: str, target: str, index: int, lines: list[str]) -> None:
        """A rule whose exceptions all give one constant: collect the ones that apply, no conflict is possible."""
        kid = self.kids(rule, name)[0]
        pad = "    "
        if rule.rule.when is not None:
            lines.append(f"    if {self.expr(rule.rule.when)}:")
            pad = "        "
        lines.append(f"{pad}r = ()")
        for kid_rule in self.kids(rule, name):
            lines.append(f"{pad}if {self.expr(kid_rule.rule.when) if kid_rule.rule.when else 'True'}: "
                         f"r += ({kid_rule.index},)")
        lines.append(f"{pad}if r: {target} = {self.value(kid, name)}, r")
        lines.append(f"{pad}else: {target} = {self.value(rule, name)}, {self.const((rule.index,))}")
        if rule.rule.when is not None:
            lines.append("    else:")
            lines.append(f"        {target} = settle([], {index})")

    def condition(self, rule: RuleMeta) -> str:
        return "True" if rule.rule.when is None else self.expr(rule.rule.when)

    def kids(self, rule: RuleMeta, name: str) -> list[RuleMeta]:
        return [self.rules[c] for c in self.children[rule.index] if self.reaches(self.rules[c], name)]

    def reaches(self, rule: RuleMeta, name: str) -> bool:
        return name in rule.decides or any(self.reaches(self.rules[c], name) for c in self.children[rule.index])

    def value(self, rule: RuleMeta, name: str) -> str:
        assignment = next(a for a in rule.rule.assignments if a.decision == name)
        return self.expr(assignment.value)

    def node(self, rule: RuleMeta, name: str, depth: int, lines: list[str]) -> None:
        """Code for when ``rule`` applies: its exceptions that apply decide, else it does."""
        pad = "    " * depth
        kids = self.kids(rule, name)
        own = f"h.append(({rule.index}, {self.value(rule, name)}))" if name in rule.decides else None
        if not kids:
            lines.append(pad + (own or "pass"))
            return
        self.counter += 1
        mark = f"n{self.counter}"
        lines.append(f"{pad}{mark} = len(h)")
        for kid in kids:
            lines.append(f"{pad}if {self.condition(kid)}:")
            self.node(kid, name, depth + 1, lines)
        if own:
            lines.append(f"{pad}if len(h) == {mark}: {own}")

def _reached_first_always(source: str, position: int) -> bool:
    """Whether the code at ``position`` (a placeholder) runs in every evaluation, before any code after it.

    So it is when it stands in a top-level statement of the function (indented once; not an `elif` or
    `else`) in a part Python evaluates whenever the statement runs: not behind the left side of
    `and`/`or`, not a branch of `x if c else y` (whose test, written after the first branch, runs first),
    not after the first comparison of a chain. Generated code has no loops, so what runs is in written order.
    """
    start = source.rfind("\n", 0, position) + 1
    end = source.find("\n", position)
    line = source[start:end if end >= 0 else len(source)]
    if not line.startswith("    ") or line.startswith("     ") or line.startswith(("    elif", "    else")):
        return False
    offset = position - start
    found = _PLACEHOLDER.match(line, offset)
    if found is None:
        return False
    marked = line[:offset] + "__first__" + line[found.end():]
    statement = _PLACEHOLDER.sub("__other__", marked).strip()
    if statement.endswith(":"):
        statement += " pass"
    try:
        tree = pyast.parse(statement)
    except SyntaxError:
        return False
    return "__first__" in _always_evaluated(tree.body[0])


def _always_evaluated(node: pyast.AST) -> set[str]:
    """The names a statement or expression evaluates whenever it runs (conservatively)."""
    parts: list[pyast.AST]
    if isinstance(node, pyast.Name):
        return {node.id}
    if isinstance(node, pyast.If):
        parts = [node.test]
    elif isinstance(node, (pyast.Assign, pyast.Expr, pyast.NamedExpr)):
        parts = [node.value]
    elif isinstance(node, pyast.BoolOp):
        parts = [node.values[0]]
    elif isinstance(node, pyast.IfExp):
        parts = [node.test]
    elif isinstance(node, pyast.Compare):
        parts = [node.left, node.comparators[0]]
    elif isinstance(node, pyast.Call):
        parts = [node.func, *node.args]
    elif isinstance(node, (pyast.Attribute, pyast.UnaryOp)):
        parts = [node.value if isinstance(node, pyast.Attribute) else node.operand]
    elif isinstance(node, pyast.Subscript):
        parts = [node.value, node.slice]
    elif isinstance(node, pyast.BinOp):
        parts = [node.left, node.right]
    elif isinstance(node, pyast.Tuple):
        parts = list(node.elts)
    else:
        parts = []
    return set().union(*(_always_evaluated(p) for p in parts)) if parts else set()


def _grouped(code: str) -> str:
    """``code`` as one operand: in parentheses unless it is a name, a constant or a whole parenthesised group."""
    atomic = _TRIVIAL.fullmatch(code) or _PLACEHOLDER.fullmatch(code) or _ungrouped(code) != code
    return code if atomic else f"({code})"


def _ungrouped(code: str) -> str:
    """``code`` without the parentheses around all of it, if it has them (a call like ``f(x)`` has none)."""
    if not (code.startswith("(") and code.endswith(")")):
        return code
    depth, quote, escaped = 0, "", False
    for position, char in enumerate(code):
        if quote:  # inside a text constant (written with repr): its parentheses do not count
            escaped, quote = (False, quote) if escaped else (char == "\\", "" if char == quote else quote)
            continue
        if char in "'\"":
            quote = char
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and position < len(code) - 1:
            return code  # the first parenthesis closes before the end: `(a) + (b)`
    return code[1:-1]


#: Expressions worth computing once when written twice (a test of a case value costs less than keeping it).
_COMPUTATIONS = (ast.Arith, ast.Rounded, ast.Call, ast.Matches, ast.FitsWithin)

_PLACEHOLDER = re.compile("\x00d\\d+\x00")

#: Generated code that is as cheap to repeat as to keep in a variable: a constant, a case field, a decision.
_TRIVIAL = re.compile(r"K\d+|V\[\d+\]|v_\d+|True|False|None|-?\d+|'[\w ]*'")


def _complementary(a: ast.Expr | None, b: ast.Expr | None) -> bool:
    """Whether one condition is written as `not` the other (AST equality ignores places)."""
    return (isinstance(a, ast.Not) and a.operand == b) or (isinstance(b, ast.Not) and b.operand == a)
