"""One canonical layout for rule files (docs/tools/fmt.md); the command is in :mod:`rxpolicy.tools.fmt_files`.

The layout is printed from the parse tree, never from the author's whitespace, so formatting twice
changes nothing the second time. The tree is built with every token kept (keywords, commas and the
author's parentheses included), and the lexer hands over the comments with their positions: a
comment on its own line is put back before the output line that holds the token it preceded, a
trailing comment at the end of the output line that holds the token it followed. Clauses are put
in :data:`CLAUSE_ORDER`; the only change that reaches the AST is the order of the ``explain``
clauses (``en``, ``nl``, then the others as written), which every later stage reads as a mapping.
"""

from __future__ import annotations

import bisect
import functools
from collections import defaultdict
from collections.abc import Sequence
from contextvars import ContextVar
from types import MappingProxyType
from typing import TypeAlias

import attrs
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from rxpolicy.language.grammar import WholeWords, grammar_text
from rxpolicy.language.lower import refuse_too_deep
from rxpolicy.language.parse import parse
from rxpolicy.language.source import SourceFile

__all__ = ["CLAUSE_ORDER", "EXPLAIN_LANGUAGES", "MAX_WIDTH", "format_text"]

#: Lines are broken to stay within this many columns (a single long text cannot be broken).
MAX_WIDTH = 110
#: Indentation of one level: clauses in a block, clauses of a table row one more.
STEP = 2

_RULE = ("exception_clause", "source_clause", "when_clause", "then_clause", "rejection_clause",
         "interpretation_clause", "validity", "explain_clause")
#: The order of the clauses in each kind of block. A rule reads: whose exception it is, where it comes
#: from, when it applies, what it decides (with the claim's rejection code), how the source was read to
#: write it, when it is in force, and the words for the insured. Declarations (decision, parameter,
#: define) say what they mean first, as their explanation describes the name, not an outcome. Clauses of
#: the same kind keep their written order.
CLAUSE_ORDER = MappingProxyType({
    "policy_decl": ("title_clause", "built_on", "validity", "plans_clause"),
    "layer_decl": ("title_clause", "kind_clause"),
    "decision_decl": ("explain_clause", "outcome_clause"),
    "define_decl": ("explain_clause",),
    "parameter_decl": ("explain_clause", "source_clause", "interpretation_clause", "value_clause"),
    "rule_decl": _RULE,
    "row": _RULE,
    "table_decl": ("decides_clause", "source_clause", "interpretation_clause", "validity", "explain_clause"),
    "warning_decl": ("source_clause", "when_clause", "interpretation_clause", "explain_clause"),
    # A fact: whether a case must write it (or its default, or how it is computed), its limits, the role the
    # engine gives it, then its words and its documentation.
    "fact_decl": ("required_clause", "default_clause", "computed_clause", "example_clause", "at_least_clause",
                  "at_most_clause", "counts_whole_clause", "allowed_clause", "one_of_plans_clause",
                  "not_before_clause", "not_after_clause", "period_date_clause", "smallest_pack_role", "one_course_role",
                  "leap_day_birthday_clause", "fixed_clause", "explain_clause", "if_yes_clause", "if_no_clause", "meaning_clause", "term_clause"),
    "choice_decl": ("option",),
    "section_decl": ("explain_clause", "all_or_none_clause"),
})
#: ``explain`` clauses come in this language order; other languages follow as written.
EXPLAIN_LANGUAGES = ("en", "nl")

_Node: TypeAlias = "Tree[Token] | Token"
_STRING_CLAUSES = frozenset({"title_clause", "source_clause", "interpretation_clause", "explain_clause",
                             "according_to", "if_yes_clause", "if_no_clause", "meaning_clause", "term_clause",
                             "fixed_clause"})
_LIST_CLAUSES = frozenset({"exception_clause", "decides_clause", "plans_clause"})
_OPENING_WORDS = frozenset({"EXCEPTION", "TO", "DECIDES", "PLANS", "WHEN", "THEN", "VALUE"})
# Where the items of a list start: after `of` (`is one of`), `matches`, or a call's `(`.
_LIST_OPENERS = {"one_of": "OF", "not_one_of": "OF", "matches": "MATCHES", "call": "LPAR"}
_TIGHT_BEFORE = frozenset({"COMMA", "RPAR", "DOT", "COLON"})
_TIGHT_AFTER = frozenset({"LPAR", "DOT"})
_SPACED_WORDS = frozenset({"TYPE_WORD", "ROUNDING_MODE", "ROUNDING_UNIT", "LEAP_DAY_BIRTHDAY"})  # may span lines as written

