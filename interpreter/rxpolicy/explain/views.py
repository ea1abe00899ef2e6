"""From an evaluation's trace to what each renderer shows: per decision, its value, the deciding
rules with their citation and patient sentence, the facts they rested on and the rules they beat.

The facts a decision rests on are: for a table row, why the rows above it did not apply (their
first failing test); for an exception, what made its general rule apply; then the rule's own
supporting tests and the tests inside the value it gave; then the sub-decisions it used.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import attrs

from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.evaluate import DecisionResult, Evaluation
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.engine.trace import Fact, RuleStatus, RuleTrace, Trace
from rxpolicy.explain.words import fact_sentence, leaf_sentence_makers
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


def _leaf_definitions(policy: CompiledPolicy) -> tuple[str | None, ...]:
    """Per traced test (by leaf index): the definition it reads, if it is one (worked out once per policy)."""
    def make() -> tuple[str | None, ...]:
        names = policy.checked.names
        found = []
        for leaf in policy.leaves:
            resolved = names.get(id(leaf.node))
            found.append(resolved.target if resolved is not None and resolved.kind is SymbolKind.DEFINITION else None)
        return tuple(found)
    definitions: tuple[str | None, ...] = policy.memo.get("leaf definitions", make)
    return definitions


def _or_definitions(policy: CompiledPolicy) -> frozenset[str]:
    """The definitions that are an `or` of tests (each failing test is a reason when one fails)."""
    def make() -> frozenset[str]:
        return frozenset(name for name, d in policy.checked.definitions.items()
                         if isinstance(d.expr, ast.BoolOp) and d.expr.op == "or")
    found: frozenset[str] = policy.memo.get("or definitions", make)
    return found


def _definition(trace: Trace, fact: Fact) -> str | None:
    policy = trace.policy
    index = fact.leaf.index
    if index < len(policy.leaves) and policy.leaves[index] is fact.leaf:
        return _leaf_definitions(policy)[index]
    resolved = policy.checked.names.get(id(fact.node))
    return resolved.target if resolved is not None and resolved.kind is SymbolKind.DEFINITION else None


def _concrete(trace: Trace, fact: Fact) -> list[Fact]:
    """A yes/no definition that did not hold is shown by the test inside it that failed (more telling than 'not: …')."""
    name = _definition(trace, fact)
    if name is None or not isinstance(fact.outcome, bool) or fact.outcome:
        return [fact]
    tests = tuple(f for f in trace.facts_of(("definition", name)) if not f.outcome)
    # A definition that is an `or` of tests failed because every one of them did: each is a reason. For any
    # other shape one failing test explains it.
    failing = tests if name in _or_definitions(trace.policy) else _first_failure(tests)
    return [c for f in failing for c in _concrete(trace, f)] or [fact]


def _reason(trace: Trace, fact: Fact, lang: str, values: Mapping[str, object], seen: frozenset[str]) -> Reason:
    """A fact with, for a computed amount, the inputs it was computed from."""
    policy = trace.policy
    index = fact.leaf.index
    if index < len(policy.leaves) and policy.leaves[index] is fact.leaf:  # the maker made once per policy
        sentence = leaf_sentence_makers(policy, lang)[index](fact.observed, fact.outcome, values)
    else:
        sentence = fact_sentence(fact, policy, lang, values)
    name = _definition(trace, fact)
    if name is None or isinstance(fact.outcome, bool) or name in seen:
        return Reason(sentence=sentence)
    inner = [c for f in trace.facts_of(("definition", name)) for c in _concrete(trace, f)]
    inputs = _reasons(trace, inner, lang, values, seen | {name})
    return Reason(sentence=sentence, inputs=inputs)


def _reasons(trace: Trace, facts: list[Fact], lang: str, values: Mapping[str, object],
             seen: frozenset[str] = frozenset()) -> tuple[Reason, ...]:
    found: dict[str, Reason] = {}
    for fact in facts:
        reason = _reason(trace, fact, lang, values, seen)
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
    with trace.explaining():
        return tuple(r.sentence for r in _reasons(trace, because_facts(trace, rule), lang, evaluation.values_by_name))


def reasons(evaluation: Evaluation, name: str, lang: str = "en") -> tuple[Reason, ...]:
    """The facts a decision rests on, as a tree of computed inputs."""
    trace = evaluation.trace
    if trace is None:
        return ()
    with trace.explaining():
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
    with trace.explaining() if trace is not None else contextlib.nullcontext():
        for result in evaluation:
            views.append(_decision_view(evaluation, trace, result, lang, values))
    return tuple(views)


def _decision_view(evaluation: Evaluation, trace: Trace | None, result: DecisionResult, lang: str,
                   values: Mapping[str, object]) -> DecisionView:
    """What a renderer shows of one decision."""
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
    return DecisionView(name=result.name, value=result.value, rules=result.rules,
                        reasons=reasons_, overridden=overridden)
