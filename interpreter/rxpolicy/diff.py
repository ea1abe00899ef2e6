"""``rxpolicy diff OLD NEW``: the dispensing cases two policies, or one policy on two dates, decide differently.

Each side is a policy on a date (``hollandzorg@2023-06-01``). The cases compared come from the
condition space the rules of both sides define (:mod:`rxpolicy.explore`: the union of their
representative values, enumerated systematically, then the neighbours of every difference found),
or from case files. Every decision whose value differs is grouped by the pair of deciding rules
(old, new); each group keeps one minimal witness case.

**The same case on two dates.** A case is moved to the other side's date as a whole: its dispensing
date becomes that side's date and every other date it writes (date of birth, insured period,
authorisation, Appendix 2 listing) moves by the same number of years and days, so the person has
the same age, the same part of the year insured and an authorisation valid for as long around the
dispensing date. Defaults that follow the dispensing date (the insured period) follow it. Compared
at the same day of the year, a difference that remains is a real one; where only the date
arithmetic makes it (366 days in a leap year pro-rating an amount), the finding says so instead of
naming a rule change.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import attrs
import click

from . import ast
from .api import PolicyStore
from .case import Case, load_case
from .check import SymbolKind
from .compile import CompiledPolicy
from .diagnostics import Diagnostic, RxError
from .evaluate import evaluate
from .explore import ConditionSpace, base_case, condition_space, minimise, rebuild
from .load import split_policy_year
from .schema import AUTHORISATION_DATES, FIELDS, field_index
from .types import Kind
from .render.diff import DiffReport, Finding, Key, Side, Verdict, diff_json, diff_markdown, diff_text
from .values import add_months, days_in_year, describe

__all__ = ["diff", "diff_command", "move_case", "parse_side"]

_DATE_FIELDS = tuple(p for p, s in FIELDS.items() if s.type.kind is Kind.DATE and not s.derived
                     and p != "dispensed_on")


# ------------------------------------------------------------------------------------------ sides

def parse_side(spec: str, store: PolicyStore) -> Side:
    """``NAME`` or ``NAME@YYYY-MM-DD`` (NAME: a built-in policy, ``name-YYYY``, or a directory of rule files)."""
    name, at, written = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if at and not name:
        raise RxError(Diagnostic(code="RX601", message=f"`{spec}` names no policy before the `@`",
                                 help="write the policy, then the date: e.g. `hollandzorg@2025-06-01`"))
    policy = store.load(name)
    _, year = split_policy_year(name)
    day = _date(spec, written) if at else _middle(spec, policy, year)
    if policy.epoch_for(day) is None:
        period = str(policy.validity) if policy.validity else "no period"
        raise RxError(Diagnostic(code="RX501", message=f"`{spec}`: the policy `{policy.name}` has no rules in force "
                                                       f"on {day} (it is in force {period})",
                                 help="choose a date in the period `rxpolicy policies` lists for it"))
    if year is not None and day.year != year:
        raise RxError(Diagnostic(code="RX602", message=f"`{spec}` asks for the rules of {year} on {day}",
                                 help=f"write `{policy.name}@{day}`, or a date in {year}"))
    return Side(spec=spec, policy=policy, day=day, defaulted=not at)


def _date(spec: str, written: str) -> dt.date:
    shaped = re.fullmatch(r"\d{4}-\d{2}-\d{2}", written) is not None
    try:
        if shaped:
            return dt.date.fromisoformat(written)
    except ValueError:
        pass
    what = "a date that does not exist" if shaped else "not a date written as YYYY-MM-DD"
    raise RxError(Diagnostic(code="RX601", message=f"`{spec}`: `{written}` is {what}",
                             help="write the policy, `@` and a date that exists, e.g. `hollandzorg@2025-06-01`"))


def _middle(spec: str, policy: CompiledPolicy, year: int | None) -> dt.date:
    """The middle of the in-force period; for ``name-YYYY`` 1 July of that year (the same day in every year)."""
    validity = policy.validity
    if year is not None:
        return dt.date(year, 7, 1)
    if validity is not None and validity.end is not None:
        start, end = validity.start, validity.end
    else:
        period = f"is in force from {validity.start} with no end" if validity else "declares no period it is in force"
        raise RxError(Diagnostic(code="RX601", message=f"`{spec}` {period}, so it has no middle to compare on",
                                 help=f"give the date to compare on: `{spec}@YYYY-MM-DD`"))
    return start + (end - start) // 2


# ------------------------------------------------------------------------------------------ moving a case

def move_case(case: Case, day: dt.date) -> Case:
    """The same case dispensed on ``day``: every date it writes moves by the same years and days.

    A date at its default (the insured period: the dispensing year) takes the default of the new date.
    """
    if case.dispensed_on == day:
        return case
    changes: dict[str, object] = {"dispensed_on": day}
    for path in _DATE_FIELDS:
        value, spec = case.get(path), FIELDS[path]
        if isinstance(value, dt.date):
            at_default = value == spec.default_for(case.dispensed_on)
            changes[path] = spec.default_for(day) if at_default else _shift(value, case.dispensed_on, day)
    return _changed(case, changes)


def _shift(value: dt.date, start: dt.date, end: dt.date) -> dt.date:
    """``value`` moved as ``start`` moves to ``end``: by whole years (29 February becoming the 28th), then days."""
    years = end.year - start.year
    return add_months(value, 12 * years) + (end - add_months(start, 12 * years))


def _changed(case: Case, changes: Mapping[str, object]) -> Case:
    """The case with fields changed to values of the condition space; derived facts are worked out again.

    Moving every date alike keeps them in order, so a moved case is valid when the original was; a
    combination that is not (an authorisation ending before it starts, or half of one) is validated the slow way, which
    raises :class:`RxError` saying why.
    """
    values = list(case.values)
    for path, value in changes.items():
        values[field_index(path)] = value
    rebuilt = rebuild(values)
    return Case(values=rebuilt, source=case.source) if rebuilt is not None else case.replace(changes)


# ------------------------------------------------------------------------------------------ comparing

def _verdict(policy: CompiledPolicy, case: Case) -> Verdict:
    try:
        evaluation = evaluate(policy, case, trace=False)
    except RxError as error:
        return Verdict(values={}, rules={}, error=error.diagnostics[0])
    names = [d.name for d in policy.decisions]
    return Verdict(values=dict(zip(names, evaluation.values)),
                   rules={name: tuple(policy.rules[i] for i in deciders)
                          for name, deciders in zip(names, evaluation.deciders)})


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

    @classmethod
    def build(cls, old: Side, new: Side) -> _Comparer:
        decisions = tuple(dict.fromkeys(d.name for side in (old, new) for d in side.policy.decisions))
        spaces = condition_space(old.policy, old.day), condition_space(new.policy, new.day)
        reads = {d: frozenset(r for side, space in zip((old, new), spaces)
                              for r in space.decisions_read(_deciders(side, d))) for d in decisions}
        changed = {d: _signature(old, d).changes(_signature(new, d)) for d in decisions}
        return cls(old=old, new=new, decisions=decisions, reads=reads, changed=changed, spaces=spaces)

    def verdicts(self, case: Case) -> tuple[Verdict, Verdict]:
        """Both sides' decisions for a case on the old side's date (moved to the new side's)."""
        self.compared += 1
        return _verdict(self.old.policy, case), _verdict(self.new.policy, move_case(case, self.new.day))

    def keys(self, case: Case) -> list[Key]:
        """The groups a case falls in: one per decision the two sides decide differently."""
        old, new = self.verdicts(case)
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

    def changes(self, new: _Signature) -> list[str]:
        """What differs from the new side's, in words (empty when the two decide alike for the same facts)."""
        said = [f"{rule} {'only on the old side' if rule not in new.rules else 'written differently'}"
                for rule in self.rules if self.rules[rule] != new.rules.get(rule)]
        said += [f"{rule} only on the new side" for rule in new.rules if rule not in self.rules]
        said += [f"the definition {name} differs" for name in sorted({*self.definitions, *new.definitions})
                 if self.definitions.get(name) != new.definitions.get(name)]
        return said + [f"{name}: {describe(self.amounts.get(name))} → {describe(new.amounts.get(name))}"
                       for name in sorted({*self.amounts, *new.amounts})
                       if self.amounts.get(name) != new.amounts.get(name)]


def _signature(side: Side, decision: str) -> _Signature:
    """The rules in force deciding a decision on a side, and the definitions and amounts they read."""
    checked = side.policy.checked
    rules = [side.policy.rules[i] for i in _deciders(side, decision)]
    todo = [e for r in rules for e in (r.rule.when, *(a.value for a in r.rule.assignments)) if e is not None]
    definitions: dict[str, ast.Expr] = {}
    amounts: dict[str, object] = {}
    while todo:
        for node in ast.walk(todo.pop()):
            resolved = checked.names.get(id(node)) if isinstance(node, ast.Name) else None
            if resolved is not None and resolved.kind is SymbolKind.DEFINITION and resolved.target not in definitions:
                definitions[resolved.target] = checked.definitions[resolved.target].expr
                todo.append(definitions[resolved.target])
            elif resolved is not None and resolved.kind is SymbolKind.PARAMETER:
                found = checked.parameters[resolved.target].value_on(side.day)
                amounts[resolved.target] = found.value if found is not None else None
    written = {r.id: (r.rule.when, r.rule.assignments, r.parents, r.table, r.rule.row_index) for r in rules}
    return _Signature(rules=written, definitions=definitions, amounts=amounts)


def diff(old: Side, new: Side, cases: Sequence[tuple[Case, str]] | None = None, *,
         calendar: bool = False) -> DiffReport:
    """Compare two sides on the given cases (case, origin), or on the cases their rules define.

    ``calendar``: also show the differences the calendar alone makes.
    """
    comparer = _Comparer.build(old, new)
    base = base_case(old.policy, old.day)
    if cases is not None:
        for case, origin in cases:
            comparer.add(move_case(case, old.day), origin)
    else:
        _explore(comparer, base)
    findings = [_finding(comparer, key, case, origin, base) for key, (case, origin) in comparer.first.items()]
    order = {name: i for i, name in enumerate(comparer.decisions)}
    findings.sort(key=lambda f: (f.calendar_only, order.get(f.decision, -1), f.key))
    return DiffReport(old=old, new=new, findings=tuple(findings), cases_compared=comparer.compared,
                      cases_from="explored" if cases is None else "files", calendar=calendar)


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
                through_decisions=False, base=base if side is comparer.old else move_case(base, side.day)))
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
    for path in (p for p in FIELDS if (p in a.values or p in b.values) and p != "dispensed_on"):
        theirs = tuple(_shift(v, new.day, old.day) if isinstance(v, dt.date) else v for v in b.values.get(path, ()))
        values[path] = tuple(dict.fromkeys([*a.values.get(path, ()), *theirs]))
    return attrs.evolve(a, values=values)


