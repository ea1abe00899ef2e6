"""The condition space a policy's rules define on one date, and systematic cases drawn from it.

Witness cases (of ``rxpolicy check`` findings, of year diffs, of "what would change it") come
from here, never from random guessing. For every case field the rules read, directly or through
definitions and decisions, the rules themselves give a small set of *representative values*
(:mod:`rxpolicy.tools.explore_values` collects them).

Values the rules cannot tell apart behave alike, so a product over these values meets every
outcome of every comparison with a constant (docs/tools/check.md says where that stops). ``cases``
enumerates that product, or a deterministic covering array (every pair of values of every two
fields) when it is too large; ``minimise`` takes a witness back towards a plain base case.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

import attrs

from rxpolicy.engine.case import Case, case_from_mapping
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.language import ast
from rxpolicy.language.ast import walk
from rxpolicy.language.check import SymbolKind
from rxpolicy.language.facts import CaseSchema
from rxpolicy.tools.explore_values import collect_values, written_sources

__all__ = ["ConditionSpace", "base_case", "condition_space", "covering_array", "minimise", "named_after_atc", "rebuild",
           "with_changes"]

_DEFAULT_LIMIT = 50_000


@attrs.frozen(kw_only=True)
class _Graph:
    """Which rules are in force on the day, which decide what, and what expressions read."""

    policy: CompiledPolicy
    in_force: frozenset[int]
    #: Decision → indices of the rules in force that decide it.
    deciders: Mapping[str, tuple[int, ...]]

    @classmethod
    def build(cls, policy: CompiledPolicy, day: dt.date) -> _Graph:
        """The graph of the epoch holding ``day`` (no rules when the policy is not in force then)."""
        epoch = policy.epoch_for(day)
        in_force = epoch.rules_in_force if epoch is not None else frozenset()
        deciders: dict[str, list[int]] = {}
        for rule in policy.rules:
            if rule.index in in_force:
                for decision in rule.decides:
                    deciders.setdefault(decision, []).append(rule.index)
        return cls(policy=policy, in_force=in_force,
                   deciders=MappingProxyType({d: tuple(r) for d, r in deciders.items()}))

    def rule_expressions(self, index: int, *, values: bool = True) -> list[ast.Expr]:
        """A rule's `when` and (with ``values``) the values it assigns."""
        rule = self.policy.rules[index].rule
        found = [rule.when] if rule.when is not None else []
        return found + ([a.value for a in rule.assignments] if values else [])

    def closure(self, roots: Iterable[ast.Expr], *, through_decisions: bool = True) -> tuple[list[ast.Expr], set[str]]:
        """The roots and every definition they read, and the decisions they read.

        With ``through_decisions`` the conditions and values of the rules deciding those decisions
        are followed too, so the expressions hold all that the roots' outcome depends on.
        """
        checked = self.policy.checked
        todo, seen, out, decisions = list(roots), set(), [], set()
        while todo:
            node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            out.append(node)
            for name in walk(node):
                resolved = checked.names.get(id(name)) if isinstance(name, ast.Name) else None
                if resolved is None:
                    continue
                if resolved.kind is SymbolKind.DEFINITION:
                    todo.append(checked.definitions[resolved.target].expr)
                elif resolved.kind is SymbolKind.DECISION and resolved.target not in decisions:
                    decisions.add(resolved.target)
                    if through_decisions:
                        todo.extend(e for r in self.deciders.get(resolved.target, ()) for e in self.rule_expressions(r))
        return out, decisions

    def fields(self, expressions: Iterable[ast.Expr]) -> set[str]:
        """The written case fields the expressions read (derived facts stand for the fields they come from)."""
        found: set[str] = set()
        for top in expressions:
            for node in walk(top):
                if isinstance(node, ast.FitsWithin):
                    facts = self.policy.facts
                    found.update(p for p in (facts.smallest_pack, facts.one_course) if p is not None)
                resolved = self.policy.checked.names.get(id(node)) if isinstance(node, ast.Name) else None
                if resolved is not None and resolved.kind is SymbolKind.FIELD:
                    found.update(written_sources(self.policy.facts, resolved.target))
        return found


