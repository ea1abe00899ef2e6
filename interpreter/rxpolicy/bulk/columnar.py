"""The columnar fast path: a compiled policy's periods as vectorised Polars expressions over a chunk of claims.

Each period's checked AST (the same rules, exceptions, tables and folded constants the per-case code generator
uses, through :class:`rxpolicy.engine.codegen.FunctionWriter`) becomes one Polars expression per decision value
and deciding-rule list; a chunk of claims is then evaluated at once. Nothing here knows what a medicine is: the
compiler works from the AST's node types and the declared types of fields, and names no field but the dispensing
date and the two the supply-limit test takes (as the per-case generator does).

**A decision's rules.** Every rule test is a column computed once. The rules that decide a value are grouped
by the constant they give (rules giving the same constant agree whichever of them applies), so a claim is
undecided where no group or more than one applies; a value computed per claim is a group of its own, compared
with the chosen value. The deciding rules are a bit pattern, turned into rule ids once per distinct pattern.
Dates some months on are computed once per date column: those of the dispensing date once per day of a closed
period, those of other dates (and whether a date is 29 February) read from tables of the calendar's 400-year
cycle, after which its dates repeat.

**Exact money.** Every number is an integer column with a scale known when compiling (money: cents, scale 2; a
percentage multiplies the scale); sums align scales, products add them. A division is kept as a fraction
(numerator, denominator) and may only be rounded (``rounded half up to whole euros``), which is done in integers
with the rounding mode written; the per-case evaluator rounds the 28-digit decimal quotient instead, which gives
the same result because these quotients have small denominators, so no quotient lies within 10⁻²⁰ of a tie
without being one. A fraction used anywhere else, a money decision with more than two decimals, a duration that
is not a constant, a parameter not in force: the period is *unsupported* and its claims go per case (said once).

**Rows the columns do not decide** go to the per-case evaluator, which gives them their exact result or error
row: a claim that is not certainly a valid case (see :mod:`rxpolicy.bulk.columnar_input`), one dispensed outside
every period, and one where the columns find no rule or disagreeing rules for a decision, or divide by zero.
Decision values and deciding rules are therefore the per-case evaluator's on every row; the differential test
(``tests/unit/test_columnar.py``) checks it on 100,000 claims that reach every rule of both built-in policies.

**Output.** The plan gives numbers only (the outcome as an index, hit patterns, duration codes, cents), which go
to Arrow without a copy. A closed-set text column (the outcome, the rule columns, a decision of constant texts)
is a dictionary column with the policy's fixed dictionary (:mod:`rxpolicy.bulk.dictionaries`): its codes become
16-bit indices into that dictionary by one take from a small table, and no text is copied. Other texts are
indices into a few texts until the rows are in record order, then copied once; cents become ``decimal128(12, 2)`` by reading the exact whole-decimal cast with scale 2. A chunk whose
claims the columns may evaluate are all in one period (and at least half of it) is evaluated whole, its refused
claims too, and the per-case rows then replace theirs in place (a column they leave empty, as error rows leave
the decisions, is only marked null there; see :func:`_whole_chunk`); otherwise each period's claims are filtered
out and the per-case rows put in by position (one argsort of the rows' positions). Either way the result is the
per-case path's table.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Hashable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import polars as pl

from rxpolicy.engine.codegen import FunctionWriter
from rxpolicy.engine.codegen_expr import NOT_CONSTANT
from rxpolicy.engine.compile import CompiledPolicy, Epoch
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.language import ast
from rxpolicy.language.check import SymbolKind
from rxpolicy.language.types import Kind
from rxpolicy.language.values import Duration, SupplyLimit, Unit

from .dictionaries import arrow_dictionaries

__all__ = ["ColumnarPeriod", "ColumnarPolicy", "Unsupported", "compile_columnar", "field_column"]


class Unsupported(Exception):
    """A construct the columnar compiler does not translate: its period runs per case."""


def field_column(path: str) -> str:
    """The prepared column of a case field (``f:medicine.atc``), apart from the input's own columns."""
    return f"f:{path}"


@attrs.frozen
class Val:
    """A compiled value: an expression and what it holds.

    ``kind``: 'bool', 'num' (an integer column; the value is ``expr / 10**scale``, or ``expr / (den * 10**scale)``
    when ``den`` is set), 'date', 'str', 'list', 'dur' (an integer code into ``choices``, constants of the
    rules), 'null' (not applicable).
    """

    expr: pl.Expr
    kind: str
    scale: int = 0
    den: pl.Expr | None = None
    choices: tuple[object, ...] = ()
    #: The value itself when it is a constant of the rules (:data:`NOT_CONSTANT` otherwise).
    constant: object = NOT_CONSTANT
    #: False where the column is known to hold no null (a test then needs no ``fill_null``).
    nullable: bool = True


@attrs.frozen
class DecisionColumns:
    """One decision's value, which of its rules hit (a bit per rule of ``ids``) and the rows it cannot decide."""

    value: Val
    hits: pl.Expr
    ids: tuple[str, ...]
    undecided: pl.Expr
    #: What the output step works out once per policy rather than per chunk (see :meth:`every_rule_text`).
    memo: dict[Hashable, Any] = attrs.field(factory=dict, eq=False, repr=False)

    def rule_text(self, code: int) -> str | None:
        """The deciding rules of a hit pattern as the per-case path writes them (agreeing rules, once each)."""
        ids = [rule for bit, rule in enumerate(self.ids) if code >> bit & 1]
        return ", ".join(dict.fromkeys(ids)) or None

    def every_rule_text(self) -> Any:
        """The rule texts of every hit pattern, as an Arrow array indexed by the pattern, when there are at most
        ``2**_TABLED_RULES`` patterns (else None): a chunk's hit column then indexes it as it stands.

        Made once (the first chunk), kept for the others; ``""`` stands for pattern 0 (no rule, which a decided
        row never has) so the array has no nulls, which makes taking from it faster.
        """
        if "texts" not in self.memo:
            import pyarrow as pa

            fits = len(self.ids) <= _TABLED_RULES
            self.memo["texts"] = pa.array([self.rule_text(code) or "" for code in range(1 << len(self.ids))],
                                          pa.string()) if fits else None
        return self.memo["texts"]

    def every_rule_index(self, fixed: tuple[Any, Mapping[str, int]]) -> Any:
        """As :meth:`every_rule_text`, each pattern's index in the column's fixed dictionary (16 bits; null for
        pattern 0 and for a pattern of disagreeing rules, which no decided row has)."""
        key = ("indices", id(fixed))
        if key not in self.memo:  # (the dictionary is kept with its table: its id is not reused meanwhile)
            import pyarrow as pa

            fits = len(self.ids) <= _TABLED_RULES
            position = fixed[1]
            self.memo[key] = fixed, pa.array([position.get(self.rule_text(code) or "")
                                              for code in range(1 << len(self.ids))], pa.int16()) if fits else None
        return self.memo[key][1]


#: Decisions with at most this many rules have their rule texts tabled for every hit pattern (4,096 texts).
_TABLED_RULES = 12


@attrs.frozen
class ColumnarPeriod:
    """One period of a policy compiled to columns, or the reason it is not."""

    epoch: Epoch
    decisions: Mapping[str, DecisionColumns] | None
    #: Columns computed before the decisions are read (definitions, rule tests, decisions, each once), in
    #: levels: a level reads only the input and the columns of earlier levels, so each level is one
    #: ``with_columns`` whose expressions Polars evaluates side by side.
    stages: tuple[tuple[pl.Expr, ...], ...]
    #: Rows these columns must leave to the per-case evaluator (a division by zero, say).
    trouble: pl.Expr | None
    reason: str | None
    #: The prepared columns the stages, decisions and trouble read.
    inputs: tuple[str, ...] = ()
    #: Those of them that hold dates (left out of the claims the columns do not evaluate, see
    #: :func:`_whole_chunk`).
    dates: tuple[str, ...] = ()
    #: The decision the policy declares its outcome (``is the outcome``), if any: the result's ``outcome`` is its
    #: name when it is yes and ``not_`` and its name when not, as :attr:`rxpolicy.Evaluation.outcome` says.
    outcome: str | None = None
    #: The output step's expressions per selection of decisions (see :meth:`outputs`).
    memo: dict[Any, _Outputs] = attrs.field(factory=dict, eq=False, repr=False)

    def outputs(self, selection: Any, names: list[str]) -> _Outputs:
        """The expressions of the plan's outputs for a selection of decisions: built once (the first chunk) and
        kept, since building them costs ~1 ms a chunk (some 600 Polars expression parses). Expressions are
        immutable and the dict is written whole per key, so threads may share it."""
        found = self.memo.get(selection)
        if found is None:
            assert self.decisions is not None and self.trouble is not None
            undecided = pl.any_horizontal([self.decisions[n].undecided for n in names] + [self.trouble])
            found = self.memo[selection] = _Outputs(
                values=(*_outputs(self.decisions, selection, self.outcome), undecided.alias("_undecided")),
                keep=(~pl.col("_undecided") & ~_unwritable(selection)).fill_null(False),
                schema=_result_schema(selection), outcomes=_outcome_texts(self.outcome))
        return found


