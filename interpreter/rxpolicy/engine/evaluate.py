"""Stage 5: compiled policy × case → :class:`Evaluation` (decisions, deciding rules, trace, receipt).

Evaluation picks the period in force on the dispensing date and runs its compiled function, with
the trace or without. Runtime problems become diagnostics (RX5xx) that name the date, the decision
and the rules involved: two rules deciding differently without an exception between them, no rule
deciding, an amount or the policy not in force, a computation that fails for the case (a division
by zero). Where a computation failed is only worked out once it has (:func:`rxpolicy.engine.evaluate_failure.locate_failure`), so
the fast path pays nothing for it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.engine import runtime
from rxpolicy.engine.case import Case, case_from_mapping
from rxpolicy.engine.case_canonical import canonical_case_json, canonical_writer
from rxpolicy.engine.compile import ENGINE_VERSION, CompiledPolicy, Epoch
from rxpolicy.engine.meta import RuleMeta, WarningMeta
from rxpolicy.engine.trace import RuleTrace, Trace
from rxpolicy.language.grammar import grammar_sha256
from rxpolicy.language.source import Span
from rxpolicy.language.types import Type
from rxpolicy.language.values import MONEY_CONTEXT, describe

if TYPE_CHECKING:
    from rxpolicy.engine.evaluate_failure import Failure

__all__ = ["DecisionResult", "Evaluation", "Receipt", "evaluate"]



@attrs.frozen(kw_only=True)
class Receipt:
    """What is needed to replay a decision later: engine, grammar and rule-file versions, date, case hash."""

    engine_version: str
    policy: str
    policy_fingerprint: str
    grammar_sha256: str
    rule_files: Mapping[str, str]
    dispensed_on: dt.date
    case_sha256: str


@attrs.frozen(kw_only=True)
class DecisionResult:
    """One decision: its value and the rules that decided it (several when they agree)."""

    name: str
    type: Type
    value: object
    rules: tuple[RuleMeta, ...]

    @property
    def rule(self) -> RuleMeta:
        """The first deciding rule."""
        return self.rules[0]


class Evaluation:
    """The outcome of evaluating one case against one policy (read-only by convention).

    A plain slotted class rather than an attrs one: it is built once per case on the hot path.
    """

    __slots__ = ("policy", "case", "values", "deciders", "_trace", "_warnings")

    def __init__(self, policy: CompiledPolicy, case: Case, values: tuple[object, ...],
                 deciders: tuple[tuple[int, ...], ...], trace: Trace | Epoch | None = None) -> None:
        """``trace``: the evaluation's trace; or the period it was evaluated in, to make the trace the first
        time it is read (an evaluation nobody explains then costs no trace object); None: no trace."""
        self.policy = policy
        self.case = case
        #: Decision values, in the order of ``policy.decisions``.
        self.values = values
        #: Per decision, the indices (into ``policy.rules``) of the rules that decided it.
        self.deciders = deciders
        self._trace = trace
        self._warnings: tuple[WarningMeta, ...] | None = None

    @property
    def trace(self) -> Trace | None:
        """The trace, when evaluated with ``trace=True`` (None without): made when first read. Two threads
        reading it at once may each make one; both hold the same (the trace works everything out on request)."""
        found = self._trace
        if found is None or isinstance(found, Trace):
            return found
        made = self._trace = Trace(policy=self.policy, epoch=found, case_values=self.case.values,
                                   decision_values=self.values)
        return made

    @property
    def warnings(self) -> tuple[WarningMeta, ...]:
        """The policy's warnings whose condition holds on this case (facts that contradict the rules, what rxpolicy
        cannot decide); they change no decision. Worked out when first asked, so evaluating costs nothing more."""
        if self._warnings is None:
            epoch = self.policy.epoch_for(self.case.dispensed_on)
            self._warnings = _warnings(self.policy, epoch, self.case, self.values) if epoch is not None else ()
        return self._warnings

    def __repr__(self) -> str:
        return f"<Evaluation {self.policy.name} {self.case.day} outcome={self.outcome}>"

    @property
    def receipt(self) -> Receipt:
        """What is needed to replay this decision later (computed on request: it hashes the case)."""
        return _receipt(self.policy, self.case)

    def __getitem__(self, name: str) -> DecisionResult:
        policy = self.policy
        index = policy.decision_index[name]  # KeyError for a decision the policy does not make
        rules = policy.rules
        return DecisionResult(name=name, type=policy.decisions[index].type, value=self.values[index],
                              rules=tuple(rules[i] for i in self.deciders[index]))

    def __iter__(self) -> Iterator[DecisionResult]:
        return (self[d.name] for d in self.policy.decisions)

    def __contains__(self, name: object) -> bool:
        return name in self.policy.decision_index

    def value(self, name: str) -> object:
        """One decision's value by name (cheaper than ``evaluation[name].value``)."""
        return self.values[self.policy.decision_index[name]]

    @property
    def values_by_name(self) -> Mapping[str, object]:
        """Every decision's value by name."""
        return {d.name: v for d, v in zip(self.policy.decisions, self.values)}

    @property
    def outcome(self) -> str | None:
        """The outcome decision's name when it is yes (``covered``), else ``not_`` and the name (``not_covered``).

        The policy declares which decision is its outcome (``is the outcome``); None when it declares none.
        """
        name = self.policy.outcome
        index = self.policy.decision_index.get(name) if name is not None else None
        if name is None or index is None:
            return None
        return name if self.values[index] else f"not_{name}"

    @property
    def positive(self) -> bool:
        """Whether the outcome decision is yes (the case is covered); False when there is no outcome."""
        name = self.policy.outcome
        index = self.policy.decision_index.get(name) if name is not None else None
        return index is not None and self.values[index] is True

    @property
    def reasons(self) -> tuple[RuleMeta, ...]:
        """When the outcome is no (not covered): the rules that decided so."""
        name = self.policy.outcome
        if name is None or self.outcome != f"not_{name}":
            return ()
        return self[name].rules

    def explain(self, name: str) -> tuple[RuleTrace, ...]:
        """The rules that took part in a decision, deciding ones first (needs the trace)."""
        if self.trace is None:
            raise ValueError("this evaluation was made without a trace; evaluate with trace=True")
        result = self[name]
        deciders = tuple(r.index for r in result.rules)
        related = self.policy.rules_for[name]
        ordered = [r for r in related if r.index in deciders] + [r for r in related if r.index not in deciders]
        return tuple(self.trace.rule_trace(r, deciders) for r in ordered)