@attrs.frozen
class ConditionSpace:
    """Representative values per case field path, as the rules of one policy on one date define them."""

    policy: CompiledPolicy = attrs.field(repr=False)
    day: dt.date
    #: Field path → its representative values (schema types), the base case's value first.
    values: Mapping[str, tuple[object, ...]]
    #: Whether every test the rules make on these fields is one whose outcomes the values all meet
    #: (a comparison with a constant, or with a computation on one other field); see docs/tools/check.md.
    complete: bool = True
    #: Built once per policy and day; ``attrs.evolve`` (as ``restricted`` does) hands it on.
    _graph: _Graph = attrs.field(repr=False, eq=False, default=attrs.Factory(
        lambda self: _Graph.build(self.policy, self.day), takes_self=True))

    def relevant_fields(self, decisions: Collection[str]) -> tuple[str, ...]:
        """The fields read by the rules deciding these decisions, transitively, in schema order."""
        return self.fields_of_rules({r for d in decisions for r in self._graph.deciders.get(d, ())})

    def fields_of_rules(self, rules: Collection[int], *, values: bool = True,
                        through_decisions: bool = True) -> tuple[str, ...]:
        """The fields rules' conditions (and with ``values`` the values they give) read, transitively."""
        expressions, _ = self._graph.closure(self._roots(rules, values), through_decisions=through_decisions)
        return self._ordered(self._graph.fields(expressions))

    def decisions_read(self, rules: Collection[int], *, values: bool = True) -> tuple[str, ...]:
        """The decisions rules' conditions (and with ``values`` their values) read, directly or through definitions."""
        _, decisions = self._graph.closure(self._roots(rules, values), through_decisions=False)
        return tuple(sorted(decisions))

    def restricted(self, rules: Collection[int], *, values: bool = True, through_decisions: bool = True,
                   base: Case | None = None) -> ConditionSpace:
        """The space only these rules define: the fields they read, each with the values they compare it with.

        Values are collected from these rules' expressions alone (``through_decisions``: with the
        rules deciding what they read); the choices none of them names are represented by one of
        them, as these rules cannot tell those choices apart.
        """
        expressions, _ = self._graph.closure(self._roots(rules, values), through_decisions=through_decisions)
        found, complete = collect_values(self.policy, self.day, expressions, self._graph.fields(expressions),
                                         base or base_case(self.policy, self.day), every_choice=False)
        return attrs.evolve(self, values=MappingProxyType(found), complete=complete)

    def size(self, fields: Sequence[str] | None = None) -> int:
        """How many combinations the product over ``fields`` (default: all) holds."""
        count = 1
        for path in self._fields(fields):
            count *= len(self.values[path])
        return count

    def cases(self, base: Case, fields: Sequence[str] | None = None, *, limit: int = _DEFAULT_LIMIT) -> Iterator[Case]:
        """Cases over ``fields``: the exhaustive product when it fits in ``limit``, else a covering array.

        The covering array holds every pair of values of every two fields at least once. Both are
        deterministic, so outputs are reproducible. Combinations that are not a valid case (the
        insurance ending before it starts) are left out; other fields keep their ``base`` value.
        """
        paths = self._fields(fields)
        choices = [self.values[p] for p in paths]
        schema = base.schema
        indices = [schema.field_index(p) for p in paths]
        derive = _Deriver(schema)
        template = list(base.values)

        def build(row: Sequence[int]) -> Case | None:
            values = list(template)
            for position, choice in enumerate(row):
                values[indices[position]] = choices[position][choice]
            rebuilt = derive(values)
            return Case(values=rebuilt, schema=schema, source="<explored>") if rebuilt is not None else None

        if self.size(paths) <= limit:
            yield from filter(None, map(build, itertools.product(*(range(len(c)) for c in choices))))
            return
        kept: list[Sequence[int]] = []
        rows = covering_array([len(c) for c in choices])
        for row in rows:
            case = build(row)
            if case is not None:
                kept.append(row)
                yield case
        if len(kept) < len(rows):
            yield from self._repair(kept, [len(c) for c in choices], build)

    @staticmethod
    def _repair(kept: list[Sequence[int]], sizes: list[int],
                build: Callable[[Sequence[int]], Case | None]) -> Iterator[Case]:
        """A row that is no valid case (an insurance ending before it starts, say) loses its pairs:
        each pair that a valid case can hold gets a case of its own."""
        covered = {(i, row[i], j, row[j]) for row in kept for i, j in itertools.combinations(range(len(row)), 2)}
        added: set[tuple[int, ...]] = set()
        for i, j in itertools.combinations(range(len(sizes)), 2):
            for a, b in itertools.product(range(sizes[i]), range(sizes[j])):
                row = [0] * len(sizes)
                row[i], row[j] = a, b
                if (i, a, j, b) not in covered and tuple(row) not in added:
                    added.add(tuple(row))
                    case = build(row)
                    if case is not None:
                        yield case

    def _fields(self, fields: Sequence[str] | None) -> tuple[str, ...]:
        if fields is None:
            return tuple(self.values)
        return tuple(f for f in fields if f in self.values)

    def _ordered(self, fields: Collection[str]) -> tuple[str, ...]:
        return tuple(p for p in self.policy.facts.fields if p in fields and p in self.values)

    def _roots(self, rules: Collection[int], values: bool) -> list[ast.Expr]:
        return [e for r in sorted(rules) for e in self._graph.rule_expressions(r, values=values)]


