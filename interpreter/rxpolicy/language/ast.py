"""The abstract syntax of rule files: frozen attrs classes that carry source spans.

Produced by :mod:`rxpolicy.language.lower`, read by :mod:`rxpolicy.language.check`. Nodes hold no meaning beyond
what was written: names are not resolved and types are not known here. Every node's ``span`` is
excluded from equality, so tests compare structure.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator

import attrs

from rxpolicy.language.fieldwise import Fieldwise
from rxpolicy.language.source import SourceFile, Span
from rxpolicy.language.values import Rounding

__all__ = [
    "Arith", "Assignment", "BoolOp", "Call", "Citation", "Compare", "children", "walk", "Decision", "Definition", "Expr", "Explain",
    "FitsWithin", "IfThenElse", "InList", "Item", "Known", "Layer", "Literal", "LiteralKind", "Matches", "Name",
    "Not", "OneOf", "Parameter", "ParameterValue", "Policy", "Rounded", "Rule", "RuleFile", "RuleRef",
    "SupplyLimitExpr", "Table", "TypeRef", "Validity", "Warning", "WithUnit", "Fact", "FactType", "DateOrder",
    "ChoiceDecl", "ChoiceOption", "Section",
]

_span = attrs.field(eq=False, repr=False)

# Every node class is built with `eq=False, repr=False` and inherits equality, hash and repr from Fieldwise
# (the same answers, without attrs compiling three methods per class whenever a fresh process imports this).


# ----------------------------------------------------------------------------- expressions

class LiteralKind(enum.Enum):
    """What a literal was written as."""

    NUMBER = "number"
    MONEY = "money"
    PERCENT = "percentage"
    DATE = "date"
    DURATION = "duration"
    TEXT = "text"
    BOOL = "yes/no"
    NOT_APPLICABLE = "not applicable"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Literal(Fieldwise):
    """A value written in the rule: ``6``, ``250.00 EUR``, ``3 %``, ``2024-01-01``, ``1 month``, ``yes``."""

    kind: LiteralKind
    value: object
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Name(Fieldwise):
    """A name: a case field (``medicine.atc``), definition, parameter, decision or choice value."""

    parts: tuple[str, ...]
    span: Span = _span

    @property
    def dotted(self) -> str:
        """The name as written, e.g. ``medicine.atc``."""
        return ".".join(self.parts)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Not(Fieldwise):
    """``not X``."""

    operand: Expr
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class BoolOp(Fieldwise):
    """``A and B`` / ``A or B``; ``op`` is 'and' or 'or'."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Compare(Fieldwise):
    """``A < B``, ``A >= B``, ``A is B``, ``A is not B``; ``op`` is one of < <= > >= is 'is not'."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class OneOf(Fieldwise):
    """``A is one of x, y, z`` (or ``is not one of``)."""

    operand: Expr
    options: tuple[Expr, ...]
    negated: bool
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class InList(Fieldwise):
    """``A is in L`` (or ``is not in``) for a list-valued field."""

    operand: Expr
    collection: Expr
    negated: bool
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Known(Fieldwise):
    """``A is known`` / ``A is unknown``."""

    operand: Expr
    negated: bool
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Matches(Fieldwise):
    """``medicine.atc matches N05B*, N05C*``: an ATC code against code prefixes (``*``) or exact codes.

    A text is matched the same way against quoted patterns: ``medicine.name matches "oxazepam*"``.
    """

    operand: Expr
    patterns: tuple[str, ...]
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class FitsWithin(Fieldwise):
    """``dispensing.supply_days days fits within max_supply``, laid from the dispensing date."""

    supply: Expr
    limit: Expr
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Arith(Fieldwise):
    """``A + B``, ``A - B``, ``A * B``, ``A / B``."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Rounded(Fieldwise):
    """``A rounded half up to whole euros`` (money) or ``A rounded down to a whole number`` / ``to 2 decimals``
    (a number or percentage): the one place rounding happens."""

    operand: Expr
    rounding: Rounding
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class WithUnit(Fieldwise):
    """A computed number with a unit: ``prescription.course_days days``."""

    operand: Expr
    unit: str  # 'days' | 'months' | 'EUR' | '%'
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class IfThenElse(Fieldwise):
    """``if C then A else B``."""

    condition: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Call(Fieldwise):
    """``min(A, B, ...)`` / ``max(A, B, ...)``."""

    function: str
    args: tuple[Expr, ...]
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SupplyLimitExpr(Fieldwise):
    """``at most 15 days or the smallest pack``."""

    duration: Expr
    or_smallest_pack: bool
    or_one_course: bool
    span: Span = _span


