"""From an evaluation's trace to what each renderer shows: per decision, its value, the deciding
rules with their citation and patient sentence, the facts they rested on and the rules they beat.

The facts a decision rests on are: for a table row, why the rows above it did not apply (their
first failing test); for an exception, what made its general rule apply; then the rule's own
supporting tests and the tests inside the value it gave; then the sub-decisions it used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import attrs

from rxpolicy.engine.evaluate import Evaluation
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.engine.trace import Fact, RuleStatus, RuleTrace, Trace
from rxpolicy.explain.words import fact_sentence, leap_day_text
from rxpolicy.language.check import SymbolKind
from rxpolicy.language import ast

__all__ = ["DecisionView", "Reason", "decision_views", "because_facts", "because", "reasons", "rule_because"]


@attrs.frozen(kw_only=True)
class Reason:
    """One fact a decision rests on, with the facts it was in turn computed from."""

    sentence: str
    inputs: tuple[Reason, ...] = ()


@attrs.frozen(kw_only=True)
class DecisionView:
    """Everything a renderer shows about one decision."""

    name: str
    value: object
    rules: tuple[RuleMeta, ...]
    #: The facts it rests on, each with what it was computed from.
    reasons: tuple[Reason, ...]
    #: Rules that applied but were set aside by an exception.
    overridden: tuple[RuleTrace, ...]

    @property
    def because(self) -> tuple[str, ...]:
        """The top-level sentences (the contract's ``because``)."""
        return tuple(r.sentence for r in self.reasons)


def _first_failure(facts: tuple[Fact, ...]) -> tuple[Fact, ...]:
    failing = [f for f in facts if not f.holds]
    return (failing[-1],) if failing else ()


def because_facts(trace: Trace, rule: RuleMeta, *, with_value: bool = True) -> list[Fact]:
    """The recorded tests and inputs a deciding rule rested on, in reading order.

    Of the rules it is an exception to, only the conditions count: their values were set aside, never
    computed, and working them out could fail where evaluation did not.
    """
    policy = trace.policy
    facts: list[Fact] = []
    for earlier in policy.rows_above[rule.index]:
        if trace.outcome(earlier) is False:
            facts.extend(_first_failure(trace.facts_of(("rule", earlier.index))))
    for parent in policy.parents_of[rule.index]:
        facts.extend(because_facts(trace, parent, with_value=False))
    facts.extend(f for f in trace.facts_of(("rule", rule.index)) if f.holds)
    if with_value:
        facts.extend(trace.facts_of(("value", rule.index)))
    return [concrete for fact in facts for concrete in _concrete(trace, fact)]


def _definition(trace: Trace, fact: Fact) -> str | None:
    resolved = trace.policy.checked.names.get(id(fact.node))
    return resolved.target if resolved is not None and resolved.kind is SymbolKind.DEFINITION else None


def _concrete(trace: Trace, fact: Fact) -> list[Fact]:
    """A yes/no definition that did not hold is shown by the test inside it that failed (more telling than 'not: …')."""
    name = _definition(trace, fact)
    if name is None or not isinstance(fact.outcome, bool) or fact.outcome:
        return [fact]
    tests = tuple(f for f in trace.facts_of(("definition", name)) if not f.outcome)
    # A definition that is an `or` of tests failed because every one of them did: each is a reason. For any
    # other shape one failing test explains it.
    expr = trace.policy.checked.definitions[name].expr
    failing = tests if isinstance(expr, ast.BoolOp) and expr.op == "or" else _first_failure(tests)
    return [c for f in failing for c in _concrete(trace, f)] or [fact]


def _reason(trace: Trace, fact: Fact, lang: str, values: Mapping[str, object], seen: frozenset[str],
            leap_born: bool) -> Reason:
    """A fact with, for a computed amount, the inputs it was computed from (and, where it rests on a 29 February
    birthday, where that birthday was counted; ``leap_born``: the case holds a 29 February date at all)."""
    sentence = fact_sentence(fact, trace.policy, lang, values)
    leap_day = _leap_day(trace, fact.node) if leap_born else None
    note = (Reason(sentence=leap_day_text(leap_day, lang)),) if leap_day is not None else ()
    name = _definition(trace, fact)
    if name is None or isinstance(fact.outcome, bool) or name in seen:
        return Reason(sentence=sentence, inputs=note)
    inner = [c for f in trace.facts_of(("definition", name)) for c in _concrete(trace, f)]
    inputs = _reasons(trace, inner, lang, values, seen | {name}, leap_born)
    return Reason(sentence=sentence, inputs=note + tuple(i for i in inputs if i not in note))


def _holds_leap_day(trace: Trace) -> bool:
    """Whether the case holds a 29 February date (only then can a test rest on a 29 February birthday)."""
    return any(isinstance(v, dt.date) and v.month == 2 and v.day == 29 for v in trace.case_values)


def _leap_day(trace: Trace, node: ast.Expr) -> str | None:
    """The reading of a 29 February birthday a test rests on, when the case's person was born on 29 February:
    a test of an age (`insured.age < 18`) or of a date laid by `birthday(…)`, also through definitions."""
    policy, case = trace.policy, trace.case_values
    facts = policy.facts

    def born_on_leap_day(path: str) -> bool:
        value = case[facts.field_index(path)]
        return getattr(value, "month", None) == 2 and getattr(value, "day", None) == 29

    todo, seen = [node], set()
    while todo:
        current = todo.pop()
        if isinstance(current, ast.Name):
            resolved = policy.checked.names.get(id(current))
            if resolved is None:
                continue
            if resolved.kind is SymbolKind.FIELD:
                spec = facts.fields[resolved.target]
                if spec.leap_day_birthday is not None and born_on_leap_day(spec.arguments[0]):
                    return spec.leap_day_birthday
            elif resolved.kind is SymbolKind.DEFINITION and resolved.target not in seen:
                seen.add(resolved.target)
                todo.append(policy.checked.definitions[resolved.target].expr)
            continue
        if isinstance(current, ast.Call) and current.function == "birthday":
            born = current.args[0]
            resolved = policy.checked.names.get(id(born)) if isinstance(born, ast.Name) else None
            if resolved is not None and resolved.kind is SymbolKind.FIELD and born_on_leap_day(resolved.target):
                return facts.leap_day_birthday
        todo.extend(ast.children(current))
    return None


def _reasons(trace: Trace, facts: list[Fact], lang: str, values: Mapping[str, object],
             seen: frozenset[str] = frozenset(), leap_born: bool | None = None) -> tuple[Reason, ...]:
    if leap_born is None:  # looked up once per tree of reasons, not per fact
        leap_born = _holds_leap_day(trace)
    found: dict[str, Reason] = {}
    for fact in facts:
        reason = _reason(trace, fact, lang, values, seen, leap_born)
        found.setdefault(reason.sentence, reason)
    return tuple(found.values())


def because(evaluation: Evaluation, name: str, lang: str = "en") -> tuple[str, ...]:
    """The sentences a decision rests on (deduplicated, in order)."""
    return tuple(r.sentence for r in reasons(evaluation, name, lang))


def rule_because(evaluation: Evaluation, rule: RuleMeta, lang: str = "en") -> tuple[str, ...]:
    """The sentences one deciding rule rests on (for a refusal: its own facts, not the other refusals')."""
    trace = evaluation.trace
    if trace is None:
        return ()
    return tuple(r.sentence for r in _reasons(trace, because_facts(trace, rule), lang, evaluation.values_by_name))


def reasons(evaluation: Evaluation, name: str, lang: str = "en") -> tuple[Reason, ...]:
    """The facts a decision rests on, as a tree of computed inputs."""
    trace = evaluation.trace
    if trace is None:
        return ()
    return _decision_reasons(trace, evaluation[name].rules, lang, evaluation.values_by_name)


def _decision_reasons(trace: Trace, rules: tuple[RuleMeta, ...], lang: str,
                      values: Mapping[str, object]) -> tuple[Reason, ...]:
    facts = [fact for rule in rules for fact in because_facts(trace, rule)]
    return _reasons(trace, facts, lang, values)


def decision_views(evaluation: Evaluation, lang: str = "en") -> tuple[DecisionView, ...]:
    """One view per decision the policy produces, in declaration order."""
    views = []
    trace = evaluation.trace
    values = evaluation.values_by_name
    for result in evaluation:
        overridden: tuple[RuleTrace, ...] = ()
        reasons_: tuple[Reason, ...] = ()
        if trace is not None:
            # Only a rule with exceptions can be set aside by one (a rule that held and has none decided, or its
            # decision would have been a conflict): only those are traced, and in full only the ones set aside.
            deciders = tuple(r.index for r in result.rules)
            exceptions = evaluation.policy.exceptions_of
            overridden = tuple(trace.rule_trace(r, deciders) for r in evaluation.policy.rules_for[result.name]
                               if exceptions[r.index] and r.index not in deciders
                               and trace.status(r, deciders) is RuleStatus.OVERRIDDEN)
            reasons_ = _decision_reasons(trace, result.rules, lang, values)
        views.append(DecisionView(name=result.name, value=result.value, rules=result.rules,
                                  reasons=reasons_, overridden=overridden))
    return tuple(views)
