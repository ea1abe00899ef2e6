"""What would change it: the smallest changes of facts that turn a decision from "no" into "yes".

For a case that is not covered (or any yes/no decision that came out "no"), the search tries the
representative values the rules themselves define (:mod:`rxpolicy.tools.explore`) for every fact the
decision depends on, one fact at a time first, then two, and keeps the change sets that are
*minimal*: no smaller set of its facts works, whatever values those take (so no fact of a pair
works on its own). Numbers and money are moved to the boundary closest to the case ("a supply of at
most 31 days"); an authorisation is one change of its two dates, laid around the dispensing date.

Facts nobody can change at the pharmacy counter are never proposed: :func:`fixed_facts` lists them (declared ``fixed because …``) with
the reason. Every counterfactual returned is a validated case that evaluates to "yes".
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal
from types import MappingProxyType

import attrs

from rxpolicy.diagnostics import RxError
from rxpolicy.engine.case import Case
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.evaluate import Evaluation, evaluate
from rxpolicy.explain.whatif import MAX_CHANGES, Changes, Counterfactual, WhatIf, change_unit, section_dates
from rxpolicy.language import ast
from rxpolicy.language.ast import walk
from rxpolicy.language.check import SymbolKind
from rxpolicy.language.facts import CaseSchema, FieldSpec
from rxpolicy.language.types import Kind
from rxpolicy.language.values import CENT, Duration, SupplyLimit
from rxpolicy.tools.explore import ConditionSpace, condition_space, with_changes

__all__ = ["MAX_EVALUATIONS", "fixed_facts", "supply_limits", "what_if", "what_would_change"]

#: How many re-evaluations one search may make. A search over the built-in policies makes about 2,000;
#: beyond this limit it stops and says so, so that no case keeps an explanation waiting for long.
MAX_EVALUATIONS = 10_000


def fixed_facts(facts: CaseSchema) -> Mapping[str, str]:
    """Facts a what-if never changes, with the reason: those declared ``fixed because "…"``, and the computed
    ones (age, days insured), which follow from others."""
    return MappingProxyType({**{p: s.fixed for p, s in facts.fields.items() if s.fixed},
                             **{p: "worked out from the other facts" for p in facts.derived}})


#: Fields where only some changes can be made, by present value: one can ask for the preferred medicine of a
#: group that has one, but whether a group has one is the insurer's list.
_MAKEABLE: Mapping[str, Mapping[object, tuple[object, ...]]] = MappingProxyType({
    "medicine.preferred": MappingProxyType({False: (True,)})})

#: The authorisation's two dates change together: a case writes both or neither.
_ORDERED = (Kind.NUMBER, Kind.MONEY)



def supply_limits(policy: CompiledPolicy) -> Mapping[str, str]:
    """Supply fact → the decision it must fit within, as the policy's rules write it
    (``dispensing.supply_days days fits within max_supply``)."""
    found: dict[str, str] = {}
    for rule in policy.rules:
        expressions = [e for e in (rule.rule.when, *(a.value for a in rule.rule.assignments)) if e is not None]
        for node in (n for e in expressions for n in walk(e)):
            if not isinstance(node, ast.FitsWithin):
                continue
            supply = node.supply.operand if isinstance(node.supply, ast.WithUnit) else node.supply
            fact = policy.checked.names.get(id(supply)) if isinstance(supply, ast.Name) else None
            limit = policy.checked.names.get(id(node.limit)) if isinstance(node.limit, ast.Name) else None
            if fact is not None and fact.kind is SymbolKind.FIELD and limit is not None \
                    and limit.kind is SymbolKind.DECISION:
                found.setdefault(fact.target, limit.target)
    return MappingProxyType(found)


def what_would_change(evaluation: Evaluation, decision: str | None = None, *, max_changes: int = MAX_CHANGES,
                      max_evaluations: int = MAX_EVALUATIONS) -> tuple[Counterfactual, ...]:
    """The minimal changes (at most ``max_changes`` facts) that make ``decision`` "yes", fewest first.

    ``decision`` is the policy's outcome unless named. Empty when the decision is already "yes", is not a
    yes/no decision, or no such change exists. The search stops after ``max_evaluations`` re-evaluations of
    the case (:func:`what_if` says when it did).
    """
    return _search(evaluation, decision or evaluation.policy.outcome or "", max_changes, max_evaluations)[0]


def _search(evaluation: Evaluation, decision: str, max_changes: int,
            max_evaluations: int) -> tuple[tuple[Counterfactual, ...], bool]:
    """The counterfactuals found, and whether the search was complete (not stopped by its budget)."""
    if decision not in evaluation or evaluation[decision].value is not False:
        return (), True
    search = _Search(evaluation, decision, condition_space(evaluation.policy, evaluation.case.day),
                     budget=max_evaluations)
    found: list[Changes] = []
    complete = True
    try:
        for size in range(1, max_changes + 1):
            # Facts that already work together (with any values) are not part of a larger minimal set.
            working = {frozenset(change_unit(p, search.case.schema) for p in changes) for changes in found}
            for units in itertools.combinations(search.units, size):
                if not any(smaller <= set(units) for smaller in working):
                    found.extend(search.combination(units))
    except _Exhausted:
        complete = False  # what was found is still right; smaller sets come first, so those are all there
    return tuple(cf for cf in (search.counterfactual(c) for c in found) if cf is not None), complete


class _Exhausted(Exception):
    """The search used up its re-evaluations."""


@attrs.define
class _Search:
    """One search: the case, the facts that may change and their candidate values."""

    evaluation: Evaluation
    decision: str
    space: ConditionSpace
    units: tuple[str, ...] = ()
    candidates: dict[str, tuple[Changes, ...]] = attrs.Factory(dict)
    #: Re-evaluations the search may still make.
    budget: int = MAX_EVALUATIONS
    fields: Mapping[str, FieldSpec] = attrs.Factory(dict)
    #: Supply fact → the decision it must fit within (see :func:`supply_limits`).
    supplies: Mapping[str, str] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        relevant = self.space.relevant_fields([self.decision])
        self.fields = self.case.schema.fields
        self.supplies = supply_limits(self.evaluation.policy)
        fixed = fixed_facts(self.case.schema)
        for path in self.fields:
            unit = change_unit(path, self.case.schema)
            if path in relevant and path not in fixed and unit not in self.candidates:
                options = self._authorisation(unit) if unit != path else self._values(path)
                if options:
                    self.candidates[unit] = options
        self.units = tuple(self.candidates)

    @property
    def case(self) -> Case:
        return self.evaluation.case

    def _values(self, path: str) -> tuple[Changes, ...]:
        current = self.case.get(path)
        values = list(self.space.values.get(path, ()))
        if path in self.supplies:
            values.append(self._largest_fitting_supply(self.supplies[path]))
        if self._ordered(path) and current is not None:
            # The least value a number can have: where it works, the boundary search moves it up to the case.
            values.append(_lowest(self.fields[path], current))
        makeable = _MAKEABLE.get(path)
        allowed = None if makeable is None else makeable.get(current, ())
        chosen = (v for v in values if v is not None or self.fields[path].type.nullable)
        return tuple({path: v} for v in dict.fromkeys(chosen)
                     if v != current and (allowed is None or v in allowed))

    def _largest_fitting_supply(self, decision: str) -> int | None:
        """The longest supply the current maximum allows, laid from the dispensing date by month arithmetic."""
        if decision not in self.evaluation:
            return None
        limit = self.evaluation[decision].value
        duration = limit.duration if isinstance(limit, SupplyLimit) else limit
        if not isinstance(duration, Duration):
            return None
        day = self.case.day
        return (duration.end_from(day) - day).days

    def _authorisation(self, section: str) -> tuple[Changes, ...]:
        """An `all or none` section of two dates (the authorisation) valid on the day, changing as little of
        the present one as possible."""
        day = self.case.day
        first, second = section_dates(self.case.schema, section)
        granted, until = self.case.get(first), self.case.get(second)
        if not isinstance(granted, dt.date) or not isinstance(until, dt.date):
            return ({first: day, second: day},)
        if granted <= day <= until:
            return ()
        return ({first: min(granted, day), second: max(until, day)},)

    def _ordered(self, path: str) -> bool:
        return self.fields[path].type.kind in _ORDERED

    def works(self, changes: Changes) -> bool:
        """Whether the decision is "yes" once the facts are changed (a case rules cannot decide: no)."""
        if self.budget <= 0:
            raise _Exhausted
        self.budget -= 1
        changed = with_changes(self.case, changes)
        if changed is None:
            return False
        try:
            return evaluate(self.evaluation.policy, changed, trace=False)[self.decision].value is True
        except RxError:
            return False

    def combination(self, units: Sequence[str]) -> list[Changes]:
        """The working change sets for these facts, numbers moved to the boundary nearest the case."""
        working = [merged for merged in _products(self.candidates[u] for u in units) if self.works(merged)]
        best: dict[tuple[tuple[str, object], ...], Changes] = {}
        for changes in working:
            # Of the working values of a number, one is enough: the nearest to the case's own.
            key = tuple((p, v) for p, v in changes.items() if not self._ordered(p))
            if key not in best or self._distance(changes) < self._distance(best[key]):
                best[key] = changes
        return [self._to_boundary(changes) for changes in best.values()]

    def _distance(self, changes: Changes) -> tuple[Decimal, ...]:
        return tuple(abs(Decimal(str(v)) - Decimal(str(self.case.get(p)))) if v is not None
                     and self.case.get(p) is not None else Decimal(0) for p, v in changes.items() if self._ordered(p))

    def _to_boundary(self, changes: Changes) -> Changes:
        result = dict(changes)
        for path, value in changes.items():
            old = self.case.get(path)
            if self._ordered(path) and isinstance(value, (int, Decimal)) and isinstance(old, (int, Decimal)):
                result[path] = self._boundary(result, path, value, old)
        return MappingProxyType(result)

    def _boundary(self, changes: dict[str, object], path: str, works: int | Decimal, fails: int | Decimal,
                  ) -> int | Decimal:
        """Binary search between a working value and the case's own for the working value nearest the latter."""
        money = self.fields[path].type.kind is Kind.MONEY
        step = CENT if money else Decimal(1)
        good, bad = Decimal(works), Decimal(fails)
        while abs(bad - good) > step:
            middle = ((good + bad) / 2).quantize(step, rounding=ROUND_FLOOR)
            if middle in (good, bad):
                break
            if self.works({**changes, path: _typed(middle, money)}):
                good = middle
            else:
                bad = middle
        return _typed(good, money)

    def counterfactual(self, changes: Changes) -> Counterfactual | None:
        """The validated counterfactual, or None when the changed case is not a valid one after all."""
        try:
            case = self.case.replace(changes)
            result = evaluate(self.evaluation.policy, case, trace=False)
        except RxError:
            return None
        if result[self.decision].value is not True:
            return None
        return Counterfactual(decision=self.decision, changes=MappingProxyType(dict(changes)),
                              was=MappingProxyType({p: self.case.get(p) for p in changes}),
                              bounds=MappingProxyType(self._bounds(changes)), rule=result[self.decision].rule,
                              case=case, values=MappingProxyType(dict(result.values_by_name)),
                              supplies=self.supplies)

    def _bounds(self, changes: Changes) -> dict[str, str]:
        """For each number moved to a boundary: whether every value beyond it (away from the case) works too."""
        bounds = {}
        for path, value in changes.items():
            old = self.case.get(path)
            if not (self._ordered(path) and isinstance(value, (int, Decimal)) and isinstance(old, (int, Decimal))):
                continue
            far = _lowest(self.fields[path], value) if value < old else value * 2 + 1
            try:
                if self.works({**changes, path: far}):
                    bounds[path] = "at most" if value < old else "at least"
            except _Exhausted:
                break  # the budget is spent: the change itself was verified, its open end is left unsaid
        return bounds