def condition_space(policy: CompiledPolicy, day: dt.date) -> ConditionSpace:
    """The representative values of every field the rules in force on ``day`` read."""
    graph = _Graph.build(policy, day)
    roots = [e for r in sorted(graph.in_force) for e in graph.rule_expressions(r)]
    expressions, _ = graph.closure(roots)
    found, complete = collect_values(policy, day, expressions, graph.fields(expressions), base_case(policy, day),
                                     every_choice=True)
    return ConditionSpace(policy, day, MappingProxyType(found), complete, graph)


def base_case(policy: CompiledPolicy, day: dt.date) -> Case:
    """A plain, valid case on ``day``: an adult, a GP's prescription of amlodipine for 30 days, EUR 10.00."""
    return case_from_mapping({
        "dispensed_on": day,
        "insured": {"born_on": dt.date(day.year - 40, 1, 1)},
        "prescription": {"prescriber": "gp"},
        "medicine": {"name": "amlodipine 5 mg tablet", "atc": "C08CA01", "price": Decimal("10.00")},
        "dispensing": {"supply_days": 30, "fees": {"dispensing": Decimal("7.50")}},
    }, source="<base case>", policy=policy)


def minimise(case: Case, base: Case, keep: Callable[[Case], bool]) -> Case:
    """Reset fields of ``case`` back to their ``base`` values while ``keep`` stays true.

    Greedy, field by field in schema order (an authorisation's two dates also together), repeated
    until no field can be reset: the witness then shows only the facts that matter. Both cases must share the dispensing date.
    """
    current, schema = case, case.schema
    changed = True
    while changed:
        changed = False
        for indices in _resets(schema):
            if all(current.values[i] == base.values[i] for i in indices):
                continue
            values = list(current.values)
            for i in indices:
                values[i] = base.values[i]
            rebuilt = rebuild(values, schema)
            if rebuilt is None:
                continue
            candidate = Case(values=rebuilt, schema=schema, source=current.source)
            if keep(candidate):
                current, changed = candidate, True
    return current


def _resets(schema: CaseSchema) -> tuple[tuple[int, ...], ...]:
    """What :func:`minimise` resets at a time: each written field, then the facts of each `all or none` section
    together (a case holds all or none of them, so one alone can only be reset when the base has them all)."""
    single = tuple((schema.field_index(path),) for path in schema.written)
    return single + tuple(tuple(schema.field_index(p) for p in schema.written if p.rpartition(".")[0] == section)
                          for section in schema.all_or_none)


def rebuild(values: list[object], schema: CaseSchema) -> tuple[object, ...] | None:
    """A case's values with its computed facts worked out again; None when they are not a valid case.

    The same checks and arithmetic as the case loader (dates in their declared order, `all or none`
    sections, the built-ins of computed facts), without reading every field again.
    """
    return _Deriver(schema)(values)


def with_changes(case: Case, changes: Mapping[str, object]) -> Case | None:
    """The case with some fields changed and its derived facts worked out again; None when that is no valid
    case (an insurance ending before it starts, half an authorisation). Cheaper than :meth:`Case.replace`,
    which checks every field again, for the many trial cases of a search."""
    values, schema = list(case.values), case.schema
    for path, value in changes.items():
        values[schema.field_index(path)] = value
    rebuilt = rebuild(values, schema)
    return Case(values=rebuilt, schema=schema, source=case.source) if rebuilt is not None else None


