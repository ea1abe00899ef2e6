"""The facts of a case, read from their declarations in the rule files (``fact``, ``choice``, ``section``).

The statutory layer declares the contract's case (``rules/statutory/facts.rxp``); an insurer layer may
declare facts of its own. :func:`read_facts` turns the declarations of a policy's layers into one
:class:`CaseSchema`: each fact's path, type, default, limits and the words explanations use for it
(in English and Dutch: a yes/no fact a sentence for each answer, any other fact a noun), each choice's
codes with their words, and the roles the engine needs without knowing the domain: which date decides
the rules in force (and from which periods are laid), and which facts `fits within` reads for "or the
smallest pack" and "or one course". The checker, the case loader, the explorer, the what-if search,
the renderers, the JSON Schema of a case and the docs' field table all read this one schema.

Facts computed from others name a built-in function (:data:`BUILTINS`): each needs a date part (the
year of a date) that the rule language cannot express yet.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from calendar import isleap
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from rxpolicy.language import ast
from rxpolicy.language import types as t
from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean
from rxpolicy.language.source import Span
from rxpolicy.language.types import Kind, Type
from rxpolicy.language.values import (DEFAULT_LEAP_DAY_BIRTHDAY, LEAP_DAY_BIRTHDAYS, add_months, is_money, number_text,
                                      whole_years_between)

__all__ = ["BUILTINS", "Builtin", "CaseSchema", "Choice", "FieldSpec", "FactRef", "read_facts", "statutory_facts",
           "LANGUAGES", "field_index"]

LANGUAGES = ("en", "nl")
_TYPES = MappingProxyType({"yes or no": t.BOOL, "money": t.MONEY, "number": t.NUMBER, "date": t.DATE,
                           "text": t.TEXT, "ATC code": t.ATC})


#: For the explorer: given a value the result is compared with and the day the rules are in force, which
#: argument to vary, the values of it around the threshold, and whether they meet every outcome of the test.
Inverse = Callable[[int, dt.date], tuple[int, tuple[object, ...], bool]]


@attrs.frozen
class Builtin:
    """A function a computed fact may name: the kinds of the facts it takes, what it gives, and why it is built in."""

    parameters: tuple[Kind, ...]
    result: t.Type
    function: Callable[..., object] = attrs.field(eq=False, repr=False)
    why: str
    inverse: Inverse | None = attrs.field(default=None, eq=False, repr=False)
    #: Whether it counts birthdays, so a fact computed by it may say where a 29 February birthday falls
    #: (``leap day birthday on 1 March``); the function then takes that reading as ``leap_day``.
    counts_birthdays: bool = False
    #: Whether it takes one date and depends only on its year: the case builder then reads it from a table of
    #: the years rxpolicy works with instead of calling it for every case.
    of_year: bool = False


def _birthdays(value: int, day: dt.date) -> tuple[int, tuple[object, ...], bool]:
    """Dates of birth that give an age just under, at and over ``value`` on ``day``."""
    return 0, tuple(add_months(day, -12 * k) for k in (value - 1, value, value + 1) if k >= 0), True


def _insured_starts(value: int, day: dt.date) -> tuple[int, tuple[object, ...], bool]:
    """Starts of the insurance that give about ``value`` days in ``day``'s year with the default end; other
    pairs of dates are not tried, so nothing is claimed complete."""
    end = dt.date(day.year, 12, 31)
    return 0, tuple(end - dt.timedelta(days=k - 1) for k in (value - 1, value, value + 1) if k >= 1), False


def _days_insured_in_year(insured_from: dt.date, insured_until: dt.date, on: dt.date) -> int:
    # The period cut to the year of `on`; most periods lie within it, and then no date is built.
    year = on.year
    first_day = insured_from if insured_from.year >= year else dt.date(year, 1, 1)
    last_day = insured_until if insured_until.year <= year else dt.date(year, 12, 31)
    return max(0, (last_day - first_day).days + 1)


#: The functions computed facts may name. Each needs the year of a date, which the language cannot take yet.
BUILTINS: Mapping[str, Builtin] = MappingProxyType({
    "whole_years_between": Builtin((Kind.DATE, Kind.DATE), t.NUMBER, whole_years_between,
                                   "whole years, a 29 February birthday where the fact says (`leap day birthday`)",
                                   _birthdays, counts_birthdays=True),
    "days_insured_in_year": Builtin((Kind.DATE, Kind.DATE, Kind.DATE), t.NUMBER, _days_insured_in_year,
                                    "the days of a period that fall in the year of a date", _insured_starts),
    "days_in_year": Builtin((Kind.DATE,), t.NUMBER, lambda on: 366 if isleap(on.year) else 365, "365 or 366",
                            of_year=True),
    "start_of_year": Builtin((Kind.DATE,), t.DATE, lambda on: dt.date(on.year, 1, 1), "1 January of a date's year",
                             of_year=True),
    "end_of_year": Builtin((Kind.DATE,), t.DATE, lambda on: dt.date(on.year, 12, 31), "31 December of a date's year",
                           of_year=True),
})


#: The birthday-counting built-ins with each reading of a 29 February birthday bound, made once. The default
#: reading is each function's own default, so the common case calls it directly (a partial costs ~0.5 µs a case).
_BIRTHDAY_FUNCTIONS: Mapping[tuple[str, str], Callable[..., object]] = MappingProxyType({
    (name, leap_day): builtin.function if leap_day == DEFAULT_LEAP_DAY_BIRTHDAY
    else functools.partial(builtin.function, leap_day=leap_day)
    for name, builtin in BUILTINS.items() if builtin.counts_birthdays for leap_day in LEAP_DAY_BIRTHDAYS})


@attrs.frozen
class Choice:
    """A declared choice (the prescriber kinds, the routes, …) with the words explanations use for each code.

    The contract's codes stay in cases, rules and JSON; people read the words. English words carry their
    article where a sentence needs one ("the prescriber is a GP"); Dutch words read right after "is"
    ("de voorschrijver is huisarts", "de toedieningsweg is nasaal").
    """

    #: The name as declared (``prescriber_kind``).
    name: str
    #: Code → words per language (``{"en": ..., "nl": ...}``), in declaration order.
    words: Mapping[str, Mapping[str, str]]

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes, in declaration order."""
        return tuple(self.words)

    @property
    def label(self) -> str:
        """The choice as messages name it (``prescriber kind``)."""
        return self.name.replace("_", " ")


