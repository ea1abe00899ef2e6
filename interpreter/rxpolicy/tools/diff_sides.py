"""The two sides of ``rxpolicy diff``, and the same case on each side's date.

:mod:`rxpolicy.tools.diff` compares cases between two sides and searches for the ones decided differently;
this module holds what that comparison stands on: reading a side (``hollandzorg@2023-06-01``, and
why its date is the one used), moving a case to a side's date so the two sides see the same
dispensing, and the case files of ``--cases``, which a side may refuse as ``rxpolicy eval`` would.

**The same case on two dates.** A case is moved as a whole: its dispensing date becomes the
side's date and the date of birth and an authorisation's dates move by the same years and days, so
the person has the same age and the authorisation is granted as long before the dispensing and
valid as long after. The insured period (verzekerde periode) moves by whole years when the person
is then insured on the new dispensing date exactly when they were on the old one (and not before
or after it instead): the same days of the year are insured, so amounts pro-rated by the days
insured stay the same. When that is not so (a period that ends before the old date but holds the
new one), it moves with the dispensing date like the other dates, so being insured on the day, and
for how long before and after, stays the same; only then can the days insured in the year differ,
and a difference that comes from that alone is the calendar's. Both insured dates always move
alike, so they stay in order; a period at its default (the whole dispensing year) becomes the new
year.

**A birthday on 29 February.** The date of birth is not a calendar day like the others: the policy counts its
anniversaries, and it declares where one on 29 February falls in a year without 29 February (``leap day birthday
on 1 March`` or ``on 28 February`` on the age fact; docs/readings.md). So a date of birth on 29 February moves by
whole years to the birthday that reading lays (born 29 February 2004, a year later: 1 March 2005 by the Dutch
reading), then by the same days as the dispensing date, so the person has the same age and their 18th birthday
falls on the same day of the year; should the dispensing date be that birthday or next to it (a year with and one
without 29 February put them a day apart differently), the date of birth moves one day further, so the age on the
new date is exactly the age on the old. Every other date (the dispensing date, an authorisation's dates,
the insured period) is a calendar day, not an anniversary: it moves by whole years as ``+ 12 months`` does,
29 February becoming the 28th, which keeps the days before it in the year (the days insured). :class:`Birthdays`
says which dates are dates of birth and which reading applies, read from the policy that decides the moved case.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

import attrs

from rxpolicy.api import PolicyStore
from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.engine.case import Case, case_from_mapping, load_case
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.explain.diff import DayFrom, NotCompared, Side
from rxpolicy.language import ast
from rxpolicy.language.check import CheckedPolicy, SymbolKind
from rxpolicy.language.facts import CaseSchema, FactRef
from rxpolicy.language.load import split_policy_year
from rxpolicy.language.types import Kind
from rxpolicy.language.values import add_months, birthday, whole_years_between
from rxpolicy.tools.explore import with_changes

__all__ = ["Birthdays", "birthdays_of", "changed_case", "move_case", "not_loadable", "parse_side", "read_case_files",
           "shift_date"]

def _period(schema: CaseSchema) -> tuple[str, ...]:
    """The dates whose default follows the day (the insured period: 1 January to 31 December of its year)."""
    return tuple(p for p, s in schema.fields.items() if s.type.kind is Kind.DATE and isinstance(s.default, FactRef))


def _with_the_day(schema: CaseSchema) -> tuple[str, ...]:
    """The dates that move with the dispensing date by the same years and days: every other date a case writes."""
    return tuple(p for p, s in schema.fields.items() if s.type.kind is Kind.DATE and not s.derived
                 and p != schema.period_date and p not in _period(schema))


# ------------------------------------------------------------------------------------------ sides

def parse_side(spec: str, store: PolicyStore) -> Side:
    """``NAME`` or ``NAME@YYYY-MM-DD`` (NAME: a built-in policy, ``name-YYYY``, or a directory of rule files)."""
    name, at, written = spec.rpartition("@") if "@" in spec else (spec, "", "")
    if at and not name:
        raise RxError(Diagnostic(code="RX601", message=f"`{spec}` names no policy before the `@`",
                                 help="write the policy, then the date: e.g. `hollandzorg@2025-06-01`"))
    policy = store.load(name)
    if not policy.rules:
        raise RxError(Diagnostic(code="RX601", message=f"`{spec}`: the rule files of `{policy.name}` hold no rules, "
                                                       "so there is nothing to compare",
                                 help="point at a policy whose files hold rules: a built-in name (`rxpolicy "
                                      "policies` lists them) or a directory such as `rules/hollandzorg`"))
    _, year = split_policy_year(name)
    day_from: DayFrom = "given" if at else "middle" if year is None else "year"
    day = _date(spec, name, written) if at else _middle(spec, policy, year)
    if policy.epoch_for(day) is None:
        period = str(policy.validity) if policy.validity else "no period"
        raise RxError(Diagnostic(code="RX501", message=f"`{spec}`: the policy `{policy.name}` has no rules in force "
                                                       f"on {day} (it is in force {period})",
                                 help="choose a date in the period `rxpolicy policies` lists for it"))
    if year is not None and day.year != year:
        raise RxError(Diagnostic(code="RX602", message=f"`{spec}` asks for the rules of {year} on {day}",
                                 help=f"write `{policy.name}@{day}`, or a date in {year}"))
    return Side(spec=spec, policy=policy, day=day, day_from=day_from)


def _date(spec: str, name: str, written: str) -> dt.date:
    if not written:
        raise RxError(Diagnostic(code="RX601", message=f"`{spec}`: the date after the `@` is missing",
                                 help=f"write the date after the `@`, e.g. `{name}@2025-06-01`, or leave out the `@` "
                                      "to compare on the middle of the policy's in-force period"))
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

@attrs.frozen
class Birthdays:
    """How a policy counts birthdays (verjaardagen), which moving a case by whole years follows.

    ``dates`` are the dates whose anniversaries the policy counts, dates of birth (geboortedatum): the first
    argument of a fact that counts birthdays (``insured.age``, computed by ``whole_years_between(insured.born_on,
    dispensed_on)``) and a date a rule gives to ``birthday(…)``. ``leap_day`` is where the policy says a birthday
    on 29 February falls in a year without 29 February (``1 March`` or ``28 February``).
    """

    dates: frozenset[str]
    leap_day: str

    def move(self, path: str, value: dt.date, start: dt.date, end: dt.date) -> dt.date:
        """The date ``path`` holds (``value``) moved as ``start`` moves to ``end``, by :func:`shift_date`: as a
        birthday when it is a date of birth, else as a calendar day."""
        return shift_date(value, start, end, self.leap_day if path in self.dates else None)


def birthdays_of(policy: CompiledPolicy | CaseSchema) -> Birthdays:
    """The dates of birth of a policy and its reading of a 29 February birthday, read from its facts (and, for a
    compiled policy, from the ``birthday(…)`` calls of its rules); worked out once per compiled policy."""
    if isinstance(policy, CaseSchema):
        return Birthdays(dates=_counted_by_facts(policy), leap_day=policy.leap_day_birthday)
    checked = policy.checked

    def make() -> Birthdays:
        dates = _counted_by_facts(policy.facts) | frozenset(_given_to_birthday(checked))
        return Birthdays(dates=dates, leap_day=policy.facts.leap_day_birthday)

    found: Birthdays = policy.memo.get("birthdays", make)
    return found


def _counted_by_facts(schema: CaseSchema) -> frozenset[str]:
    """The written dates a fact that counts birthdays (one with a ``leap day birthday`` reading) counts from."""
    return frozenset(s.arguments[0] for s in schema.fields.values()
                     if s.leap_day_birthday is not None and s.arguments and s.arguments[0] in schema.fields
                     and not schema.fields[s.arguments[0]].derived)


def _given_to_birthday(checked: CheckedPolicy) -> Iterator[str]:
    """The facts the policy's rule files give to ``birthday(…)`` as the date of birth."""
    for item in ast.reachable(checked.files_ast):
        if isinstance(item, ast.Call) and item.function == "birthday" and isinstance(item.args[0], ast.Name):
            resolved = checked.names.get(id(item.args[0]))
            if resolved is not None and resolved.kind is SymbolKind.FIELD:
                yield resolved.target