@attrs.frozen
class _Outputs:
    """What a period's plan gives per claim for a selection of decisions: the output columns (and
    ``_undecided``), and which claims the columns decide (read from those columns)."""

    values: tuple[pl.Expr, ...]
    keep: pl.Expr
    #: The result table's schema (the per-case path's).
    schema: Any
    #: The texts of the outcome column, indexed by the plan's outcome column (see :func:`_outcome_texts`).
    outcomes: Any


@attrs.frozen
class ColumnarPolicy:
    """A policy's periods compiled to columns."""

    policy: CompiledPolicy
    periods: tuple[ColumnarPeriod, ...]

    def unsupported(self) -> list[str]:
        """Lines saying which periods run per case, and why."""
        return [f"the period {p.epoch.start}–{p.epoch.end or '…'} of `{self.policy.name}` runs per case: "
                f"{p.reason}" for p in self.periods if p.reason]


def compile_columnar(policy: CompiledPolicy) -> ColumnarPolicy:
    """Compile every period of a policy; a period the compiler cannot translate keeps its reason."""
    periods = []
    for epoch in policy.epochs:
        try:
            compiler = _Compiler(policy, epoch)
            decisions = compiler.decisions()
            trouble = pl.any_horizontal(compiler.trouble) if compiler.trouble else pl.lit(False)
            made = {stage.meta.output_name() for stage in compiler.stages}
            read = [trouble, *compiler.stages, *(e for d in decisions.values() for e in (d.value.expr, d.hits,
                                                                                        d.undecided))]
            inputs = tuple(sorted({name for e in read for name in e.meta.root_names()} - made))
            dates = tuple(name for name in inputs if _is_date(policy, name))
            periods.append(ColumnarPeriod(epoch=epoch, decisions=decisions, stages=_levels(compiler.stages),
                                          trouble=trouble, reason=None, inputs=inputs, dates=dates,
                                          outcome=policy.outcome))
        except Unsupported as why:
            periods.append(ColumnarPeriod(epoch=epoch, decisions=None, stages=(), trouble=None, reason=str(why)))
    return ColumnarPolicy(policy=policy, periods=tuple(periods))


def _is_date(policy: CompiledPolicy, column: str) -> bool:
    """Whether a prepared column holds a fact of type date."""
    spec = policy.facts.fields.get(column.removeprefix("f:")) if column.startswith("f:") else None
    return spec is not None and spec.type.kind is Kind.DATE


def _levels(stages: list[pl.Expr]) -> tuple[tuple[pl.Expr, ...], ...]:
    """Stages grouped by how many stages they read through: level n reads only levels before it."""
    level: dict[str, int] = {}
    groups: list[list[pl.Expr]] = []
    for stage in stages:
        name = stage.meta.output_name()
        depth = 1 + max((level[r] for r in stage.meta.root_names() if r in level), default=-1)
        level[name] = depth
        if depth == len(groups):
            groups.append([])
        groups[depth].append(stage)
    return tuple(tuple(group) for group in groups)


# ------------------------------------------------------------------------------------------- constants

def _const(value: object) -> Val:
    return attrs.evolve(_literal(value), constant=value, nullable=value is None)


def _literal(value: object) -> Val:
    if value is None:
        return Val(pl.lit(None), "null")
    if isinstance(value, bool):
        return Val(pl.lit(value, pl.Boolean), "bool")
    if isinstance(value, int):
        return Val(pl.lit(value, pl.Int64), "num", 0)
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        scale = max(0, -exponent) if isinstance(exponent, int) else 0
        return Val(pl.lit(int(value.scaleb(scale)), pl.Int64), "num", scale)
    if isinstance(value, dt.date):
        return Val(pl.lit(value, pl.Date), "date")
    if isinstance(value, str):
        return Val(pl.lit(value, pl.String), "str")
    if isinstance(value, (Duration, SupplyLimit)):
        return Val(pl.lit(0, pl.Int32), "dur", choices=(value,))
    if isinstance(value, tuple):
        return Val(pl.lit(list(value), pl.List(pl.String)), "list")
    raise Unsupported(f"a constant of type {type(value).__name__}")


def _scaled(value: Val, scale: int) -> pl.Expr:
    """A whole-number value at a finer scale."""
    if value.den is not None:
        raise Unsupported("a division whose result is used before it is rounded")
    if value.kind == "null":
        return pl.lit(None, pl.Int64)
    if scale < value.scale:
        raise Unsupported("a value with more decimals than its use allows")
    return value.expr * (10 ** (scale - value.scale)) if scale > value.scale else value.expr


def _unify(values: list[Val]) -> tuple[list[pl.Expr], Val]:
    """Expressions of several values brought to one representation (for if/else and a decision's rules)."""
    kinds = {v.kind for v in values} - {"null"}
    if len(kinds) > 1:
        raise Unsupported(f"values of different kinds together ({', '.join(sorted(kinds))})")
    kind = kinds.pop() if kinds else "null"
    if kind == "num":
        scale = max(v.scale for v in values if v.kind == "num")
        return [_scaled(v, scale) for v in values], Val(pl.lit(0), "num", scale)
    if kind == "dur":
        choices: list[object] = []
        for v in values:
            for c in v.choices:
                if c not in choices:
                    choices.append(c)
        exprs = []
        for v in values:
            if v.kind == "null":
                exprs.append(pl.lit(None, pl.Int32))
            elif len(v.choices) == 1:
                exprs.append(pl.lit(choices.index(v.choices[0]), pl.Int32))
            else:
                exprs.append(v.expr.replace_strict(list(range(len(v.choices))),
                                                   [choices.index(c) for c in v.choices], return_dtype=pl.Int32))
        return exprs, Val(pl.lit(0), "dur", choices=tuple(choices))
    typed: dict[str, pl.DataType | type[pl.DataType]] = {
        "bool": pl.Boolean, "date": pl.Date, "str": pl.String, "list": pl.List(pl.String), "null": pl.Null}
    return [v.expr if v.kind != "null" else pl.lit(None, typed[kind]) for v in values], Val(pl.lit(0), kind)


def _add(day: pl.Expr, amount: int, unit: Unit) -> pl.Expr:
    if unit is Unit.DAYS:
        return day + pl.duration(days=amount)
    return day.dt.offset_by(f"{amount}mo")


#: Days in 400 years of the Gregorian calendar, after which its dates repeat.
_CYCLE = 146_097


@functools.cache
def _leap_days() -> pl.Series:
    """Per day of a 400-year cycle from 1 January 1970, whether it is 29 February (97 of them)."""
    start = dt.date(1970, 1, 1)
    days = [(dt.date(year, 2, 29) - start).days for year in range(1972, 1972 + 400)
            if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)]
    return pl.repeat(False, _CYCLE, dtype=pl.Boolean, eager=True).scatter(days, True)


@functools.cache
def _month_offsets(months: int) -> pl.Series:
    """Per day of a 400-year cycle from 1 January 1970, the days from it to the same day ``months`` on (the
    end of the month where that day does not exist): ~6 ms to make, once per process and number of months."""
    days = pl.int_range(0, _CYCLE, dtype=pl.Int32, eager=True).cast(pl.Date)
    return days.dt.offset_by(f"{months}mo").to_physical() - days.to_physical()


def _months_on(day: pl.Expr, months: int) -> pl.Expr:
    """``day`` some months on, looked up by its place in the 400-year cycle (0.3 ms per 50,000 dates;
    ``offset_by`` takes 2 ms): the calendar, and so the number of days a month offset adds, repeats."""
    physical = day.to_physical()
    return (physical + pl.lit(_month_offsets(months)).gather(physical % _CYCLE)).cast(pl.Date)


def _leap_day(day: pl.Expr) -> pl.Expr:
    """Whether a date is 29 February: looked up by its place in the 400-year cycle (0.1 ms per 50,000
    dates; its month and day would be 1.4 ms)."""
    return pl.lit(_leap_days()).gather(day.to_physical() % _CYCLE)


#: The test of a rule without `when` (recognised by identity, so that ``_both`` can leave it out).
_TRUE = pl.lit(True)