# The comments of the parse running in this thread (a context variable, so parses never share a list).
_comments: ContextVar[list[Token]] = ContextVar("rxpolicy_fmt_comments")


def _collect_comment(token: Token) -> Token:
    _comments.get().append(token)
    return token


@functools.cache
def _layout_parser() -> Lark:
    """The formatter's own parser: every token kept in the tree, comments handed to :func:`_collect_comment`."""
    return Lark(grammar_text(), parser="lalr", lexer="contextual", maybe_placeholders=True, keep_all_tokens=True,
                postlex=WholeWords(), lexer_callbacks={"COMMENT": _collect_comment})


def _parse(source: SourceFile) -> tuple[Tree[Token], list[Token]]:
    comments: list[Token] = []
    reset = _comments.set(comments)
    try:
        tree = _layout_parser().parse(source.text)
    except UnexpectedInput:
        parse(source)  # raises the usual RX1xx diagnostic
        raise
    finally:
        _comments.reset(reset)
    unique = {_start(c): c for c in comments}  # a lexer retry must not double a comment
    return tree, [unique[k] for k in sorted(unique)]


def _start(token: Token) -> int:
    return token.start_pos or 0


def _end(token: Token) -> int:
    return token.end_pos or 0


# ----------------------------------------------------------------------------------------- lines

@attrs.frozen
class _Line:
    """One output line: its column, its tokens, and whether it starts an item or is a block's ``end``."""

    indent: int
    tokens: list[Token]
    role: str = ""


def _text(token: Token) -> str:
    return " ".join(token.split()) if token.type in _SPACED_WORDS else str(token)


def _spaced(previous: Token, token: Token) -> bool:
    return not (token.type in _TIGHT_BEFORE or previous.type in _TIGHT_AFTER
                or (token.type == "LPAR" and previous.type == "FUNCTION"))


def _join(tokens: Sequence[Token]) -> str:
    parts: list[str] = []
    for index, token in enumerate(tokens):
        if index and _spaced(tokens[index - 1], token):
            parts.append(" ")
        parts.append(_text(token))
    return "".join(parts)


def _width(tokens: Sequence[Token]) -> int:
    return len(_join(tokens))


def _children(node: Tree[Token]) -> list[_Node]:
    return [c for c in node.children if c is not None]


def _tokens(node: _Node | None) -> list[Token]:
    """The tokens of a node in order, without recursion (a chain of thousands of `or`s is a deep tree)."""
    found: list[Token] = []
    todo: list[_Node | None] = [node]
    while todo:
        current = todo.pop()
        if isinstance(current, Token):
            found.append(current)
        elif current is not None:
            todo.extend(reversed(current.children))
    return found


def _flat(nodes: Sequence[_Node]) -> list[Token]:
    return [t for n in nodes for t in _tokens(n)]


# ----------------------------------------------------------------------------------------- expressions

def _layout(node: _Node, col: int) -> list[_Line]:
    """An expression starting at column ``col``: on one line when it fits, else broken at its outermost operators."""
    tokens = _tokens(node)
    if isinstance(node, Token) or col + _width(tokens) <= MAX_WIDTH:
        return [_Line(col, tokens)]
    if _family(node):
        operands, operators = _chain(node)
        first = _layout(operands[0], col)
        return _fill(first, [([op], operand, []) for op, operand in zip(operators, operands[1:])], col,
                     joinable=len(first) == 1)
    if node.data == "if_then_else":
        lines: list[_Line] = []
        children = _children(node)
        for keyword, part in zip(children[0::2], children[1::2]):
            lines.extend(_prefixed(col, [keyword], part))  # type: ignore[list-item]
        return lines
    if node.data in _LIST_OPENERS:
        return _list(node, col)
    return _around_widest(node, col)