def move_case(case: Case, day: dt.date, by: CompiledPolicy | None = None) -> Case:
    """The same case dispensed on ``day`` (the module docstring says how each date moves).

    ``by`` is the policy that decides the moved case: its dates of birth move by its reading of a 29 February
    birthday (:func:`birthdays_of`; without it, the case's own facts say). Every date moves in order with the
    others, so a moved valid case is valid.
    """
    if case.day == day:
        return case
    birthdays = birthdays_of(by if by is not None else case.schema)
    changes: dict[str, object] = {case.schema.period_date: day}
    for path in _with_the_day(case.schema):
        value = case.get(path)
        if isinstance(value, dt.date):
            changes[path] = birthdays.move(path, value, case.day, day)
    period = _period(case.schema)
    if len(period) == 2:
        changes.update(zip(period, _insured_period(case, day, period)))
    return changed_case(case, changes)


def _insured_period(case: Case, day: dt.date, period: tuple[str, ...]) -> tuple[dt.date, dt.date]:
    """The insured period moved to ``day``: by whole years when the person is insured on ``day`` as on the case's
    date (and not before or after it instead), else with the dispensing date. Calendar days, not birthdays."""
    start, end = (case.get(path) for path in period)
    assert isinstance(start, dt.date) and isinstance(end, dt.date)
    months = 12 * (day.year - case.day.year)
    by_years = add_months(start, months), add_months(end, months)
    if _where(case.day, start, end) == _where(day, *by_years):
        return by_years
    return shift_date(start, case.day, day), shift_date(end, case.day, day)


