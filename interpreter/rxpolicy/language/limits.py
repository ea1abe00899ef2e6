"""The limits of what a rule file may write, stated once (docs/language.md "Limits", docs/errors.md).

Each limit keeps a rule file within what rxpolicy computes exactly and compiles safely, and each is
far above what a policy text needs:

* a written number has at most :data:`MAX_WHOLE_DIGITS` digits before the decimal point and
  :data:`MAX_DECIMALS` after it (RX207): the money context holds 28 digits, so a product of two
  such amounts is still exact;
* a written duration is at most :data:`MAX_MONTHS` months or :data:`MAX_DAYS` days (RX208), and a
  written date lies between :data:`FIRST_DATE` and :data:`LAST_DATE` (RX209): a date plus a
  duration then always stays a date Python can hold;
* an expression nests at most :data:`MAX_DEPTH` levels deep (RX210 as written, RX352 with the
  definitions it uses written out in place): every stage that walks an expression (checker, code
  writer, explorer) stays far from Python's recursion limit, and the generated source stays
  within the 200 nested parentheses Python's parser accepts (each level writes at most three); a long
  chain of `and` or `or` is regrouped as a balanced tree first (:func:`balance_chains`), so any number of
  alternatives nests only log2(n) levels.

How text becomes code is bounded too, see :mod:`rxpolicy.engine.codegen_expr`: strings and numbers
enter the generated Python only as constants bound by name or the ``repr`` of a checked value,
operators only from the grammar's tokens, names only as positions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from rxpolicy.language import ast

if TYPE_CHECKING:
    # Lark only for the parse-tree functions, which parsing calls with Lark loaded: the limits themselves are
    # read by the case builder of every `rxpolicy eval`, which never parses a rule file.
    from lark import Token, Tree

__all__ = ["BALANCE_OVER", "FIRST_DATE", "LAST_DATE", "MAX_DAYS", "MAX_DECIMALS", "MAX_DEPTH", "MAX_MONTHS", "MAX_WHOLE_DIGITS",
           "balance_chains", "definition_depths", "expression_depth", "names_in", "too_deep_expressions"]

MAX_WHOLE_DIGITS = 12
MAX_DECIMALS = 6
MAX_MONTHS = 1_200
MAX_DAYS = 36_600
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2199, 12, 31)
MAX_DEPTH = 50

#: Parse-tree nodes that are expressions (the aliases of grammar/rxpolicy.lark's expression rules).
_EXPRESSIONS = frozenset({
    "if_then_else", "or_", "and_", "not_", "compare", "is_", "is_not", "one_of", "not_one_of", "in_list",
    "not_in_list", "is_known", "is_unknown", "matches", "fits_within", "rounded", "rounded_decimals", "arith", "duration", "money",
    "percent", "number", "date", "text", "yes", "no", "not_applicable", "name", "call", "supply_limit"})
#: A unit written after a number is part of the written value (`15 days`), not a level of its own.
_UNITS = frozenset({"duration", "money", "percent"})


#: A chain of one logical operator longer than this is regrouped as a balanced tree (see :func:`balance_chains`).
BALANCE_OVER = 8


def balance_chains(tree: Tree[Token]) -> None:
    """Regroup every long chain of one logical operator (`a or b or c …`) as a balanced tree, in place.

    The grammar reads `a or b or c or d` as `((a or b) or c) or d`: 200 conditions would nest 200 levels.
    `and` and `or` are associative and evaluated left to right either way, so the same operands in the
    same order grouped as `(a or b) or (c or d)` mean the same, stop at the same operand, and nest only
    log2(n) levels: a long list of alternatives is no deeper than a short one. Chains of up to
    :data:`BALANCE_OVER` operands, as every policy writes them, keep the grammar's grouping. Iterative, so a
    chain of any length is regrouped without recursion. (Arithmetic is not regrouped: `a - b - c` is not
    `a - (b - c)`.)
    """
    from lark import Tree

    todo: list[Tree[Token]] = [tree]
    while todo:
        node = todo.pop()
        for index, child in enumerate(node.children):
            if not isinstance(child, Tree):
                continue
            if child.data in ("or_", "and_"):
                operands = _chain(child)
                if len(operands) > BALANCE_OVER:
                    child = node.children[index] = _balanced(child.data, operands)
                    todo.extend(operands)
                    continue
            todo.append(child)


def _chain(node: Tree[Token]) -> list[Tree[Token]]:
    """The operands of a chain of one operator, left to right (its left spine walked without recursion)."""
    from lark import Tree

    operands: list[Tree[Token]] = []
    while isinstance(node, Tree) and node.data in ("or_", "and_") and len(node.children) == 2:
        left, right = node.children
        operands.append(right)  # type: ignore[arg-type]
        if not (isinstance(left, Tree) and left.data == node.data):
            operands.append(left)  # type: ignore[arg-type]
            break
        node = left
    operands.reverse()
    return operands


def _balanced(data: str, operands: list[Tree[Token]]) -> Tree[Token]:
    """A balanced tree of ``data`` nodes over the operands, each node spanning its operands' text."""
    level: list[Tree[Token]] = list(operands)
    while len(level) > 1:
        paired = [_join(data, level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = paired + ([level[-1]] if len(level) % 2 else [])
    return level[0]


def _join(data: str, left: Tree[Token], right: Tree[Token]) -> Tree[Token]:
    from lark import Tree
    from lark.tree import Meta

    meta = Meta()  # type: ignore[no-untyped-call]
    meta.empty = False
    meta.line, meta.column, meta.start_pos = left.meta.line, left.meta.column, left.meta.start_pos
    meta.end_line, meta.end_column, meta.end_pos = right.meta.end_line, right.meta.end_column, right.meta.end_pos
    return Tree(data, [left, right], meta)


def too_deep_expressions(tree: Tree[Token]) -> Iterator[Tree[Token]]:
    """The outermost expressions of a parse tree that nest more than :data:`MAX_DEPTH` levels.

    Measured without recursion, before the tree is lowered (lowering walks it recursively), and the
    same way :func:`expression_depth` measures the lowered expression.
    """
    from lark import Tree

    height: dict[int, int] = {}
    stack: list[tuple[Tree[Token], bool]] = [(tree, False)]
    while stack:
        node, done = stack.pop()
        kids = [c for c in node.children if isinstance(c, Tree)]
        if not done:
            stack.append((node, True))
            stack.extend((c, False) for c in kids)
            continue
        below = max((height[id(c)] for c in kids), default=0)
        counts = node.data in _EXPRESSIONS and not (
            node.data in _UNITS and len(kids) == 1 and kids[0].data == "number")
        height[id(node)] = below + (1 if counts else 0)
    todo = [tree]
    while todo:
        node = todo.pop()
        if node.data in _EXPRESSIONS and height[id(node)] > MAX_DEPTH:
            yield node
            continue
        todo.extend(reversed([c for c in node.children if isinstance(c, Tree)]))


def expression_depth(expr: ast.Expr, definition_depth: Callable[[ast.Name], int | None]) -> int:
    """How many levels an expression nests, with the definitions it uses written out in place.

    ``definition_depth`` gives, for a name, the depth of the definition it names written out (None
    for any other name); a definition's name counts one level more, as its use is one more level of
    generated code. Iterative, so a deep expression cannot exhaust Python's stack.
    """
    depth: dict[int, int] = {}
    stack: list[tuple[ast.Expr, bool]] = [(expr, False)]
    while stack:
        node, done = stack.pop()
        kids = tuple(ast.children(node))
        if not done:
            stack.append((node, True))
            stack.extend((c, False) for c in kids)
            continue
        own = 1
        if isinstance(node, ast.Name):
            written_out = definition_depth(node)
            own = 1 + written_out if written_out is not None else 1
        depth[id(node)] = own + max((depth[id(c)] for c in kids), default=0)
    return depth[id(expr)]


def definition_depths(definitions: Mapping[str, ast.Expr]) -> dict[str, int]:
    """Each definition's depth with the definitions it uses written out (a circle counts as nothing more).

    Works from the definitions that use none upwards, without recursion, so a long chain of
    definitions is measured as safely as a short one.
    """
    uses = {name: {n.parts[0] for n in names_in(expr) if len(n.parts) == 1 and n.parts[0] in definitions}
            for name, expr in definitions.items()}
    depths: dict[str, int] = {}
    for root in definitions:
        if root in depths:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(uses[root])))]
        on_path = {root}
        while stack:
            name, pending = stack[-1]
            following = next((u for u in pending if u not in depths and u not in on_path), None)
            if following is not None:
                on_path.add(following)
                stack.append((following, iter(sorted(uses[following]))))
                continue
            stack.pop()
            on_path.discard(name)
            depths[name] = expression_depth(definitions[name], lambda n: _known_depth(n, depths, definitions))
    return depths


def _known_depth(name: ast.Name, depths: Mapping[str, int], definitions: Mapping[str, ast.Expr]) -> int | None:
    if len(name.parts) != 1 or name.parts[0] not in definitions:
        return None
    return depths.get(name.parts[0], 0)  # 0: a circle, reported as RX350


def names_in(expr: ast.Expr) -> Iterator[ast.Name]:
    """Every name written in an expression (without recursion)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            yield node
        stack.extend(ast.children(node))