def _both(first: pl.Expr, second: pl.Expr) -> pl.Expr:
    """``first & second``, without a rule's test that always holds (one operation less per claim)."""
    return second if first is _TRUE else first if second is _TRUE else first & second


def _any(tests: list[pl.Expr]) -> pl.Expr:
    """Whether any of the tests holds (the test itself when it is alone)."""
    return tests[0] if len(tests) == 1 else pl.any_horizontal(tests)


def _select(code: pl.Expr, options: list[tuple[int, pl.Expr]]) -> pl.Expr:
    if len(options) == 1:
        return options[0][1]
    chain: Any = pl.when(code == options[0][0]).then(options[0][1])
    for number, option in options[1:]:
        chain = chain.when(code == number).then(option)
    result: pl.Expr = chain.otherwise(None)
    return result


# ------------------------------------------------------------------------------------------- the compiler

class _Compiler:
    """Compiles one period: definitions once each, decisions in dependency order."""

    def __init__(self, policy: CompiledPolicy, epoch: Epoch) -> None:
        self.policy, self.epoch = policy, epoch
        self.checked = policy.checked
        # The per-case generator's view of the period: which rules are in force, tables, exceptions, constants.
        self.writer = FunctionWriter(self.checked, policy.rules, policy.decisions, {}, epoch.start,
                                     epoch.rules_in_force, {}, "fast")
        self.definitions: dict[str, Val] = {}
        self.values: dict[str, Val] = {}
        self.trouble: list[pl.Expr] = []
        self.stages: list[pl.Expr] = []
        self.facts = policy.facts
        self.day = pl.col(field_column(self.facts.period_date))
        self.shared_columns: dict[bytes, pl.Expr] = {}

    def shared(self, value: pl.Expr) -> pl.Expr:
        """An expression several tests read (a date some months on, say) computed once, as a column."""
        key = value.meta.serialize()  # (its text would do, but Polars shortens long constants in it)
        found = self.shared_columns.get(key)
        if found is None:
            name = f"s:{len(self.shared_columns)}"
            self.stages.append(value.alias(name))
            found = self.shared_columns[key] = pl.col(name)
        return found

    def add(self, day: pl.Expr, amount: int, unit: Unit) -> pl.Expr:
        """``day`` plus a constant duration, computed once per day column and duration."""
        if not day.meta.is_column():
            return _add(day, amount, unit)
        if unit is Unit.MONTHS and day.meta.output_name() == self.day.meta.output_name() \
                and self.epoch.end is not None:
            # The claims of a closed period were dispensed on at most its days: months are added to each day
            # from the first to the last once, and read back by position (0.26 against 1.7 ms per 50,000
            # claims).
            first = day.min().fill_null(pl.lit(dt.date(1970, 1, 1), pl.Date))
            days = pl.date_range(first, day.max().fill_null(first), "1d")
            return self.shared(_add(days, amount, unit).gather((day - first).dt.total_days()))
        if unit is Unit.MONTHS:
            return self.shared(_months_on(day, amount))
        return self.shared(_add(day, amount, unit))

    def end_dates(self, value: Val, start: pl.Expr) -> pl.Expr:
        """The date each duration ends when laid from ``start`` (how durations are compared)."""
        ends = []
        for code, choice in enumerate(value.choices):
            period = choice.duration if isinstance(choice, SupplyLimit) else choice
            assert isinstance(period, Duration)
            ends.append((code, self.add(start, period.amount, period.unit)))
        return _select(value.expr, ends)

    def stage(self, name: str, value: Val) -> Val:
        """Compute a value once, as a column of its own, and refer to that column from then on."""
        self.stages.append(value.expr.alias(name))
        den = None
        if value.den is not None:
            self.stages.append(value.den.alias(name + "/den"))
            den = pl.col(name + "/den")
        return attrs.evolve(value, expr=pl.col(name), den=den)

    def column(self, name: str, test: pl.Expr) -> pl.Expr:
        """A rule's test computed once as a column of its own (a constant or another column stays what it is).

        Tests of later rules and of exceptions are built from earlier ones; as columns they are computed once,
        not again inside every test that reads them.
        """
        if test.meta.is_literal() or test.meta.is_column():  # a copy would cost a column and buy nothing
            return test
        self.stages.append(test.alias(name))
        return pl.col(name)

    def decisions(self) -> dict[str, DecisionColumns]:
        out: dict[str, DecisionColumns] = {}
        names = {d.name for d in self.policy.decisions}
        for kind, symbol in self.checked.order:
            if kind is SymbolKind.DECISION and symbol in names:
                found = self.decision(symbol)
                out[symbol] = found  # `undecided` is read once, when the decided claims are picked
                self.values[symbol] = found.value
        return out

    # ------------------------------------------------------------------ decisions
    def decision(self, name: str) -> DecisionColumns:
        hits: list[tuple[pl.Expr, Val, RuleMeta]] = []
        for number, unit in enumerate(self.writer.units(name)):
            earlier: list[pl.Expr] = []
            for row in unit:
                condition = self.column(f"c:{name}:{number}:{len(earlier)}", self.condition(row))
                applies = _both(condition, ~_any(earlier)) if earlier else condition
                self.node(row, name, applies, hits)
                earlier.append(condition)
        if not hits:
            raise Unsupported(f"no rule decides `{name}` in this period")
        if len(hits) > 62:
            raise Unsupported(f"more than 62 rules decide `{name}`")
        exprs, shape = _unify([v for _, v, _ in hits])
        masks = [mask for mask, _, _ in hits]
        # Hits that give the same constant agree whichever of them applies: one group, one test (any of them
        # applies). A value computed per claim is a group of its own, computed once as a column.
        classes: dict[object, tuple[pl.Expr, list[pl.Expr]]] = {}
        for number, ((mask, hit, _), expr) in enumerate(zip(hits, exprs)):
            if hit.constant is NOT_CONSTANT or not isinstance(hit.constant, Hashable):
                classes[number] = (self.column(f"x:{name}:{number}", expr), [mask])
            else:
                classes.setdefault((hit.kind, hit.constant), (expr, []))[1].append(mask)
        groups = [(expr, _any(group)) for expr, group in classes.values()]
        if len(groups) > 1:  # each group's test is read twice: by the value and by the conflict test
            groups = [(expr, self.column(f"k:{name}:{number}", test)) for number, (expr, test) in enumerate(groups)]
        chain: Any = pl.when(groups[0][1]).then(groups[0][0])
        for expr, test in groups[1:]:
            chain = chain.when(test).then(expr)
        value = self.stage(f"v:{name}", attrs.evolve(shape, expr=chain.otherwise(None)))
        # No rule applies, or rules that apply give different values (a conflict, which the per-case evaluator
        # reports): the claim goes per case. Distinct constants always differ, so for them it is a count.
        tests = [test for _, test in groups]
        if all(not isinstance(key, int) for key in classes):
            if len(tests) == 1:
                undecided = ~tests[0]
            elif len(tests) == 2:
                undecided = tests[0] == tests[1]
            else:
                undecided = pl.sum_horizontal([t.cast(pl.UInt8) for t in tests]) != 1
        else:
            undecided = ~pl.any_horizontal(tests) | pl.any_horizontal(
                [t & ~e.eq_missing(value.expr) for e, t in groups[1:]] or [pl.lit(False)])
        # (A when/then per bit costs less than a cast and a product: 0.45 against 1.1 ms for 17 bits.)
        code = pl.sum_horizontal([pl.when(m).then(pl.lit(1 << bit, pl.Int64)).otherwise(pl.lit(0, pl.Int64))
                                  for bit, m in enumerate(masks)])
        return DecisionColumns(value=value, hits=code, ids=tuple(r.id for _, _, r in hits), undecided=undecided)

    def condition(self, rule: RuleMeta) -> pl.Expr:
        when = rule.rule.when
        return _TRUE if when is None else self.test(when)

    def node(self, rule: RuleMeta, name: str, applies: pl.Expr, hits: list[tuple[pl.Expr, Val, RuleMeta]]) -> None:
        """The hits of a rule that applies where ``applies``: its exceptions that apply decide, else it does.

        Each hit's test becomes a column (``m:decision:n``), which exceptions and the decision's value read.
        """
        kids = self.writer.kids(rule, name)
        before = len(hits)
        for kid in kids:
            self.node(kid, name, self.column(f"a:{name}:{len(self.stages)}", _both(applies, self.condition(kid))),
                      hits)
        if name in rule.decides:
            assignment = next(a for a in rule.rule.assignments if a.decision == name)
            own = applies
            if len(hits) > before:
                own = _both(applies, ~_any([m for m, _, _ in hits[before:]]))
            hits.append((self.column(f"m:{name}:{len(hits)}", own), self.expr(assignment.value), rule))

    # ------------------------------------------------------------------ expressions
    def test(self, node: ast.Expr) -> pl.Expr:
        value = self.expr(node)
        if value.kind != "bool":
            raise Unsupported(f"a condition of kind {value.kind}")
        return value.expr.fill_null(False) if value.nullable else value.expr

    def expr(self, node: ast.Expr) -> Val:
        folded = self.writer.fold(node)
        if folded is not NOT_CONSTANT:
            return _const(folded)
        method: Callable[[Any], Val] | None = getattr(self, "_" + type(node).__name__.lower(), None)
        if method is None:
            raise Unsupported(f"the expression `{type(node).__name__}`")
        return method(node)

    def typ(self, node: ast.Expr) -> Kind:
        return self.checked.expr_types[id(node)].kind

    def _name(self, node: ast.Name) -> Val:
        resolved = self.checked.names[id(node)]
        if resolved.kind is SymbolKind.FIELD:
            return self.field(resolved.target)
        if resolved.kind is SymbolKind.CHOICE:
            return _const(resolved.target)
        if resolved.kind is SymbolKind.PARAMETER:
            raise Unsupported(f"the amount `{resolved.target}` has no value in force")
        if resolved.kind is SymbolKind.DECISION:
            return self.values[resolved.target]
        found = self.definitions.get(resolved.target)
        if found is None:
            compiled = self.expr(self.checked.definitions[resolved.target].expr)
            found = self.definitions[resolved.target] = self.stage(f"d:{resolved.target}", compiled)
        return found

    def field(self, path: str) -> Val:
        spec = self.facts.fields[path]
        kind = spec.type.kind
        # A claim the columns evaluate has passed the checks of prepare: its required facts are given and its
        # computed facts that may not be unknown are known.
        known = spec.required or (spec.derived and not spec.type.nullable)
        column = pl.col(field_column(path))
        if kind is Kind.BOOL:
            return Val(column, "bool", nullable=not known)
        if kind is Kind.MONEY:
            return Val(column, "num", 2, nullable=not known)
        if kind is Kind.NUMBER:
            return Val(column, "num", 0, nullable=not known)
        if kind is Kind.DATE:
            return Val(column, "date", nullable=not known)
        if kind is Kind.LIST:
            return Val(column, "list", nullable=not known)
        if kind in (Kind.TEXT, Kind.ATC, Kind.ENUM):
            return Val(column, "str", nullable=not known)
        raise Unsupported(f"the field `{path}` of kind {kind.value}")

    def _not(self, node: ast.Not) -> Val:
        return Val(~self.test(node.operand), "bool", nullable=False)

    def _boolop(self, node: ast.BoolOp) -> Val:
        left, right = self.test(node.left), self.test(node.right)
        return Val(left & right if node.op == "and" else left | right, "bool", nullable=False)

    def _compare(self, node: ast.Compare) -> Val:
        left, right = self.expr(node.left), self.expr(node.right)
        op = node.op
        if op in ("is", "is not"):
            if right.kind == "null" or left.kind == "null":
                other = left if right.kind == "null" else right
                same = other.expr.is_null() if other.kind != "null" else pl.lit(True)
            elif left.kind == "dur" or right.kind == "dur":
                keys = [repr(c) for c in left.choices + right.choices]
                same = self._dur_key(left, keys).eq_missing(self._dur_key(right, keys))
            else:
                (a, b), _ = _unify([left, right])
                same = a.eq_missing(b)
            return Val(~same if op == "is not" else same, "bool", nullable=False)
        if left.kind == "dur" or right.kind == "dur":
            a, b = self.end_dates(left, self.day), self.end_dates(right, self.day)
        elif left.kind == "num" and right.kind == "num" and (left.den is not None or right.den is not None):
            raise Unsupported("a comparison with a fraction")
        else:
            (a, b), _ = _unify([left, right])
        compare = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return Val(compare, "bool", nullable=left.nullable or right.nullable)

    def _dur_key(self, value: Val, keys: list[str]) -> pl.Expr:
        return _select(value.expr, [(i, pl.lit(repr(c))) for i, c in enumerate(value.choices)])

    def _oneof(self, node: ast.OneOf) -> Val:
        operand = self.expr(node.operand)
        options = [self.expr(o) for o in node.options]
        if any(o.expr.meta.is_literal() is False for o in options):
            raise Unsupported("`is one of` with values that are not constants")
        (target, *exprs), _ = _unify([operand, *options])
        found = _any([target.eq_missing(e) for e in exprs])
        return Val(~found if node.negated else found, "bool", nullable=False)

    def _inlist(self, node: ast.InList) -> Val:
        operand, collection = self.expr(node.operand), self.expr(node.collection)
        if collection.kind != "list":
            raise Unsupported("`is in` on a value that is not a list")
        found = collection.expr.list.contains(operand.expr).fill_null(False)
        return Val(~found if node.negated else found, "bool", nullable=False)

    def _known(self, node: ast.Known) -> Val:
        operand = self.expr(node.operand)
        known = operand.expr.is_not_null() if operand.kind != "null" else pl.lit(False)
        return Val(~known if node.negated else known, "bool", nullable=False)

    def _matches(self, node: ast.Matches) -> Val:
        operand = self.expr(node.operand).expr
        tests = [operand.str.starts_with(p[:-1]) for p in node.patterns if p.endswith("*")]
        # Each code compared on its own: `is_in` costs 0.25 ms per 50,000 claims for one code, `==` 0.08.
        tests += [operand == p for p in node.patterns if not p.endswith("*")]
        return Val(_any(tests).fill_null(False), "bool", nullable=False)

    def _fitswithin(self, node: ast.FitsWithin) -> Val:
        supply = node.supply
        if not (isinstance(supply, ast.WithUnit) and supply.unit.startswith("day")):
            raise Unsupported("a supply that is not counted in days")
        days = self.expr(supply.operand)
        if days.kind != "num" or days.scale != 0 or days.den is not None:
            raise Unsupported("a supply that is not a whole number of days")
        limit = self.expr(node.limit)
        if limit.kind != "dur":
            raise Unsupported("a supply limit that is not a duration")
        # As the per-case code (runtime.fits_days) does: the facts the policy declares for the alternatives.
        smallest = pl.col(field_column(self.facts.smallest_pack)) if self.facts.smallest_pack else pl.lit(False)
        course = pl.col(field_column(self.facts.one_course)) if self.facts.one_course else pl.lit(None, pl.Int64)
        options = []
        for code, choice in enumerate(limit.choices):
            period = choice.duration if isinstance(choice, SupplyLimit) else choice
            assert isinstance(period, Duration)
            if period.unit is Unit.DAYS:
                fits = days.expr <= period.amount
            else:
                fits = self.shared(self.day + pl.duration(days=days.expr)) <= self.add(self.day, period.amount,
                                                                                       Unit.MONTHS)
            if isinstance(choice, SupplyLimit):
                if choice.or_smallest_pack:
                    fits = fits | smallest
                if choice.or_one_course:
                    fits = fits | (course.is_not_null() & (days.expr <= course))
            options.append((code, fits))
        return Val(_select(limit.expr, options).fill_null(False), "bool", nullable=False)

    def _arith(self, node: ast.Arith) -> Val:
        left_kind, right_kind = self.typ(node.left), self.typ(node.right)
        if left_kind is Kind.DATE:
            period = self.writer.fold(node.right)
            if not isinstance(period, Duration):
                raise Unsupported("a date plus a duration that is not a constant")
            sign = 1 if node.op == "+" else -1
            return Val(self.add(self.expr(node.left).expr, sign * period.amount, period.unit), "date")
        left, right = self.expr(node.left), self.expr(node.right)
        if left.kind != "num" or right.kind != "num":
            raise Unsupported(f"arithmetic on {left.kind} and {right.kind}")
        if left.den is not None or right.den is not None:
            raise Unsupported("arithmetic on the result of a division")
        if Kind.PERCENT in (left_kind, right_kind):
            if node.op != "*":
                raise Unsupported("a percentage that is not multiplied")
            return Val(left.expr * right.expr, "num", left.scale + right.scale + 2)
        if node.op == "/":
            # A fraction: numerator at the left's scale; the denominator is the right's integer at its scale.
            numerator = left.expr * (10 ** right.scale) if right.scale else left.expr
            self.trouble.append(right.expr.fill_null(1) <= 0)  # per case: a division by zero fails (RX505)
            return Val(numerator, "num", left.scale, den=right.expr)
        if node.op == "*":
            return Val(left.expr * right.expr, "num", left.scale + right.scale)
        (a, b), shape = _unify([left, right])
        return Val(a + b if node.op == "+" else a - b, "num", shape.scale)

    def _birthday(self, node: ast.Call) -> Val:
        """``birthday(born, n)`` for a constant n: n years of calendar months on, a 29 February birthday moved
        from 28 February to 1 March where the policy reads it so (as ``values.birthday`` does per case)."""
        years = self.writer.fold(node.args[1])
        if not isinstance(years, int):
            raise Unsupported("a birthday after a number of years that is not a constant")
        born = self.expr(node.args[0]).expr
        day = self.add(born, 12 * years, Unit.MONTHS)
        if self.writer.checked.facts.leap_day_birthday == "1 March":
            # Whole years on, only a 29 February birthday moves (to the 28th, in a common year).
            leap = _leap_day(born) & ~_leap_day(day)
            day = pl.when(leap).then(day + pl.duration(days=1)).otherwise(day)
        return Val(day, "date")

    def _rounded(self, node: ast.Rounded) -> Val:
        value = self.expr(node.operand)
        if value.kind != "num":
            raise Unsupported("rounding something that is not a number")
        if not node.rounding.money:  # a number rounded (not money): left to the per-case evaluator
            raise Unsupported("a number rounded to a whole number or decimals")
        target = 0 if node.rounding.unit == "whole euros" else 2
        numerator, denominator = value.expr, value.den if value.den is not None else pl.lit(1, pl.Int64)
        if value.scale >= target:
            denominator = denominator * (10 ** (value.scale - target))
        else:
            numerator = numerator * (10 ** (target - value.scale))
        magnitude, sign = numerator.abs(), pl.when(numerator < 0).then(-1).otherwise(1)
        quotient, remainder = magnitude // denominator, magnitude % denominator
        mode = node.rounding.mode
        if mode == "half up":
            up = 2 * remainder >= denominator
        elif mode == "half even":
            up = (2 * remainder > denominator) | ((2 * remainder == denominator) & (quotient % 2 == 1))
        elif mode == "up":
            up = remainder > 0
        else:
            up = pl.lit(False)
        rounded = sign * (quotient + up.cast(pl.Int64))
        return Val(rounded * (10 ** (2 - target)), "num", 2)

    def _withunit(self, node: ast.WithUnit) -> Val:
        operand = self.expr(node.operand)
        if node.unit in ("EUR", "%"):
            return operand
        raise Unsupported("a duration computed per case")

    def _supplylimitexpr(self, node: ast.SupplyLimitExpr) -> Val:
        period = self.writer.fold(node.duration)
        if not isinstance(period, Duration):
            raise Unsupported("a supply limit whose duration is computed per case")
        return _const(SupplyLimit(period, node.or_smallest_pack, node.or_one_course))

    def _ifthenelse(self, node: ast.IfThenElse) -> Val:
        condition = self.test(node.condition)
        (then, otherwise), shape = _unify([self.expr(node.then), self.expr(node.otherwise)])
        return attrs.evolve(shape, expr=pl.when(condition).then(then).otherwise(otherwise))

    def _call(self, node: ast.Call) -> Val:
        if node.function == "birthday":
            return self._birthday(node)
        args = [self.expr(a) for a in node.args]
        if node.function == "days_between":
            return Val((args[1].expr - args[0].expr).dt.total_days(), "num", 0)
        if node.function == "first_day_of_next_month":
            return Val(args[0].expr.dt.month_start().dt.offset_by("1mo"), "date")
        if node.function in ("min", "max") and all(a.kind in ("num", "date") for a in args):
            exprs, shape = _unify(args)
            combined = pl.min_horizontal(exprs) if node.function == "min" else pl.max_horizontal(exprs)
            return attrs.evolve(shape, expr=combined)
        raise Unsupported(f"the function `{node.function}` on {', '.join(a.kind for a in args)}")