Expr = (Literal | Name | Not | BoolOp | Compare | OneOf | InList | Known | Matches | FitsWithin | Arith | Rounded
        | WithUnit | IfThenElse | Call | SupplyLimitExpr)


def children(node: Expr) -> Iterator[Expr]:
    """The expressions directly inside ``node``, in the order they are written."""
    for field in attrs.fields(type(node)):
        value = getattr(node, field.name)
        if isinstance(value, tuple):
            yield from (v for v in value if isinstance(v, Expr))
        elif isinstance(value, Expr):
            yield value


def walk(node: Expr) -> Iterator[Expr]:
    """``node`` and every expression inside it, parents first."""
    yield node
    for child in children(node):
        yield from walk(child)


def reachable(*roots: object) -> Iterator[object]:
    """Every AST object reachable from ``roots`` (rule files, rules, clauses, expressions; in tuples and lists),
    each once, without the spans: what a pass over a whole policy reads (its ``birthday(…)`` calls, the nodes
    a cache on disk keeps). Iterative, so deep expressions do not exhaust the stack."""
    seen: set[int] = set()
    stack: list[object] = list(roots)
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (tuple, list)):
            stack.extend(item)
        elif attrs.has(type(item)) and not isinstance(item, Span):
            yield item
            stack.extend(getattr(item, f.name) for f in attrs.fields(type(item)))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- clauses

@attrs.frozen(kw_only=True, repr=False, eq=False)
class Explain(Fieldwise):
    """``explain en "..."``: a sentence a patient could read, in one language."""

    lang: str
    text: str
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Citation(Fieldwise):
    """``source zvw "art. 19"``: where a rule comes from, a source of the registry and its section; or, for a
    policy without a registry, a plain text (``source "…"``, then ``source`` is None)."""

    text: str
    source: str | None = None
    span: Span = _span
    source_span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Validity(Fieldwise):
    """``in force from D1 until D2``; ``until`` is the last day in force (inclusive), None for open-ended."""

    start: dt.date
    end: dt.date | None
    span: Span = _span

    def contains(self, day: dt.date) -> bool:
        """Whether the period includes ``day``."""
        return self.start <= day and (self.end is None or day <= self.end)

    def overlaps(self, other: Validity) -> bool:
        """Whether two periods share at least one day."""
        end_a = self.end or dt.date.max
        end_b = other.end or dt.date.max
        return self.start <= end_b and other.start <= end_a

    def __str__(self) -> str:
        return f"{self.start.isoformat()}–{self.end.isoformat() if self.end else '…'}"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RuleRef(Fieldwise):
    """A reference to a rule by id (``exception to dispensing-period/chronic``)."""

    id: str
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Assignment(Fieldwise):
    """``then max_supply = at most 1 month``: the value a rule gives a decision."""

    decision: str
    value: Expr
    span: Span = _span
    name_span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class TypeRef(Fieldwise):
    """A type as written: ``money``, ``yes or no``, ``duration, or not applicable``."""

    words: str
    nullable: bool
    span: Span = _span


# ----------------------------------------------------------------------------- items

@attrs.frozen(kw_only=True, repr=False, eq=False)
class Policy(Fieldwise):
    """``policy hollandzorg ... end``: an insurer's policy, built on a shared layer."""

    name: str
    titles: tuple[str, ...]
    built_on: tuple[str, ...]
    #: ``built on model interpretation "…"``: layer → why this policy adopts it where its own texts are silent.
    adoptions: tuple[tuple[str, str], ...] = ()
    validity: Validity | None
    plans: tuple[str, ...]
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Layer(Fieldwise):
    """``layer statutory ... end``: a layer of rules shared by policies; ``kind`` is 'statutory' or 'insurer'."""

    name: str
    titles: tuple[str, ...]
    kind: str = "statutory"
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Decision(Fieldwise):
    """``decision max_supply: supply limit ... end``: an outcome every policy decides."""

    name: str
    type: TypeRef
    explains: tuple[Explain, ...]
    #: ``is the outcome``: the yes/no decision an evaluation's outcome is (``covered`` / ``not_covered``).
    outcome: bool = False
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Definition(Fieldwise):
    """``define name = expression``: a named condition or amount reused by many rules."""

    name: str
    expr: Expr
    explains: tuple[Explain, ...]
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ParameterValue(Fieldwise):
    """One dated value of a parameter."""

    expr: Expr
    validity: Validity | None
    citations: tuple[Citation, ...]
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Parameter(Fieldwise):
    """``parameter contribution_cap: money ... end``: an amount with dated values."""

    name: str
    type: TypeRef
    explains: tuple[Explain, ...]
    citations: tuple[Citation, ...]
    interpretation: str | None
    values: tuple[ParameterValue, ...]
    #: The interpretation in other languages than English (``interpretation nl "…"``).
    interpretations: tuple[Explain, ...] = ()
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Rule(Fieldwise):
    """A rule, or a row of a table (then ``table`` names it and ``id`` is ``table/row``)."""

    id: str
    citations: tuple[Citation, ...]
    interpretation: str | None
    explains: tuple[Explain, ...]
    validity: Validity | None
    exception_to: tuple[RuleRef, ...]
    when: Expr | None
    assignments: tuple[Assignment, ...]
    rejection_code: str | None
    #: The interpretation in other languages than English (``interpretation nl "…"``).
    interpretations: tuple[Explain, ...] = ()
    table: str | None = None
    row_index: int = 0
    span: Span = _span
    id_span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Table(Fieldwise):
    """``table id ... row ... end``: rows tried in order, the first that applies decides."""

    id: str
    decides: tuple[str, ...]
    rows: tuple[Rule, ...]
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Warning(Fieldwise):
    """``warning case/… … end`` (waarschuwing): decides nothing; when its condition holds, the evaluation carries
    its sentence."""

    id: str
    citations: tuple[Citation, ...]
    interpretation: str | None
    explains: tuple[Explain, ...]
    when: Expr | None
    span: Span = _span
    id_span: Span = _span


