"""``rxpolicy check``'s findings in words: what one period's exploration ran into, as RX37x diagnostics.

:mod:`rxpolicy.tools.analysis` explores a period ("epoch") and remembers, per problem, the first case
that showed it; this module turns each into a :class:`Finding`: a message naming the rules, a
help line with the fix, and the case that shows it, minimised towards the plain base case and
printed as case YAML that ``rxpolicy eval`` runs. It needs of the exploration only what
:class:`ExploredEpoch` lists, so it does not import the explorer.

Codes: RX370 a rule that never decides, RX371 an overlap, RX372 a gap, RX373 a hole or an
overlap in validity, RX374 a computation that fails for some cases (a division by zero).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

import attrs

from rxpolicy.diagnostics import Diagnostic
from rxpolicy.engine import runtime
from rxpolicy.engine.case import Case, case_to_yaml, parse_case
from rxpolicy.engine.compile import CompiledPolicy, Epoch
from rxpolicy.engine.evaluate_failure import Failure, failure_words, locate_failure
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.language import ast
from rxpolicy.language.check import SymbolKind
from rxpolicy.language.values import describe
from rxpolicy.tools.explore import ConditionSpace, minimise, named_after_atc, with_changes

__all__ = ["ExploredEpoch", "Finding", "Outcome", "Relations", "Reporter", "evaluate_values", "extended",
           "problem_key", "shadowed_when"]

#: A case evaluated in one period: (decision values, deciders), the signal that stopped it, or where it failed.
Outcome = tuple[tuple[object, ...], tuple[tuple[int, ...], ...]] | Exception | Failure
_Key = tuple[object, ...]


@attrs.frozen(kw_only=True)
class Finding:
    """One problem exploration found, with the case that shows it (None when no case can)."""

    code: str
    decision: str
    rules: tuple[str, ...]
    witness: Case | None
    start: dt.date
    end: dt.date | None
    diagnostic: Diagnostic
    #: The parameter a hole in validity is about, if it is about one.
    parameter: str | None = None
    #: The definition a failing computation is in, if it is in one.
    definition: str | None = None


def extended(finding: Finding, end: dt.date | None) -> Finding:
    """A hole in validity that lasts until ``end``."""
    diagnostic = finding.diagnostic
    message = diagnostic.message.replace(_period(finding.start, finding.end), _period(finding.start, end), 1)
    return attrs.evolve(finding, end=end, diagnostic=attrs.evolve(diagnostic, message=message))


def shadowed_when(policy: CompiledPolicy, found: list[Finding]) -> Finding:
    """A rule that never decides in some of the periods it is in force in: the message says in which."""
    rule_id = found[0].rules[0]
    periods = [e for e in policy.epochs if any(r.id == rule_id and r.index in e.rules_in_force for r in policy.rules)]
    if len(found) == len(periods):
        return found[0]
    first = found[0]
    spans: list[list[dt.date | None]] = []
    for finding in found:
        if spans and spans[-1][1] is not None and spans[-1][1] + dt.timedelta(days=1) == finding.start:
            spans[-1][1] = finding.end
        else:
            spans.append([finding.start, finding.end])
    when = ", ".join(_period(start, end) for start, end in spans)  # type: ignore[arg-type]
    message = first.diagnostic.message.replace(f"never decides `{first.decision}`",
                                               f"never decides `{first.decision}` {when}", 1)
    return attrs.evolve(first, diagnostic=attrs.evolve(first.diagnostic, message=message))


# ----------------------------------------------------------------------------- outcomes of cases

def evaluate_values(policy: CompiledPolicy, epoch: Epoch, values: tuple[object, ...]) -> Outcome:
    """One case through an epoch's compiled rules: (decision values, deciders), or the runtime signal it raised,
    or where a computation failed (a division by zero).

    Runs in the caller's decimal context (``analyse`` sets the money context once).
    """
    try:
        return epoch.fast(values)
    except (runtime.Conflict, runtime.Gap, runtime.NotInForce) as signal:
        return signal
    except ArithmeticError as error:
        return locate_failure(policy, epoch, values, error)


def problem_key(outcome: Outcome) -> _Key | None:
    """What went wrong, as a key: ('conflict', decision, rule, rule), ('gap', decision), ('missing', parameter)
    or ('fails', decision, rule, definition); None when nothing did."""
    if isinstance(outcome, runtime.Conflict):
        hits = outcome.hits
        a, b = next((x, y) for (x, vx) in hits for (y, vy) in hits if vx != vy)
        return ("conflict", outcome.decision, min(a, b), max(a, b))
    if isinstance(outcome, runtime.Gap):
        return ("gap", outcome.decision)
    if isinstance(outcome, runtime.NotInForce):
        return ("missing", outcome.parameter)
    if isinstance(outcome, Failure):
        return outcome.key
    return None


# ----------------------------------------------------------------------------- what the reporter needs

class Relations(Protocol):
    """How the rules in force in one period relate (:class:`rxpolicy.tools.analysis.Family`)."""

    @property
    def parents(self) -> Mapping[int, tuple[int, ...]]:
        """Rule → the rules it is an exception to (or the table it is an exception to)."""

    def deciders(self, decision: str) -> tuple[int, ...]:
        """The rules in force that decide ``decision``."""

    def descendants(self, rule: int) -> set[int]:
        """The exceptions to ``rule``, and theirs, transitively."""

    def rows_above(self, rule: int) -> set[int]:
        """The rows of a table tried before this row."""


class ExploredEpoch(Protocol):
    """What the reporter needs of one period's exploration (:class:`rxpolicy.tools.analysis._EpochRun`)."""

    @property
    def policy(self) -> CompiledPolicy:
        """The policy explored."""

    @property
    def epoch(self) -> Epoch:
        """The period explored."""

    @property
    def base(self) -> Case:
        """The plain case witnesses are minimised towards."""

    @property
    def family(self) -> Relations:
        """How the rules in force relate."""

    @property
    def decision_index(self) -> Mapping[str, int]:
        """Decision name → its index in ``policy.decisions``."""

    def outcome(self, case: Case) -> Outcome:
        """A case evaluated in this period."""

    def applies(self, rule: int, values: tuple[object, ...], decisions: tuple[object, ...]) -> bool | None:
        """Whether a rule's condition holds (and one of its general rules'); None when that cannot be worked out."""


