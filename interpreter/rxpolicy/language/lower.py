"""Stage 2: Lark parse tree → :mod:`rxpolicy.language.ast` (structure only, no meaning).

Checks what the grammar cannot: a clause written twice, a date that does not exist, a number of
days that is not whole, a type that is not a type. Problems are collected (RX2xx), not raised one
by one, so a policy expert sees all of them in one run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import attrs
from lark import Token, Transformer, Tree, v_args
from lark.tree import Meta

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.language import ast
from rxpolicy.language.parse import parse
from rxpolicy.language.limits import (FIRST_DATE, LAST_DATE, MAX_DAYS, MAX_DECIMALS, MAX_DEPTH, MAX_MONTHS,
                                       MAX_WHOLE_DIGITS, balance_chains, too_deep_expressions)
from rxpolicy.language.source import SourceFile, Span
from rxpolicy.language.values import Duration, Rounding, Unit

__all__ = ["lower", "parse_rule_file", "refuse_too_deep", "TYPE_WORDS", "FACT_TYPE_WORDS"]

#: Type words as written → canonical name (the checker maps these to types).
TYPE_WORDS = ("yes or no", "money", "duration", "supply limit", "number", "date", "text", "percentage")
#: The type words a case fact may have (besides a declared choice).
FACT_TYPE_WORDS = ("yes or no", "money", "number", "date", "text", "ATC code")


def parse_rule_file(source: SourceFile) -> ast.RuleFile:
    """Parse and lower one rule file; raises :class:`RxError` with every problem found."""
    return lower(source, parse(source))


def lower(source: SourceFile, tree: Tree[Token]) -> ast.RuleFile:
    """Turn a parse tree into a :class:`ast.RuleFile`; raises :class:`RxError` on RX2xx problems."""
    builder = _Lower(source)
    refuse_too_deep(source, tree)
    items = builder.transform(tree)
    if builder.problems:
        raise RxError(builder.problems)
    return ast.RuleFile(source=source, items=tuple(items))


def refuse_too_deep(source: SourceFile, tree: Tree[Token]) -> None:
    """Regroup long `and`/`or` chains (in place), then raise RX210 for every expression still nested too deeply.

    Lowering (and the formatter) walk an expression recursively: this runs first, without recursion.
    """
    balance_chains(tree)  # 200 or-ed conditions nest 8 levels, not 200
    too_deep = list(too_deep_expressions(tree))
    if too_deep:
        raise RxError([_too_deep(source, node) for node in too_deep])


def _too_deep(source: SourceFile, node: Tree[Token]) -> Diagnostic:
    meta = node.meta
    span = Span(path=source.path, line=meta.line, column=meta.column, end_line=meta.line,
                end_column=meta.column + 1)
    return Diagnostic(code="RX210", span=span,
                      message=f"this expression nests more than {MAX_DEPTH} levels deep (each `not`, `+`, `-`, `*`, "
                              "`/`, comparison, `if`, function call and `and` or `or` inside another is one level)",
                      help="give parts of it a name with `define` and use the names here, or write it flatter; "
                           "a long chain of `and`s or `or`s alone is never too deep")


def _words(token: Token | str) -> str:
    return " ".join(str(token).split())


@v_args(meta=True)
class _Lower(Transformer[Token, Any]):
    """One instance per file: ``problems`` collects the RX2xx diagnostics."""

    def __init__(self, source: SourceFile) -> None:
        super().__init__(visit_tokens=False)
        self.source = source
        self.problems: list[Diagnostic] = []

    # ------------------------------------------------------------------ helpers
    def span(self, meta: Meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(path=self.source.path, line=1, column=1, end_line=1, end_column=1)
        return Span(path=self.source.path, line=meta.line, column=meta.column, end_line=meta.end_line,
                    end_column=meta.end_column)

    def tspan(self, token: Token) -> Span:
        line, column = token.line or 1, token.column or 1
        return Span(path=self.source.path, line=line, column=column, end_line=token.end_line or line,
                    end_column=token.end_column or column + len(token))

    def problem(self, code: str, span: Span, message: str, help: str) -> None:
        self.problems.append(Diagnostic(code=code, span=span, message=message, help=help))

    def _date(self, token: Token) -> dt.date:
        try:
            day = dt.date.fromisoformat(str(token))
        except ValueError:
            self.problem("RX201", self.tspan(token), f"`{token}` is not a date that exists",
                         "write a real calendar date as YYYY-MM-DD")
            return FIRST_DATE
        if not FIRST_DATE <= day <= LAST_DATE:
            self.problem("RX209", self.tspan(token), f"`{token}` is outside the dates rxpolicy works with "
                         f"({FIRST_DATE} to {LAST_DATE})", "write a date in that range; for a period without an "
                         "end, leave out `until`")
            return min(max(day, FIRST_DATE), LAST_DATE)  # no second complaint about the period's order
        return day

    def _single(self, clauses: Sequence[tuple[str, Any, Span]], kind: str, what: str) -> Any:
        found = [c for c in clauses if c[0] == kind]
        for extra in found[1:]:
            self.problem("RX202", extra[2], f"{what} is written twice in this block",
                         f"keep one {what} and remove the other")
        return found[0][1] if found else None

    # ------------------------------------------------------------------ top level
    def start(self, meta: Meta, items: list[Any]) -> list[ast.Item]:
        return [i for i in items if i is not None]

    def strings(self, meta: Meta, tokens: list[Token]) -> str:
        return " ".join(_unquote(str(t)) for t in tokens)

    def title_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("title", children[0], self.span(meta))

    def built_on(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        interpretation = children[1][1].text if children[1] is not None else None
        return ("built_on", (str(children[0]), interpretation), self.span(meta))

    def plans_clause(self, meta: Meta, children: list[Token]) -> tuple[str, Any, Span]:
        return ("plans", tuple(_unquote(str(c)) for c in children), self.span(meta))

    def validity(self, meta: Meta, children: list[Token | None]) -> tuple[str, Any, Span]:
        start = self._date(children[0])  # type: ignore[arg-type]
        end = self._date(children[1]) if children[1] is not None else None
        span = self.span(meta)
        if end is not None and end < start:
            self.problem("RX203", span, f"the period ends ({end}) before it starts ({start})",
                         "swap the dates, or correct the one that is wrong")
        return ("validity", ast.Validity(start=start, end=end, span=span), span)

    def according_to(self, meta: Meta, children: list[str]) -> tuple[str, Any, Span]:
        return self.source_clause(meta, children)

    def source_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        span = self.span(meta)
        if isinstance(children[0], tuple):
            return ("source", children[0], span)
        return ("source", (ast.Citation(text=children[0], span=span, source_span=span),), span)

    def citations(self, meta: Meta, children: list[ast.Citation]) -> tuple[ast.Citation, ...]:
        return tuple(children)

    def citation(self, meta: Meta, children: list[Any]) -> ast.Citation:
        return ast.Citation(text=children[1], source=str(children[0]), span=self.span(meta),
                            source_span=self.tspan(children[0]))

    def interpretation_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        span = self.span(meta)
        lang = str(children[0]) if children[0] is not None else "en"
        return ("interpretation", ast.Explain(lang=lang, text=children[1], span=span), span)

    def _interpretations(self, clauses: Sequence[tuple[str, Any, Span]]) -> tuple[str | None, tuple[ast.Explain, ...]]:
        """The interpretation (English, or unlabelled) and its translations; a language written twice is RX202."""
        seen: dict[str, ast.Explain] = {}
        for kind, interpretation, span in clauses:
            if kind != "interpretation":
                continue
            if interpretation.lang in seen:
                clause = "interpretation" if interpretation.lang == "en" else f"interpretation {interpretation.lang}"
                self.problem("RX202", span, f"`{clause}` is written twice in this block",
                             f"keep one `{clause}` and remove the other")
            seen[interpretation.lang] = interpretation
        english = seen.pop("en", None)
        return (english.text if english else None), tuple(seen.values())

    def explain_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        span = self.span(meta)
        return ("explain", ast.Explain(lang=str(children[0]), text=children[1], span=span), span)

    def _explains(self, clauses: Sequence[tuple[str, Any, Span]]) -> tuple[ast.Explain, ...]:
        seen: dict[str, ast.Explain] = {}
        for kind, explain, span in clauses:
            if kind != "explain":
                continue
            if explain.lang in seen:
                self.problem("RX202", span, f"the `{explain.lang}` explanation is written twice",
                             "keep one explanation per language")
            seen[explain.lang] = explain
        return tuple(seen.values())

    def policy_decl(self, meta: Meta, children: list[Any]) -> ast.Policy:
        name, clauses = str(children[0]), children[1:-1]
        return ast.Policy(name=name, titles=tuple(c[1] for c in clauses if c[0] == "title"),
                          built_on=tuple(c[1][0] for c in clauses if c[0] == "built_on"),
                          adoptions=tuple(c[1] for c in clauses if c[0] == "built_on" and c[1][1] is not None),
                          validity=self._single(clauses, "validity", "`in force`"),
                          plans=tuple(p for c in clauses if c[0] == "plans" for p in c[1]), span=self.span(meta))

    def kind_clause(self, meta: Meta, children: list[Token]) -> tuple[str, Any, Span]:
        return ("kind", str(children[0]), self.span(meta))

    def layer_decl(self, meta: Meta, children: list[Any]) -> ast.Layer:
        clauses = children[1:-1]
        return ast.Layer(name=str(children[0]), titles=tuple(c[1] for c in clauses if c[0] == "title"),
                         kind=self._single(clauses, "kind", "`kind`") or "statutory", span=self.span(meta))

    def type(self, meta: Meta, children: list[Any]) -> ast.TypeRef:
        words = " ".join(_words(t) for t in children if isinstance(t, Token))
        span = self.span(meta)
        if words not in TYPE_WORDS:
            self.problem("RX204", span, f"`{words}` is not a type", "write one of: " + ", ".join(TYPE_WORDS))
        return ast.TypeRef(words=words, nullable=children[-1] is True, span=span)

    def nullable(self, meta: Meta, children: list[Any]) -> bool:
        return True

    def decision_decl(self, meta: Meta, children: list[Any]) -> ast.Decision:
        clauses = children[2:-1]
        return ast.Decision(name=str(children[0]), type=children[1], explains=self._explains(clauses),
                            outcome=bool(self._single(clauses, "outcome", "`is the outcome`")), span=self.span(meta))

    def define_decl(self, meta: Meta, children: list[Any]) -> ast.Definition:
        return ast.Definition(name=str(children[0]), expr=children[1], explains=self._explains(children[2:]),
                              span=self.span(meta))

    def value_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        span = self.span(meta)
        validity = children[1][1] if children[1] is not None else None
        citations = children[2][1] if children[2] is not None else ()
        return ("value", ast.ParameterValue(expr=children[0], validity=validity, citations=citations, span=span), span)

    def parameter_decl(self, meta: Meta, children: list[Any]) -> ast.Parameter:
        clauses = children[2:-1]
        interpretation, translations = self._interpretations(clauses)
        return ast.Parameter(name=str(children[0]), type=children[1], explains=self._explains(clauses),
                             citations=tuple(c for clause in clauses if clause[0] == "source" for c in clause[1]),
                             interpretation=interpretation, interpretations=translations,
                             values=tuple(c[1] for c in clauses if c[0] == "value"), span=self.span(meta))

    # ------------------------------------------------------------------ the facts of a case
    def path(self, meta: Meta, children: list[Token]) -> tuple[str, Span]:
        return ".".join(str(c) for c in children), self.span(meta)

    def plain_fact_type(self, meta: Meta, children: list[Token]) -> ast.FactType:
        words = " ".join(_words(t) for t in children)
        span = self.span(meta)
        if words not in FACT_TYPE_WORDS:
            self.problem("RX204", span, f"`{words}` is not a type a fact can have",
                         "write one of: " + ", ".join(FACT_TYPE_WORDS) + ", or the name of a choice")
        return ast.FactType(words=words, span=span)

    def choice_fact_type(self, meta: Meta, children: list[Token]) -> ast.FactType:
        return ast.FactType(words=str(children[0]), choice=True, span=self.span(meta))

    def open_choice_fact_type(self, meta: Meta, children: list[Token]) -> ast.FactType:
        span = self.span(meta)
        if _words(children[1]) != "text":
            self.problem("RX204", span, f"`{children[0]} or any {_words(children[1])}` is not a type",
                         f"write `{children[0]} or any text`")
        return ast.FactType(words=str(children[0]), choice=True, open=True, span=span)

    def list_fact_type(self, meta: Meta, children: list[Token]) -> ast.FactType:
        return ast.FactType(words=str(children[0]), choice=True, list_of=True, span=self.span(meta))

    def fact_unknown(self, meta: Meta, children: list[Any]) -> bool:
        return True

    def fact_type(self, meta: Meta, children: list[Any]) -> ast.FactType:
        base: ast.FactType = children[0]
        return attrs.evolve(base, nullable=children[1] is True, span=self.span(meta))

    def required_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("required", True, self.span(meta))

    def default_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("default", children[0], self.span(meta))

    def computed_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("computed", (str(children[0]), tuple(p for p, _ in children[1:])), self.span(meta))

    def if_yes_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        span = self.span(meta)
        return ("if_yes", ast.Explain(lang=str(children[0]), text=children[1], span=span), span)

    def if_no_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        span = self.span(meta)
        return ("if_no", ast.Explain(lang=str(children[0]), text=children[1], span=span), span)

    def meaning_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("meaning", children[0], self.span(meta))

    def term_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        span = self.span(meta)
        return ("term", ast.Explain(lang=str(children[0]), text=children[1], span=span), span)

    def example_clause(self, meta: Meta, children: list[Token]) -> tuple[str, Any, Span]:
        return ("example", _unquote(str(children[0])), self.span(meta))

    def at_least_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("at_least", (Decimal(str(children[0])), children[1]), self.span(meta))

    def at_most_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("at_most", (Decimal(str(children[0])), children[1]), self.span(meta))

    def counts_whole_clause(self, meta: Meta, children: list[Token]) -> tuple[str, Any, Span]:
        unit = str(children[0])
        return ("whole", unit if unit.endswith("s") else unit + "s", self.span(meta))

    def not_before_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        span = self.span(meta)
        return ("order", ast.DateOrder(other=children[0][0], after=False, reason=children[1], span=span), span)

    def not_after_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        span = self.span(meta)
        return ("order", ast.DateOrder(other=children[0][0], after=True, reason=children[1], span=span), span)

    def allowed_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("allowed", tuple(children), self.span(meta))

    def one_of_plans_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("plans", True, self.span(meta))

    def period_date_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("period_date", True, self.span(meta))

    def smallest_pack_role(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("stands_for", "the smallest pack", self.span(meta))

    def one_course_role(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("stands_for", "one course", self.span(meta))

    def fixed_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("fixed", children[0], self.span(meta))

    def leap_day_birthday_clause(self, meta: Meta, children: list[Token]) -> tuple[str, Any, Span]:
        span = self.span(meta)
        return ("leap_day", (_words(children[0]), span), span)

    def _per_language(self, clauses: Sequence[tuple[str, Any, Span]], kind: str, what: str) -> tuple[ast.Explain, ...]:
        seen: dict[str, ast.Explain] = {}
        for clause_kind, explain, span in clauses:
            if clause_kind != kind:
                continue
            if explain.lang in seen:
                self.problem("RX202", span, f"the `{explain.lang}` {what} is written twice",
                             f"keep one {what} per language")
            seen[explain.lang] = explain
        return tuple(seen.values())

    def fact_decl(self, meta: Meta, children: list[Any]) -> ast.Fact:
        (path, path_span), typ, clauses = children[0], children[1], children[2:-1]
        computed = self._single(clauses, "computed", "`computed by`")
        at_least = self._single(clauses, "at_least", "`at least`")
        at_most = self._single(clauses, "at_most", "`at most`")
        leap_day = self._single(clauses, "leap_day", "`leap day birthday`")
        return ast.Fact(
            path=path, type=typ, required=bool(self._single(clauses, "required", "`required`")),
            default=self._single(clauses, "default", "`default`"),
            computed_by=computed[0] if computed else None, arguments=computed[1] if computed else (),
            explains=self._explains(clauses), if_yes=self._per_language(clauses, "if_yes", "`if yes` sentence"),
            if_no=self._per_language(clauses, "if_no", "`if no` sentence"),
            meaning=self._single(clauses, "meaning", "`meaning`"),
            terms=self._per_language(clauses, "term", "`term`"),
            example=self._single(clauses, "example", "`example`"),
            at_least=at_least[0] if at_least else None, at_least_reason=at_least[1] if at_least else None,
            at_most=at_most[0] if at_most else None, at_most_reason=at_most[1] if at_most else None,
            whole=self._single(clauses, "whole", "`counts whole`"),
            allowed=self._single(clauses, "allowed", "`one of`") or (),
            one_of_plans=bool(self._single(clauses, "plans", "`one of the plans`")),
            orders=tuple(c[1] for c in clauses if c[0] == "order"),
            period_date=bool(self._single(clauses, "period_date", "`decides the rules in force`")),
            stands_for=self._single(clauses, "stands_for", "`stands for`"),
            fixed=self._single(clauses, "fixed", "`fixed because`"),
            leap_day_birthday=leap_day[0] if leap_day else None, leap_day_span=leap_day[1] if leap_day else None,
            span=self.span(meta), path_span=path_span)

    def option(self, meta: Meta, children: list[Token]) -> ast.ChoiceOption:
        span = self.span(meta)
        words = []
        seen = set()
        for lang, text in zip(children[1::2], children[2::2]):
            if str(lang) in seen:
                self.problem("RX202", self.tspan(lang), f"the `{lang}` words of `{children[0]}` are written twice",
                             "keep one text per language")
            seen.add(str(lang))
            words.append(ast.Explain(lang=str(lang), text=_unquote(str(text)), span=self.tspan(lang)))
        return ast.ChoiceOption(code=str(children[0]), words=tuple(words), span=span)

    def choice_decl(self, meta: Meta, children: list[Any]) -> ast.ChoiceDecl:
        return ast.ChoiceDecl(name=str(children[0]), options=tuple(children[1:-1]), span=self.span(meta))

    def all_or_none_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("all_or_none", True, self.span(meta))

    def section_decl(self, meta: Meta, children: list[Any]) -> ast.Section:
        clauses = children[1:-1]
        return ast.Section(path=children[0][0], explains=self._explains(clauses),
                           all_or_none=bool(self._single(clauses, "all_or_none", "`all or none`")),
                           span=self.span(meta))

    def outcome_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("outcome", True, self.span(meta))

    # ------------------------------------------------------------------ rules and tables
    def exception_clause(self, meta: Meta, children: list[Token]) -> tuple[str, Any, Span]:
        return ("exception", tuple(ast.RuleRef(id=str(t), span=self.tspan(t)) for t in children), self.span(meta))

    def when_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("when", children[0], self.span(meta))

    def then_clause(self, meta: Meta, children: list[Any]) -> tuple[str, Any, Span]:
        return ("then", tuple(children), self.span(meta))

    def rejection_clause(self, meta: Meta, children: list[Token]) -> tuple[str, Any, Span]:
        return ("rejection", _unquote(str(children[0])), self.span(meta))

    def assignment(self, meta: Meta, children: list[Any]) -> ast.Assignment:
        name = children[0]
        return ast.Assignment(decision=str(name), value=children[1], span=self.span(meta), name_span=self.tspan(name))

    def _rule(self, meta: Meta, rule_id: Token, clauses: list[tuple[str, Any, Span]], table: str | None = None,
              row_index: int = 0) -> ast.Rule:
        assignments = tuple(a for c in clauses if c[0] == "then" for a in c[1])
        interpretation, translations = self._interpretations(clauses)
        return ast.Rule(id=str(rule_id), citations=tuple(c for cl in clauses if cl[0] == "source" for c in cl[1]),
                        interpretation=interpretation, interpretations=translations,
                        explains=self._explains(clauses), validity=self._single(clauses, "validity", "`in force`"),
                        exception_to=tuple(r for c in clauses if c[0] == "exception" for r in c[1]),
                        when=self._single(clauses, "when", "`when`"), assignments=assignments,
                        rejection_code=self._single(clauses, "rejection", "`rejection code`"),
                        table=table, row_index=row_index, span=self.span(meta), id_span=self.tspan(rule_id))

    def warning_decl(self, meta: Meta, children: list[Any]) -> ast.Warning:
        clauses, warning_id = children[1:-1], children[0]
        interpretation, _ = self._interpretations(clauses)  # a warning's interpretation is shown in English only
        return ast.Warning(id=str(warning_id), citations=tuple(c for cl in clauses if cl[0] == "source" for c in cl[1]),
                           interpretation=interpretation,
                           explains=self._explains(clauses), when=self._single(clauses, "when", "`when`"),
                           span=self.span(meta), id_span=self.tspan(warning_id))

    def rule_decl(self, meta: Meta, children: list[Any]) -> ast.Rule:
        return self._rule(meta, children[0], children[1:-1])

    def row(self, meta: Meta, children: list[Any]) -> tuple[Meta, Token, list[Any]]:
        return (meta, children[0], children[1:])

    def decides_clause(self, meta: Meta, children: list[Token]) -> tuple[str, Any, Span]:
        return ("decides", tuple(str(c) for c in children), self.span(meta))

    def table_decl(self, meta: Meta, children: list[Any]) -> ast.Table:
        table_id = str(children[0])
        clauses = [c for c in children[1:-1] if isinstance(c, tuple) and isinstance(c[0], str)]
        rows_raw = [c for c in children[1:-1] if isinstance(c, tuple) and isinstance(c[0], Meta)]
        shared = [c for c in clauses if c[0] in ("source", "interpretation", "explain", "validity")]
        rows = []
        for index, (row_meta, row_id, row_clauses) in enumerate(rows_raw):
            own = {c[0] for c in row_clauses}
            inherited = [c for c in shared if c[0] not in own or c[0] == "source"]
            full_id = Token.new_borrow_pos("RULE_ID", f"{table_id}/{row_id}", row_id)
            rows.append(self._rule(row_meta, full_id, inherited + row_clauses, table=table_id, row_index=index))
        return ast.Table(id=table_id, decides=tuple(d for c in clauses if c[0] == "decides" for d in c[1]),
                         rows=tuple(rows), span=self.span(meta))

    # ------------------------------------------------------------------ expressions
    def if_then_else(self, meta: Meta, c: list[Any]) -> ast.IfThenElse:
        return ast.IfThenElse(condition=c[0], then=c[1], otherwise=c[2], span=self.span(meta))

    def or_(self, meta: Meta, c: list[Any]) -> ast.BoolOp:
        return ast.BoolOp(op="or", left=c[0], right=c[1], span=self.span(meta))

    def and_(self, meta: Meta, c: list[Any]) -> ast.BoolOp:
        return ast.BoolOp(op="and", left=c[0], right=c[1], span=self.span(meta))

    def not_(self, meta: Meta, c: list[Any]) -> ast.Not:
        return ast.Not(operand=c[0], span=self.span(meta))

    def compare(self, meta: Meta, c: list[Any]) -> ast.Compare:
        return ast.Compare(op=str(c[1]), left=c[0], right=c[2], span=self.span(meta))

    def is_(self, meta: Meta, c: list[Any]) -> ast.Compare:
        return ast.Compare(op="is", left=c[0], right=c[1], span=self.span(meta))

    def is_not(self, meta: Meta, c: list[Any]) -> ast.Compare:
        return ast.Compare(op="is not", left=c[0], right=c[1], span=self.span(meta))

    def one_of(self, meta: Meta, c: list[Any]) -> ast.OneOf:
        return ast.OneOf(operand=c[0], options=tuple(c[1:]), negated=False, span=self.span(meta))

    def not_one_of(self, meta: Meta, c: list[Any]) -> ast.OneOf:
        return ast.OneOf(operand=c[0], options=tuple(c[1:]), negated=True, span=self.span(meta))

    def in_list(self, meta: Meta, c: list[Any]) -> ast.InList:
        return ast.InList(operand=c[0], collection=c[1], negated=False, span=self.span(meta))

    def not_in_list(self, meta: Meta, c: list[Any]) -> ast.InList:
        return ast.InList(operand=c[0], collection=c[1], negated=True, span=self.span(meta))

    def is_known(self, meta: Meta, c: list[Any]) -> ast.Known:
        return ast.Known(operand=c[0], negated=False, span=self.span(meta))

    def is_unknown(self, meta: Meta, c: list[Any]) -> ast.Known:
        return ast.Known(operand=c[0], negated=True, span=self.span(meta))

    def matches(self, meta: Meta, c: list[Any]) -> ast.Matches:
        # An ATC pattern is written bare (`N05B*`), a text pattern quoted (`"oxazepam*"`).
        patterns = tuple(_unquote(str(t)) if t.type == "STRING" else str(t) for t in c[1:])
        return ast.Matches(operand=c[0], patterns=patterns, span=self.span(meta))

    def fits_within(self, meta: Meta, c: list[Any]) -> ast.FitsWithin:
        return ast.FitsWithin(supply=c[0], limit=c[1], span=self.span(meta))

    def arith(self, meta: Meta, c: list[Any]) -> ast.Arith:
        return ast.Arith(op=str(c[1]), left=c[0], right=c[2], span=self.span(meta))

    def rounded(self, meta: Meta, c: list[Any]) -> ast.Rounded:
        rounding = Rounding(_words(c[1]), _words(c[2]))
        return ast.Rounded(operand=c[0], rounding=rounding, span=self.span(meta))

    def rounded_decimals(self, meta: Meta, c: list[Any]) -> ast.Rounded:
        places = Decimal(str(c[2]))
        if places != places.to_integral_value() or places > MAX_DECIMALS:
            self.problem("RX211", self.tspan(c[2]), f"`{c[2]} {c[3]}`: a number is rounded to a whole number of "
                         f"decimals from 0 to {MAX_DECIMALS}", "write e.g. `to 2 decimals`, or `to a whole number`")
            places = Decimal(0)
        rounding = Rounding(_words(c[1]), "decimals", int(places))
        return ast.Rounded(operand=c[0], rounding=rounding, span=self.span(meta))

    def _unit(self, meta: Meta, operand: Any, unit: str) -> ast.Expr:
        span = self.span(meta)
        if not (isinstance(operand, ast.Literal) and operand.kind is ast.LiteralKind.NUMBER):
            return ast.WithUnit(operand=operand, unit=unit, span=span)
        number = operand.value
        assert isinstance(number, Decimal)
        if unit == "EUR":
            if number.as_tuple().exponent < -2:  # type: ignore[operator]
                self.problem("RX205", span, f"`{number} EUR` has more than two decimals",
                             "write money with at most two decimals, like `250.00 EUR`")
            return ast.Literal(kind=ast.LiteralKind.MONEY, value=number.quantize(Decimal("0.01")), span=span)
        if unit == "%":
            return ast.Literal(kind=ast.LiteralKind.PERCENT, value=number, span=span)
        if number != number.to_integral_value():
            self.problem("RX206", span, f"`{number} {unit}` is not a whole number of {unit}",
                         "write a whole number of days or months")
        kind = Unit.DAYS if unit.startswith("day") else Unit.MONTHS
        most = MAX_DAYS if kind is Unit.DAYS else MAX_MONTHS
        if number > most:
            self.problem("RX208", span, f"`{number} {unit}` is longer than rxpolicy lays from a date "
                         f"(at most {MAX_MONTHS} months or {MAX_DAYS} days, 100 years)",
                         f"write a period of at most {most} {kind.value}")
            number = Decimal(most)
        return ast.Literal(kind=ast.LiteralKind.DURATION, value=Duration(int(number), kind), span=span)

    def duration(self, meta: Meta, c: list[Any]) -> ast.Expr:
        return self._unit(meta, c[0], "days" if str(c[1]).startswith("day") else "months")

    def money(self, meta: Meta, c: list[Any]) -> ast.Expr:
        return self._unit(meta, c[0], "EUR")

    def percent(self, meta: Meta, c: list[Any]) -> ast.Expr:
        return self._unit(meta, c[0], "%")

    def supply_limit(self, meta: Meta, c: list[Any]) -> ast.SupplyLimitExpr:
        alternatives = {str(a) for a in c[1:]}
        return ast.SupplyLimitExpr(duration=c[0], or_smallest_pack="smallest" in alternatives,
                                   or_one_course="course" in alternatives, span=self.span(meta))

    def or_smallest_pack(self, meta: Meta, c: list[Any]) -> str:
        return "smallest"

    def or_one_course(self, meta: Meta, c: list[Any]) -> str:
        return "course"

    def _literal(self, meta: Meta, kind: ast.LiteralKind, value: object) -> ast.Literal:
        return ast.Literal(kind=kind, value=value, span=self.span(meta))

    def number(self, meta: Meta, c: list[Token]) -> ast.Literal:
        text = str(c[0])
        whole, _, decimals = text.partition(".")
        if len(whole.lstrip("0")) > MAX_WHOLE_DIGITS or len(decimals) > MAX_DECIMALS:
            # Checked on the text: a 5,000-digit number is not even turned into a Decimal.
            shown = text if len(text) <= 30 else f"{text[:12]}…{text[-6:]} ({len(text)} characters)"
            self.problem("RX207", self.tspan(c[0]), f"the number `{shown}` is longer than rxpolicy computes with "
                         f"(at most {MAX_WHOLE_DIGITS} digits before the decimal point and {MAX_DECIMALS} after it)",
                         "write the amount in full euros, days or units; a policy needs no larger or finer number")
            return self._literal(meta, ast.LiteralKind.NUMBER, Decimal(0))
        return self._literal(meta, ast.LiteralKind.NUMBER, Decimal(text))

    def date(self, meta: Meta, c: list[Token]) -> ast.Literal:
        return self._literal(meta, ast.LiteralKind.DATE, self._date(c[0]))

    def text(self, meta: Meta, c: list[Token]) -> ast.Literal:
        return self._literal(meta, ast.LiteralKind.TEXT, _unquote(str(c[0])))

    def yes(self, meta: Meta, c: list[Token]) -> ast.Literal:
        return self._literal(meta, ast.LiteralKind.BOOL, True)

    def no(self, meta: Meta, c: list[Token]) -> ast.Literal:
        return self._literal(meta, ast.LiteralKind.BOOL, False)

    def not_applicable(self, meta: Meta, c: list[Token]) -> ast.Literal:
        return self._literal(meta, ast.LiteralKind.NOT_APPLICABLE, None)

    def name(self, meta: Meta, c: list[Token]) -> ast.Name:
        return ast.Name(parts=tuple(str(t) for t in c), span=self.span(meta))

    def call(self, meta: Meta, c: list[Any]) -> ast.Call:
        return ast.Call(function=str(c[0]), args=tuple(c[1:]), span=self.span(meta))


def _unquote(text: str) -> str:
    body = text[1:-1]
    return body.replace('\\"', '"').replace("\\\\", "\\") if "\\" in body else body