def _typed(number: Decimal, money: bool) -> int | Decimal:
    """A number as a case holds it: money with cents, a whole number as ``int``."""
    if money:
        return number.quantize(CENT)
    return int(number) if number == number.to_integral_value() else number


def _lowest(spec: FieldSpec, like: object) -> int | Decimal:
    """The least value a number field can hold (its declared `at least`, else 0; money has cents)."""
    if spec.at_least is not None:
        return int(spec.at_least) if spec.at_least == spec.at_least.to_integral_value() else spec.at_least
    return Decimal("0.00") if isinstance(like, Decimal) else 0


def _products(options: Iterable[tuple[Changes, ...]]) -> Iterator[Changes]:
    for combination in itertools.product(*options):
        merged: dict[str, object] = {}
        for changes in combination:
            merged.update(changes)
        yield MappingProxyType(merged)


def what_if(evaluation: Evaluation, decision: str | None = None, *, max_changes: int = MAX_CHANGES,
            max_evaluations: int = MAX_EVALUATIONS) -> WhatIf:
    """:func:`what_would_change` as the data the renderers show ("What would change it"); ``decision`` is the
    policy's outcome unless named.

    This is the call that costs: up to ``max_evaluations`` re-evaluations of the case. Nothing else runs it;
    ``rxpolicy eval`` only with ``--why-not`` (or for one case shown on a terminal).
    """
    decision = decision or evaluation.policy.outcome or ""
    found, complete = _search(evaluation, decision, max_changes, max_evaluations)
    return WhatIf(decision=decision, max_changes=max_changes, counterfactuals=found, complete=complete)