@attrs.frozen
class FactRef:
    """A default that is another fact's value (``default start_of_year``)."""

    path: str


@attrs.frozen(kw_only=True)
class FieldSpec:
    """One fact of a case: its path, type, default, limits and how explanations word it."""

    path: str
    type: t.Type
    #: A value, a :class:`FactRef`, or None (unknown, or no default for a required fact).
    default: object = None
    required: bool = False
    #: Open choices accept any text in a case; the listed codes are the ones rules may name.
    open_choice: bool = False
    #: Yes/no facts: the sentence when true and when false, per language.
    yes: Mapping[str, str] = attrs.field(factory=dict)
    no: Mapping[str, str] = attrs.field(factory=dict)
    #: Other facts: a noun phrase, per language.
    noun: Mapping[str, str] = attrs.field(factory=dict)
    #: Computed facts name a built-in and the facts it takes; a case never writes them.
    computed_by: str | None = None
    arguments: tuple[str, ...] = ()
    #: Documentation: what the fact means, and its term per language.
    meaning: str = ""
    terms: Mapping[str, str] = attrs.field(factory=dict)
    #: The value a message shows in an example line (``born_on: 1961-07-02``).
    example: str | None = None
    #: Limits beyond the type: the least value (with the reason a message gives), whole days or months, the
    #: values one may choose, and whether it must be one of the policy's plans.
    at_least: Decimal | None = None
    at_least_reason: str | None = None
    at_most: Decimal | None = None
    at_most_reason: str | None = None
    whole: str | None = None
    allowed: tuple[object, ...] = ()
    one_of_plans: bool = False
    #: Dates this one may not be before (``False``) or after (``True``), with the reason.
    orders: tuple[tuple[str, bool, str | None], ...] = ()
    #: Why no one can change it at the counter (``fixed because "…"``): a what-if never proposes it.
    fixed: str | None = None
    #: A fact that counts birthdays: where a 29 February birthday falls in a common year (``1 March`` unless
    #: the fact says ``leap day birthday on 28 February``); None for any other fact.
    leap_day_birthday: str | None = None
    #: The layer that declared it, and where.
    layer: str = ""
    span: Span | None = attrs.field(default=None, eq=False)

    @property
    def derived(self) -> bool:
        """Whether the fact is computed from others (never written in a case)."""
        return self.computed_by is not None

    @property
    def name(self) -> str:
        """The last part of the path, as a case file writes it under its section."""
        return self.path.rpartition(".")[2]

    def default_in(self, get: Callable[[str], object]) -> object:
        """The default value, reading another fact through ``get`` where the default names one."""
        return get(self.default.path) if isinstance(self.default, FactRef) else self.default

    @property
    def compute(self) -> Callable[..., object]:
        """A computed fact's function, with the fact's own readings (``leap day birthday``) bound: called with
        the values of :attr:`arguments`. Every stage that computes the fact (the case builder and checker,
        the columns, the explorer) calls this one."""
        assert self.computed_by is not None, f"{self.path} is not computed"
        if self.leap_day_birthday is not None:
            return _BIRTHDAY_FUNCTIONS[self.computed_by, self.leap_day_birthday]
        return BUILTINS[self.computed_by].function


