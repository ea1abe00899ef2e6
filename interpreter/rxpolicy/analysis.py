"""What exploring the condition space shows about a checked policy: ``rxpolicy check``'s findings (RX37x).

For each period of a policy ("epoch": its rules and amounts do not change), cases drawn from the
rules' own condition space (:mod:`rxpolicy.explore`) are evaluated with the compiled rules, and
what goes wrong becomes a finding with the case that shows it:

* RX370 a rule that never decides: rows above it or an exception to it always apply where it
  does, or its condition never holds;
* RX371 two rules that decide one thing differently for a case, neither an exception to the
  other (evaluating that case would stop with RX503);
* RX372 a case for which no rule decides a decision (evaluation would stop with RX502);
* RX373 part of the policy's period in which no rule for a decision, or no value of a parameter a
  rule needs, is in force; or two dated rules in force at the same time that disagree.

Overlaps, gaps and holes are shown by the case that produced them. That a rule never decides is
an absence, so it is only reported where exploration was exhaustive over every field that decides
whether the rule decides, and every case of it evaluated. Witnesses are minimised towards a plain
base case and printed as case YAML that ``rxpolicy eval`` runs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
from collections.abc import Collection, Iterable, Iterator, Mapping
from types import MappingProxyType

import attrs

from . import ast, runtime
from .case import Case, case_to_yaml, parse_case
from .compile import CompiledPolicy, Epoch, RuleMeta
from .diagnostics import Diagnostic
from .check import SymbolKind
from .explore import ConditionSpace, base_case, condition_space, minimise, rebuild
from .schema import field_index
from .types import Kind
from .values import MONEY_CONTEXT, describe

__all__ = ["Analysis", "Family", "Finding", "analyse", "evaluate_values", "problem_key", "representative_day",
           "DEFAULT_LIMIT"]

#: Cases one exploration may enumerate; beyond it a covering array is used (and nothing is proven).
DEFAULT_LIMIT = 20_000
_BUNDLES_PER_DECISION = 4

_Outcome = tuple[tuple[object, ...], tuple[tuple[int, ...], ...]] | Exception
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


def _longer(finding: Finding, end: dt.date | None) -> Finding:
    """A hole in validity that lasts until ``end``."""
    diagnostic = finding.diagnostic
    message = diagnostic.message.replace(_period(finding.start, finding.end), _period(finding.start, end), 1)
    return attrs.evolve(finding, end=end, diagnostic=attrs.evolve(diagnostic, message=message))


@attrs.frozen(kw_only=True)
class Analysis:
    """The findings for one policy, and how much was explored to find them."""

    policy: str
    findings: tuple[Finding, ...]
    cases: int
    periods: int

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """The findings as diagnostics, in file order."""
        return tuple(sorted((f.diagnostic for f in self.findings), key=Diagnostic.sort_key))


def analyse(policy: CompiledPolicy, *, limit: int = DEFAULT_LIMIT) -> Analysis:
    """Explore every period of a policy and report what its rules get wrong; deterministic."""
    found: dict[tuple[object, ...], Finding] = {}
    shadowed: dict[str, list[Finding]] = {}
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
                key = (finding.code, finding.decision, finding.parameter,
                       () if finding.code == "RX372" else finding.rules)
                first = found.setdefault(key, finding)
                if first is not finding and finding.code == "RX373" and first.end is not None \
                        and first.end + dt.timedelta(days=1) == finding.start:
                    found[key] = _longer(first, finding.end)
            cases += run.evaluated
    findings = [*found.values(), *(_shadowed_when(policy, f) for f in shadowed.values())]
    return Analysis(policy=policy.name, findings=tuple(findings), cases=cases, periods=len(policy.epochs))


def _shadowed_when(policy: CompiledPolicy, found: list[Finding]) -> Finding:
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


def evaluate_values(epoch: Epoch, values: tuple[object, ...]) -> _Outcome:
    """One case through an epoch's compiled rules: (decision values, deciders), or the runtime signal it raised.

    Runs in the caller's decimal context (``analyse`` sets the money context once).
    """
    try:
        return epoch.fast(values)
    except (runtime.Conflict, runtime.Gap, runtime.NotInForce) as signal:
        return signal
    except ArithmeticError as error:  # e.g. a division by a field that is 0 in this case: not a finding (yet)
        return error


def problem_key(outcome: _Outcome) -> _Key | None:
    """What went wrong, as a key: ('conflict', decision, rule, rule), ('gap', decision) or ('missing', parameter)."""
    if isinstance(outcome, runtime.Conflict):
        hits = outcome.hits
        a, b = next((x, y) for (x, vx) in hits for (y, vy) in hits if vx != vy)
        return ("conflict", outcome.decision, min(a, b), max(a, b))
    if isinstance(outcome, runtime.Gap):
        return ("gap", outcome.decision)
    if isinstance(outcome, runtime.NotInForce):
        return ("missing", outcome.parameter)
    return None


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

    def observe(self, cases: Iterable[Case]) -> None:
        for case in cases:
            values = case.values
            if values in self.seen:
                continue
            self.seen.add(values)
            self.evaluated += 1
            outcome = evaluate_values(self.epoch, values)
            if isinstance(outcome, tuple):
                decision_values, deciders = outcome
                for rules in deciders:
                    self.decided.update(rules)
                for index in self.read:
                    found = self.by_value.setdefault(index, {})
                    if len(found) < _BUNDLES_PER_DECISION:
                        found.setdefault(decision_values[index], values)
            else:
                self.problems.setdefault(problem_key(outcome) or (), values)

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
                    template[field_index(path)] = value
            rebuilt = rebuild(template)
            if rebuilt is not None:
                self.observe_space(direct, Case(values=rebuilt, source="<explored>"), each)
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
        bundles: list[Mapping[str, object]] = [{p: values[field_index(p)] for p in fields} for values in found.values()]
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
        """Every finding of this epoch: the problems cases ran into, then the rules that never decided."""
        report = _Reporter(self)
        for key, values in sorted(self.problems.items(), key=lambda item: str(item[0])):
            if key:
                yield from report.problem(key, Case(values=values, source="<explored>"))
        for rule in self.policy.rules:
            if rule.index in self.epoch.rules_in_force and rule.index not in self.decided and rule.decides:
                yield from self.never_decides(rule, report)

    def never_decides(self, rule: RuleMeta, report: _Reporter) -> Iterator[Finding]:
        """A rule no case made decide: proven when every case over what decides it evaluates and it never does."""
        involved = self.family.context(rule.index) | self.family.descendants(rule.index)
        space = self.space.restricted(involved, values=False, base=self.base)
        if space.size() > self.limit or not space.complete:
            return  # not proven either way: say nothing
        applying: Case | None = None
        unsure = False
        decision = self.decision_index[next(d for d in rule.decides if d in self.decision_index)]
        for case in space.cases(self.base, limit=self.limit):
            outcome = evaluate_values(self.epoch, case.values)
            if isinstance(outcome, runtime.Gap) and outcome.decision == decision:
                continue  # nothing decided it, so this rule did not apply
            if isinstance(outcome, runtime.Conflict) and outcome.decision == decision:
                if any(r == rule.index for r, _ in outcome.hits):
                    return  # it decides, together with a rule that disagrees (reported on its own)
                unsure = True  # it did not decide here; whether its condition held is not known
                continue
            if not isinstance(outcome, tuple):
                return  # another problem stops evaluation first; it is reported on its own
            if rule.index in outcome[1][decision]:
                self.decided.add(rule.index)
                return
            holds = self.applies(rule.index, case.values, outcome[0])
            unsure = unsure or holds is None
            if applying is None and holds:
                applying = case
        if applying is not None or not unsure:
            yield report.shadowed(rule, applying, space)

    def applies(self, rule: int, values: tuple[object, ...], decisions: tuple[object, ...]) -> bool | None:
        """Whether a rule's condition holds, and that of one of the rules it is an exception to.

        None when that cannot be worked out (a condition needs an amount not in force).
        """
        try:
            return self._applies(rule, values, decisions)
        except (runtime.NotInForce, runtime.Conflict, runtime.Gap):
            return None

    def _applies(self, rule: int, values: tuple[object, ...], decisions: tuple[object, ...]) -> bool:
        meta = self.policy.rules[rule]
        if meta.rule.when is not None and not self.epoch.explainers[("rule", rule)](values, decisions, []):
            return False
        parents = self.family.parents.get(rule, ())
        return not parents or any(self._applies(p, values, decisions) for p in parents)

    def outcome(self, case: Case) -> _Outcome:
        """A case evaluated in this epoch."""
        return evaluate_values(self.epoch, case.values)


def representative_day(policy: CompiledPolicy, epoch: Epoch) -> dt.date:
    """The date cases of an epoch are dispensed on: its first day (its last, or today, when it has none)."""
    if epoch.start != dt.date.min:
        return epoch.start
    return epoch.end if epoch.end is not None else dt.date.today()


def _assigned(rule: ast.Rule, decision: str) -> ast.Expr | None:
    return next((a.value for a in rule.assignments if a.decision == decision), None)


def _complementary(a: ast.Expr | None, b: ast.Expr | None) -> bool:
    """`when X` and `when not X`: never both (AST equality ignores where they are written)."""
    return (isinstance(a, ast.Not) and a.operand == b) or (isinstance(b, ast.Not) and b.operand == a)


# ----------------------------------------------------------------------------- findings in words

def _named(rule: RuleMeta, extra: str = "") -> str:
    """A rule as messages name it: its id and where it is written."""
    return f"`{rule.id}` ({rule.span.path}:{rule.span.line}{extra})"


def _period(start: dt.date, end: dt.date | None) -> str:
    return f"from {start} to {end}" if end is not None else f"from {start} on"


class _Reporter:
    """Turns what one epoch's exploration ran into into findings: message, help and minimised witness."""

    def __init__(self, run: _EpochRun) -> None:
        self.run, self.policy, self.epoch = run, run.policy, run.epoch

    def finding(self, code: str, decision: str, rules: Iterable[RuleMeta], witness: Case | None,
                diagnostic: Diagnostic, parameter: str | None = None) -> Finding:
        notes = self.notes(witness) if witness is not None else ()
        return Finding(code=code, decision=decision, rules=tuple(r.id for r in rules), witness=witness,
                       parameter=parameter,
                       start=self.epoch.start, end=self.epoch.end, diagnostic=attrs.evolve(
                           diagnostic, notes=notes + diagnostic.notes))

    def notes(self, witness: Case) -> tuple[str, ...]:
        """The witness as case YAML, checked to load back as the same case."""
        text = case_to_yaml(witness)
        if parse_case(text, path="<witness>", plans=self.policy.plans).values != witness.values:
            raise AssertionError(f"a witness case does not load back as itself:\n{text}")
        return ("for example, this case:", *(f"  {line}" for line in text.splitlines()))

    def minimal(self, case: Case, key: _Key) -> Case:
        return minimise(case, self.run.base, lambda c: problem_key(self.run.outcome(c)) == key)

    def problem(self, key: _Key, case: Case) -> Iterator[Finding]:
        if key[0] == "conflict":
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
        decision = self.policy.decisions[key[1]].name  # type: ignore[call-overload]
        a, b = (self.policy.rules[i] for i in key[2:])  # type: ignore[call-overload]
        outcome = self.run.outcome(witness)
        hits = dict(outcome.hits) if isinstance(outcome, runtime.Conflict) else {}
        va, vb = describe(hits.get(a.index)), describe(hits.get(b.index))
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

    def gap(self, decision: str, witness: Case) -> Finding:
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
                outcome = evaluate_values(epoch, moved.values) if moved and rule.index in epoch.rules_in_force else None
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
    shift = day - case.dispensed_on
    values = [v + shift if isinstance(v, dt.date) else v for v in case.values]
    rebuilt = rebuild(values)
    return Case(values=rebuilt, source=case.source) if rebuilt is not None else None


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
