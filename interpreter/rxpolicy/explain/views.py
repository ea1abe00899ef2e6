"""From an evaluation's trace to what each renderer shows: per decision, its value, the deciding
rules with their citation and patient sentence, the facts they rested on and the rules they beat.

The facts a decision rests on are: for a table row, why the rows above it did not apply (their
first failing test); for an exception, what made its general rule apply; then the rule's own
supporting tests and the tests inside the value it gave; then the sub-decisions it used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import attrs

from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.evaluate import DecisionResult, Evaluation
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.engine.trace import Fact, RuleStatus, RuleTrace, Trace
from rxpolicy.explain.words import leaf_sentence_makers, leap_day_text
from rxpolicy.language.check import SymbolKind
from rxpolicy.language import ast

__all__ = ["DecisionView", "Reason", "decision_views", "because_facts", "because", "reasons", "rule_because",
           "views_and_refusals"]


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


class _Reader:
    """Works out the reasons of one evaluation's decisions in one language.

    What a decision rests on is often what another rests on too (the minimum and maximum supply of one table
    row, the amounts an insurer's share and the patient's share are computed from): each rule's facts, each
    failed definition's failing tests and each fact's reason are worked out once per rendering and reused.
    The facts are the trace's own (kept by it), so they are found again by identity.
    """

    __slots__ = ("trace", "lang", "values", "makers", "definitions", "ors", "leap_born", "_because", "_concrete",
                 "_reason", "_path", "_blocked")

    def __init__(self, trace: Trace, lang: str, values: Mapping[str, object]) -> None:
        policy = trace.policy
        self.trace = trace
        self.lang = lang
        self.values = values
        self.makers = leaf_sentence_makers(policy, lang)
        self.definitions = _leaf_definitions(policy)
        self.ors = _or_definitions(policy)
        #: The case holds a 29 February date: only then can a test rest on a 29 February birthday (looked up
        #: once per rendering, not per fact).
        self.leap_born = _holds_leap_day(trace)
        self._because: dict[tuple[int, bool], list[Fact]] = {}
        self._concrete: dict[int, list[Fact]] = {}
        self._reason: dict[int, Reason] = {}
        #: The definitions being expanded (not expanded again inside themselves), and how often one was not.
        self._path: set[str] = set()
        self._blocked = 0

    def because_facts(self, rule: RuleMeta, with_value: bool = True) -> list[Fact]:
        """See :func:`because_facts`."""
        key = (rule.index, with_value)
        found = self._because.get(key)
        if found is not None:
            return found
        trace = self.trace
        policy = trace.policy
        facts: list[Fact] = []
        for earlier in policy.rows_above[rule.index]:
            if trace.outcome(earlier) is False:
                facts.extend(_first_failure(trace.facts_of(("rule", earlier.index))))
        for parent in policy.parents_of[rule.index]:
            facts.extend(self.because_facts(parent, with_value=False))
        facts.extend(f for f in trace.facts_of(("rule", rule.index)) if bool(f.outcome) != f.leaf.negated)  # holds
        if with_value:
            facts.extend(trace.facts_of(("value", rule.index)))
        found = self._because[key] = self.concretes(facts)
        return found

    def concretes(self, facts: Iterable[Fact]) -> list[Fact]:
        """:meth:`concrete` of each fact, in order (most are themselves: only a failed yes/no definition is not)."""
        definitions = self.definitions
        found: list[Fact] = []
        for fact in facts:
            if fact.outcome is False and definitions[fact.leaf.index] is not None:
                found.extend(self.concrete(fact))
            else:
                found.append(fact)
        return found

    def concrete(self, fact: Fact) -> list[Fact]:
        """A yes/no definition that did not hold is shown by the test inside it that failed (more telling than
        'not: …')."""
        found = self._concrete.get(id(fact))
        if found is not None:
            return found
        name = self.definitions[fact.leaf.index]
        if name is None or not isinstance(fact.outcome, bool) or fact.outcome:
            found = [fact]
        else:
            tests = tuple(f for f in self.trace.facts_of(("definition", name)) if not f.outcome)
            # A definition that is an `or` of tests failed because every one of them did: each is a reason. For
            # any other shape one failing test explains it.
            failing = tests if name in self.ors else _first_failure(tests)
            found = self.concretes(failing) or [fact]
        self._concrete[id(fact)] = found
        return found

    def reason(self, fact: Fact) -> Reason:
        """A fact with, for a computed amount, the inputs it was computed from.

        A definition is not expanded inside itself (the checker forbids a definition that depends on itself,
        so that only guards against a policy that was not checked); a reason worked out where that happened
        below it is not kept, so every kept reason is the same wherever it is asked for.
        """
        key = id(fact)
        found = self._reason.get(key)
        if found is not None:
            return found
        index = fact.leaf.index
        sentence = self.makers[index](fact.observed, fact.outcome, self.values)
        # Where an age or birthday rests on a 29 February birthday, say where that birthday was counted.
        leap_day = _leap_day(self.trace, fact.node) if self.leap_born else None
        note = (Reason(sentence=leap_day_text(leap_day, self.lang)),) if leap_day is not None else ()
        name = self.definitions[index]
        if name is None or isinstance(fact.outcome, bool):
            found = Reason(sentence=sentence, inputs=note)
        elif name in self._path:
            self._blocked += 1
            return Reason(sentence=sentence, inputs=note)
        else:
            blocked = self._blocked
            self._path.add(name)
            try:
                inputs = self.reasons(self.concretes(self.trace.facts_of(("definition", name))))
            finally:
                self._path.discard(name)
            found = Reason(sentence=sentence, inputs=note + tuple(i for i in inputs if i not in note))
            if self._blocked != blocked:
                return found
        self._reason[key] = found
        return found

    def reasons(self, facts: list[Fact]) -> tuple[Reason, ...]:
        """The reasons of facts, one per sentence, in order."""
        found: dict[str, Reason] = {}
        for fact in facts:
            reason = self.reason(fact)
            found.setdefault(reason.sentence, reason)
        return tuple(found.values())

    def decision_reasons(self, rules: tuple[RuleMeta, ...]) -> tuple[Reason, ...]:
        """The reasons of a decision made by these rules."""
        return self.reasons([fact for rule in rules for fact in self.because_facts(rule)])


def because_facts(trace: Trace, rule: RuleMeta, *, with_value: bool = True) -> list[Fact]:
    """The recorded tests and inputs a deciding rule rested on, in reading order.

    For a table row, why the rows above it did not apply (their first failing test); for an exception, what
    made its general rule apply; then the rule's own supporting tests and the tests inside the value it gave.
    Of the rules it is an exception to, only the conditions count: their values were set aside, never
    computed, and working them out could fail where evaluation did not.
    """
    with trace.explaining():
        return list(_Reader(trace, "en", {}).because_facts(rule, with_value))


def because(evaluation: Evaluation, name: str, lang: str = "en") -> tuple[str, ...]:
    """The sentences a decision rests on (deduplicated, in order)."""
    return tuple(r.sentence for r in reasons(evaluation, name, lang))


def rule_because(evaluation: Evaluation, rule: RuleMeta, lang: str = "en") -> tuple[str, ...]:
    """The sentences one deciding rule rests on (for a refusal: its own facts, not the other refusals')."""
    trace = evaluation.trace
    if trace is None:
        return ()
    with trace.explaining():
        reader = _Reader(trace, lang, evaluation.values_by_name)
        return tuple(r.sentence for r in reader.reasons(reader.because_facts(rule)))


def reasons(evaluation: Evaluation, name: str, lang: str = "en") -> tuple[Reason, ...]:
    """The facts a decision rests on, as a tree of computed inputs."""
    trace = evaluation.trace
    if trace is None:
        return ()
    with trace.explaining():
        return _Reader(trace, lang, evaluation.values_by_name).decision_reasons(evaluation[name].rules)


def decision_views(evaluation: Evaluation, lang: str = "en") -> tuple[DecisionView, ...]:
    """One view per decision the policy produces, in declaration order."""
    return views_and_refusals(evaluation, lang)[0]


def views_and_refusals(evaluation: Evaluation, lang: str = "en",
                       ) -> tuple[tuple[DecisionView, ...], tuple[tuple[str, ...], ...]]:
    """:func:`decision_views`, and :func:`rule_because` of each rule in ``evaluation.reasons`` (the refusals),
    worked out together: a refusal's facts are those of the outcome decision's rules, found once."""
    trace = evaluation.trace
    if trace is None:
        return tuple(DecisionView(name=result.name, value=result.value, rules=result.rules, reasons=(),
                                  overridden=()) for result in evaluation), tuple(() for _ in evaluation.reasons)
    with trace.explaining():
        reader = _Reader(trace, lang, evaluation.values_by_name)
        views = tuple(_decision_view(evaluation, reader, result) for result in evaluation)
        refusals = tuple(tuple(r.sentence for r in reader.reasons(reader.because_facts(rule)))
                         for rule in evaluation.reasons)
    return views, refusals


def _decision_view(evaluation: Evaluation, reader: _Reader, result: DecisionResult) -> DecisionView:
    """What a renderer shows of one decision."""
    trace = reader.trace
    # Only a rule with exceptions can be set aside by one (a rule that held and has none decided, or its
    # decision would have been a conflict): only those are traced, and in full only the ones set aside.
    deciders = tuple(r.index for r in result.rules)
    exceptions = evaluation.policy.exceptions_of
    overridden = tuple(trace.rule_trace(r, deciders) for r in evaluation.policy.rules_for[result.name]
                       if exceptions[r.index] and r.index not in deciders
                       and trace.status(r, deciders) is RuleStatus.OVERRIDDEN)
    return DecisionView(name=result.name, value=result.value, rules=result.rules,
                        reasons=reader.decision_reasons(result.rules), overridden=overridden)