# ------------------------------------------------------------------------------------------- a chunk

def evaluate_columnar(compiled: ColumnarPolicy, chunk: Any, selection: Any,
                      per_case: Callable[[list[int]], Any], counts: dict[str, int] | None = None,
                      timings: dict[str, float] | None = None) -> Any:
    """The result table of a chunk: the columns for the claims they decide, ``per_case(indices)`` for the rest.

    ``per_case`` gets the positions (in the chunk) of the claims left to the per-case evaluator and returns their
    result table; the two are put together in record order. ``counts`` gets how many claims went which way,
    ``timings`` the seconds spent on each step (``prepare``, ``columns``, ``per_case``, ``output``), both added
    to what they hold.
    """
    from .columnar_errors import errors_from_columns
    from .columnar_input import prepare

    clock = _Clock(timings)
    prepared = prepare(chunk.table, compiled.policy.facts, compiled.policy.plans)
    clock.lap("prepare")
    count = len(chunk)
    if prepared is None:
        result = per_case(list(range(count)))
        clock.lap("per_case")
        return result
    frame, clean, checks = prepared
    # The error rows of refused claims written from the columns where they are certain; the rest per case.
    per_case = errors_from_columns(checks, chunk.first, selection, per_case)
    frame = frame.with_columns(clean.alias("_clean"))
    day = pl.col(field_column(compiled.policy.facts.period_date))
    names = [d.name for d in compiled.policy.decisions]
    # The days the chunk's claims were dispensed on: a period none of them falls in costs nothing (planning its
    # ~180 expressions costs ~6 ms per chunk even for no claim), and a period that holds them all needs no test
    # of the day.
    first, last = frame.select(day.filter(pl.col("_clean")).min().alias("first"),
                               day.filter(pl.col("_clean")).max().alias("last")).row(0)
    # Evaluating the refused claims too costs less than filtering them out while they are few (see
    # `_whole_chunk`); where they are many, the filter costs less.
    clean_count = clean.sum()
    if first is not None and clean_count >= _WHOLE_FROM * count:
        for period in compiled.periods:
            epoch = period.epoch
            if period.decisions is not None and epoch.start <= first and (epoch.end is None or last <= epoch.end):
                return _whole_chunk(period, frame, clean_count == count, chunk.first, selection, names, per_case,
                                    counts, clock)
    frame = frame.with_row_index("_i")
    parts = []
    for period in compiled.periods:
        epoch = period.epoch
        if period.decisions is None or first is None or last < epoch.start \
                or (epoch.end is not None and first > epoch.end):
            continue
        inside = pl.col("_clean")
        if first < epoch.start:
            inside = inside & (day >= epoch.start)
        if epoch.end is not None and last > epoch.end:
            inside = inside & (day <= epoch.end)
        # The claims in the period, with the input columns the period reads; then the levels of columns; then
        # the outputs of every claim, and of those the ones the columns decide (filtering the ~35 outputs costs
        # less than filtering the ~130 columns they are made from first). One plan, collected as in
        # `_whole_chunk`.
        lazy = frame.lazy().filter(inside).select("_i", *period.inputs)
        for level in period.stages:
            lazy = lazy.with_columns(level)
        columns = period.decisions
        plan = period.outputs(selection, names)
        out = lazy.select(pl.col("_i"), *plan.values).filter(plan.keep).drop("_undecided") \
            .collect(engine="in-memory", optimizations=_NO_OPTIMISATION)
        if out.height:
            parts.append((out, columns, plan))
    clock.lap("columns")
    decided = pl.concat([out.get_column("_i") for out, _, _ in parts]) if parts \
        else pl.Series("_i", [], pl.UInt32)
    # The rows no period decided, by marking the decided ones (`is_in` of a same-typed column is deprecated).
    leftover = pl.repeat(False, count, dtype=pl.Boolean, eager=True).scatter(decided, True).not_().arg_true().to_list()
    if counts is not None:
        counts["columnar"] = counts.get("columnar", 0) + decided.len()
        counts["per_case"] = counts.get("per_case", 0) + len(leftover)
    rest = per_case(leftover) if leftover or not parts else None
    clock.lap("per_case")
    if not parts:
        result = rest
    else:
        # Where each result row comes from: the decided rows part by part, then the per-case rows; unless that is
        # already record order (one part, nothing per case), `order[p]` is the row of that sequence for record p.
        order = None
        if rest is not None or len(parts) > 1:
            order = pl.concat([decided, pl.Series("_i", leftover, pl.UInt32)]).arg_sort().to_arrow()
        schema = parts[0][2].schema
        result = _in_order([_arrow(out, columns, chunk.first, selection, plan) for out, columns, plan in parts], rest,
                           order, schema)
    clock.lap("output")
    return _check_rules(result, selection)