# ----------------------------------------------------------------------------- the facts of a case

@attrs.frozen(kw_only=True, repr=False, eq=False)
class FactType(Fieldwise):
    """A fact's type as written: ``date``, ``prescriber_kind``, ``indication_code or any text``,
    ``list of prescriber_kind``, each optionally ``, or unknown``."""

    #: The type words (``yes or no``, ``money``, ``ATC code``…) or the name of a declared choice.
    words: str
    #: Whether ``words`` names a choice.
    choice: bool = False
    #: ``list of <choice>``.
    list_of: bool = False
    #: ``<choice> or any text``: the listed codes are those rules may name, any text is accepted.
    open: bool = False
    nullable: bool = False
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class DateOrder(Fieldwise):
    """``not before insured.insured_from because "…"`` (or ``not after``): a date's place among the case's dates."""

    other: str
    after: bool
    reason: str | None
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Fact(Fieldwise):
    """``fact insured.born_on: date ... end``: one fact of a case, written in it or computed from others."""

    path: str
    type: FactType
    required: bool
    default: Expr | None
    #: ``computed by whole_years_between(insured.born_on, dispensed_on)``: the built-in and its facts.
    computed_by: str | None
    arguments: tuple[str, ...]
    #: Nouns per language (``explain en "the date of birth"``).
    explains: tuple[Explain, ...]
    #: For a yes/no fact: the sentence when it is yes / no, per language.
    if_yes: tuple[Explain, ...]
    if_no: tuple[Explain, ...]
    meaning: str | None
    terms: tuple[Explain, ...]
    example: str | None
    at_least: object
    at_least_reason: str | None
    #: The largest value a case may give (``at most 36600 because "…"``), with the reason.
    at_most: object = None
    at_most_reason: str | None = None
    whole: str | None
    allowed: tuple[Expr, ...]
    one_of_plans: bool
    orders: tuple[DateOrder, ...]
    #: ``decides the rules in force``: the date that chooses the period and from which periods are laid.
    period_date: bool
    #: ``stands for the smallest pack`` / ``stands for one course``: what `fits within` reads for them.
    stands_for: str | None
    #: ``fixed because "…"``: a fact no one can change at the counter, so a what-if never proposes it.
    fixed: str | None = None
    #: ``leap day birthday on 1 March`` (or ``on 28 February``): where a 29 February birthday falls in a year
    #: without 29 February, for a fact that counts birthdays (``whole_years_between``); with its place.
    leap_day_birthday: str | None = None
    leap_day_span: Span | None = attrs.field(default=None, eq=False, repr=False)
    span: Span = _span
    path_span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ChoiceOption(Fieldwise):
    """``option gp en "a GP" nl "huisarts"``."""

    code: str
    words: tuple[Explain, ...]
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ChoiceDecl(Fieldwise):
    """``choice prescriber_kind option … end``: the codes a choice fact accepts, with their words."""

    name: str
    options: tuple[ChoiceOption, ...]
    span: Span = _span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Section(Fieldwise):
    """``section insured explain en "the insured person" end``: the words of a section of the case file."""

    path: str
    explains: tuple[Explain, ...]
    #: ``all or none``: once the section is written, every fact in it is.
    all_or_none: bool
    span: Span = _span


Item = Policy | Layer | Decision | Definition | Parameter | Rule | Table | Warning | Fact | ChoiceDecl | Section


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RuleFile(Fieldwise):
    """One parsed rule file."""

    source: SourceFile = attrs.field(eq=False, repr=False)
    items: tuple[Item, ...]
