"""``rxpolicy diff OLD NEW``: the dispensing cases two policies, or one policy on two dates, decide differently.

Each side is a policy on a date (``hollandzorg@2023-06-01``). The cases compared come from the
condition space the rules of both sides define (:mod:`rxpolicy.tools.explore`: the union of their
representative values, enumerated systematically, then the neighbours of every difference found),
or from case files. Every decision whose value differs is grouped by the pair of deciding rules
(old, new); each group keeps one minimal witness case.

A case is compared with itself moved to the new side's date (:mod:`rxpolicy.tools.diff_sides` reads the
sides and moves cases: the same age, authorisation and insured days around the dispensing date).
Compared at the same day of the year, a difference that remains is a real one; where only the date
arithmetic makes it (366 days in a leap year pro-rating an amount), the finding says so instead of
naming a rule change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

import attrs

from rxpolicy.diagnostics import RxError
from rxpolicy.engine.case import Case
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.evaluate import evaluate
from rxpolicy.explain.whatif import change_unit, section_dates
from rxpolicy.explain.diff import DiffReport, Finding, Key, NotCompared, Side, Verdict
from rxpolicy.language import ast
from rxpolicy.language.check import SymbolKind
from rxpolicy.language.types import Type
from rxpolicy.language.values import days_in_year, describe
from rxpolicy.tools.diff_sides import birthdays_of, changed_case, move_case, not_loadable, parse_side
from rxpolicy.tools.explore import ConditionSpace, base_case, condition_space, minimise, named_after_atc

__all__ = ["diff", "move_case", "parse_side"]


# ------------------------------------------------------------------------------------------ comparing

def _verdict(policy: CompiledPolicy, case: Case) -> Verdict:
    try:
        evaluation = evaluate(policy, case, trace=False)
    except RxError as error:
        return Verdict(values={}, rules={}, error=error.diagnostics[0])
    names = [d.name for d in policy.decisions]
    return Verdict(values=dict(zip(names, evaluation.values)),
                   rules={name: tuple(policy.rules[i] for i in deciders)
                          for name, deciders in zip(names, evaluation.deciders)},
                   types={d.name: d.type for d in policy.decisions})


@attrs.define
class _Comparer:
    """Compares cases between two sides and keeps the first case found for each group."""

    old: Side
    new: Side
    decisions: tuple[str, ...]
    #: Per decision: the decisions it reads (on either side), and what differs in its rules and amounts.
    reads: Mapping[str, frozenset[str]]
    changed: Mapping[str, list[str]]
    spaces: tuple[ConditionSpace, ConditionSpace]
    first: dict[Key, tuple[Case, str | None]] = attrs.Factory(dict)
    compared: int = 0
    skipped: int = 0

    @classmethod
    def build(cls, old: Side, new: Side) -> _Comparer:
        decisions = tuple(dict.fromkeys(d.name for side in (old, new) for d in side.policy.decisions))
        spaces = condition_space(old.policy, old.day), condition_space(new.policy, new.day)
        reads = {d: frozenset(r for side, space in zip((old, new), spaces)
                              for r in space.decisions_read(_deciders(side, d))) for d in decisions}
        changed = {d: _signature(old, d).changes(_signature(new, d)) for d in decisions}
        return cls(old=old, new=new, decisions=decisions, reads=reads, changed=changed, spaces=spaces)

    def verdicts(self, case: Case) -> tuple[Verdict, Verdict] | None:
        """Both sides' decisions for a case on the old side's date (moved to the new side's); None for a case
        that cannot be moved there. Moving keeps every date in order, so that is a bug in rxpolicy, but a case
        built while searching must never end the command: it is skipped, not compared."""
        try:
            moved = move_case(case, self.new.day, self.new.policy)
        except RxError:
            self.skipped += 1
            return None
        self.compared += 1
        return _verdict(self.old.policy, case), _verdict(self.new.policy, moved)

    def keys(self, case: Case) -> list[Key]:
        """The groups a case falls in: one per decision the two sides decide differently."""
        verdicts = self.verdicts(case)
        if verdicts is None:
            return []
        old, new = verdicts
        if old.error or new.error:
            codes = tuple(d.code for d in (old.error,) if d), tuple(d.code for d in (new.error,) if d)
            return [("", *codes, False)] if codes[0] != codes[1] else []
        differing = frozenset(d for d in self.decisions if old.values.get(d, _ABSENT) != new.values.get(d, _ABSENT))
        return [(d, tuple(r.id for r in old.rules.get(d, ())), tuple(r.id for r in new.rules.get(d, ())),
                 not any(self.changed[r] for r in self.roots(d, differing))) for d in self.decisions if d in differing]

    def roots(self, decision: str, differing: frozenset[str], seen: frozenset[str] = frozenset()) -> set[str]:
        """The differing decisions a difference comes from: those it reads that differ, back to the first ones,
        and itself when its own rules or amounts differ (or it reads no differing decision: then the dates do)."""
        upstream = self.reads[decision] & differing - seen - {decision}
        own = {decision} if not upstream or self.changed[decision] else set()
        return own.union(*(self.roots(d, differing, seen | {decision}) for d in sorted(upstream)))

    def add(self, case: Case, origin: str | None = None) -> list[Key]:
        """Compare one case (on the old side's date); the groups it is the first witness of."""
        fresh = [k for k in self.keys(case) if k not in self.first]
        for key in fresh:
            self.first[key] = (case, origin)
        return fresh


_ABSENT = object()


def _deciders(side: Side, decision: str) -> list[int]:
    epoch = side.policy.epoch_for(side.day)
    in_force = epoch.rules_in_force if epoch is not None else frozenset()
    return [r.index for r in side.policy.rules if decision in r.decides and r.index in in_force]


class _Signature(NamedTuple):
    """What decides a decision on one side: its rules in force (as written), the definitions and amounts they read."""

    rules: Mapping[str, tuple[object, ...]]
    definitions: Mapping[str, ast.Expr]
    amounts: Mapping[str, object]
    #: The amounts' declared types (a number parameter is no amount of money, whatever its decimals).
    types: Mapping[str, Type]

    def changes(self, new: _Signature) -> list[str]:
        """What differs from the new side's, in words (empty when the two decide alike for the same facts)."""
        said = [f"{rule} {'only on the old side' if rule not in new.rules else 'written differently'}"
                for rule in self.rules if self.rules[rule] != new.rules.get(rule)]
        said += [f"{rule} only on the new side" for rule in new.rules if rule not in self.rules]
        said += [f"the definition {name} differs" for name in sorted({*self.definitions, *new.definitions})
                 if self.definitions.get(name) != new.definitions.get(name)]
        return said + [f"{name}: {describe(self.amounts.get(name), self.types.get(name))} → "
                       f"{describe(new.amounts.get(name), new.types.get(name))}"
                       for name in sorted({*self.amounts, *new.amounts})
                       if self.amounts.get(name) != new.amounts.get(name)]


def _signature(side: Side, decision: str) -> _Signature:
    """The rules in force deciding a decision on a side, and the definitions and amounts they read."""
    checked = side.policy.checked
    rules = [side.policy.rules[i] for i in _deciders(side, decision)]
    todo = [e for r in rules for e in (r.rule.when, *(a.value for a in r.rule.assignments)) if e is not None]
    definitions: dict[str, ast.Expr] = {}
    amounts: dict[str, object] = {}
    types: dict[str, Type] = {}
    while todo:
        for node in ast.walk(todo.pop()):
            resolved = checked.names.get(id(node)) if isinstance(node, ast.Name) else None
            if resolved is not None and resolved.kind is SymbolKind.DEFINITION and resolved.target not in definitions:
                definitions[resolved.target] = checked.definitions[resolved.target].expr
                todo.append(definitions[resolved.target])
            elif resolved is not None and resolved.kind is SymbolKind.PARAMETER:
                found = checked.parameters[resolved.target].value_on(side.day)
                amounts[resolved.target] = found.value if found is not None else None
                types[resolved.target] = checked.parameters[resolved.target].type
    written = {r.id: (r.rule.when, r.rule.assignments, r.parents, r.table, r.rule.row_index) for r in rules}
    return _Signature(rules=written, definitions=definitions, amounts=amounts, types=types)


def diff(old: Side, new: Side, cases: Sequence[tuple[Case, str]] | None = None, *,
         calendar: bool = False) -> DiffReport:
    """Compare two sides on the given cases (case, origin), or on the cases their rules define.

    A given case a side cannot load (a plan its policy does not declare) is not compared: the report lists
    it under ``not_compared``, per side. ``calendar``: also show the differences the calendar alone makes.
    """
    comparer = _Comparer.build(old, new)
    base = base_case(old.policy, old.day)
    refused: list[NotCompared] = []
    if cases is not None:
        for case, origin in cases:
            problems = list(not_loadable(case, origin, (("old", old), ("new", new))))
            if not problems:
                try:
                    comparer.add(move_case(case, old.day, old.policy), origin)
                except RxError as error:  # a bug (moving keeps dates in order): reported, not ending the command
                    problems = [NotCompared(origin=origin, side="old", problem=d) for d in error.diagnostics]
            refused += problems
    else:
        _explore(comparer, base)
    findings = [_finding(comparer, key, case, origin, base) for key, (case, origin) in comparer.first.items()]
    order = {name: i for i, name in enumerate(comparer.decisions)}
    findings.sort(key=lambda f: (f.calendar_only, order.get(f.decision, -1), f.key))
    return DiffReport(old=old, new=new, findings=tuple(findings), cases_compared=comparer.compared,
                      cases_from="explored" if cases is None else "files", calendar=calendar,
                      not_compared=tuple(refused), cases_skipped=comparer.skipped)


def _explore(comparer: _Comparer, base: Case) -> None:
    """Where differences can come from, then where they lead.

    1. Each decision whose rules or amounts differ, over the facts its rules and those of the decisions
       they read look at: exhaustively when that fits, else every pair of values.
    2. The whole condition space of both sides (every pair of values), and every single change of the base
       case: this also meets what the calendar alone changes.
    3. Around every difference found: single changes, and the knock-on effects, to their end.
    """
    for decision in comparer.decisions:
        if comparer.changed[decision]:
            local = _union(comparer, lambda side, space: space.restricted(
                _deciders(side, decision) + [r for d in comparer.reads[decision] for r in _deciders(side, d)],
                through_decisions=False,
                base=base if side is comparer.old else move_case(base, side.day, side.policy)))
            for case in local.cases(base, tuple(local.values), limit=_ROOT_LIMIT):
                comparer.add(case)
    space = _union(comparer, lambda side, space: space)
    fields = tuple(p for p in space.values if p != "dispensed_on")
    for case in space.cases(base, fields):
        comparer.add(case)
    frontier: dict[Case, list[Key]] = {base: []}
    for key, (case, _) in comparer.first.items():
        frontier.setdefault(case, []).append(key)
    for witness, keys in frontier.items():
        for case in _single_changes(_minimal(comparer, witness, keys, base), space, fields):
            comparer.add(case)
    _knock_ons(comparer, base)


#: The most cases tried for one decision whose rules differ before every pair of values is tried instead.
_ROOT_LIMIT = 20_000


def _union(comparer: _Comparer, pick: Callable[[Side, ConditionSpace], ConditionSpace]) -> ConditionSpace:
    """The representative values both sides give (``pick``: which part of each side's space), on the old date."""
    old, new = comparer.old, comparer.new
    a, b = pick(old, comparer.spaces[0]), pick(new, comparer.spaces[1])
    values: dict[str, tuple[object, ...]] = {}
    facts, birthdays = a.policy.facts, birthdays_of(old.policy)  # moved to the old date: by the old side's reading
    for path in (p for p in facts.fields if (p in a.values or p in b.values) and p != facts.period_date):
        theirs = tuple(birthdays.move(path, v, new.day, old.day) if isinstance(v, dt.date) else v
                       for v in b.values.get(path, ()))
        values[path] = tuple(dict.fromkeys([*a.values.get(path, ()), *theirs]))
    return attrs.evolve(a, values=values)


def _minimal(comparer: _Comparer, case: Case, keys: Collection[Key], base: Case, *,
             own_medicine: bool = False) -> Case:
    """The case with every fact these groups do not need reset to the base case (explore.minimise); a case
    without keys keeps its facts.

    The medicine shown is never two medicines at once: a case file's witness (``own_medicine``) keeps the
    file's medicine, name and ATC code together, so it stays recognisable; any other witness that needs
    another ATC code than the base case's is named after that code (:func:`explore.named_after_atc`).
    """
    if own_medicine:
        base = changed_case(base, {path: case.get(path) for path in _MEDICINE})
    wanted = frozenset(keys)
    if wanted:
        case = minimise(case, base, lambda candidate: wanted <= set(comparer.keys(candidate)))
    return named_after_atc(case, base)


_MEDICINE = ("medicine.name", "medicine.atc")


def _knock_ons(comparer: _Comparer, base: Case) -> None:
    """For each difference, the decisions that read a differing decision, tried over the facts their own rules read.

    A knock-on may need facts of its own (a personal contribution needs a price above the limit, what a plan
    pays needs that plan), so each is searched from the witness of the difference it follows from.
    """
    todo, done = list(comparer.first), set[Key]()
    while todo:
        key = todo.pop(0)
        if key in done:
            continue
        done.add(key)
        witness = _minimal(comparer, comparer.first[key][0], (key,), base)
        old, new = _compared(comparer, witness)
        differing = {d for d in comparer.decisions if old.values.get(d) != new.values.get(d)}
        for decision in comparer.decisions:
            if decision in differing or not comparer.reads[decision] & differing:
                continue
            local = comparer.spaces[0].restricted(_deciders(comparer.old, decision), through_decisions=False,
                                                  base=witness)
            for case in local.cases(witness, tuple(local.values)):
                todo.extend(comparer.add(case))


def _single_changes(case: Case, space: ConditionSpace, fields: Sequence[str]) -> Iterator[Case]:
    """The case with one fact changed to each of its representative values (an authorisation's two dates together)."""
    schema = case.schema
    for path in fields:
        unit = change_unit(path, schema)
        if unit != path and path != section_dates(schema, unit)[0]:
            continue
        options: Iterable[dict[str, object]] = ({path: v} for v in space.values[path] if v != case.get(path))
        if unit != path:  # the facts of an `all or none` section (an authorisation's dates) change together
            first, second = section_dates(schema, unit)
            options = ({first: g, second: u} for g in space.values[path]
                       for u in space.values.get(second, (None,))
                       if (g is None) == (u is None) and (g, u) != (case.get(first), case.get(second)))
        for changes in options:
            try:
                yield changed_case(case, changes)
            except RxError:
                continue  # not a valid case (an authorisation ending before it starts)


def _compared(comparer: _Comparer, witness: Case) -> tuple[Verdict, Verdict]:
    """Both sides' decisions for a witness, which was compared when it was found (so it moves)."""
    verdicts = comparer.verdicts(witness)
    assert verdicts is not None, "a witness is a case that was compared"
    return verdicts


def _finding(comparer: _Comparer, key: Key, case: Case, origin: str | None, base: Case) -> Finding:
    witness = _minimal(comparer, case, (key,), base, own_medicine=origin is not None)
    old, new = _compared(comparer, witness)
    name = key[0]
    why = [f"{d}: {describe(old.values.get(d), old.types.get(d))} → {describe(new.values.get(d), new.types.get(d))}"
           for d in comparer.decisions if d in comparer.reads.get(name, ()) and old.values.get(d) != new.values.get(d)]
    if not name:
        kind = "error"
    elif comparer.changed[name]:
        kind, why = "rule", comparer.changed[name] + why
    elif why:
        kind = "follows"
    else:
        kind = "calendar"
        old_days, new_days = days_in_year(comparer.old.day.year), days_in_year(comparer.new.day.year)
        why = [f"days in the year: {old_days} → {new_days}" if old_days != new_days
               else "the lengths of the months after the two dates"]
    return Finding(decision=name, old=old, new=new, witness=witness,
                   moved=move_case(witness, comparer.new.day, comparer.new.policy),
                   origin=origin, kind=kind, why=tuple(why), calendar_only=key[3])