def evaluate(policy: CompiledPolicy, case: Case, *, trace: bool = True) -> Evaluation:
    """Evaluate one case; raises :class:`RxError` (RX5xx) when the policy cannot decide it."""
    facts = policy.case_facts
    if case.schema is not facts and case.schema.fingerprint != facts.fingerprint:
        case = _read_again(policy, case)
    values = case.values
    day = values[facts.period_index]
    for start, end, epoch in policy.periods:  # compared inline: a method call per period costs more
        if start <= day <= end:  # type: ignore[operator]
            break
    else:
        raise RxError(_not_in_force(policy, case))
    # Always the engine's own context, whatever the caller's thread has set: another precision,
    # rounding or trap would change amounts, turn a division by zero into Infinity (no RX505) or
    # make an exact rounding raise. The caller's context object is put back as it was, untouched.
    # Switching to one shared engine context costs half of `localcontext` (which copies a context
    # per call); its settings are never changed, and the flags operations raise in it are never
    # read (a trap depends on the signals of that one operation only), so threads may share it.
    callers = _getcontext()
    _setcontext(_ENGINE_CONTEXT)
    try:
        decided, deciders = epoch.fast(values)
    except runtime.Conflict as conflict:
        raise RxError(_conflict(policy, case, conflict)) from None
    except runtime.Gap as gap:
        raise RxError(_gap(policy, case, epoch, gap)) from None
    except runtime.NotInForce as missing:
        raise RxError(_missing(policy, case, missing)) from None
    except ArithmeticError as error:  # a division by zero, say: a fault of the rules, shown as one
        from rxpolicy.engine.evaluate_failure import locate_failure  # only a failed evaluation needs it

        with decimal.localcontext(MONEY_CONTEXT):
            failure = locate_failure(policy, epoch, values, error)
        raise RxError(_failed(policy, case, failure)) from None
    finally:
        _setcontext(callers)
    # The trace records nothing up front: it works out what a rule rested on when asked (see trace.py), and
    # is itself made when first read.
    return Evaluation(policy, case, decided, deciders, epoch if trace else None)


#: The decimal context generated code computes in (see :func:`evaluate`): the settings of ``MONEY_CONTEXT``.
_ENGINE_CONTEXT = MONEY_CONTEXT.copy()
_getcontext, _setcontext = decimal.getcontext, decimal.setcontext


def _warnings(policy: CompiledPolicy, epoch: Epoch, case: Case, values: tuple[object, ...]) -> tuple[WarningMeta, ...]:
    """The warnings whose condition holds, worked out after the decisions (a condition may read them)."""
    if not policy.warnings:
        return ()
    fired = []
    with decimal.localcontext(MONEY_CONTEXT):
        for warning in policy.warnings:
            condition = epoch.explainers.get(("warning", warning.index))
            # The explainer records the tests it makes; a warning needs only the outcome.
            if condition is None or condition(case.values, values, []) is True:
                fired.append(warning)
    return tuple(fired)


