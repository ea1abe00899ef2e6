"""What ``rxpolicy diff`` found, as data, and its renderings: text, Markdown and JSON.

Per changed decision: the rules deciding it on each side (id, layer, citation) and a minimal
witness case. Every rendering is deterministic (findings come sorted; nothing depends on timing
or on how many cases were tried) and names rules by id, not by line, so a snapshot of it shows a
reviewer exactly which decisions a rule change moves, and does not change when a rule file is
edited elsewhere.

The report's classes live here, not in :mod:`rxpolicy.tools.diff`, because that module also holds the
``diff`` command, which imports the command line: renderers stay below it in the pipeline's import
layers (.importlinter).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import attrs

from rxpolicy.diagnostics import Diagnostic
from rxpolicy.engine.case import Case, case_to_yaml
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.explain.escape import escape_controls
from rxpolicy.explain.words import json_value, value_text
from rxpolicy.language.types import Type
from rxpolicy.language.values import add_months

__all__ = ["DayFrom", "DiffReport", "Finding", "Key", "NotCompared", "Side", "Verdict", "diff_dict", "diff_json",
           "diff_markdown", "diff_text"]

#: Where a side's date comes from: ``given`` after the ``@``; with none given, ``middle`` (the middle of the
#: policy's in-force period) or ``year`` (1 July of the year a ``name-YYYY`` names).
DayFrom = Literal["given", "middle", "year"]


@attrs.frozen(kw_only=True)
class Side:
    """One side of a diff: a compiled policy, the date its rules are taken on, and why that date."""

    spec: str
    policy: CompiledPolicy
    day: dt.date
    day_from: DayFrom = "given"

    @property
    def defaulted(self) -> bool:
        """True when no date was given, so the date was chosen (``day_from`` says how)."""
        return self.day_from != "given"


@attrs.frozen(kw_only=True)
class Verdict:
    """One side's decisions for one case: values and deciding rules, or the error it could not decide with."""

    values: Mapping[str, object]
    rules: Mapping[str, tuple[RuleMeta, ...]]
    error: Diagnostic | None = None
    #: The declared type of each decision (what tells money from a number when the value is shown).
    types: Mapping[str, Type] = attrs.field(factory=dict)


#: A group of findings: the decision ("" when a side cannot decide the case), the deciding rule ids (or error
#: codes) on each side, and whether the difference comes from the calendar alone.
Key = tuple[str, tuple[str, ...], tuple[str, ...], bool]


@attrs.frozen(kw_only=True)
class Finding:
    """A decision two sides decide differently for some cases, by one pair of deciding rules."""

    decision: str
    old: Verdict
    new: Verdict
    #: The minimal witness on the old side's date, and the same case moved to the new side's date.
    witness: Case
    moved: Case
    #: The case file it was first found from (with ``--cases``).
    origin: str | None
    #: ``rule`` (the rules or amounts deciding it differ between the sides), ``follows`` (they are the same;
    #: a decision they read differs), ``calendar`` (the same, and only the dates differ) or ``error`` (one
    #: side cannot decide the case: ``decision`` is "" and that side's verdict holds the error).
    kind: str
    #: What made the difference, in words: the decisions it reads that differ, or the calendar.
    why: tuple[str, ...]
    #: True when no rule or amount differs behind it: only the date arithmetic does (12 months from one
    #: date hold 366 days, from the other 365). Shown only on request.
    calendar_only: bool

    @property
    def key(self) -> Key:
        """The group: decision, deciding rule ids on each side, whether it comes from the calendar alone."""
        ids = tuple(tuple(r.id for r in v.rules.get(self.decision, ())) or tuple(e.code for e in (v.error,) if e)
                    for v in (self.old, self.new))
        return (self.decision, ids[0], ids[1], self.calendar_only)


@attrs.frozen(kw_only=True)
class NotCompared:
    """A given case (``--cases``) that was not compared because one side cannot load it, as ``rxpolicy eval``
    with that side's policy would refuse it (a supplementary plan the policy does not declare); or, were rxpolicy
    to fail at it, because it cannot be moved to the old side's date."""

    #: The case file.
    origin: str
    side: Literal["old", "new"]
    problem: Diagnostic