def _family(node: _Node) -> str:
    """Which chain of equal operators a node belongs to: `or`, `and`, `+ -` or `* /` ('' for none)."""
    if not isinstance(node, Tree):
        return ""
    if node.data in ("or_", "and_"):
        return str(node.data)
    if node.data == "arith":
        return str(node.children[1].type)  # type: ignore[union-attr]
    return ""


def _chain(node: Tree[Token]) -> tuple[list[_Node], list[Token]]:
    """``a + b - c`` as operands and operators (the grammar is left-associative)."""
    family = _family(node)
    operands: list[_Node] = []
    operators: list[Token] = []
    current: _Node = node
    while _family(current) == family:
        assert isinstance(current, Tree)
        left, operator, right = current.children
        assert isinstance(operator, Token)
        operands.append(right)
        operators.append(operator)
        current = left
    operands.append(current)
    return operands[::-1], operators[::-1]


def _prefixed(col: int, prefix: list[Token], node: _Node, suffix: Sequence[Token] = ()) -> list[_Line]:
    """``prefix node suffix`` starting at ``col``, the node laid out where it starts."""
    inner = _tokens(node)
    gap = 1 if prefix and inner and _spaced(prefix[-1], inner[0]) else 0
    lines = _layout(node, col + _width(prefix) + gap)
    lines[0] = _Line(col, [*prefix, *lines[0].tokens])
    lines[-1] = _Line(lines[-1].indent, [*lines[-1].tokens, *suffix])
    return lines


def _fill(lines: list[_Line], pieces: Sequence[tuple[list[Token], _Node, list[Token]]], cont: int,
          joinable: bool = True) -> list[_Line]:
    """Add ``prefix node suffix`` pieces to the last line while they fit, else on a new line at ``cont``."""
    for prefix, node, suffix in pieces:
        last = lines[-1]
        candidate = [*last.tokens, *prefix, *_tokens(node), *suffix]
        if joinable and last.indent + _width(candidate) <= MAX_WIDTH:
            lines[-1] = _Line(last.indent, candidate, last.role)
            continue
        placed = _prefixed(cont, prefix, node, suffix)
        lines.extend(placed)
        joinable = len(placed) == 1
    return lines


def _items(nodes: Sequence[_Node], tail: Sequence[Token] = ()) -> list[tuple[list[Token], _Node, list[Token]]]:
    """Comma-separated items as (no prefix, item, its comma) pieces; ``tail`` closes the last one."""
    pieces: list[tuple[list[Token], _Node, list[Token]]] = []
    for node in nodes:
        if isinstance(node, Token) and node.type == "COMMA":
            pieces[-1][2].append(node)
        else:
            pieces.append(([], node, []))
    pieces[-1][2].extend(tail)
    return pieces


def _list(node: Tree[Token], col: int) -> list[_Line]:
    children = _children(node)
    opener = _LIST_OPENERS[str(node.data)]
    start = next(i for i, c in enumerate(children) if isinstance(c, Token) and c.type == opener) + 1
    tail = children[-1:] if opener == "LPAR" else []
    head = _flat(children[:start])
    cont = col + _width(head) + (0 if opener == "LPAR" else 1)
    if cont > MAX_WIDTH // 2:  # a long head: continue the list a little to the right of it instead
        cont = col + 2 * STEP
    return _fill([_Line(col, head)], _items(children[start:len(children) - len(tail)], tail), cont)  # type: ignore[arg-type]


def _around_widest(node: Tree[Token], col: int) -> list[_Line]:
    """Any other construct: its widest part laid out in place, the rest kept on the lines around it."""
    children = _children(node)
    subtrees = [i for i, c in enumerate(children) if isinstance(c, Tree)]
    if not subtrees:
        return [_Line(col, _tokens(node))]
    widest = max(subtrees, key=lambda i: _width(_tokens(children[i])))
    return _prefixed(col, _flat(children[:widest]), children[widest], _flat(children[widest + 1:]))


# ----------------------------------------------------------------------------------------- clauses and items

def _trees(nodes: Sequence[_Node]) -> list[Tree[Token]]:
    return [n for n in nodes if isinstance(n, Tree)]


def _ordered(clauses: Sequence[_Node], block: str) -> list[Tree[Token]]:
    order = CLAUSE_ORDER[block]

    def key(clause: Tree[Token]) -> tuple[int, int]:
        language = str(clause.children[1]) if clause.data == "explain_clause" else ""
        rank = EXPLAIN_LANGUAGES.index(language) if language in EXPLAIN_LANGUAGES else len(EXPLAIN_LANGUAGES)
        return order.index(str(clause.data)), rank

    return sorted(_trees(clauses), key=key)