#: The share of a chunk's claims that must be ones the columns may evaluate for the chunk to be evaluated whole.
#: Measured (columns and output, CPU ms per 50,000 claims, whole against filtered): 2 % refused 54 / 80, 20 %
#: 57 / 68, 40 % 63 / 81, 60 % 59 / 64, 80 % 58 / 50, 95 % 64 / 45.
_WHOLE_FROM = 0.5

#: How a period's plan is collected (see :func:`_whole_chunk`).
_NO_OPTIMISATION = pl.QueryOptFlags.none()


def _whole_chunk(period: ColumnarPeriod, frame: pl.DataFrame, everything_clean: bool, first: int, selection: Any,
                 names: list[str], per_case: Callable[[list[int]], Any], counts: dict[str, int] | None,
                 clock: _Clock) -> Any:
    """The result table of a chunk whose claims the columns may evaluate (``_clean``) are all in one period.

    Every claim is evaluated, the refused ones too, and the claims the columns do not decide (refused,
    undecided, unwritable) are then given their per-case rows in place: with ~1 % refused claims this costs
    less than filtering every input column before and every output after, and putting the per-case rows in
    by a gather of every column (0.035 against 0.05 s per 100,000 claims, see benchmarks/README.md).

    A refused claim's values are any its column types hold (a date 5 million years on, an amount of 2⁶³ cents):
    nothing read from them is kept, but they must not make Polars fail. Its dates are left out (null):
    Polars *panics* on a date past ±262,000 years in a month offset or its text, and the days of the period's
    dates (:meth:`_Compiler.add`) are worked out from the first to the last day of the claims evaluated.
    Numbers cannot fail: integer arithmetic wraps, a division by zero is null, a duration past 64 bits of
    microseconds is null (``tests/unit/test_columnar.py`` evaluates refused claims of extreme values beside
    valid ones). Nothing else the columns compute reads more than its own claim's row.
    """
    plan = period.outputs(selection, names)
    # One plan: the inputs, the levels of columns, the outputs and which claims the columns decide, collected
    # once by the in-memory engine without optimisation (the compiler has already shared what is shared, so
    # the optimiser finds nothing: 1-2 ms a chunk less than a `with_columns` per level or the default
    # engine, which is the streaming one since Polars 2.0).
    if everything_clean:
        lazy = frame.lazy().select(*period.inputs)
        kept = plan.keep
    else:
        clean = pl.col("_clean")
        dates = set(period.dates)
        lazy = frame.lazy().select("_clean", *(pl.when(clean).then(pl.col(n)).alias(n) if n in dates
                                               else pl.col(n) for n in period.inputs))
        kept = plan.keep & clean
    for level in period.stages:
        lazy = lazy.with_columns(level)
    out = lazy.select(*plan.values, *(() if everything_clean else [pl.col("_clean")])) \
        .with_columns(kept.alias("_keep")).collect(engine="in-memory", optimizations=_NO_OPTIMISATION)
    keep = out.get_column("_keep")
    clock.lap("columns")
    leftover = [] if keep.all() else keep.not_().arg_true().to_list()
    if counts is not None:
        counts["columnar"] = counts.get("columnar", 0) + len(keep) - len(leftover)
        counts["per_case"] = counts.get("per_case", 0) + len(leftover)
    rest = per_case(leftover) if leftover else None
    clock.lap("per_case")
    assert period.decisions is not None
    replaced = keep.not_().to_arrow() if rest is not None else None
    pieces = _arrow(out, period.decisions, first, selection, plan, whole=True, replaced=replaced)
    if rest is None:
        result = _in_order([pieces], None, None, plan.schema)
    else:
        result = _replaced(pieces, rest, replaced, plan.schema)
    clock.lap("output")
    return _check_rules(result, selection)


