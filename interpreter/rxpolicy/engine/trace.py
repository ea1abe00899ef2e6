"""The explanation of one evaluation, as data: which rules held, which tests gave what.

Evaluation is pure and records nothing: the fast function returns only the values and the deciding
rules. When an explanation asks, this module runs the generated explainer of a rule or definition
(which recomputes just that expression and records each test's outcome) and builds the tree the
renderers show: for each decision, the rules that decided it, the rules they beat, and the facts
(tests and sub-decisions) each rested on, cached per evaluation. Nothing here formats text for people.
"""

from __future__ import annotations

import contextlib
import decimal
import enum
from collections.abc import Iterator

import attrs

from rxpolicy.engine.compile import CompiledPolicy, Epoch
from rxpolicy.engine.meta import LeafMeta, RuleMeta
from rxpolicy.language import ast
from rxpolicy.language.values import MONEY_CONTEXT

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


class Trace:
    """One evaluation's trace: which rules held and the tests each rested on, worked out on request.

    Evaluation is pure, so nothing is recorded while it runs: the deciding rules are known, and
    whether any other rule was reached and held, and which tests (with their observed values) a
    rule or definition rested on, is recomputed from the same case the first time an explanation
    asks, by the period's generated explainers, and kept.
    """

    __slots__ = ("policy", "epoch", "case_values", "decision_values", "_facts", "_outcomes", "_records", "_context")

    def __init__(self, *, policy: CompiledPolicy, epoch: Epoch, case_values: tuple[object, ...],
                 decision_values: tuple[object, ...]) -> None:
        # A plain class: one is made per evaluated case. The two caches fill on request; filling one
        # twice from two threads gives the same content, so no lock is needed.
        self.policy = policy
        self.epoch = epoch
        self.case_values = case_values
        self.decision_values = decision_values
        self._facts: dict[tuple[str, object], tuple[Fact, ...]] = {}
        self._outcomes: dict[int, bool | None] = {}
        #: The records of a rule's explainer run to find its outcome, until its facts are asked for.
        self._records: dict[tuple[str, object], list[tuple[int, object, object]]] = {}
        #: The engine's decimal context entered by :meth:`explaining` (in whichever thread entered it last).
        self._context: decimal.Context | None = None

    @property
    def rules_in_force(self) -> frozenset[int]:
        """The rules in force on the dispensing date."""
        return self.epoch.rules_in_force

    def _explain(self, owner: tuple[str, object]) -> tuple[object, list[tuple[int, object, object]]]:
        records: list[tuple[int, object, object]] = []
        explainer = self.epoch.explainers.get(owner)
        if explainer is None:
            return None, records
        # Recomputed in the engine's own decimal context, as the evaluation was (see evaluate.evaluate): the one
        # `explaining()` entered when this thread is inside it (entering a context costs about what a small
        # explainer does), else a fresh one.
        if self._context is not None and decimal.getcontext() is self._context:
            return explainer(self.case_values, self.decision_values, records), records
        with decimal.localcontext(MONEY_CONTEXT):
            result = explainer(self.case_values, self.decision_values, records)
        return result, records

    @contextlib.contextmanager
    def explaining(self) -> Iterator[None]:
        """Run the explainers inside one decimal context while a renderer works out many facts.

        The context is a fresh copy of the engine's, current only in the thread that entered it: another
        thread explaining the same trace finds its own context is not that one and enters its own, as before.
        """
        with decimal.localcontext(MONEY_CONTEXT) as context:
            previous, self._context = self._context, context
            try:
                yield
            finally:
                self._context = previous

    def facts_of(self, owner: tuple[str, object]) -> tuple[Fact, ...]:
        """The tests of one rule's `when` (('rule', i)), its values (('value', i)) or a definition."""
        found = self._facts.get(owner)
        if found is None:
            records = self._records.pop(owner, None)  # kept by outcome(), which ran the same explainer
            if records is None:
                _, records = self._explain(owner)
            policy = self.policy
            leaves = policy.leaves
            # An explainer also records the tests of the definitions it computes inline: only the owner's count.
            own = policy.memo.get("leaves by owner", lambda: _leaves_by_owner(leaves)).get(owner, frozenset())
            seen: set[int] = set()
            facts = []
            for leaf_index, observed, outcome in records:
                if leaf_index in own and leaf_index not in seen:
                    seen.add(leaf_index)
                    facts.append(Fact(leaf=leaves[leaf_index], observed=observed, outcome=outcome))
            found = self._facts[owner] = tuple(facts)
        return found

    def outcome(self, rule: RuleMeta) -> bool | None:
        """Whether a rule's condition held; None when evaluation never reached it.

        A table row is reached when no row above it held; an exception when one of the rules it
        derogates from held; any other rule in force always.
        """
        if rule.index in self._outcomes:
            return self._outcomes[rule.index]
        held: bool | None = None
        if rule.index in self.epoch.rules_in_force and self._reached(rule):
            if rule.rule.when is None:
                held = True
            else:
                owner = ("rule", rule.index)
                result, records = self._explain(owner)
                held = bool(result)
                if owner not in self._facts:  # the tests it made, should an explanation ask for them next
                    self._records[owner] = records
        self._outcomes[rule.index] = held
        return held

    def _reached(self, rule: RuleMeta) -> bool:
        if rule.parents:
            return any(self.outcome(p) for p in self.policy.parents_of[rule.index])
        if rule.table is not None:
            in_force = self.epoch.rules_in_force
            return all(self.outcome(r) is False for r in self.policy.rows_above[rule.index] if r.index in in_force)
        return True

    def status(self, rule: RuleMeta, deciders: tuple[int, ...]) -> RuleStatus:
        """What happened to a rule while its decision was made."""
        if rule.index not in self.rules_in_force:
            return RuleStatus.NOT_IN_FORCE
        if rule.index in deciders:
            return RuleStatus.DECIDED
        outcome = self.outcome(rule)
        if outcome is None:
            return RuleStatus.NOT_REACHED
        return RuleStatus.OVERRIDDEN if outcome else RuleStatus.NOT_APPLICABLE

    def rule_trace(self, rule: RuleMeta, deciders: tuple[int, ...]) -> RuleTrace:
        """One rule's part in a decision."""
        status = self.status(rule, deciders)
        beaten_by: tuple[RuleMeta, ...] = ()
        if status is RuleStatus.OVERRIDDEN:
            beaten_by = tuple(r for r in self.policy.exceptions_of[rule.index] if self.outcome(r))
        evaluated = status in (RuleStatus.DECIDED, RuleStatus.OVERRIDDEN, RuleStatus.NOT_APPLICABLE)
        return RuleTrace(rule=rule, status=status, facts=self.facts_of(("rule", rule.index)) if evaluated else (),
                         value_facts=self.facts_of(("value", rule.index)) if status is RuleStatus.DECIDED else (),
                         beaten_by=beaten_by)


def _leaves_by_owner(leaves: tuple[LeafMeta, ...]) -> dict[tuple[str, object], frozenset[int]]:
    """Owner → the indices of its traced tests (worked out once per policy)."""
    found: dict[tuple[str, object], set[int]] = {}
    for leaf in leaves:
        found.setdefault(leaf.owner, set()).add(leaf.index)
    return {owner: frozenset(indices) for owner, indices in found.items()}