def _minimal(comparer: _Comparer, case: Case, keys: Collection[Key], base: Case) -> Case:
    """The case with every fact these groups do not need reset to the base case (explore.minimise). The
    medicine keeps its name: no rule reads it, and a case file's witness stays recognisable. A case without
    keys is returned as it is.
    """
    wanted = frozenset(keys)
    if not wanted:
        return case
    base = _changed(base, {"medicine.name": case.get("medicine.name")})
    return minimise(case, base, lambda candidate: wanted <= set(comparer.keys(candidate)))


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
        old, new = comparer.verdicts(witness)
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
    for path in fields:
        if path == AUTHORISATION_DATES[1]:
            continue
        options: Iterable[dict[str, object]] = ({path: v} for v in space.values[path] if v != case.get(path))
        if path == AUTHORISATION_DATES[0]:
            options = ({path: g, AUTHORISATION_DATES[1]: u} for g in space.values[path]
                       for u in space.values.get(AUTHORISATION_DATES[1], (None,))
                       if (g is None) == (u is None) and (g, u) != tuple(case.get(p) for p in AUTHORISATION_DATES))
        for changes in options:
            try:
                yield _changed(case, changes)
            except RxError:
                continue  # not a valid case (an authorisation ending before it starts)


def _finding(comparer: _Comparer, key: Key, case: Case, origin: str | None, base: Case) -> Finding:
    witness = _minimal(comparer, case, (key,), base)
    old, new = comparer.verdicts(witness)
    name = key[0]
    why = [f"{d}: {describe(old.values.get(d))} → {describe(new.values.get(d))}"
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
    return Finding(decision=name, old=old, new=new, witness=witness, moved=move_case(witness, comparer.new.day),
                   origin=origin, kind=kind, why=tuple(why), calendar_only=key[3])


# ------------------------------------------------------------------------------------------ the command

def _case_files(directory: Path) -> list[tuple[Case, str]]:
    if not directory.is_dir():
        raise RxError(Diagnostic(code="RX001", message=f"the case directory {directory} does not exist",
                                 help="give a directory of case files (*.yaml), e.g. `--cases examples/hollandzorg`"))
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise RxError(Diagnostic(code="RX002", message=f"{directory} holds no case files (*.yaml)",
                                 help="point `--cases` at a directory of case files"))
    return [(load_case(path), str(path)) for path in paths]


def _run(old_spec: str, new_spec: str, cases_dir: Path | None, output_format: str, calendar: bool,
         exit_code: bool) -> None:
    store = PolicyStore()
    old, new = parse_side(old_spec, store), parse_side(new_spec, store)
    report = diff(old, new, _case_files(cases_dir) if cases_dir is not None else None, calendar=calendar)
    render = {"text": diff_text, "markdown": diff_markdown, "json": diff_json}[output_format]
    click.echo(render(report), nl=False)
    if exit_code and report.shown:
        sys.exit(1)


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--cases", "cases_dir", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Compare the case files (*.yaml) in DIR instead of the cases the rules define.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True)
@click.option("--calendar", is_flag=True,
              help="Also show differences the calendar alone makes (the same rules and amounts on both sides).")
@click.option("--exit-code", is_flag=True, help="Exit 1 when some case is decided differently (as `git diff`).")
def diff_command(old: str, new: str, cases_dir: Path | None, output_format: str, calendar: bool,
                 exit_code: bool) -> None:
    """Show which cases two policies, or one policy on two dates, decide differently, and why.

    OLD and NEW are policies (a built-in name or a directory of rule files), each optionally on a date:
    `hollandzorg@2023-06-01 hollandzorg@2025-06-01`. Without a date, the middle of the policy's in-force
    period is used.
    """
    from .cli import guarded  # here, not at the top: the cli module imports this one to add the command

    guarded(_run)(old, new, cases_dir, output_format, calendar, exit_code)