def _unwritable(selection: Any) -> pl.Expr:
    """Rows with a money decision the results' columns cannot hold (see :func:`.core.unwritable_money`): they go
    per case, which makes their RX805 error row."""
    from .core import MONEY_LIMIT

    limit = int(MONEY_LIMIT * 100)  # the output columns hold cents
    beyond = [pl.col(name).abs() >= limit for name, kind in zip(selection.names, selection.kinds)
              if kind is Kind.MONEY]
    return pl.any_horizontal(beyond).fill_null(False) if beyond else pl.lit(False)


class _Clock:
    """Seconds per step of a chunk, added to a caller's mapping (nothing is kept when there is none)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings, self.now = timings, time.perf_counter
        self.last = self.now()

    def lap(self, step: str) -> None:
        """Add the time since the last lap to ``step``."""
        if self.timings is not None:
            now = self.now()
            self.timings[step] = self.timings.get(step, 0.0) + now - self.last
            self.last = now


def _outcome_texts(outcome: str | None) -> Any:
    """The outcome column's texts, which the plan gives as an index: 0 when the outcome decision is yes (its name),
    1 when not (``not_`` and its name); none when the policy declares no outcome."""
    import pyarrow as pa

    return pa.array([outcome, f"not_{outcome}"] if outcome is not None else [], pa.string())


def _outputs(columns: Mapping[str, DecisionColumns], selection: Any, outcome: str | None) -> list[pl.Expr]:
    """The plan's output columns, as numbers where a text has few forms (made text in Arrow, see :func:`_arrow`):
    the outcome's index into :func:`_outcome_texts`, per selected decision its value and its hit pattern."""
    out = []
    if outcome is not None and outcome in columns:
        # As the per-case evaluator says it: the outcome decision's name when it is yes, else `not_` and its name.
        said = columns[outcome].value.expr
        out.append(pl.when(said).then(pl.lit(0, pl.Int8)).otherwise(pl.lit(1, pl.Int8)).alias("outcome"))
    else:
        out.append(pl.lit(None, pl.Int8).alias("outcome"))
    for name, kind in zip(selection.names, selection.kinds):
        value = columns[name].value
        out.append(_output_value(value, kind).alias(name))
        hits = columns[name].hits
        # 32-bit patterns where they fit: half the bytes to move when the per-case rows are put in.
        out.append((hits.cast(pl.Int32) if len(columns[name].ids) < 32 else hits).alias(f"{name}.rule"))
    return out


def _output_value(value: Val, kind: Kind) -> pl.Expr:
    """A decision's column as the output step reads it: yes/no, cents (made decimal there), the code of a duration
    (made its contract text there), or text; ``kind`` is the decision's declared type (a number is no money)."""
    if value.kind in ("bool", "null", "str", "dur"):
        return value.expr
    if value.kind == "num" and kind in (Kind.NUMBER, Kind.PERCENT):
        return _number_text(value)
    if value.kind == "num":
        return _scaled(value, 2) if value.scale <= 2 else _cents(value)
    if value.kind == "date":
        return value.expr.dt.to_string("%Y-%m-%d")
    raise Unsupported(f"a decision of kind {value.kind}")


def _number_text(value: Val) -> pl.Expr:
    """A number's column as the text ``values.number_text`` writes per case: exact, no trailing zeros (``0.125``,
    ``1.5``, ``3``), so the text does not depend on the scale the columns carry (``3.00`` is 300 at scale 2)."""
    whole_number = _scaled(value, value.scale)  # the value times 10**scale (a division not rounded: per case)
    if value.scale == 0:
        return whole_number.cast(pl.String)
    digits = whole_number.abs().cast(pl.String).str.zfill(value.scale + 1)
    decimals = digits.str.slice(-value.scale).str.strip_chars_end("0")
    return pl.concat_str([pl.when(whole_number < 0).then(pl.lit("-")).otherwise(pl.lit("")),
                          digits.str.slice(0, digits.str.len_chars() - value.scale),
                          pl.when(decimals == "").then(pl.lit("")).otherwise(pl.lit(".") + decimals)])