def named_after_atc(witness: Case, base: Case) -> Case:
    """A witness with a medicine name that belongs to its ATC code.

    The base case's name names the base case's code only, so a witness that needs another code is
    named ``medicine with ATC N06AX27`` (deterministic, and claiming no medicine the code is not). A
    name the witness itself chose (from a case file) is kept.
    """
    name, atc = witness.get("medicine.name"), witness.get("medicine.atc")
    if name != base.get("medicine.name") or atc == base.get("medicine.atc"):
        return witness
    return with_changes(witness, {"medicine.name": f"medicine with ATC {atc}"}) or witness


class _Deriver:
    """Works out computed facts and checks the cross-fact rules of a schema, remembering each combination seen."""

    def __init__(self, schema: CaseSchema) -> None:
        self.schema = schema
        index = schema.index
        needed = {a for p in schema.derived for a in schema.fields[p].arguments}
        for path in schema.written:
            for other, _, _ in schema.fields[path].orders:
                needed |= {path, other}
        needed |= {p for p in schema.written if p.rpartition(".")[0] in schema.all_or_none}
        self.inputs = tuple(sorted(index[p] for p in needed))
        self.orders = tuple((index[p], index[other], after) for p in schema.written
                            for other, after, _ in schema.fields[p].orders)
        self.groups = tuple(tuple(index[p] for p in schema.written if p.rpartition(".")[0] == section)
                            for section in schema.all_or_none)
        self.computed = tuple((index[p], schema.fields[p].compute,
                               tuple(index[a] for a in schema.fields[p].arguments)) for p in schema.derived)
        self.known: dict[tuple[object, ...], tuple[tuple[int, object], ...] | None] = {}

    def __call__(self, values: list[object]) -> tuple[object, ...] | None:
        key = tuple(values[i] for i in self.inputs)
        if key in self.known:
            derived = self.known[key]
        else:
            derived = self.known[key] = self._derive(values)
        if derived is None:
            return None
        for position, value in derived:
            values[position] = value
        return tuple(values)

    def _derive(self, values: list[object]) -> tuple[tuple[int, object], ...] | None:
        # A case file holds all the facts of an `all or none` section or none of them, so part of one is no case.
        for group in self.groups:
            if len({values[i] is None for i in group}) > 1:
                return None
        for this, other, after in self.orders:
            first, later = (values[other], values[this]) if not after else (values[this], values[other])
            if isinstance(first, dt.date) and isinstance(later, dt.date) and later < first:
                return None
        return tuple((position, function(*(values[i] for i in arguments)))
                     for position, function, arguments in self.computed)


def covering_array(sizes: Sequence[int]) -> list[list[int]]:
    """Rows of value indices holding every pair of values of every two columns (IPOG, deterministic).

    Columns are added one at a time, largest first: each row gets the value covering most pairs
    still missing, then rows are added (or their free cells filled) for the pairs left; free cells
    end at index 0, the base value.
    """
    if not sizes:
        return [[]]
    order = sorted(range(len(sizes)), key=lambda k: -sizes[k])
    s = [sizes[k] for k in order]
    rows: list[list[int]] = [[a, b] for a in range(s[0]) for b in range(s[1])] if len(s) > 1 else [
        [a] for a in range(s[0])]
    for k in range(2, len(s)):
        # missing[j][a]: the values of column k not yet seen beside value a of column j
        missing = [[set(range(s[k])) for _ in range(s[j])] for j in range(k)]
        for row in rows:
            counts = [0] * s[k]
            for j in range(k):
                if row[j] >= 0:
                    for b in missing[j][row[j]]:
                        counts[b] += 1
            best = max(range(s[k]), key=lambda b: (counts[b], -b))
            row.append(best)
            for j in range(k):
                if row[j] >= 0:
                    missing[j][row[j]].discard(best)
        added: list[list[int]] = []
        for j in range(k):
            for a in range(s[j]):
                for b in sorted(missing[j][a]):
                    home = next((r for r in added if r[k] == b and r[j] == -1), None)
                    if home is None:
                        home = [-1] * (k + 1)
                        home[k] = b
                        added.append(home)
                    home[j] = a
        rows.extend(added)
    out = []
    for row in rows:
        back = [0] * len(sizes)
        for position, column in enumerate(order):
            back[column] = max(row[position], 0)
        out.append(back)
    return out