@attrs.frozen(kw_only=True)
class CaseSchema:
    """Every fact of a case for one policy, in declaration order (the order of a case's values)."""

    fields: Mapping[str, FieldSpec]
    choices: Mapping[str, Choice]
    #: Section path → its words per language (every section a fact lives in is listed, words or not).
    sections: Mapping[str, Mapping[str, str]]
    #: Sections written with all their facts or none (``all or none``).
    all_or_none: tuple[str, ...]
    #: The date that decides the rules in force; periods of `fits within` are laid from it.
    period_date: str
    #: What `fits within` reads for "or the smallest pack" and for "or one course" (None: not declared).
    smallest_pack: str | None
    one_course: str | None
    index: Mapping[str, int] = attrs.field(eq=False, repr=False)
    fingerprint: str = attrs.field(eq=False)

    @property
    def written(self) -> tuple[str, ...]:
        """The facts a case writes, in order."""
        return tuple(p for p, s in self.fields.items() if not s.derived)

    @property
    def derived(self) -> tuple[str, ...]:
        """The facts computed from others, in order."""
        return tuple(p for p, s in self.fields.items() if s.derived)

    @property
    def leap_day_birthday(self) -> str:
        """Where a 29 February birthday falls in a common year, for the whole policy: what its facts that count
        birthdays declare (the reader refuses two readings), else the default, 1 March. ``birthday(…)`` in a
        rule lays birthdays by it, so an 18th birthday and the age always agree."""
        return next((s.leap_day_birthday for s in self.fields.values() if s.leap_day_birthday is not None),
                    DEFAULT_LEAP_DAY_BIRTHDAY)

    @property
    def period_index(self) -> int:
        """Position of the period date in a case's values."""
        return self.index[self.period_date]

    def field_index(self, path: str) -> int:
        """Position of a fact in a case's value tuple (the compiled rules read values by position)."""
        return self.index[path]

    def sources(self, path: str) -> tuple[str, ...]:
        """The written facts a fact comes from: itself, or for a computed one the facts it is computed from,
        leaving out the period date (fixed for a day's rules)."""
        spec = self.fields[path]
        if path == self.period_date:
            return ()
        if not spec.derived:
            return (path,)
        return tuple(s for a in spec.arguments for s in self.sources(a))

    def choice_words(self, label: str, code: str, lang: str) -> str | None:
        """The words for one code of the choice labelled ``label`` (``"route"``, ``"nasal"`` → ``"nasaal"``).

        None when the choice or the code is not declared, e.g. the free text of an open choice.
        """
        choice = next((c for c in self.choices.values() if c.label == label), None)
        words = choice.words.get(code) if choice is not None else None
        if words is None:
            return None
        return words.get(lang) or words["en"]


# ----------------------------------------------------------------------------- reading the declarations