def _cents(value: Val) -> pl.Expr:
    """Money the columns carry with more than two decimals (a price times 0.125) in cents where it is a whole number
    of cents; where it is not, a value beyond the money columns (:func:`_unwritable`), so the claim goes per case
    and gets its RX805 error row as there (raising Unsupported here, at run time, stopped ``rxpolicy batch``)."""
    from .core import MONEY_LIMIT

    finer = _scaled(value, value.scale)
    step = 10 ** (value.scale - 2)
    return pl.when(finer % step == 0).then(finer // step).otherwise(pl.lit(int(MONEY_LIMIT * 100), pl.Int64))


@attrs.frozen
class _Coded:
    """A text column as indices into its few texts: made text once, when its rows are in record order.

    Turning indices into texts copies every row's bytes: the costly part of the output, done once per column.
    """

    indices: Any
    texts: Any


#: A result column of one part: an Arrow array (or chunked array) of the column's type, or a :class:`_Coded`.
_Piece = Any


def _result_schema(selection: Any) -> Any:
    """The result table's schema: the per-case path's."""
    from .core import result_schema

    return result_schema(selection, False)


def _arrow(part: pl.DataFrame, columns: Mapping[str, DecisionColumns], first: int, selection: Any, plan: _Outputs,
           whole: bool = False, replaced: Any = None) -> list[_Piece]:
    """The result columns of one plan's rows, one per field of ``plan.schema`` (money as decimal128(12, 2), texts
    as :class:`_Coded`).

    ``whole``: the rows are the chunk's, in record order (no ``_i`` column), those the columns do not decide
    included (their values are replaced by :func:`_replaced`; a hit pattern without a rule is one of them).
    ``replaced``: which rows those are (None: none), whose amounts may be beyond what the result type holds.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from rxpolicy.explain.words import json_value

    table = part.to_arrow()  # numbers and yes/no (texts only from a date or text decision): no copy
    column = table.column  # chunked as Polars left them (a chunk per thread): joining them would copy

    height = table.num_rows
    rules = {f"{name}.rule": name for name in selection.names}
    closed = arrow_dictionaries(selection.dictionaries)
    pieces: list[_Piece] = []
    for field in plan.schema:
        name = field.name
        fixed = closed.get(name)
        if name == "record":
            pieces.append(pl.int_range(first, first + height, dtype=pl.Int64, eager=True).to_arrow() if whole
                          else pc.add(column("_i").cast(pa.int64()), _int64(first)))
        elif name == "outcome":
            coded = _Coded(column(name), plan.outcomes)
            pieces.append(_in_dictionary(coded, fixed) if fixed is not None else coded)
        elif name in rules:
            pieces.append(_rule_texts(column(name), columns[rules[name]], whole, fixed))
        elif name in columns and name in table.column_names:
            value, array = columns[name].value, column(name)
            if pa.types.is_null(array.type):
                pieces.append(_nulls(height, field.type, fixed))
            elif value.kind == "dur":
                texts = [str(json_value(choice)) for choice in value.choices]
                coded = _Coded(array, pa.array(texts, pa.string()))
                pieces.append(_in_dictionary(coded, fixed) if fixed is not None else coded)
            elif pa.types.is_decimal(field.type):
                pieces.append(_decimal(array, field.type, replaced))
            elif fixed is not None:  # a text of a closed set, computed per claim (a choice, a number's text)
                texts = array.cast(pa.string())
                indices = pc.index_in(texts, value_set=fixed[0]).cast(pa.int16())
                if indices.null_count != texts.null_count:  # a fault of .dictionaries, not to be written as nulls
                    raise AssertionError(f"the dictionary of `{name}` lacks a text the columns computed")
                pieces.append(_dictionary_array(indices, fixed[0]))
            else:
                pieces.append(array.cast(field.type))
        else:
            pieces.append(_nulls(height, field.type, fixed))
    return pieces


def _nulls(height: int, typ: Any, fixed: tuple[Any, Mapping[str, int]] | None) -> Any:
    """A column of nulls; a dictionary column's has the column's fixed dictionary, as all its pieces do."""
    import pyarrow as pa

    return pa.nulls(height, typ) if fixed is None else _dictionary_array(pa.nulls(height, pa.int16()), fixed[0])


def _in_dictionary(coded: _Coded, fixed: tuple[Any, Mapping[str, int]]) -> Any:
    """A coded text column (the outcome, a duration's code) as a column of the fixed dictionary: its few texts'
    indices in the dictionary, then each row's (a take of 16-bit numbers, no text copied)."""
    import pyarrow as pa

    values, position = fixed
    texts = coded.texts.to_pylist()
    table = [position.get(text) for text in texts]
    missing = [text for text, index in zip(texts, table) if text is not None and index is None]
    if missing:  # a fault of .dictionaries, reported rather than written as empty cells
        raise AssertionError(f"a result column's dictionary lacks {missing}")
    if table == list(range(len(table))):  # the same texts in the same order (the outcome): the codes are indices
        return _dictionary_array(coded.indices.cast(pa.int16()), values)
    return _dictionary_array(pa.array(table, pa.int16()).take(coded.indices), values)


def _dictionary_array(indices: Any, values: Any) -> Any:
    """A dictionary column of ``values`` from its indices (an array or a chunked array), nothing copied."""
    import pyarrow as pa

    if isinstance(indices, pa.ChunkedArray):
        return pa.chunked_array([pa.DictionaryArray.from_arrays(chunk, values) for chunk in indices.chunks],
                                pa.dictionary(indices.type, pa.string()))
    return pa.DictionaryArray.from_arrays(indices, values)


def _indices(piece: Any) -> Any:
    """The indices of a dictionary column (an array or a chunked array)."""
    import pyarrow as pa

    if isinstance(piece, pa.ChunkedArray):
        return pa.chunked_array([chunk.indices for chunk in piece.chunks], piece.type.index_type)
    return piece.indices


def _rule_texts(codes: Any, decision: DecisionColumns, whole: bool = False,
                fixed: tuple[Any, Mapping[str, int]] | None = None) -> Any:
    """A hit pattern column as its rule texts: as indices into the column's fixed dictionary (``fixed``), or
    (a decision whose rule combinations are too many for one) as a :class:`_Coded` column.

    The pattern itself indexes the decision's table of every pattern's text (or its index in the dictionary);
    for a decision of many rules, the patterns the chunk has are found first.
    ``whole``: a row without a rule (pattern 0) is one whose values are replaced, so its text is left as it is."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if fixed is not None:
        tabled = decision.every_rule_index(fixed)
        if tabled is None:
            found = pc.dictionary_encode(codes.combine_chunks())  # one dictionary for all the chunks
            position = fixed[1]
            table = pa.array([position.get(decision.rule_text(code) or "") for code in found.dictionary.to_pylist()],
                             pa.int16())
            return _dictionary_array(table.take(found.indices), fixed[0])
        return _dictionary_array(tabled.take(codes), fixed[0])  # pattern 0 and patterns of no text: null
    every = decision.every_rule_text()
    if every is None:
        found = pc.dictionary_encode(codes.combine_chunks())  # one dictionary for all the chunks
        texts = [decision.rule_text(code) for code in found.dictionary.to_pylist()]
        return _Coded(found.indices, pa.array(texts, pa.string()))
    if not whole and (codes.null_count or pc.min(codes).as_py() == 0):  # no rule, no text (a decided row always has a rule)
        codes = pc.if_else(pc.not_equal(codes, _int64(0)), codes, pa.scalar(None, codes.type))
    return _Coded(codes, every)


def _check_rules(result: Any, selection: Any) -> Any:
    """``result``, once its rule columns are known to have a text on every row that is not an error row (a
    decided row always has a rule): a null there would be a combination of rules missing from the column's
    dictionary (see :mod:`.dictionaries`), a fault to report rather than write. Counts of nulls only: no row read."""
    errors = result.num_rows - result.column("error_code").null_count
    for name in selection.names:
        column = result.column(f"{name}.rule")
        if column.null_count != errors:
            raise AssertionError(f"the result column `{name}.rule` has {column.null_count} empty rows for "
                                 f"{errors} error rows: a rule text its dictionary lacks")
    return result


def _in_order(parts: list[list[_Piece]], rest: Any, order: Any, schema: Any) -> Any:
    """The result table of a chunk: the parts' columns and the per-case rows (``rest``), rows taken in ``order``
    (None: the one part, as it is).

    Each column's pieces are put side by side as numbers (a text column: indices into the pieces' texts side by
    side), all put in order by one Polars gather (which takes columns side by side, in half the time of a take
    per column), then the texts copied once.
    """
    import pyarrow as pa

    if order is None:
        return pa.Table.from_arrays([piece.texts.take(piece.indices) if isinstance(piece, _Coded) else piece
                                     for piece in parts[0]], schema=schema)
    numbers, texts, dictionaries = [], {}, {}
    for position in range(len(schema)):
        pieces = [part[position] for part in parts] + (rest.column(position).chunks if rest is not None else [])
        if pa.types.is_dictionary(schema.field(position).type):  # one fixed dictionary: its indices are put in order
            dictionaries[position] = _dictionary_of(pieces)
            numbers.append(pa.concat_arrays(_arrays([_indices(piece) for piece in pieces])))
        elif any(isinstance(piece, _Coded) for piece in pieces) or pa.types.is_string(schema.field(position).type):
            texts[position], indices = _side_by_side(pieces)
            numbers.append(indices)
        else:
            numbers.append(pa.concat_arrays(_arrays(pieces)))
    side_by_side = pa.Table.from_arrays(numbers, names=[str(position) for position in range(len(schema))])
    frame = pl.from_arrow(side_by_side)
    assert isinstance(frame, pl.DataFrame)
    ordered = frame.select(pl.all().gather(pl.from_arrow(order))).to_arrow()
    return pa.Table.from_arrays([texts[p].take(ordered.column(p)) if p in texts
                                 else _dictionary_array(ordered.column(p), dictionaries[p]) if p in dictionaries
                                 else ordered.column(p) for p in range(len(schema))], schema=schema)


def _dictionary_of(pieces: list[Any]) -> Any:
    """The one dictionary of a dictionary column's pieces (the column's fixed dictionary)."""
    import pyarrow as pa

    for piece in pieces:
        for chunk in piece.chunks if isinstance(piece, pa.ChunkedArray) else [piece]:
            return chunk.dictionary
    raise AssertionError("a column without pieces")


def _replaced(pieces: list[_Piece], rest: Any, mask: Any, schema: Any) -> Any:
    """The result table of a chunk's rows (``pieces``, every row in record order) with the rows at ``mask``
    replaced by the per-case rows ``rest`` (in the same order): no sort nor gather.

    A column the per-case rows leave empty (a decision of refused claims, most of them) only has the replaced
    rows marked null, in its validity bits. A text column with per-case texts has them put after the piece's
    own texts and its rows' indices replaced, so the texts are still copied once; a column without a value of
    its own (the error columns) is the per-case column taken by each replaced row's place in ``rest``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    kept = pc.invert(mask)
    taken = None
    columns = []
    for position, piece in enumerate(pieces):
        theirs = rest.column(position).combine_chunks()
        if position == 0:  # the record numbers: the same either way
            columns.append(piece)
        elif pa.types.is_dictionary(schema.field(position).type):  # one fixed dictionary: indices replaced
            ours = _indices(piece)
            if theirs.null_count == len(theirs):
                columns.append(_dictionary_array(_nulls_at(ours, kept), theirs.dictionary))
            else:
                indices = pc.replace_with_mask(ours.combine_chunks() if isinstance(ours, pa.ChunkedArray) else ours,
                                               mask, theirs.indices)
                columns.append(_dictionary_array(indices, theirs.dictionary))
        elif theirs.null_count == len(theirs):
            columns.append(_nulls_at(piece.texts.take(piece.indices) if isinstance(piece, _Coded) else piece, kept))
        elif isinstance(piece, _Coded):
            texts = pa.concat_arrays([*_arrays([piece.texts]), theirs.cast(pa.string())])
            moved = pc.add(_positions(len(theirs)).cast(pa.int32()), pa.scalar(len(piece.texts), pa.int32()))
            indices = pc.replace_with_mask(piece.indices.cast(pa.int32()), mask, moved)  # 32 bits: a few texts
            columns.append(texts.take(_without_validity(indices)))
        elif _empty(piece):
            if taken is None:  # each row's place among the replaced rows, valid at the replaced rows only
                slots = pc.subtract(pc.cumulative_sum(mask.cast(pa.int32())), pa.scalar(1, pa.int32()))
                taken = pa.Array.from_buffers(pa.int32(), len(mask), [_validity(mask), slots.buffers()[1]])
            columns.append(theirs.cast(schema.field(position).type).take(taken))
        else:
            columns.append(pc.replace_with_mask(piece, mask, theirs.cast(schema.field(position).type)))
    return pa.Table.from_arrays(columns, schema=schema)