def _clause(clause: Tree[Token], indent: int) -> list[_Line]:
    kind, parts = str(clause.data), _children(clause)
    opening = [p for p in parts if isinstance(p, Token) and p.type in _OPENING_WORDS]
    if kind == "built_on":  # `built on model`, its interpretation on the lines below, one step in
        built = [_Line(indent, _flat([p for p in parts if isinstance(p, Token)]))]
        for part in _trees(parts):
            built.extend(_clause(part, indent + STEP))
        return built
    if kind in _STRING_CLAUSES and isinstance(parts[-1], Tree) and parts[-1].data == "citations":
        return _citations(_flat(parts[:-1]), parts[-1], indent)
    if kind in _STRING_CLAUSES:  # adjacent texts one per line, aligned under the first
        head, strings = _flat(parts[:-1]), _tokens(parts[-1])
        column = indent + _width(head) + 1
        return [_Line(indent, [*head, strings[0]]), *(_Line(column, [s]) for s in strings[1:])]
    if kind in _LIST_CLAUSES:
        return _fill([_Line(indent, opening)], _items(parts[len(opening):]), indent + _width(opening) + 1)
    if kind == "when_clause":
        return _prefixed(indent, opening, parts[1])
    if kind == "then_clause":  # one assignment a line, aligned under the first
        lines: list[_Line] = []
        for index, assignment in enumerate(_trees(parts)):
            name, equals, value = _children(assignment)
            head = [*(opening if index == 0 else []), *_tokens(name), *_tokens(equals)]
            lines.extend(_prefixed(indent + (0 if index == 0 else _width(opening) + 1), head, value))
        return lines
    if kind == "value_clause":  # `value X in force …`, its `according to` on the next line, one step in
        lines = _prefixed(indent, opening, parts[1])
        for part in _trees(parts[2:]):
            lines = _fill(lines, [([], part, [])], indent + STEP) if part.data == "validity" else [
                *lines, *_clause(part, indent + STEP)]
        return lines
    return [_Line(indent, _flat(parts))]


def _citations(head: list[Token], node: Tree[Token], indent: int) -> list[_Line]:
    """``source zvw "…", rzv "…"``: on one line when it fits, else one citation a line, aligned under the first;
    a citation's further texts one a line, aligned under its first text."""
    flat = [*head, *_tokens(node)]
    if indent + _width(flat) <= MAX_WIDTH:
        return [_Line(indent, flat)]
    column = indent + _width(head) + 1
    pieces = _items(_children(node))
    lines: list[_Line] = []
    for index, (_, citation, comma) in enumerate(pieces):
        assert isinstance(citation, Tree)
        source_id, texts = _children(citation)
        strings = _tokens(texts)
        lead = [*head, *_tokens(source_id)] if index == 0 else _tokens(source_id)
        text_column = column + _width(_tokens(source_id)) + 1
        for number, text in enumerate(strings):
            tail = comma if number == len(strings) - 1 else []
            if number == 0:
                lines.append(_Line(indent if index == 0 else column, [*lead, text, *tail]))
            else:
                lines.append(_Line(text_column, [text, *tail]))
    return lines


def _block(head: list[Token], clauses: Sequence[_Node], kind: str, indent: int) -> list[_Line | None]:
    lines: list[_Line | None] = [_Line(indent, head)]
    for clause in _ordered(clauses, kind):
        lines.extend(_clause(clause, indent + STEP))
    return lines


def _item(item: Tree[Token]) -> list[_Line | None]:
    kind, children = str(item.data), _children(item)
    if kind == "define_decl":  # `define NAME = X` on one line, else X on the lines below, one step in
        head, flat = _flat(children[:3]), _flat(children[:4])
        lines: list[_Line | None] = [_Line(0, flat)] if _width(flat) <= MAX_WIDTH else [
            _Line(0, head), *_layout(children[3], STEP)]
        for clause in _ordered(children[4:], kind):
            lines.extend(_clause(clause, STEP))
        return lines
    body = [c for c in _trees(children) if c.data not in ("type", "path", "fact_type")]
    head = _flat(children[:children.index(body[0])] if body else children[:-1])
    lines = _block(head, [c for c in body if c.data != "row"], kind, 0)
    for row in (c for c in body if c.data == "row"):
        if len(lines) > 1:
            lines.append(None)
        lines.extend(_block(_flat(row.children[:2]), row.children[2:], "row", STEP))
    lines.append(_Line(0, _tokens(children[-1]), "end"))
    return lines


