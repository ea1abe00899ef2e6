"""From an evaluation's trace to what each renderer shows: per decision, its value, the deciding
rules with their citation and patient sentence, the facts they rested on and the rules they beat.

The facts a decision rests on are: for a table row, why the rows above it did not apply (their
first failing test); for an exception, what made its general rule apply; then the rule's own
supporting tests and the tests inside the value it gave; then the sub-decisions it used.
"""

from __future__ import annotations

import attrs

from ..check import SymbolKind
from ..compile import CompiledPolicy, RuleMeta
from ..evaluate import Evaluation
from ..trace import Fact, RuleStatus, RuleTrace, Trace
from .words import fact_sentence

__all__ = ["DecisionView", "decision_views", "because_facts", "because"]


@attrs.frozen(kw_only=True)
class DecisionView:
    """Everything a renderer shows about one decision."""

    name: str
    value: object
    rules: tuple[RuleMeta, ...]
    because: tuple[str, ...]
    #: Rules that applied but were set aside by an exception.
    overridden: tuple[RuleTrace, ...]


def _first_failure(facts: tuple[Fact, ...]) -> tuple[Fact, ...]:
    failing = [f for f in facts if not f.holds]
    return (failing[-1],) if failing else ()


def because_facts(trace: Trace, rule: RuleMeta) -> list[Fact]:
    """The recorded tests a deciding rule rested on, in reading order."""
    policy = trace.policy
    facts: list[Fact] = []
    if rule.table is not None:
        for earlier in policy.rules:
            if earlier.table == rule.table and earlier.index != rule.index and \
                    trace.rule_outcomes.get(earlier.index) is False and earlier.rule.row_index < rule.rule.row_index:
                facts.extend(_first_failure(trace.facts_of(("rule", earlier.index))))
    for parent in _parents(policy, rule):
        facts.extend(because_facts(trace, parent))
    facts.extend(f for f in trace.facts_of(("rule", rule.index)) if f.holds)
    facts.extend(trace.facts_of(("value", rule.index)))
    return [concrete for fact in facts for concrete in _concrete(trace, fact)]


def _concrete(trace: Trace, fact: Fact) -> list[Fact]:
    """A definition that did not hold is shown by the test inside it that failed (more telling than 'not: …')."""
    node = fact.node
    resolved = trace.policy.checked.names.get(id(node))
    if resolved is None or resolved.kind is not SymbolKind.DEFINITION or fact.outcome:
        return [fact]
    inner = _first_failure(tuple(f for f in trace.facts_of(("definition", resolved.target)) if not f.outcome))
    return [c for f in inner for c in _concrete(trace, f)] or [fact]


def _parents(policy: CompiledPolicy, rule: RuleMeta) -> list[RuleMeta]:
    return [p for p in policy.rules if (p.id in rule.parents or (p.table is not None and p.table in rule.parents))]


def because(evaluation: Evaluation, name: str, lang: str = "en") -> tuple[str, ...]:
    """The sentences a decision rests on (deduplicated, in order)."""
    trace = evaluation.trace
    if trace is None:
        return ()
    result = evaluation[name]
    sentences: dict[str, None] = {}
    for rule in result.rules:
        for fact in because_facts(trace, rule):
            sentences.setdefault(fact_sentence(fact, evaluation.policy, lang, evaluation.values_by_name))
    return tuple(sentences)


def decision_views(evaluation: Evaluation, lang: str = "en") -> tuple[DecisionView, ...]:
    """One view per decision the policy produces, in declaration order."""
    views = []
    for result in evaluation:
        overridden: tuple[RuleTrace, ...] = ()
        if evaluation.trace is not None:
            overridden = tuple(r for r in evaluation.explain(result.name) if r.status is RuleStatus.OVERRIDDEN)
        views.append(DecisionView(name=result.name, value=result.value, rules=result.rules,
                                  because=because(evaluation, result.name, lang), overridden=overridden))
    return tuple(views)