@attrs.frozen(kw_only=True)
class DiffReport:
    """Everything ``rxpolicy diff`` found: the sides, the findings in a fixed order, how many cases it compared."""

    old: Side
    new: Side
    findings: tuple[Finding, ...]
    cases_compared: int
    #: Where the cases came from: ``explored`` (the condition space) or ``files`` (``--cases``).
    cases_from: str
    #: Whether differences from the calendar alone are shown (``--calendar``).
    calendar: bool = False
    #: Given cases a side cannot load, per file and side: reported, not compared.
    not_compared: tuple[NotCompared, ...] = ()
    #: Cases built while searching that could not be moved to the new side's date (a bug: moving keeps every
    #: date in order), skipped rather than ending the command.
    cases_skipped: int = 0

    @property
    def shown(self) -> tuple[Finding, ...]:
        """The findings to show: those a rule or amount makes, and with ``calendar`` the others too."""
        return tuple(f for f in self.findings if self.calendar or not f.calendar_only)

    @property
    def left_out(self) -> bool:
        """Whether differences from the calendar alone exist and are not shown."""
        return any(f.calendar_only for f in self.findings) and not self.calendar

    @property
    def moved_by(self) -> tuple[int, int]:
        """How far a case moves from the old side's date to the new side's: (years, days)."""
        years = self.new.day.year - self.old.day.year
        return years, (self.new.day - add_months(self.old.day, 12 * years)).days


_KIND: Mapping[str, str] = MappingProxyType({
    "rule": "its rules or amounts differ between the two sides",  # then ``why`` says which, and what else differs
    "follows": "the same rules and amounts decide it on both sides; it follows from",
    "calendar": "the same rules and amounts decide it on both sides; only the dates differ",
    "error": "one side cannot decide this case",
})
_LEFT_OUT = ("Left out: differences that come from the calendar alone, with the same rules and amounts on both "
             "sides (a month or a year from the dispensing date holds a different number of days); --calendar "
             "shows them.")
_CALENDAR = "From the calendar alone (the same rules and amounts on both sides):"


def _side_line(side: Side) -> str:
    notes = {"given": "", "middle": " (no date given: the middle of its in-force period)",
             "year": f" (no date given: 1 July of {side.day.year}, the year its name gives)"}
    return f"`{side.policy.name}` on {side.day.isoformat()}{notes[side.day_from]}: {side.policy.title}"


def _plural(n: int, unit: str) -> str:
    return f"{n:+d} {unit}{'' if abs(n) == 1 else 's'}"


def _moved(report: DiffReport) -> str:
    years, days = report.moved_by
    if (years, days) == (0, 0):
        return "Both sides are taken on the same date: each case is compared as it is."
    moves = " ".join(_plural(n, unit) for n, unit in ((years, "year"), (days, "day")) if n)
    if not days:
        return (f"A case is compared with itself, every date it holds moved by {moves}: ages, insured periods and "
                "authorisations stay the same.")
    insured = f"moves by {_plural(years, 'year')}" if years else "stays where it is"
    return (f"A case is compared with itself, every date it holds moved by {moves}: ages and authorisations stay the "
            f"same; an insured period {insured} when the person is then insured on the day as before (the same days "
            "of the year insured), else it moves with the dispensing date.")


def _cases_line(report: DiffReport) -> str:
    if report.cases_from == "explored":
        return "Cases: the conditions both sides' rules name, and the neighbours of every difference found."
    return "Cases: the case files given with --cases, each moved to the old side's date."


def _summary(report: DiffReport) -> str:
    shown = [f for f in report.shown if not f.calendar_only]
    if not shown:
        return "No rule or amount decides any case differently."
    decisions, ways = len({f.decision for f in shown}), len(shown)
    return (f"{decisions} decision{' differs' if decisions == 1 else 's differ'} for some cases, in {ways} "
            f"way{'' if ways == 1 else 's'} (one per pair of deciding rules), each with a minimal witness case.")


