"""The explanation of one evaluation, as data: which rules held, which tests gave what.

The evaluator records raw outcomes (cheap tuples); this module turns them into the tree the
renderers show: for each decision, the rules that decided it, the rules they beat, and the facts
(tests and sub-decisions) each rested on. Nothing here formats text for people.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from . import ast
from .compile import CompiledPolicy, LeafMeta, RuleMeta

__all__ = ["Fact", "RuleStatus", "RuleTrace", "Trace"]


class RuleStatus(enum.Enum):
    """What happened to a rule in one evaluation."""

    DECIDED = "decided"
    OVERRIDDEN = "overridden by an exception"
    NOT_APPLICABLE = "did not apply"
    NOT_REACHED = "not reached (an earlier row decided)"
    NOT_IN_FORCE = "not in force on the dispensing date"


@attrs.frozen(kw_only=True)
class Fact:
    """One test and its outcome: ``observed`` is the value tested (e.g. the ATC code)."""

    leaf: LeafMeta
    observed: object
    outcome: object

    @property
    def holds(self) -> bool:
        """Whether the test supports the condition it is part of (a test under `not` supports it when false)."""
        return bool(self.outcome) != self.leaf.negated

    @property
    def node(self) -> ast.Expr:
        """The test as written."""
        return self.leaf.node


@attrs.frozen(kw_only=True)
class RuleTrace:
    """A rule as it fared in one evaluation."""

    rule: RuleMeta
    status: RuleStatus
    #: The tests of its `when` that were evaluated, in order.
    facts: tuple[Fact, ...]
    #: The tests inside the value it gave (e.g. a `fits within`).
    value_facts: tuple[Fact, ...] = ()
    #: For an overridden rule: the exceptions that beat it.
    beaten_by: tuple[RuleMeta, ...] = ()


@attrs.frozen(kw_only=True)
class Trace:
    """Raw outcomes of one traced evaluation."""

    policy: CompiledPolicy = attrs.field(eq=False, repr=False)
    records: tuple[tuple[int, object, object], ...]
    rule_outcomes: Mapping[int, bool]
    rules_in_force: frozenset[int]

    def facts_of(self, owner: tuple[str, object]) -> tuple[Fact, ...]:
        """The recorded tests of one rule's `when` (('rule', i)), value (('value', i)) or a definition."""
        seen: set[int] = set()
        facts = []
        for leaf_index, observed, outcome in self.records:
            leaf = self.policy.leaves[leaf_index]
            if leaf.owner == owner and leaf_index not in seen:
                seen.add(leaf_index)
                facts.append(Fact(leaf=leaf, observed=observed, outcome=outcome))
        return tuple(facts)

    def status(self, rule: RuleMeta, deciders: tuple[int, ...]) -> RuleStatus:
        """What happened to a rule while its decision was made."""
        if rule.index not in self.rules_in_force:
            return RuleStatus.NOT_IN_FORCE
        if rule.index in deciders:
            return RuleStatus.DECIDED
        outcome = self.rule_outcomes.get(rule.index)
        if outcome is None:
            return RuleStatus.NOT_REACHED
        return RuleStatus.OVERRIDDEN if outcome else RuleStatus.NOT_APPLICABLE

    def rule_trace(self, rule: RuleMeta, deciders: tuple[int, ...]) -> RuleTrace:
        """One rule's part in a decision."""
        status = self.status(rule, deciders)
        beaten_by: tuple[RuleMeta, ...] = ()
        if status is RuleStatus.OVERRIDDEN:
            beaten_by = tuple(r for r in self.policy.rules
                              if (rule.id in r.parents or (rule.table is not None and rule.table in r.parents))
                              and self.rule_outcomes.get(r.index))
        return RuleTrace(rule=rule, status=status, facts=self.facts_of(("rule", rule.index)),
                         value_facts=self.facts_of(("value", rule.index)) if status is RuleStatus.DECIDED else (),
                         beaten_by=beaten_by)