class _Reader:
    """Reads the fact, choice and section declarations of a policy's layers, collecting every problem."""

    def __init__(self) -> None:
        self.problems: list[Diagnostic] = []
        self.choices: dict[str, tuple[Choice, ast.ChoiceDecl]] = {}
        self.facts: dict[str, tuple[ast.Fact, str]] = {}
        self.sections: dict[str, ast.Section] = {}

    def problem(self, code: str, span: Span | None, message: str, help: str,
                related: tuple[tuple[str, Span], ...] = ()) -> None:
        self.problems.append(Diagnostic(code=code, span=span, message=message, help=help, related=related))

    def twice(self, what: str, name: str, span: Span, first: Span) -> None:
        self.problem("RX301", span, f"the {what} `{name}` is already declared at {first}",
                     "give one of them another name, or remove the copy", related=(("first declared here", first),))

    def collect(self, items: Iterable[tuple[str, ast.Item]]) -> None:
        for layer, item in items:
            if isinstance(item, ast.ChoiceDecl):
                if item.name in self.choices:
                    self.twice("choice", item.name, item.span, self.choices[item.name][1].span)
                    continue
                self.choices[item.name] = (self.choice(item), item)
            elif isinstance(item, ast.Fact):
                if item.path in self.facts:
                    self.twice("fact", item.path, item.path_span, self.facts[item.path][0].path_span)
                    continue
                self.facts[item.path] = (item, layer)
            elif isinstance(item, ast.Section):
                if item.path in self.sections:
                    self.twice("section", item.path, item.span, self.sections[item.path].span)
                    continue
                self.sections[item.path] = item

    def choice(self, item: ast.ChoiceDecl) -> Choice:
        words: dict[str, Mapping[str, str]] = {}
        for option in item.options:
            if option.code in words:
                self.problem("RX380", option.span, f"the choice `{item.name}` lists `{option.code}` twice",
                             "keep one `option` line per code")
                continue
            texts = {w.lang: w.text for w in option.words}
            self.words_problems(texts, option.span, f"the option `{option.code}` of `{item.name}`",
                                f'write `option {option.code} en "…" nl "…"`')
            words[option.code] = MappingProxyType(texts)
        return Choice(item.name, MappingProxyType(words))

    def words_problems(self, texts: Mapping[str, str], span: Span, what: str, fix: str) -> None:
        for lang in texts:
            if lang not in LANGUAGES:
                self.problem("RX313", span, f"`{lang}` is not a language explanations are written in",
                             "write `en` or `nl`")
        if "en" not in texts:
            self.problem("RX380", span, f"{what} has no English words", fix)

    # ------------------------------------------------------------------ one fact
    def fact_type(self, item: ast.Fact) -> t.Type:
        ref = item.type
        if not ref.choice:
            base = _TYPES.get(ref.words, t.NOTHING)
        else:
            found = self.choices.get(ref.words)
            if found is None:
                guess = did_you_mean(ref.words, [*self.choices, *_TYPES])
                self.problem("RX204", ref.span, f"`{ref.words}` is neither a type nor a declared choice",
                             f"did you mean `{guess}`?" if guess else
                             "write one of: " + ", ".join(_TYPES) + ", or declare it with `choice … end`")
                return t.NOTHING
            choice = found[0]
            if ref.list_of:
                return t.list_type(choice.label, choice.codes, choice.words)
            base = t.enum_type(choice.label, choice.codes, words=choice.words)
        return base.maybe() if ref.nullable else base

    def constant(self, item: ast.Fact, typ: t.Type, expr: ast.Expr, what: str) -> object:
        """The value of a literal written for a fact (a default or an allowed value), or a problem."""
        if isinstance(expr, ast.Name) and typ.kind is Kind.ENUM and len(expr.parts) == 1:
            if expr.dotted in typ.choices:
                return expr.dotted
            self.problem("RX380", expr.span, f"the {what} of `{item.path}` is `{expr.dotted}`, which is not a "
                         f"{typ.name}", "write one of: " + ", ".join(typ.choices))
            return None
        if not isinstance(expr, ast.Literal):
            self.problem("RX380", expr.span, f"the {what} of `{item.path}` must be written out, like `0.00 EUR` "
                         "or `yes`", "write the value itself")
            return None
        if expr.kind is ast.LiteralKind.NOT_APPLICABLE and typ.nullable:
            return None
        fits = {ast.LiteralKind.BOOL: Kind.BOOL, ast.LiteralKind.MONEY: Kind.MONEY,
                ast.LiteralKind.NUMBER: Kind.NUMBER, ast.LiteralKind.DATE: Kind.DATE,
                ast.LiteralKind.TEXT: Kind.TEXT}.get(expr.kind)
        if fits is not typ.kind and not (fits is Kind.TEXT and typ.kind in (Kind.ATC, Kind.ENUM)):
            self.problem("RX380", expr.span, f"the {what} of `{item.path}` is a {expr.kind.value}, but the fact is "
                         f"a {typ}", f"write a {typ.known()} value")
            return None
        value = expr.value
        if typ.kind is Kind.NUMBER and isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        if typ.kind is Kind.ENUM and value not in typ.choices:
            self.problem("RX380", expr.span, f"the {what} of `{item.path}` is `{value}`, which is not a {typ.name}",
                         "write one of: " + ", ".join(typ.choices))
            return None
        return value

    def spec(self, item: ast.Fact, layer: str) -> FieldSpec:
        typ = self.fact_type(item)
        where = item.path_span
        if item.computed_by is not None and (item.required or item.default is not None):
            self.problem("RX380", where, f"`{item.path}` is computed, so it has no default and is never required",
                         "remove `required` and `default`, or remove `computed by`")
        if item.required and item.default is not None:
            self.problem("RX380", item.default.span, f"`{item.path}` is required, so it has no default",
                         "remove the `default`, or remove `required`")
        allowed = tuple(self.constant(item, typ, e, "allowed value") for e in item.allowed)
        default: object = None
        if item.default is not None and not item.required:
            expr = item.default
            if isinstance(expr, ast.Name) and expr.dotted in self.facts and expr.dotted != item.path:
                default = FactRef(expr.dotted)
            elif isinstance(expr, ast.Name) and not (typ.kind is Kind.ENUM and len(expr.parts) == 1):
                guess = did_you_mean(expr.dotted, list(self.facts))
                self.problem("RX380", expr.span, f"the default of `{item.path}` names `{expr.dotted}`, which is not "
                             "a fact", f"did you mean `{guess}`?" if guess else "write a value, or the name of a fact")
            else:
                default = self.constant(item, typ, expr, "default")
                if allowed and default not in allowed and default is not None:
                    self.problem("RX380", expr.span, f"the default of `{item.path}` ({_shown(default, typ)}) is not "
                                 "one of its allowed values", "write one of: " + ", ".join(_shown(a, typ) for a in allowed))
        elif (not item.required and item.computed_by is None and item.default is None and not typ.nullable
              and typ.kind is not Kind.LIST and typ.kind is not Kind.NOTHING):
            self.problem("RX380", where, f"`{item.path}` has no default and is not required",
                         "add `required`, or `default …` with the value a case that leaves it out has, "
                         "or make it `, or unknown`")
        if typ.kind is Kind.LIST and default is None:
            default = ()
        if item.computed_by is not None:
            self.builtin(item, typ)
        self.sentences(item, typ)
        for limit, value in (("at least", item.at_least), ("at most", item.at_most)):
            if value is not None and typ.kind not in (Kind.NUMBER, Kind.MONEY):
                self.problem("RX380", where, f"`{limit}` needs a number or money fact, and `{item.path}` is a {typ}",
                             f"remove `{limit}`")
        if item.whole is not None and typ.kind is not Kind.NUMBER:
            self.problem("RX380", where, f"`counts whole {item.whole}` needs a number fact, and `{item.path}` is a "
                         f"{typ}", "remove `counts whole …`")
        if item.one_of_plans and typ.kind is not Kind.TEXT:
            self.problem("RX380", where, f"`one of the plans` needs a text fact, and `{item.path}` is a {typ}",
                         "remove `one of the plans`")
        builtin = BUILTINS.get(item.computed_by or "")
        counts_birthdays = builtin is not None and builtin.counts_birthdays
        if item.leap_day_birthday is not None and not counts_birthdays:
            counting = ", ".join(f"`{n}`" for n, b in BUILTINS.items() if b.counts_birthdays)
            self.problem("RX380", item.leap_day_span or where, f"`leap day birthday` says where a 29 February "
                         f"birthday falls, and `{item.path}` counts no birthdays", "remove it, or write it on a fact "
                         f"computed by {counting} (such as `insured.age`)")
        return FieldSpec(
            path=item.path, type=typ, default=default, required=item.required, open_choice=item.type.open,
            yes=MappingProxyType({e.lang: e.text for e in item.if_yes}),
            no=MappingProxyType({e.lang: e.text for e in item.if_no}),
            noun=MappingProxyType({e.lang: e.text for e in item.explains}),
            computed_by=item.computed_by, arguments=item.arguments, meaning=item.meaning or "",
            terms=MappingProxyType({e.lang: e.text for e in item.terms}), example=item.example,
            at_least=item.at_least if isinstance(item.at_least, Decimal) else None,
            at_least_reason=item.at_least_reason, whole=item.whole,
            at_most=item.at_most if isinstance(item.at_most, Decimal) else None, at_most_reason=item.at_most_reason,
            allowed=tuple(a for a in allowed if a is not None), one_of_plans=item.one_of_plans,
            orders=tuple((o.other, o.after, o.reason) for o in item.orders), fixed=item.fixed,
            leap_day_birthday=(item.leap_day_birthday or DEFAULT_LEAP_DAY_BIRTHDAY) if counts_birthdays else None,
            layer=layer, span=item.span)

    def builtin(self, item: ast.Fact, typ: t.Type) -> None:
        name = item.computed_by
        assert name is not None
        builtin = BUILTINS.get(name)
        if builtin is None:
            guess = did_you_mean(name, list(BUILTINS))
            self.problem("RX380", item.path_span, f"`{name}` is not a built-in function a fact can be computed by",
                         f"did you mean `{guess}`?" if guess else "use one of: " + ", ".join(BUILTINS))
            return
        if len(item.arguments) != len(builtin.parameters):
            self.problem("RX380", item.path_span, f"`{name}` takes {len(builtin.parameters)} facts, not "
                         f"{len(item.arguments)}", f"write `computed by {name}(…)` with "
                         f"{len(builtin.parameters)} facts")
        for argument, kind in zip(item.arguments, builtin.parameters):
            found = self.facts.get(argument)
            if found is None:
                guess = did_you_mean(argument, list(self.facts))
                self.problem("RX380", item.path_span, f"`{name}` of `{item.path}` names `{argument}`, which is not "
                             "a fact", f"did you mean `{guess}`?" if guess else "name a declared fact")
            elif found[0].type.words != _kind_words(kind) or found[0].type.nullable:
                self.problem("RX380", item.path_span, f"`{name}` takes a {kind.value} that is always known, and "
                             f"`{argument}` is not", f"name a {kind.value} fact")
        if typ.kind is not Kind.NOTHING and not typ.same_values(builtin.result):
            self.problem("RX380", item.type.span, f"`{name}` gives a {builtin.result}, but `{item.path}` is a {typ}",
                         f"declare `{item.path}: {_kind_words(builtin.result.kind)}`")

    def sentences(self, item: ast.Fact, typ: t.Type) -> None:
        if typ.kind is Kind.BOOL:
            if item.explains:
                self.problem("RX380", item.explains[0].span, f"`{item.path}` is a yes/no fact: its words are a "
                             "sentence for each answer", 'write `if yes en "…"` and `if no en "…"` instead')
            for kind, texts in (("yes", item.if_yes), ("no", item.if_no)):
                words = {e.lang: e.text for e in texts}
                self.words_problems(words, item.path_span, f"`{item.path}` (when {kind})",
                                    f'add `if {kind} en "…"`: the sentence when the fact is {kind}')
        else:
            if item.if_yes or item.if_no:
                span = (item.if_yes or item.if_no)[0].span
                self.problem("RX380", span, f"`if yes` and `if no` are for yes/no facts, and `{item.path}` is a {typ}",
                             'write `explain en "…"` with a noun for the fact')
            self.words_problems({e.lang: e.text for e in item.explains}, item.path_span, f"`{item.path}`",
                                'add `explain en "…"`: the fact in words, e.g. "the date of birth"')

    # ------------------------------------------------------------------ the whole schema
    def schema(self) -> CaseSchema | None:
        specs = {path: self.spec(item, layer) for path, (item, layer) in self.facts.items()}
        for path, spec in specs.items():
            item = self.facts[path][0]
            for other, after, _ in spec.orders:
                target = specs.get(other)
                if target is None or target.type.kind is not Kind.DATE or spec.type.kind is not Kind.DATE:
                    self.problem("RX380", item.path_span, f"`{path}` is ordered against `{other}`, but both must be "
                                 "date facts", "name a declared date fact after `not before` / `not after`")
            prefix = path + "."
            inside = next((p for p in specs if p.startswith(prefix)), None)
            if inside is not None:
                self.problem("RX380", item.path_span, f"`{path}` is a fact and also the section of `{inside}`",
                             "give the fact or the section another name")
        self.default_cycles(specs)
        sections = sorted({p.rpartition(".")[0] for p in specs if "." in p} |
                          {p.rpartition(".")[0] for s in specs for p in _prefixes(s)} - {""}, key=_section_order(specs))
        for path, section in self.sections.items():
            if path not in sections:
                self.problem("RX380", section.span, f"the section `{path}` holds no fact",
                             "declare its facts as `fact <section>.<name>: …`, or remove the section")
        period = [p for p, (item, _) in self.facts.items() if item.period_date]
        for extra in period[1:]:
            self.problem("RX380", self.facts[extra][0].path_span, f"`{extra}` and `{period[0]}` both say they decide "
                         "the rules in force", "keep `decides the rules in force` on one date fact")
        roles: dict[str, str] = {}
        for path, (item, _) in self.facts.items():
            role = item.stands_for
            if role is None:
                continue
            if role in roles:
                self.problem("RX380", item.path_span, f"`{path}` and `{roles[role]}` both stand for {role}",
                             "keep `stands for` on one fact")
            want = Kind.BOOL if role == "the smallest pack" else Kind.NUMBER
            if specs[path].type.kind is not want:
                self.problem("RX380", item.path_span, f"what stands for {role} is a {want.value}, and `{path}` is a "
                             f"{specs[path].type}", "remove `stands for`, or declare the fact with that type")
            roles.setdefault(role, path)
        readings = [(p, s.leap_day_birthday) for p, s in specs.items() if s.leap_day_birthday is not None]
        for path, reading in readings[1:]:
            if reading != readings[0][1]:
                item = self.facts[path][0]
                self.problem("RX380", item.leap_day_span or item.path_span, f"`{path}` lays a 29 February birthday "
                             f"on {reading}, and `{readings[0][0]}` on {readings[0][1]}: one policy counts birthdays "
                             "one way", f"write `leap day birthday on {readings[0][1]}` on both, or the other reading "
                             "on both")
        if not specs:
            return None
        if not period:
            first = next(iter(self.facts.values()))[0]
            self.problem("RX380", first.path_span, "no fact says it decides the rules in force",
                         "add `decides the rules in force` to the date a case is judged on (the dispensing date)")
            return None
        if specs[period[0]].type != t.DATE:
            self.problem("RX380", self.facts[period[0]][0].path_span, f"`{period[0]}` decides the rules in force, so "
                         "it must be a date that is always known", "declare it `: date` and `required`")
        fields = MappingProxyType(specs)
        digest = hashlib.sha256()
        for spec in specs.values():
            digest.update(repr(attrs.evolve(spec, span=None, layer="")).encode())
        # Everything else that decides what a valid case is: caches of readers and checkers are keyed on the
        # fingerprint, so two schemas with one fingerprint must accept and refuse the same cases.
        all_or_none = tuple(s for s, d in self.sections.items() if d.all_or_none)
        digest.update(repr((sorted((n, c.codes) for n, (c, _) in self.choices.items()), all_or_none, period[0],
                            roles.get("the smallest pack"), roles.get("one course"))).encode())
        return CaseSchema(
            fields=fields, choices=MappingProxyType({n: c for n, (c, _) in self.choices.items()}),
            sections=MappingProxyType({s: MappingProxyType({e.lang: e.text for e in self.sections[s].explains})
                                       if s in self.sections else MappingProxyType({}) for s in sections}),
            all_or_none=all_or_none,
            period_date=period[0], smallest_pack=roles.get("the smallest pack"), one_course=roles.get("one course"),
            index=MappingProxyType({p: i for i, p in enumerate(specs)}), fingerprint=digest.hexdigest())

    def default_cycles(self, specs: Mapping[str, FieldSpec]) -> None:
        """A default that names a fact whose value needs this one (through defaults and computations)."""
        def needs(path: str) -> tuple[str, ...]:
            spec = specs[path]
            if spec.derived:
                return spec.arguments
            return (spec.default.path,) if isinstance(spec.default, FactRef) else ()

        for start in specs:
            trail, todo = [start], list(needs(start))
            seen: set[str] = set()
            while todo:
                path = todo.pop()
                if path == start:
                    item = self.facts[start][0]
                    self.problem("RX350", item.path_span, f"the value of `{start}` depends on itself",
                                 "give it a default written out, or compute it from other facts")
                    break
                if path in seen or path not in specs:
                    continue
                seen.add(path)
                trail.append(path)
                todo.extend(needs(path))


