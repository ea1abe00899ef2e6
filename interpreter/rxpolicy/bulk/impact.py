"""The impact of a policy change on a file of claims: every claim evaluated on two sides, the differences counted.

:func:`claim_impact` reads a claims file in chunks (as ``rxpolicy batch`` does), evaluates every chunk on the
OLD and on the NEW side through the batch's own evaluation path (:func:`rxpolicy.bulk.run.evaluate_chunk`: the
columnar path where it applies, per case for the rest) and compares the two result rows of every claim. What
comes back is data (:class:`ImpactReport`); :mod:`rxpolicy.bulk.impact_render` renders it (Markdown, JSON, HTML).

**Which date a claim is evaluated on** (``dates``):

* ``year`` (the default, a year-change review): on each side a claim is moved by whole years into the year of
  that side's date (``hollandzorg@2025-06-01``: 2025), keeping its day of the year, with
  :func:`rxpolicy.tools.diff_sides.move_case`, exactly as ``rxpolicy diff`` moves a case: the date of birth and
  an authorisation move with it, the insured period by whole years. Each date moves as a calendar day
  (29 February becoming the 28th), except a date of birth on 29 February: it moves to the birthday the side's
  policy declares for a year without 29 February (``leap day birthday on …``), so the person keeps their age and
  18th birthday (:class:`rxpolicy.tools.diff_sides.Birthdays`). A claim already in the side's year is
  evaluated as it is. So the 2025 claims of a file are evaluated as they were on a 2025 side, and as the same
  dispensings one year later on a 2026 side.
* ``own``: every claim on its own ``dispensed_on`` on both sides (two policies in force over the same period).
* ``side``: every claim moved to the side's exact date, as ``rxpolicy diff --cases`` does.

**Every record is accounted for.** A record is *compared* when both sides evaluate it, else it is an error on
the old side, the new side or both, counted per error code (RX4xx, RX5xx, RX802): the four add up to the
records read. Money totals are over the compared claims.

**Money.** The money decisions are the decisions both policies declare with type ``money`` (read from the
declarations, nothing hard-coded); ``insurer_pays`` and ``patient_pays`` are the headline pair when declared.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import attrs

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.engine.case import case_from_mapping
from rxpolicy.explain.diff import Side
from rxpolicy.language.types import Kind
from rxpolicy.language.values import add_months
from rxpolicy.tools.diff_sides import birthdays_of, move_case

from .core import problem_of, select_decisions
from .records import Chunk, Record, RecordProblem, check_readable, read_chunks, unflatten
from .run import BatchRun, evaluate_chunk

__all__ = ["DATES", "Change", "DecisionImpact", "GroupImpact", "ImpactReport", "Witness", "claim_impact",
           "HEADLINE", "changes_in_order"]

#: How a claim's date is chosen on each side (the module docstring says what each does).
DATES: tuple[str, ...] = ("year", "own", "side")
Dates = Literal["year", "own", "side"]

#: The money decisions shown first when the policies declare them: what the insurer pays (de verzekeraar
#: vergoedt) and what the insured pays (de verzekerde betaalt).
HEADLINE = ("insurer_pays", "patient_pays")


@attrs.frozen
class Witness:
    """One claim showing a change: its record number, the old and new value, and the deciding rules."""

    record: int
    old: object
    new: object
    old_rule: str | None = None
    new_rule: str | None = None


@attrs.define
class Change:
    """One kind of change of one decision (``covered: true → false``, ``insurer_pays: lower``), how often, how
    much money it moves, and a few witness claims."""

    decision: str
    kind: str
    count: int = 0
    delta: Decimal = Decimal("0.00")
    witnesses: list[Witness] = attrs.field(factory=list)


@attrs.define
class DecisionImpact:
    """One decision over the compared claims: how many changed, and for money the totals on each side."""

    name: str
    money: bool
    changed: int = 0
    old_total: Decimal = Decimal("0.00")
    new_total: Decimal = Decimal("0.00")

    @property
    def delta(self) -> Decimal:
        """New total minus old total."""
        return self.new_total - self.old_total


@attrs.define
class GroupImpact:
    """The compared claims of one group (an ATC group, or a pair of deciding rules): count, changed, money moved
    per money decision (new minus old)."""

    key: str
    claims: int = 0
    changed: int = 0
    delta: dict[str, Decimal] = attrs.field(factory=dict)


@attrs.define
class ImpactReport:
    """What :func:`claim_impact` found. ``read == compared + old_errors_only + new_errors_only + both_errors``."""

    old: Side
    new: Side
    claims: str
    dates: str
    atc_digits: int
    decisions: tuple[str, ...]
    money: tuple[str, ...]
    #: Decisions one side declares and the other does not: not compared.
    not_compared: tuple[str, ...]
    read: int = 0
    compared: int = 0
    changed: int = 0
    #: Records an error on one side only, or on both, by error code (of that side; both: ``OLD / NEW``).
    old_errors: collections.Counter[str] = attrs.field(factory=collections.Counter)
    new_errors: collections.Counter[str] = attrs.field(factory=collections.Counter)
    both_errors: collections.Counter[str] = attrs.field(factory=collections.Counter)
    error_witnesses: dict[str, list[int]] = attrs.field(factory=dict)
    per_decision: dict[str, DecisionImpact] = attrs.field(factory=dict)
    changes: dict[tuple[str, str], Change] = attrs.field(factory=dict)
    per_atc: dict[str, GroupImpact] = attrs.field(factory=dict)
    #: Keyed ``decision: old rule → new rule``, over the claims whose decision changed.
    per_rule: dict[str, GroupImpact] = attrs.field(factory=dict)

    @property
    def old_errors_only(self) -> int:
        """Records the old side refused and the new side evaluated."""
        return sum(self.old_errors.values())

    @property
    def new_errors_only(self) -> int:
        """Records the new side refused and the old side evaluated."""
        return sum(self.new_errors.values())

    @property
    def errors_on_both(self) -> int:
        """Records both sides refused."""
        return sum(self.both_errors.values())


def claim_impact(old: Side, new: Side, claims: Path, *, input_format: str, dates: Dates = "year",
                 atc_digits: int = 3, witnesses: int = 3, chunk_size: int = 50_000, engine: str = "columnar",
                 progress: Callable[[int], object] | None = None) -> ImpactReport:
    """Evaluate every claim of ``claims`` on both sides and count what changes (see the module docstring)."""
    if dates not in DATES:
        raise ValueError(f"dates must be one of {DATES}")
    check_readable(claims)
    old_names = {d.name: d.type.kind for d in old.policy.decisions}
    new_names = {d.name: d.type.kind for d in new.policy.decisions}
    common = [n for n in old_names if n in new_names and old_names[n] == new_names[n]]
    if not common:
        raise RxError(Diagnostic(code="RX601", message=f"`{old.spec}` and `{new.spec}` declare no decision in "
                                                       "common, so there is nothing to compare",
                                 help="compare two versions of one policy, or policies on the same statutory layer"))
    skipped = tuple(sorted((set(old_names) | set(new_names)) - set(common)))
    money = [n for n in common if old_names[n] is Kind.MONEY]
    money.sort(key=lambda n: (HEADLINE.index(n) if n in HEADLINE else len(HEADLINE), common.index(n)))
    report = ImpactReport(old=old, new=new, claims=str(claims), dates=dates, atc_digits=atc_digits,
                          decisions=tuple(common), money=tuple(money), not_compared=skipped)
    report.per_decision = {n: DecisionImpact(n, n in money) for n in common}
    runs = [BatchRun(claims=claims, input_format=input_format, policy=side.policy,
                     selection=select_decisions(side.policy, common), out=None, output_format="jsonl",
                     chunk_size=chunk_size, engine=engine).with_columnar() for side in (old, new)]
    for chunk in read_chunks(claims, input_format, chunk_size):
        atc = _atc_column(chunk, atc_digits)
        tables = [evaluate_chunk(run, _on_side(chunk, side, dates))
                  for run, side in zip(runs, (old, new))]
        _compare(report, chunk, tables, atc, witnesses)
        if progress:
            progress(len(chunk))
    return report


# ------------------------------------------------------------------------------------------ moving claims

def _target(day: dt.date, side: Side, dates: Dates) -> dt.date:
    if dates == "own":
        return day
    if dates == "side":
        return side.day
    return add_months(day, 12 * (side.day.year - day.year))


def _on_side(chunk: Chunk, side: Side, dates: Dates) -> Chunk:
    """The chunk as the side evaluates it: claims moved to their date on this side (untouched when none moves)."""
    if dates == "own":
        return chunk
    if dates == "year":
        table = _by_years(chunk.table, side)
        if table is not None:
            return Chunk(index=chunk.index, first=chunk.first, count=chunk.count, table=table)
    period = side.policy.facts.period_date
    records = chunk.records
    moved: list[Record] | None = None
    for position, record in enumerate(records):
        if isinstance(record, RecordProblem):
            continue
        day = _day(record.get(period))
        if day is not None and _target(day, side, dates) == day:
            continue
        replacement = _moved(record, chunk.first + position, side, dates)
        if replacement is record:
            continue
        if moved is None:
            moved = list(records)
        moved[position] = replacement
    if moved is None:
        return chunk
    return Chunk(index=chunk.index, first=chunk.first, count=chunk.count, table=_table(moved, chunk),
                 given=moved)


def _by_years(table: Any, side: Side) -> Any:
    """A table of claims moved by whole years into the side's year, in columns; ``None`` when a date column is not
    typed as dates (then each claim is moved on its own).

    Moving a claim by whole years is what :func:`move_case` does to every date a case writes (every date that is
    not derived: the dispensing date, date of birth, an authorisation's dates, the insured period), each by the
    same whole years as a calendar day, 29 February becoming the 28th; a date of birth on 29 February is moved by
    the shared :meth:`Birthdays.move` itself (the policy's reading of such a birthday), claim by claim, since one
    in 1,461 is. ``tests/unit/test_impact.py`` checks the two agree.
    """
    if table is None:
        return None
    import polars as pl
    import pyarrow as pa

    schema = side.policy.facts
    dated = [p for p, spec in schema.fields.items()
             if spec.type.kind is Kind.DATE and not spec.derived and p in table.column_names]
    if schema.period_date not in dated or any(not pa.types.is_date32(table.schema.field(p).type) for p in dated):
        return None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    years = pl.lit(side.day.year) - pl.col(schema.period_date).dt.year().cast(pl.Int64)
    offset = pl.format("{}y", years)
    moved = frame.with_columns([pl.when(years.is_null() | (years == 0)).then(pl.col(p))
                                .otherwise(pl.col(p).dt.offset_by(offset)).alias(p) for p in dated])
    birthdays = birthdays_of(side.policy)
    for path in (p for p in dated if p in birthdays.dates):
        column = frame[path]
        leap_born = ((column.dt.month() == 2) & (column.dt.day() == 29)).arg_true()
        if leap_born.is_empty():
            continue
        born, day = column.gather(leap_born).to_list(), frame[schema.period_date].gather(leap_born).to_list()
        to = moved[schema.period_date].gather(leap_born).to_list()
        moved = moved.with_columns(moved[path].scatter(
            leap_born, [b if d is None or d == t else birthdays.move(path, b, d, t) for b, d, t in zip(born, day, to)]))
    return moved.to_arrow().cast(table.schema)


def _moved(record: Mapping[str, Any], number: int, side: Side, dates: Dates) -> Record:
    """A record moved to its date on the side; a record that is not a valid case is left for the evaluator to
    refuse (with the same words as ``rxpolicy batch``)."""
    try:
        case = case_from_mapping(unflatten(record), source=f"record {number}", policy=side.policy)
    except RxError:
        return record
    try:
        return move_case(case, _target(case.day, side, dates), side.policy).to_mapping(only_changed=False)
    except RxError as error:  # a case that cannot be moved: an error row on this side, counted by its code
        return problem_of(error.diagnostics[0], len(error.diagnostics))


def _day(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _table(records: Sequence[Record], chunk: Chunk) -> Any:
    """Moved records as a flattened Arrow table for the columnar path (only when the input had one), with the
    input's column types; ``None`` (per case) when a record does not fit them."""
    if chunk.table is None or any(isinstance(r, RecordProblem) for r in records):
        return None
    import pyarrow as pa

    schema = chunk.table.schema
    rows = [_flat(r) for r in records]  # type: ignore[arg-type]
    try:
        return pa.Table.from_pylist([{name: _typed(row.get(name), schema.field(name).type) for name in schema.names}
                                     for row in rows], schema=schema)
    except (pa.ArrowException, ValueError, TypeError, ArithmeticError):
        return None


def _typed(value: object, arrow_type: Any) -> object:
    """A value of ``to_mapping`` (dates ISO, money ``"12.40"``) as the input column holds it."""
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_date(arrow_type) and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if pa.types.is_decimal(arrow_type) and isinstance(value, str):
        return Decimal(value)
    if pa.types.is_string(arrow_type) and not isinstance(value, str):
        return str(value)
    return value


def _flat(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, path + "."))
        else:
            out[path] = value
    return out


# ------------------------------------------------------------------------------------------ comparing

def _atc_column(chunk: Chunk, digits: int) -> list[str]:
    """Each record's ATC group: the first ``digits`` characters of ``medicine.atc`` (``?`` when absent)."""
    if chunk.table is not None and "medicine.atc" in chunk.table.column_names:
        codes: list[object] = chunk.table.column("medicine.atc").to_pylist()
    else:
        codes = [_atc_of(r) for r in chunk.records]
    return [c[:digits] if isinstance(c, str) and c else "?" for c in codes]


def _atc_of(record: Record) -> object:
    if isinstance(record, RecordProblem):
        return None
    if "medicine.atc" in record:
        return record["medicine.atc"]
    medicine = record.get("medicine")
    return medicine.get("atc") if isinstance(medicine, Mapping) else None


def _columns(table: Any, names: Sequence[str]) -> dict[str, list[Any]]:
    wanted = ["record", "error_code", *names, *(f"{n}.rule" for n in names)]
    # A dictionary column (outcome, rules: see .dictionaries) read as text first: Python reads its rows ~15 times
    # slower than text's.
    return {name: _text(table.column(name)).to_pylist() for name in wanted}


def _text(column: Any) -> Any:
    import pyarrow as pa

    return column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column


def _compare(report: ImpactReport, chunk: Chunk, tables: Sequence[Any], atc: Sequence[str], witnesses: int) -> None:
    names = report.decisions
    before, after = (_columns(t, names) for t in tables)
    for position in range(len(chunk)):
        number = before["record"][position]
        report.read += 1
        old_error, new_error = before["error_code"][position], after["error_code"][position]
        if old_error or new_error:
            if old_error and new_error:
                key = f"{old_error} / {new_error}"
                report.both_errors[key] += 1
            else:
                key = f"old {old_error}" if old_error else f"new {new_error}"
                (report.old_errors if old_error else report.new_errors)[old_error or new_error] += 1
            seen = report.error_witnesses.setdefault(key, [])
            if len(seen) < witnesses:
                seen.append(number)
            continue
        report.compared += 1
        group = report.per_atc.setdefault(atc[position], GroupImpact(atc[position]))
        group.claims += 1
        any_change = False
        for name in names:
            was, now = before[name][position], after[name][position]
            impact = report.per_decision[name]
            if impact.money:
                impact.old_total += was or 0
                impact.new_total += now or 0
                if was != now:
                    moved = (now or 0) - (was or 0)
                    group.delta[name] = group.delta.get(name, Decimal("0.00")) + moved
            if was == now:
                continue
            any_change = True
            impact.changed += 1
            old_rule, new_rule = before[f"{name}.rule"][position], after[f"{name}.rule"][position]
            if impact.money:
                kind = "higher" if (now or 0) > (was or 0) else "lower"
                delta = (now or 0) - (was or 0)
            else:
                kind, delta = f"{_word(was)} → {_word(now)}", Decimal(0)
            change = report.changes.setdefault((name, kind), Change(name, kind))
            change.count += 1
            change.delta += delta
            if len(change.witnesses) < witnesses:
                change.witnesses.append(Witness(number, was, now, old_rule, new_rule))
            rule = report.per_rule.setdefault(f"{name}: {old_rule} → {new_rule}",
                                              GroupImpact(f"{name}: {old_rule} → {new_rule}"))
            rule.claims += 1
            rule.changed += 1
            if impact.money:
                rule.delta[name] = rule.delta.get(name, Decimal("0.00")) + delta
        if any_change:
            report.changed += 1
            group.changed += 1


def _word(value: object) -> str:
    """A value as the contract writes it (``true``, ``12.40``, ``not applicable``)."""
    if value is None:
        return "not applicable"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def changes_in_order(report: ImpactReport) -> Iterator[Change]:
    """The kinds of change, most frequent first (then by decision order)."""
    order = {n: i for i, n in enumerate(report.decisions)}
    yield from sorted(report.changes.values(), key=lambda c: (-c.count, order[c.decision], c.kind))
