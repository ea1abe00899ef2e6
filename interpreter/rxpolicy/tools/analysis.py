"""What exploring the condition space shows about a checked policy: ``rxpolicy check``'s findings (RX37x).

For each period of a policy ("epoch": its rules and amounts do not change), cases drawn from the
rules' own condition space (:mod:`rxpolicy.tools.explore`) are evaluated with the compiled rules, and
what goes wrong becomes a finding with the case that shows it (in words: :mod:`rxpolicy.tools.analysis_report`):

* RX370 a rule that never decides: rows above it or an exception to it always apply where it
  does, or its condition never holds;
* RX371 two rules that decide one thing differently for a case, neither an exception to the
  other (evaluating that case would stop with RX503);
* RX372 a case for which no rule decides a decision (evaluation would stop with RX502);
* RX373 part of the policy's period in which no rule for a decision, or no value of a parameter a
  rule needs, is in force; or two dated rules in force at the same time that disagree;
* RX374 a rule or definition whose computation fails for a case, e.g. divides by a field that is
  0 in it (evaluation would stop with RX505).

Overlaps, gaps, holes and failing computations are shown by the case that produced them. That a
rule never decides is an absence, so it is only reported where exploration was exhaustive over
every field that decides whether the rule decides, and every case of it evaluated; a rule that
decided no case and could not be proven either way is counted in :attr:`Analysis.unproven`.
Witnesses are minimised towards a plain base case and printed as case YAML that ``rxpolicy eval``
runs. Everything is deterministic: a policy without any date is explored as dispensed on
:data:`UNDATED_DAY`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
from collections.abc import Collection, Iterable, Iterator, Mapping
from types import MappingProxyType

import attrs

from rxpolicy.diagnostics import Diagnostic
from rxpolicy.engine import runtime
from rxpolicy.engine.case import Case
from rxpolicy.engine.compile import CompiledPolicy, Epoch
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.language import ast
from rxpolicy.language.types import Kind
from rxpolicy.language.values import MONEY_CONTEXT
from rxpolicy.tools.analysis_report import (
    Finding,
    Outcome,
    Reporter,
    evaluate_values,
    extended,
    problem_key,
    shadowed_when,
)
from rxpolicy.tools.explore import ConditionSpace, base_case, condition_space, rebuild

__all__ = ["Analysis", "Family", "Finding", "analyse", "representative_day", "DEFAULT_LIMIT", "UNDATED_DAY"]

#: Cases one exploration may enumerate; beyond it a covering array is used (and nothing is proven).
DEFAULT_LIMIT = 20_000
#: The day cases of a policy without any date (no `in force` anywhere) are dispensed on, so that witnesses do
#: not change from day to day. The first day of a year: "this calendar year" starts on it, and it is no leap day.
UNDATED_DAY = dt.date(2025, 1, 1)
_BUNDLES_PER_DECISION = 4

_Key = tuple[object, ...]


@attrs.frozen(kw_only=True)
class Analysis:
    """The findings for one policy, and how much was explored to find them."""

    policy: str
    findings: tuple[Finding, ...]
    cases: int
    periods: int
    #: The rules that decided no case explored and could not be proven never to decide either (too many
    #: cases to enumerate, fields beyond the representative values, or evaluation stopped first), by id.
    unproven: tuple[str, ...] = ()

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """The findings as diagnostics, in file order."""
        return tuple(sorted((f.diagnostic for f in self.findings), key=Diagnostic.sort_key))


def analyse(policy: CompiledPolicy, *, limit: int = DEFAULT_LIMIT) -> Analysis:
    """Explore every period of a policy and report what its rules get wrong; deterministic."""
    found: dict[tuple[object, ...], Finding] = {}
    shadowed: dict[str, list[Finding]] = {}
    unproven: set[int] = set()
    cases = 0
    with decimal.localcontext(MONEY_CONTEXT):
        for epoch in policy.epochs:
            run = _EpochRun(policy, epoch, limit)
            run.explore()
            for finding in run.findings():
                if finding.code == "RX370":
                    shadowed.setdefault(finding.rules[0], []).append(finding)
                    continue
                # The same fault in several periods is one finding, shown in the first; a hole in
                # validity that runs on into the next period is one hole.
                key = (finding.code, finding.decision, finding.parameter, finding.definition,
                       () if finding.code == "RX372" else finding.rules)
                first = found.setdefault(key, finding)
                if first is not finding and finding.code == "RX373" and first.end is not None \
                        and first.end + dt.timedelta(days=1) == finding.start:
                    found[key] = extended(first, finding.end)
            cases += run.evaluated
            unproven |= run.unproven
    findings = [*found.values(), *(shadowed_when(policy, f) for f in shadowed.values())]
    ids = tuple(dict.fromkeys(r.id for r in policy.rules if r.index in unproven))
    return Analysis(policy=policy.name, findings=tuple(findings), cases=cases, periods=len(policy.epochs),
                    unproven=ids)


# ----------------------------------------------------------------------------- rule families

@attrs.frozen
class Family:
    """How the rules in force in one epoch relate: exceptions, their general rules, table rows above."""

    policy: CompiledPolicy
    in_force: frozenset[int]
    parents: Mapping[int, tuple[int, ...]]
    children: Mapping[int, tuple[int, ...]]

    @classmethod
    def of(cls, policy: CompiledPolicy, in_force: frozenset[int]) -> Family:
        """The family of the rules in force."""
        rules = [r for r in policy.rules if r.index in in_force]
        parents = {r.index: tuple(p.index for p in rules if p.id in r.parents or (p.table is not None and
                                                                                  p.table in r.parents))
                   for r in rules}
        children = {r.index: tuple(c for c, ps in parents.items() if r.index in ps) for r in rules}
        return cls(policy, in_force, MappingProxyType(parents), MappingProxyType(children))

    def ancestors(self, rule: int) -> set[int]:
        """The rules ``rule`` is an exception to, and theirs, transitively."""
        found: set[int] = set()
        todo = list(self.parents.get(rule, ()))
        while todo:
            parent = todo.pop()
            if parent not in found:
                found.add(parent)
                todo.extend(self.parents.get(parent, ()))
        return found

    def descendants(self, rule: int) -> set[int]:
        """The exceptions to ``rule``, and theirs, transitively."""
        found: set[int] = set()
        todo = list(self.children.get(rule, ()))
        while todo:
            child = todo.pop()
            if child not in found:
                found.add(child)
                todo.extend(self.children.get(child, ()))
        return found

    def rows_above(self, rule: int) -> set[int]:
        """The rows of a table tried before this row (empty for a rule that is not a table row)."""
        meta = self.policy.rules[rule]
        if meta.table is None or self.parents.get(rule):
            return set()
        return {r.index for r in self.policy.rules if r.index in self.in_force and r.table == meta.table
                and not self.parents.get(r.index) and r.rule.row_index < meta.rule.row_index}

    def context(self, rule: int) -> set[int]:
        """What must hold or fail for ``rule`` to be reached: its general rules and the rows above them all."""
        chain = {rule} | self.ancestors(rule)
        return chain | {above for member in chain for above in self.rows_above(member)}

    def deciders(self, decision: str) -> tuple[int, ...]:
        """The rules in force that decide ``decision``."""
        return tuple(r.index for r in self.policy.rules if r.index in self.in_force and decision in r.decides)


# ----------------------------------------------------------------------------- exploring one epoch

class _EpochRun:
    """Explores one epoch: evaluates cases, remembers which rules decided and the first case of each problem."""

    def __init__(self, policy: CompiledPolicy, epoch: Epoch, limit: int) -> None:
        self.policy, self.epoch, self.limit = policy, epoch, limit
        self.day = representative_day(policy, epoch)
        self.space = condition_space(policy, self.day)
        self.base = base_case(policy, self.day)
        self.family = Family.of(policy, epoch.rules_in_force)
        self.seen: set[tuple[object, ...]] = set()
        self.decided: set[int] = set()
        #: Decision index → each value it took → the first case that gave it.
        self.by_value: dict[int, dict[object, tuple[object, ...]]] = {}
        self.problems: dict[_Key, tuple[object, ...]] = {}
        self.evaluated = 0
        self.decision_index = {d.name: i for i, d in enumerate(policy.decisions)}
        #: The decisions some rule reads: the values they take are remembered, with a case for each.
        self.read = tuple(self.decision_index[d] for d in self.space.decisions_read(epoch.rules_in_force)
                          if d in self.decision_index)
        self.explored: set[tuple[object, ...]] = set()
        #: The rules that decided no case and could not be proven never to decide either.
        self.unproven: set[int] = set()

    def observe(self, cases: Iterable[Case]) -> None:
        """Evaluate cases not seen yet: remember the rules that decided, the values decisions took, the problems."""
        for case in cases:
            values = case.values
            if values in self.seen:
                continue
            self.seen.add(values)
            self.evaluated += 1
            outcome = evaluate_values(self.policy, self.epoch, values)
            if isinstance(outcome, tuple):
                decision_values, deciders = outcome
                for rules in deciders:
                    self.decided.update(rules)
                for index in self.read:
                    found = self.by_value.setdefault(index, {})
                    if len(found) < _BUNDLES_PER_DECISION:
                        found.setdefault(decision_values[index], values)
            else:
                key = problem_key(outcome)
                if key is not None:
                    self.problems.setdefault(key, values)

    def explore(self) -> None:
        """A covering array over every field, then each decision's rules, in the order they are evaluated."""
        self.observe([self.base])
        self.observe(self.space.cases(self.base, limit=self.limit))
        order = [name for kind, name in self.policy.checked.order if name in self.decision_index]
        for decision in order:
            self.explore_decision(decision)

    def explore_decision(self, decision: str) -> None:
        rules = self.family.deciders(decision)
        if not rules or self.explore_rules(rules, values=True):
            return
        top = [r for r in rules if not self.family.parents.get(r)]
        if all(self.policy.rules[r].rule.when is not None for r in top):
            self.explore_rules(top, values=False)  # where none of them applies: a gap
        for a, b in itertools.combinations(rules, 2):
            if self.may_disagree(a, b, decision):
                self.explore_rules(self.family.context(a) | self.family.context(b), values=True)

    def explore_rules(self, rules: Collection[int], *, values: bool) -> bool:
        """Cases over what these rules read; True when the exploration was exhaustive.

        The decisions the rules read are taken as given where that is exact: each value such a
        decision can take comes with the fields of a case that gave it, and those fields are
        disjoint from the rules' own fields and from each other. Then every combination of these
        values with every value of the rules' own fields is tried. Otherwise everything the rules
        read, transitively, is enumerated when that fits the limit, or a covering array of it.
        """
        direct = self.space.restricted(rules, values=values, through_decisions=False, base=self.base)
        bundles = [self.bundles(d) for d in direct.decisions_read(rules, values=values)]
        exact = self.exact(direct, bundles)
        combinations = list(itertools.islice(itertools.product(*(b for b, _ in bundles)), self.limit))
        exact = exact and direct.complete and len(combinations) * direct.size() <= self.limit
        if not exact:
            full = self.space.restricted(rules, values=values, base=self.base)
            if full.size() <= self.limit:
                self.observe_space(full, self.base)
                return full.complete
        each = max(1, self.limit // max(1, len(combinations)))
        for combination in combinations:
            template = list(self.base.values)
            for bundle in combination:
                for path, value in bundle.items():
                    template[self.policy.facts.field_index(path)] = value
            rebuilt = rebuild(template, self.policy.facts)
            if rebuilt is not None:
                self.observe_space(direct, Case(values=rebuilt, schema=self.policy.facts, source="<explored>"), each)
        return exact

    def observe_space(self, space: ConditionSpace, base: Case, limit: int | None = None) -> None:
        """The cases of a space (once: several rule sets often define the same space)."""
        key = (tuple(space.values.items()), base.values, limit)
        if key not in self.explored:
            self.explored.add(key)
            self.observe(space.cases(base, limit=limit or self.limit))

    def bundles(self, decision: str) -> tuple[list[Mapping[str, object]], bool]:
        """For each value a decision took, the fields it rests on in the case that gave it; and whether
        that is every value the decision can take (yes and no, and not applicable when it may be)."""
        fields = self.space.relevant_fields([decision])
        index = self.decision_index.get(decision, -1)
        found = self.by_value.get(index, {})
        typ = self.policy.decisions[index].type if index >= 0 else None
        every = typ is not None and typ.kind is Kind.BOOL and set(found) >= ({True, False, None} if typ.nullable
                                                                            else {True, False})
        bundles: list[Mapping[str, object]] = [{p: values[self.policy.facts.field_index(p)] for p in fields} for values in found.values()]
        return bundles or [{}], every

    def exact(self, direct: ConditionSpace, bundles: list[tuple[list[Mapping[str, object]], bool]]) -> bool:
        """Whether decisions taken as given stand for every case: all their values, on fields of their own."""
        taken: set[str] = set(direct.values)
        for found, every in bundles:
            fields = set(found[0])
            if not every or fields & taken:
                return False
            taken |= fields
        return True

    def may_disagree(self, a: int, b: int, decision: str) -> bool:
        """Whether two rules could both decide a case with different values (not proof that they do)."""
        family, rules = self.family, self.policy.rules
        if a in family.ancestors(b) or b in family.ancestors(a):
            return False
        if a in family.rows_above(b) or b in family.rows_above(a):
            return False
        first, second = (_assigned(rules[i].rule, decision) for i in (a, b))
        if isinstance(first, ast.Literal) and isinstance(second, ast.Literal) and first.value == second.value:
            return False
        return not _complementary(rules[a].rule.when, rules[b].rule.when)

    # ------------------------------------------------------------------ turning observations into findings
    def findings(self) -> Iterator[Finding]:
        """Every finding of this epoch: the problems cases ran into, then the rules that never decided.

        The proofs that rules never decide run first, so that a problem one of their cases runs
        into is reported with the others rather than lost.
        """
        report = Reporter(self)
        undecided = [r for r in self.policy.rules
                     if r.index in self.epoch.rules_in_force and r.index not in self.decided and r.decides]
        proofs = [(rule, self.never_decides(rule)) for rule in undecided]
        for key, values in sorted(self.problems.items(), key=lambda item: str(item[0])):
            yield from report.problem(key, Case(values=values, schema=self.policy.facts, source="<explored>"))
        for rule, proof in proofs:
            if proof is not None:
                yield report.shadowed(rule, *proof)

    def never_decides(self, rule: RuleMeta) -> tuple[Case | None, ConditionSpace] | None:
        """Whether a rule no case made decide never does: proven when every case over what decides it
        evaluates and it never decides. Then a case its condition holds in (None when it never holds)
        and the space of the proof; else None, and a rule not shown to decide either is unproven.
        """
        involved = self.family.context(rule.index) | self.family.descendants(rule.index)
        space = self.space.restricted(involved, values=False, base=self.base)
        if space.size() > self.limit or not space.complete:
            self.unproven.add(rule.index)  # not proven either way
            return None
        applying: Case | None = None
        unsure = False
        decision = self.decision_index[next(d for d in rule.decides if d in self.decision_index)]
        for case in space.cases(self.base, limit=self.limit):
            outcome = evaluate_values(self.policy, self.epoch, case.values)
            if not isinstance(outcome, tuple):
                key = problem_key(outcome)
                if key is not None:
                    self.problems.setdefault(key, case.values)  # reported on its own
            if isinstance(outcome, runtime.Gap) and outcome.decision == decision:
                continue  # nothing decided it, so this rule did not apply
            if isinstance(outcome, runtime.Conflict) and outcome.decision == decision:
                if any(r == rule.index for r, _ in outcome.hits):
                    return None  # it decides, together with a rule that disagrees
                unsure = True  # it did not decide here; whether its condition held is not known
                continue
            if not isinstance(outcome, tuple):
                self.unproven.add(rule.index)  # another problem stops evaluation first
                return None
            if rule.index in outcome[1][decision]:
                self.decided.add(rule.index)
                return None
            holds = self.applies(rule.index, case.values, outcome[0])
            unsure = unsure or holds is None
            if applying is None and holds:
                applying = case
        if applying is None and unsure:
            self.unproven.add(rule.index)
            return None
        return applying, space

    def applies(self, rule: int, values: tuple[object, ...], decisions: tuple[object, ...]) -> bool | None:
        """Whether a rule's condition holds, and that of one of the rules it is an exception to.

        None when that cannot be worked out (a condition needs an amount not in force, or divides by zero).
        """
        try:
            return self._applies(rule, values, decisions)
        except (runtime.NotInForce, runtime.Conflict, runtime.Gap, ArithmeticError):
            return None

    def _applies(self, rule: int, values: tuple[object, ...], decisions: tuple[object, ...]) -> bool:
        meta = self.policy.rules[rule]
        if meta.rule.when is not None and not self.epoch.explainers[("rule", rule)](values, decisions, []):
            return False
        parents = self.family.parents.get(rule, ())
        return not parents or any(self._applies(p, values, decisions) for p in parents)

    def outcome(self, case: Case) -> Outcome:
        """A case evaluated in this epoch."""
        return evaluate_values(self.policy, self.epoch, case.values)


def representative_day(policy: CompiledPolicy, epoch: Epoch) -> dt.date:
    """The date cases of an epoch are dispensed on: its first day; its last when it has no first (it runs from
    the beginning of time); :data:`UNDATED_DAY` when it has neither (a policy without any date)."""
    if epoch.start != dt.date.min:
        return epoch.start
    return epoch.end if epoch.end is not None else UNDATED_DAY


def _assigned(rule: ast.Rule, decision: str) -> ast.Expr | None:
    return next((a.value for a in rule.assignments if a.decision == decision), None)


def _complementary(a: ast.Expr | None, b: ast.Expr | None) -> bool:
    """`when X` and `when not X`: never both (AST equality ignores where they are written)."""
    return (isinstance(a, ast.Not) and a.operand == b) or (isinstance(b, ast.Not) and b.operand == a)