def _prefixes(path: str) -> list[str]:
    parts = path.split(".")
    return [".".join(parts[:i]) + "." for i in range(1, len(parts))]


def _section_order(specs: Mapping[str, FieldSpec]) -> Callable[[str], int]:
    order = list(specs)

    def key(section: str) -> int:
        return next(i for i, p in enumerate(order) if p.startswith(section + "."))
    return key


def _kind_words(kind: Kind) -> str:
    return {Kind.BOOL: "yes or no", Kind.ATC: "ATC code"}.get(kind, kind.value)


def _shown(value: object, typ: Type) -> str:
    """A value as the fact's declaration writes it: money with ``EUR`` (by the fact's type: a number of two
    decimals is no amount), a percentage with ``%``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal) and is_money(value, typ):
        return f"{value} EUR"
    if isinstance(value, Decimal):
        return number_text(value) + (" %" if typ.kind is Kind.PERCENT else "")
    return str(value)


def read_facts(items: Iterable[tuple[str, ast.Item]]) -> tuple[CaseSchema | None, list[Diagnostic]]:
    """The case schema declared by ``(layer name, item)`` pairs, in layer order, with every problem found.

    The schema is None when nothing is declared (a layer checked on its own) or a problem leaves it unusable.
    """
    reader = _Reader()
    reader.collect(items)
    schema = reader.schema()
    return schema, reader.problems


@functools.cache
def statutory_facts() -> CaseSchema:
    """The facts the built-in statutory layer declares: the contract's case, used where no policy is named."""
    from rxpolicy.language.grammar import package_data_dir
    from rxpolicy.language.lower import parse_rule_file
    from rxpolicy.language.source import SourceFile

    items: list[tuple[str, ast.Item]] = []
    for path in sorted((package_data_dir("rules") / "statutory").glob("*.rxp")):
        parsed = parse_rule_file(SourceFile(path=f"rules/statutory/{path.name}", text=path.read_text("utf-8")))
        items.extend(("statutory", item) for item in parsed.items)
    schema, problems = read_facts(items)
    if problems or schema is None:
        raise RxError(problems or [Diagnostic(code="RX380", message="the statutory layer declares no facts",
                                               help="reinstall rxpolicy")])
    return schema