def _where(day: dt.date, start: dt.date, end: dt.date) -> int:
    """-1 before the period, 0 in it, 1 after it."""
    return -1 if day < start else 1 if day > end else 0


def shift_date(value: dt.date, start: dt.date, end: dt.date, leap_day: str | None = None) -> dt.date:
    """``value`` moved as ``start`` (the dispensing date) moves to ``end``: by whole years, then days.

    A calendar day (``leap_day`` None) moves by whole years as ``+ 12 months`` does, 29 February becoming the
    28th. A date of birth on 29 February (``leap_day``: the policy's reading of such a birthday) moves by whole
    years to the birthday :func:`~rxpolicy.language.values.birthday` lays (1 March or 28 February in a year
    without 29 February), then by the same days; where the dispensing date is that birthday or the day next to
    it, a year with and one without 29 February can put the two a day apart differently, and the date of birth
    moves one day further, so the person is exactly as old on ``end`` (by the reading) as on ``start``.
    """
    years = end.year - start.year
    days = end - add_months(start, 12 * years)
    if leap_day is None or value.month != 2 or value.day != 29:
        return add_months(value, 12 * years) + days
    moved = birthday(value, years, leap_day) + days
    age = whole_years_between(value, start, leap_day)
    return next((born for born in (moved, moved - _DAY, moved + _DAY)
                 if born <= end and whole_years_between(born, end, leap_day) == age), moved)


_DAY = dt.timedelta(days=1)


def changed_case(case: Case, changes: Mapping[str, object]) -> Case:
    """The case with fields changed to values of the condition space; derived facts are worked out again.

    Moving every date alike keeps them in order, so a moved case is valid when the original was; a
    combination that is not (an authorisation ending before it starts, or half of one) is validated the slow way,
    which raises :class:`RxError` saying why.
    """
    return with_changes(case, changes) or case.replace(changes)


# ------------------------------------------------------------------------------------------ case files

def read_case_files(path: Path) -> list[tuple[Case, str]]:
    """The cases of ``--cases``: every ``*.yaml`` in a directory (in name order), or one case file.

    Each is read as ``rxpolicy eval`` reads it, without a policy's plan names (which side loads it is
    :func:`not_loadable`'s question). Raises one :class:`RxError` with every problem of every file.
    """
    if path.is_dir():
        paths = sorted(path.glob("*.yaml"))
        if not paths:
            raise RxError(Diagnostic(code="RX002", message=f"{path} holds no case files (*.yaml)",
                                     help="point `--cases` at a directory of case files, or at one case file"))
    elif path.exists():
        paths = [path]
    else:
        raise RxError(Diagnostic(code="RX001", message=f"`--cases {path}`: there is no directory or file `{path}`",
                                 help="give a directory of case files (*.yaml) or one case file, e.g. "
                                      "`--cases examples/hollandzorg`"))
    cases: list[tuple[Case, str]] = []
    problems: list[Diagnostic] = []
    for file in paths:
        try:
            cases.append((load_case(file), str(file)))
        except RxError as error:
            problems.extend(error.diagnostics)
    if problems:
        raise RxError(problems)
    return cases


def not_loadable(case: Case, origin: str,
                 sides: Sequence[tuple[Literal["old", "new"], Side]]) -> Iterator[NotCompared]:
    """Why sides cannot load a given case, as ``rxpolicy eval --policy`` would refuse it: a plan the side's
    policy does not declare (RX407). Nothing for a case every side loads."""
    for label, side in sides:
        try:
            case_from_mapping(case.to_mapping(), source=origin, policy=side.policy)
        except RxError as error:
            yield from (NotCompared(origin=origin, side=label, problem=d) for d in error.diagnostics)