def _value(verdict: Verdict, decision: str) -> str:
    if verdict.error is not None:
        return f"cannot decide ({verdict.error.code})"
    if not decision:
        return "decides"
    if decision not in verdict.values:
        return "not decided by this policy"
    return value_text(verdict.values[decision], "en", verdict.types.get(decision))


def _title(finding: Finding) -> str:
    name = finding.decision or "the case"
    return f"{name}: {_value(finding.old, finding.decision)} → {_value(finding.new, finding.decision)}"


def _rules(verdict: Verdict, decision: str) -> tuple[RuleMeta, ...]:
    return verdict.rules.get(decision, ())


def _why(finding: Finding) -> str:
    return f"{_KIND[finding.kind]}: {'; '.join(finding.why)}" if finding.why else _KIND[finding.kind]


def _not_compared(report: DiffReport) -> list[str]:
    """One line per given case and side that cannot load it."""
    sides = {"old": report.old, "new": report.new}
    return [f"{n.origin}: the {n.side} side `{sides[n.side].spec}` cannot load it: {n.problem.code}: "
            f"{n.problem.message}" for n in report.not_compared]


_NOT_COMPARED = "Not compared: case files one side cannot load, as `rxpolicy eval` with its policy would refuse them:"


def _skipped(report: DiffReport) -> list[str]:
    if not report.cases_skipped:
        return []
    return ["", f"Skipped: {report.cases_skipped} case(s) built while searching could not be moved to the new side's "
                "date. This is a bug in rxpolicy; please report it with this command."]


def _witness_line(finding: Finding) -> str:
    moved = finding.moved.dispensed_on
    there = f" (on the new side {moved.isoformat()})" if moved != finding.witness.dispensed_on else ""
    origin = f", found from {finding.origin}" if finding.origin else ""
    return f"witness, dispensed on {finding.witness.dispensed_on.isoformat()}{there}{origin}"


def _header(report: DiffReport) -> list[str]:
    return [f"old: {_side_line(report.old)}", f"new: {_side_line(report.new)}", _moved(report), _cases_line(report)]


def _sections(report: DiffReport) -> list[tuple[str | None, tuple[Finding, ...]]]:
    """The findings a rule or amount makes, then (on request) those from the calendar alone, under a heading."""
    sections: list[tuple[str | None, tuple[Finding, ...]]] = [
        (None, tuple(f for f in report.shown if not f.calendar_only))]
    calendar = tuple(f for f in report.shown if f.calendar_only)
    return sections + [(_CALENDAR, calendar)] if calendar else sections


# ------------------------------------------------------------------------------------------ text

def _finding_text(finding: Finding) -> list[str]:
    lines = ["", _title(finding)]
    for label, verdict in (("old", finding.old), ("new", finding.new)):
        if verdict.error is not None:
            lines.append(f"  {label}: {verdict.error.code}: {verdict.error.message}")
        for rule in _rules(verdict, finding.decision):
            lines += [f"  {label}: {rule.id} (layer {rule.layer})", f"       source: {rule.source}"]
    lines += [f"  {_why(finding)}", f"  {_witness_line(finding)}:"]
    return lines + [f"    {line}" for line in case_to_yaml(finding.witness).splitlines()]


def diff_text(report: DiffReport) -> str:
    """The diff as plain text."""
    lines = [f"rxpolicy diff {report.old.spec} {report.new.spec}", *(f"  {line}" for line in _header(report)), "",
             _summary(report)]
    for heading, findings in _sections(report):
        lines += ["", heading] if heading else []
        for finding in findings:
            lines += _finding_text(finding)
    if report.not_compared:
        lines += ["", _NOT_COMPARED, *(f"  {line}" for line in _not_compared(report))]
    lines += _skipped(report)
    if report.left_out:
        lines += ["", _LEFT_OUT]
    return "\n".join(escape_controls(line) for line in lines) + "\n"


# ------------------------------------------------------------------------------------------ Markdown