# ----------------------------------------------------------------------------- the contract's case

#: Names this module answers for the statutory layer's facts (read on first use, see :func:`__getattr__`).
_STATUTORY_NAMES: Mapping[str, Callable[[CaseSchema], object]] = {
    "FIELDS": lambda s: s.fields, "DERIVED": lambda s: s.derived, "WRITTEN": lambda s: s.written,
    "SECTIONS": lambda s: tuple(s.sections),
    "CHOICES": lambda s: MappingProxyType({c.label: c for c in s.choices.values()}),
    "PRESCRIBER_KINDS": lambda s: s.choices["prescriber_kind"].codes,
    "INDICATION_CODES": lambda s: s.choices["indication_code"].codes,
    "ROUTES": lambda s: s.choices["route"].codes, "PURPOSES": lambda s: s.choices["purpose"].codes,
    "DIETARY": lambda s: s.choices["dietary_preparation"].codes,
    "AUTHORISATION_DATES": lambda s: tuple(p for p in s.written if p.rpartition(".")[0] in s.all_or_none),
}


def __getattr__(name: str) -> Any:
    """The statutory layer's facts under the names the case schema had when it was Python data
    (``FIELDS``, ``PRESCRIBER_KINDS``, …): for tests and scripts about the contract's case. Code that
    works for any policy reads ``policy.facts`` instead."""
    if name in _STATUTORY_NAMES:
        return _STATUTORY_NAMES[name](statutory_facts())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def field_index(path: str) -> int:
    """Position of a fact of the contract's case (the statutory layer's facts) in a case's values."""
    return statutory_facts().field_index(path)