def _nulls_at(values: Any, kept: Any) -> Any:
    """``values`` null where ``kept`` is false: their validity bits and-ed with ``kept``'s, the values not copied
    (a null slot's value is not read)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        start, chunks = 0, []
        for chunk in values.chunks:
            chunks.append(_nulls_at(chunk, kept.slice(start, len(chunk))))
            start += len(chunk)
        return pa.chunked_array(chunks, values.type)
    if values.type == pa.null():
        return values
    # A new array, whose bits start at its buffer's first (as the values' do, unless they are a slice).
    valid = pc.and_(kept, pc.is_valid(values)) if values.null_count else kept if not kept.offset \
        else pc.and_(kept, _TRUE_SCALAR())
    if values.offset:
        return pc.if_else(valid, values, pa.scalar(None, values.type))
    return pa.Array.from_buffers(values.type, len(values), [valid.buffers()[1], *values.buffers()[1:]])


def _validity(mask: Any) -> Any:
    """A boolean array without nulls as a validity bitmap (its values' bits)."""
    import pyarrow.compute as pc

    assert mask.null_count == 0
    if mask.offset:
        mask = pc.and_(mask, _TRUE_SCALAR())  # a new array: its bits start at its buffer's first
    return mask.buffers()[1]


@functools.cache
def _TRUE_SCALAR() -> Any:  # noqa: N802 - a constant, made when first needed (pyarrow is imported late)
    """Arrow's true, typed: given a Python bool, pyarrow tries to import dateutil (not installed) each time
    (see :func:`_int64`), which cost ~8 ms a chunk of 1,000 claims here."""
    import pyarrow as pa

    return pa.scalar(True, pa.bool_())


def _without_validity(indices: Any) -> Any:
    """Indices without a validity bitmap where none is null: ``replace_with_mask`` writes one (all valid), and a
    take by indices that may be null costs more (~3.5 ms per 50,000 claims, all text columns)."""
    import pyarrow as pa

    chunks = indices.chunks if isinstance(indices, pa.ChunkedArray) else [indices]
    if any(chunk.null_count for chunk in chunks):
        return indices
    bare = [pa.Array.from_buffers(chunk.type, len(chunk), [None, chunk.buffers()[1]], offset=chunk.offset)
            for chunk in chunks]
    return pa.chunked_array(bare, indices.type) if isinstance(indices, pa.ChunkedArray) else bare[0]


def _side_by_side(pieces: list[_Piece]) -> tuple[Any, Any]:
    """The texts of a text column's pieces side by side, and each row's index into them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    texts, indices, offset = [], [], 0
    for piece in pieces:
        if isinstance(piece, _Coded):
            coded = piece
        elif _empty(piece):  # the error columns of decided rows: no texts
            coded = _Coded(pa.nulls(len(piece), pa.int32()), pa.array([], pa.string()))
        else:
            coded = _Coded(_positions(len(piece)), piece)
        texts += _arrays([coded.texts])
        moved = coded.indices.cast(pa.int32())  # a few texts per piece: 32 bits are plenty
        indices += _arrays([pc.add(moved, pa.scalar(offset, pa.int32())) if offset else moved])
        offset += len(coded.texts)
    return pa.concat_arrays(texts), pa.concat_arrays(indices)


def _empty(piece: _Piece) -> bool:
    """Whether a piece is all nulls (an array: the error columns of decided rows, a decision not applicable)."""
    return not isinstance(piece, _Coded) and piece.null_count == len(piece)


def _positions(count: int) -> Any:
    """0, 1, … count - 1 as an Arrow array."""
    return pl.int_range(0, count, dtype=pl.Int64, eager=True).to_arrow()


def _int64(number: int) -> Any:
    """An Arrow scalar for a computation's operand: given a Python int, pyarrow works out its type, trying to
    import dateutil (not installed) each time, some 60 µs."""
    import pyarrow as pa

    return pa.scalar(number, pa.int64())


def _arrays(pieces: list[Any]) -> list[Any]:
    """Arrow arrays and chunked arrays as a list of arrays."""
    import pyarrow as pa

    return [chunk for piece in pieces for chunk in (piece.chunks if isinstance(piece, pa.ChunkedArray) else [piece])]


def _decimal(cents: Any, decimal_type: Any, replaced: Any = None) -> Any:
    """Whole cents as Arrow decimals of two places, exactly and without arithmetic.

    An Arrow decimal is a 128-bit integer read with a scale: the cents as whole decimals (an exact cast) read with
    scale 2 are the amounts. Cents beyond the type's precision are left to a cast, which refuses them, but for the
    ``replaced`` rows (those given their per-case row after, see :func:`_whole_chunk`), which are left out.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    extremes = pc.min_max(cents)
    limit = 10 ** decimal_type.precision
    beyond = len(cents) > cents.null_count and not -limit < extremes["min"].as_py() <= extremes["max"].as_py() < limit
    if beyond and replaced is not None:
        return _decimal(pc.if_else(replaced, pa.scalar(None, cents.type), cents), decimal_type)
    if isinstance(cents, pa.ChunkedArray):
        return pa.chunked_array([_decimal(chunk, decimal_type) for chunk in cents.chunks], decimal_type)
    whole = pc.cast(cents, pa.decimal128(19, 0))
    if beyond:
        return pc.multiply(whole, pa.scalar(Decimal("0.01"), pa.decimal128(3, 2))).cast(decimal_type)
    return pa.Array.from_buffers(decimal_type, len(whole), whole.buffers(), offset=whole.offset)