def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _rule_cell(verdict: Verdict, decision: str) -> str:
    if verdict.error is not None:
        return verdict.error.code
    return ", ".join(f"`{r.id}` ({r.layer})" for r in _rules(verdict, decision)) or "—"


def _finding_markdown(finding: Finding, level: str) -> list[str]:
    out = ["", f"{level} {_title(finding)}", ""]
    for label, verdict in (("old", finding.old), ("new", finding.new)):
        if verdict.error is not None:
            out.append(f"- {label}: {verdict.error.code}: {verdict.error.message}")
        out += [f"- {label}: `{rule.id}` (layer {rule.layer}) — {rule.source}"
                for rule in _rules(verdict, finding.decision)]
    why = _why(finding)
    return out + ["", why[0].upper() + why[1:] + ".", "", _witness_line(finding).capitalize() + ":", "", "```yaml",
                  *case_to_yaml(finding.witness).rstrip("\n").split("\n"), "```"]


def diff_markdown(report: DiffReport) -> str:
    """The diff as Markdown for a review: a summary table, then one section per finding with its witness."""
    out = [f"# `{report.old.spec}` → `{report.new.spec}`", "", *(f"- {line}" for line in _header(report)), "",
           _summary(report)]
    if report.shown:
        out += ["", "| decision | old → new | old rule | new rule |", "|---|---|---|---|"]
        out += [f"| `{f.decision or '—'}`{' (calendar)' if f.calendar_only else ''} | "
                f"{_cell(_value(f.old, f.decision))} → {_cell(_value(f.new, f.decision))} "
                f"| {_rule_cell(f.old, f.decision)} | {_rule_cell(f.new, f.decision)} |" for f in report.shown]
    for heading, findings in _sections(report):
        out += ["", f"## {heading}"] if heading else []
        for finding in findings:
            out += _finding_markdown(finding, "###" if heading else "##")
    if report.not_compared:
        out += ["", "## " + _NOT_COMPARED.removesuffix(":"), "", *(f"- {line}" for line in _not_compared(report))]
    out += _skipped(report)
    if report.left_out:
        out += ["", _LEFT_OUT]
    return "\n".join(escape_controls(line) for line in out) + "\n"


# ------------------------------------------------------------------------------------------ JSON

def _side_json(side: Side) -> dict[str, Any]:
    return {"spec": side.spec, "policy": side.policy.name, "title": side.policy.title,
            "date": side.day.isoformat(), "date_defaulted": side.defaulted, "date_from": side.day_from}


def _verdict_json(verdict: Verdict, decision: str) -> dict[str, Any]:
    if verdict.error is not None:
        return {"error": {"code": verdict.error.code, "message": verdict.error.message}}
    return {"value": json_value(verdict.values.get(decision), verdict.types.get(decision)),
            "rules": [{"rule": r.id, "layer": r.layer, "source": r.source} for r in _rules(verdict, decision)]}


def diff_dict(report: DiffReport) -> dict[str, Any]:
    """The diff as plain JSON-ready data (``calendar_left_out``: differences from the calendar alone not listed)."""
    years, days = report.moved_by
    return {
        "old": _side_json(report.old), "new": _side_json(report.new),
        "moved_by": {"years": years, "days": days}, "cases": report.cases_from,
        "differences": [{
            "decision": f.decision or None, "kind": f.kind, "why": list(f.why), "calendar_only": f.calendar_only,
            "old": _verdict_json(f.old, f.decision), "new": _verdict_json(f.new, f.decision),
            "witness": f.witness.to_mapping(), "new_dispensed_on": f.moved.dispensed_on.isoformat(),
            "found_from": f.origin} for f in report.shown],
        "not_compared": [{"file": n.origin, "side": n.side, "code": n.problem.code, "message": n.problem.message}
                         for n in report.not_compared],
        "cases_skipped": report.cases_skipped,
        "calendar_left_out": report.left_out,
    }


def diff_json(report: DiffReport) -> str:
    """The diff as indented JSON text."""
    return json.dumps(diff_dict(report), indent=2, ensure_ascii=False) + "\n"