def _document(tree: Tree[Token]) -> list[_Line | None]:
    """Every item, one blank line (``None``) between them; the first line of each marked as an item's."""
    document: list[_Line | None] = []
    for item in _trees(tree.children):
        first, *rest = _item(item)
        assert first is not None
        document.extend([*([None] if document else []), _Line(first.indent, first.tokens, "item"), *rest])
    return document


# ----------------------------------------------------------------------------------------- comments

def _render(document: list[_Line | None], comments: list[Token], text: str) -> str:
    """The lines as text, each comment next to the output line of the token it was next to."""
    where = {_start(t): i for i, line in enumerate(document) if line is not None for t in line.tokens}
    positions = sorted(where)
    above: defaultdict[int | None, list[Token]] = defaultdict(list)  # None: after the last line
    trailing: defaultdict[int, list[Token]] = defaultdict(list)
    for comment in comments:
        line_start = text.rfind("\n", 0, _start(comment)) + 1
        if text[line_start:_start(comment)].strip():  # something before it on its line: a trailing comment
            trailing[where[positions[bisect.bisect_left(positions, _start(comment)) - 1]]].append(comment)
        else:
            following = bisect.bisect_right(positions, _start(comment))
            above[where[positions[following]] if following < len(positions) else None].append(comment)
    out: list[str] = []
    for index, line in enumerate(document):
        if line is None:
            out.append("")
            continue
        # A second trailing comment on one output line goes just above it (it would run into the first).
        group, after = above[index] + trailing[index][1:], trailing[index][:1]
        indent = line.indent + (STEP if line.role == "end" else 0)
        out.extend(_comment_lines(group, indent, text, _start(line.tokens[0]), blanks=line.role == "item"))
        out.append(" " * line.indent + _join(line.tokens) + "".join(f"  {c.rstrip()}" for c in after))
    if above[None]:
        last = max((_end(t) for line in document if line is not None for t in line.tokens), default=None)
        blank = last is not None and _blank_between(text, last, _start(above[None][0]))
        out.extend([*([""] if blank else []), *_comment_lines(above[None], 0, text, None, blanks=True)])
    return "\n".join(out) + "\n" if out else ""


def _blank_between(text: str, end: int, start: int) -> bool:
    return end <= start and text.count("\n", end, start) >= 2


def _comment_lines(group: list[Token], indent: int, text: str, next_start: int | None, blanks: bool) -> list[str]:
    """Comments above the line that starts at ``next_start``; with ``blanks`` (between items), a blank line the
    author left among them or below them is kept (one)."""
    lines = []
    for index, comment in enumerate(group):
        lines.append(" " * indent + comment.rstrip())
        following = _start(group[index + 1]) if index + 1 < len(group) else next_start
        if blanks and following is not None and _blank_between(text, _end(comment), following):
            lines.append("")
    return lines


# ----------------------------------------------------------------------------------------- the API

def format_text(text: str, path: str = "<stdin>") -> str:
    """The canonical layout of one rule file's text; raises :class:`RxError` (RX1xx) when it does not parse."""
    source = SourceFile(path=path, text=text)
    tree, comments = _parse(source)
    refuse_too_deep(source, parse(source))  # RX210, as `rxpolicy check` says, before the layout recurses
    result = _render(_document(tree), comments, text)
    again, again_comments = _parse(SourceFile(path=path, text=result))
    # Refuse to hand back a layout that lost or changed a token or a comment: that would be a bug here.
    if sorted((t.type, _text(t)) for t in _tokens(again)) != sorted((t.type, _text(t)) for t in _tokens(tree)) \
            or sorted(c.rstrip() for c in again_comments) != sorted(c.rstrip() for c in comments):
        raise RuntimeError(f"rxpolicy fmt would change the meaning or the comments of {path}")
    return result