def _read_again(policy: CompiledPolicy, case: Case) -> Case:
    """A case read with other facts (another policy's, or the statutory layer's), read with this policy's:
    facts it adds get their defaults (or a case-file error when required)."""
    again = case_from_mapping(case.to_mapping(only_changed=True), source=case.source, policy=policy)
    return attrs.evolve(again, lines=case.lines)


def _receipt(policy: CompiledPolicy, case: Case) -> Receipt:
    # The canonical JSON of the mapping (docs/architecture.md), written from the values by steps made once per schema.
    writer = policy.memo.get(("canonical case", case.schema.fingerprint), lambda: canonical_writer(case.schema))
    with decimal.localcontext(MONEY_CONTEXT):
        canonical = canonical_case_json(case, writer)
    return Receipt(engine_version=ENGINE_VERSION, policy=policy.name, policy_fingerprint=policy.fingerprint,
                   grammar_sha256=grammar_sha256(), rule_files=policy.file_hashes, dispensed_on=case.day,
                   case_sha256=hashlib.sha256(canonical.encode()).hexdigest())


def _date_span(case: Case) -> Span | None:
    """Where the case file writes its dispensing date, so a date problem points at it."""
    period = case.schema.period_date
    line = case.lines.get(period)
    if line is None:
        return None
    name = period.rpartition(".")[2]
    return Span(path=case.source, line=line, column=1, end_line=line, end_column=len(name) + 1)


def _not_in_force(policy: CompiledPolicy, case: Case) -> Diagnostic:
    day = case.day
    period = str(policy.validity) if policy.validity else "no period"
    return Diagnostic(code="RX501", field=case.schema.period_date, span=_date_span(case),
                      message=f"the policy `{policy.name}` has no rules in force on {day} (it is in force {period})",
                      help="check the dispensing date, or choose a policy in force on that date (`rxpolicy policies`)")


def _gap(policy: CompiledPolicy, case: Case, epoch: Epoch, gap: runtime.Gap) -> Diagnostic:
    decision = policy.decisions[gap.decision]
    in_force = [r for r in policy.rules if decision.name in r.decides and r.index in epoch.rules_in_force]
    reason = ("no rule for it is in force on that date" if not in_force
              else "none of its rules applies to this case")
    return Diagnostic(code="RX502", span=decision.span, field=case.schema.period_date if not in_force else None,
                      message=f"the policy `{policy.name}` does not decide `{decision.name}` for this case dispensed "
                              f"on {case.day}: {reason}",
                      help="add a rule (or a last table row without `when`) that covers this case; "
                           "`rxpolicy check` lists gaps with an example case")


def _conflict(policy: CompiledPolicy, case: Case, conflict: runtime.Conflict) -> Diagnostic:
    decision = policy.decisions[conflict.decision]
    hits = [(policy.rules[i], value) for i, value in conflict.hits]
    (a, va), (b, vb) = next(((x, y) for x in hits for y in hits if x[1] != y[1]))
    return Diagnostic(code="RX503", span=a.span,
                      message=f"the rules `{a.id}` and `{b.id}` both apply to this case and give `{decision.name}` "
                              f"different values ({describe(va, decision.type)} and {describe(vb, decision.type)}), and neither is an exception "
                              "to the other",
                      help=f"write `exception to {a.id}` in `{b.id}` (or the other way round), or narrow their "
                           "`when` so they do not overlap", related=((f"`{b.id}`", b.span),))


def _missing(policy: CompiledPolicy, case: Case, missing: runtime.NotInForce) -> Diagnostic:
    parameter = policy.checked.parameters[missing.parameter]
    periods = ", ".join(str(v.validity) for v in parameter.values if v.validity) or "none"
    return Diagnostic(code="RX504", span=parameter.span, field=case.schema.period_date,
                      message=f"the amount `{parameter.name}` of policy `{policy.name}` has no value in force on "
                              f"{case.day} (values exist for: {periods})",
                      help=f"add a `value … in force from …` to `{parameter.name}` that covers "
                           f"{case.day.year}, or check the dispensing date")


def _failed(policy: CompiledPolicy, case: Case, failure: Failure) -> Diagnostic:
    from rxpolicy.engine.evaluate_failure import failure_words

    what, fix, span, related = failure_words(policy, failure, "in this case")
    decision = policy.decisions[failure.decision].name
    return Diagnostic(code="RX505", span=span, related=related, field=failure.field,
                      message=f"the policy `{policy.name}` cannot decide `{decision}` for this case dispensed on "
                              f"{case.day}: {what}",
                      help=f"{fix}; `rxpolicy check` lists such cases (RX374)")