# ----------------------------------------------------------------------------- findings in words

def _named(rule: RuleMeta, extra: str = "") -> str:
    """A rule as messages name it: its id and where it is written."""
    return f"`{rule.id}` ({rule.span.path}:{rule.span.line}{extra})"


def _period(start: dt.date, end: dt.date | None) -> str:
    return f"from {start} to {end}" if end is not None else f"from {start} on"


class Reporter:
    """Turns what one epoch's exploration ran into into findings: message, help and minimised witness."""

    def __init__(self, run: ExploredEpoch) -> None:
        self.run, self.policy, self.epoch = run, run.policy, run.epoch

    def finding(self, code: str, decision: str, rules: Iterable[RuleMeta], witness: Case | None,
                diagnostic: Diagnostic, parameter: str | None = None, definition: str | None = None) -> Finding:
        """A finding of this period, its witness shown under the message."""
        notes = self.notes(witness) if witness is not None else ()
        return Finding(code=code, decision=decision, rules=tuple(r.id for r in rules), witness=witness,
                       parameter=parameter, definition=definition,
                       start=self.epoch.start, end=self.epoch.end, diagnostic=attrs.evolve(
                           diagnostic, notes=notes + diagnostic.notes))

    def notes(self, witness: Case) -> tuple[str, ...]:
        """The witness as case YAML, checked to load back as the same case."""
        text = case_to_yaml(witness)
        if parse_case(text, path="<witness>", policy=self.policy).values != witness.values:
            raise AssertionError(f"a witness case does not load back as itself:\n{text}")
        return ("for example, this case:", *(f"  {line}" for line in text.splitlines()))

    def minimal(self, case: Case, key: _Key) -> Case:
        """The case closest to the base case that still shows the problem ``key``."""
        witness = minimise(case, self.run.base, lambda c: problem_key(self.run.outcome(c)) == key)
        return named_after_atc(witness, self.run.base)

    def problem(self, key: _Key, case: Case) -> Iterator[Finding]:
        """The finding a problem the exploration ran into shows (a gap or hole only when one is)."""
        if key[0] == "fails":
            yield self.failure(self.minimal(case, key))
        elif key[0] == "conflict":
            yield self.conflict(key, self.minimal(case, key))
        elif key[0] == "gap":
            decision = self.policy.decisions[key[1]].name  # type: ignore[call-overload]
            if self.run.family.deciders(decision):
                witness = self.minimal(case, key)
                yield self.ended(decision, witness) or self.gap(decision, witness)
            elif self.policy.validity is not None:
                yield self.decision_hole(decision, self.minimal(case, key))
        elif key[0] == "missing" and self.policy.validity is not None:
            yield self.parameter_hole(str(key[1]), self.minimal(case, key))

    def conflict(self, key: _Key, witness: Case) -> Finding:
        """Two rules that decide one thing differently for the witness (RX371; RX373 for two dated rules)."""
        decision = self.policy.decisions[key[1]].name  # type: ignore[call-overload]
        a, b = (self.policy.rules[i] for i in key[2:])  # type: ignore[call-overload]
        outcome = self.run.outcome(witness)
        hits = dict(outcome.hits) if isinstance(outcome, runtime.Conflict) else {}
        typ = self.policy.decisions[key[1]].type  # type: ignore[call-overload]
        va, vb = describe(hits.get(a.index), typ), describe(hits.get(b.index), typ)
        if a.validity is not None and b.validity is not None and a.validity != b.validity:
            start = max(a.validity.start, b.validity.start)
            ends = [v.end for v in (a.validity, b.validity) if v.end is not None]
            return self.finding("RX373", decision, (a, b), witness, Diagnostic(
                code="RX373", span=b.rule.id_span, related=((f"`{a.id}`", a.span),),
                message=f"the rules {_named(a, f', in force {a.validity}')} and {_named(b, f', in force {b.validity}')} "
                        f"are both in force {_period(start, min(ends) if ends else None)} and decide `{decision}` "
                        f"differently for some cases ({va} and {vb})",
                help=f"let `{a.id}` end the day before `{b.id}` starts (or the other way round), or make one an "
                     "exception to the other"))
        return self.finding("RX371", decision, (a, b), witness, Diagnostic(
            code="RX371", span=b.rule.id_span, related=((f"`{a.id}`", a.span),),
            message=f"the rules {_named(a)} and {_named(b)} both decide `{decision}` for some cases, "
                    f"`{a.id}` as {va} and `{b.id}` as {vb}, and neither is an exception to the other",
            help=f"write `exception to {a.id}` in `{b.id}` (or the other way round), or narrow their `when` so "
                 "they do not overlap; evaluating such a case stops with RX503"))

    def failure(self, witness: Case) -> Finding:
        """A computation that fails for the witness: where it is written, why, and how to guard it."""
        outcome = self.run.outcome(witness)
        assert isinstance(outcome, Failure)
        what, fix, span, related = failure_words(self.policy, outcome, "for some cases")
        decision = self.policy.decisions[outcome.decision].name
        rules = (self.policy.rules[outcome.rule],) if outcome.rule is not None else ()
        return self.finding("RX374", decision, rules, witness, Diagnostic(
            code="RX374", span=span, related=related,
            message=f"{what}, and `{decision}` cannot be decided for them",
            help=f"{fix}; evaluating such a case stops with RX505"), definition=outcome.definition)

    def gap(self, decision: str, witness: Case) -> Finding:
        """No rule decides ``decision`` for the witness (RX372)."""
        top = [self.policy.rules[r] for r in self.run.family.deciders(decision) if not self.run.family.parents.get(r)]
        units = list(dict.fromkeys(f"the rows of the table `{r.table}` ({r.span.path}:{r.span.line})" if r.table
                                   else _named(r) for r in top))
        info = self.policy.checked.decisions[decision]
        return self.finding("RX372", decision, top, witness, Diagnostic(
            code="RX372", span=info.span,
            message=f"no rule decides `{decision}` for some cases: none of {', '.join(units)} applies to them",
            help="add a rule for these cases (or a last row without `when` to the table), or widen a `when`; "
                 "evaluating such a case stops with RX502"))

    def ended(self, decision: str, witness: Case) -> Finding | None:
        """A gap that a dated rule of the decision fills while it is in force: a hole in its validity."""
        here = set(self.run.family.deciders(decision))
        index = self.run.decision_index[decision]
        for rule in self.policy.rules:
            if decision not in rule.decides or rule.index in here or rule.validity is None:
                continue
            for epoch in self.policy.epochs:
                moved = _redated(witness, epoch.start)
                outcome = evaluate_values(self.policy, epoch, moved.values) if moved and rule.index in epoch.rules_in_force else None
                if isinstance(outcome, tuple) and rule.index in outcome[1][index]:
                    return self.finding("RX373", decision, (rule,), witness, Diagnostic(
                        code="RX373", span=rule.rule.id_span,
                        message=f"no rule decides `{decision}` {_period(self.epoch.start, self.epoch.end)} for some "
                                f"cases that {_named(rule)} decides while it is in force ({rule.validity}), within "
                                f"the period of the policy `{self.policy.name}` ({self.policy.validity})",
                        help=f"extend the `in force` period of `{rule.id}`, or add a rule for these cases in force "
                             f"from {self.epoch.start}; evaluating such a case stops with RX502"))
        return None

    def decision_hole(self, decision: str, witness: Case) -> Finding:
        """No rule for ``decision`` is in force in this period, within the policy's (RX373)."""
        rules = [r for r in self.policy.rules if decision in r.decides]
        before = [r for r in rules if r.validity is not None and r.validity.end is not None
                  and r.validity.end < self.epoch.start]
        blame = max(before, key=lambda r: r.validity.end or dt.date.min) if before else rules[0]  # type: ignore
        periods = "; ".join(f"{_named(r)} {r.validity or 'always'}" for r in rules)
        return self.finding("RX373", decision, rules, witness, Diagnostic(
            code="RX373", span=blame.rule.id_span,
            message=f"no rule deciding `{decision}` is in force {_period(self.epoch.start, self.epoch.end)}, "
                    f"within the period of the policy `{self.policy.name}` ({self.policy.validity}); its rules are "
                    f"in force: {periods}",
            help=f"extend the `in force` period of `{blame.id}`, or add a rule for `{decision}` in force from "
                 f"{self.epoch.start}"))

    def parameter_hole(self, name: str, witness: Case) -> Finding:
        """A parameter has no value in force in this period, within the policy's (RX373)."""
        parameter = self.policy.checked.parameters[name]
        users = [r for r in self.policy.rules if r.index in self.epoch.rules_in_force
                 and _reads_parameter(self.policy, r, name)]
        periods = ", ".join(str(v.validity) for v in parameter.values if v.validity) or "none"
        needs = f", and {_named(users[0])} needs it" if users else ""
        return self.finding("RX373", users[0].decides[0] if users else "", users[:1], witness, Diagnostic(
            code="RX373", span=parameter.span,
            message=f"the parameter `{name}` has no value in force {_period(self.epoch.start, self.epoch.end)}, "
                    f"within the period of the policy `{self.policy.name}` ({self.policy.validity}){needs} "
                    f"(values exist for: {periods})",
            help=f"add `value … in force from {self.epoch.start}` to `{name}`, or let the policy's period end "
                 "before that day"), parameter=name)

    def shadowed(self, rule: RuleMeta, applying: Case | None, space: ConditionSpace) -> Finding:
        """A rule that never decides (RX370): ``applying`` is a case its condition holds in, if there is one."""
        decision = next(d for d in rule.decides if d in self.run.decision_index)
        if applying is None:
            fields = ", ".join(f"`{f}`" for f in space.values) or "no case field"
            parents = " (with that of the rule it is an exception to)" if rule.parents else ""
            return self.finding("RX370", decision, (rule,), None, Diagnostic(
                code="RX370", span=rule.rule.id_span,
                message=f"the rule {_named(rule)} never decides `{decision}`: its condition{parents} never holds",
                notes=(f"no case can show this: it holds in none of the {space.size()} cases that combine every "
                       f"value the rules tell apart of {fields}",),
                help="correct its `when`, or remove the rule"))

        def keep(case: Case) -> bool:
            outcome = self.run.outcome(case)
            return isinstance(outcome, tuple) and self.run.applies(rule.index, case.values, outcome[0]) is True \
                and not any(rule.index in rules for rules in outcome[1])

        witness = minimise(applying, self.run.base, keep)
        outcome = self.run.outcome(witness)
        assert isinstance(outcome, tuple)
        other = self.policy.rules[outcome[1][self.run.decision_index[decision]][0]]
        family = self.run.family
        if other.index in family.descendants(rule.index):
            reason, fix = "an exception to it applies too", (
                f"narrow the `when` of `{other.id}` so that `{rule.id}` still decides some cases, or remove "
                f"`{rule.id}`")
        elif other.index in family.rows_above(rule.index):
            reason, fix = "a row above it applies already", (
                f"narrow the `when` of the rows above it, move it above `{other.id}`, or remove it")
        else:
            reason, fix = "another rule decides", f"narrow the `when` of `{other.id}`, or remove `{rule.id}`"
        return self.finding("RX370", decision, (rule, other), witness, Diagnostic(
            code="RX370", span=rule.rule.id_span, related=((f"`{other.id}`", other.span),),
            message=f"the rule {_named(rule)} never decides `{decision}`: wherever its condition holds, {reason} "
                    f"(in this case {_named(other)})",
            help=fix))


def _redated(case: Case, day: dt.date) -> Case | None:
    """The same case dispensed on another day, every date in it moved by as many days (ages stay about the same)."""
    shift, fields = day - case.day, case.schema.fields
    return with_changes(case, {path: value + shift for path, value in zip(fields, case.values)
                               if isinstance(value, dt.date) and not fields[path].derived})


def _reads_parameter(policy: CompiledPolicy, rule: RuleMeta, name: str) -> bool:
    """Whether a rule's condition or values read a parameter, directly or through definitions."""
    checked = policy.checked
    todo = [e for e in (rule.rule.when, *(a.value for a in rule.rule.assignments)) if e is not None]
    seen: set[str] = set()
    while todo:
        for node in ast.walk(todo.pop()):
            resolved = checked.names.get(id(node)) if isinstance(node, ast.Name) else None
            if resolved is None:
                continue
            if resolved.kind is SymbolKind.PARAMETER and resolved.target == name:
                return True
            if resolved.kind is SymbolKind.DEFINITION and resolved.target not in seen:
                seen.add(resolved.target)
                todo.append(checked.definitions[resolved.target].expr)
    return False
