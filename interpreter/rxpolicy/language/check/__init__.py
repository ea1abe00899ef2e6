"""Stage 3: rule files of a policy's layers → :class:`CheckedPolicy`, or every problem found (RX3xx).

The checker collects all diagnostics before it raises, so a policy expert fixes everything in one
pass: unknown names (with a did-you-mean), type mismatches, duplicate ids, rules without a source
or a patient sentence, exceptions to rules that do not exist, overlapping validity periods, and
definitions or decisions that depend on themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import MappingProxyType

import attrs

from rxpolicy.diagnostics import Diagnostic, RxError, Severity, did_you_mean
from rxpolicy.language import ast
from rxpolicy.language import types as t
from rxpolicy.language.limits import MAX_DEPTH, definition_depths, expression_depth, names_in
from rxpolicy.language.check.model import (
    CheckedPolicy,
    DecisionInfo,
    DefinitionInfo,
    LayerInfo,
    LayerKind,
    ParameterInfo,
    ParameterValueInfo,
    Resolved,
    RuleInfo,
    SymbolKind,
    WarningInfo,
)
from rxpolicy.language.facts import CaseSchema, read_facts, statutory_facts
from rxpolicy.language.sources import SourceRegistry
from rxpolicy.language.types import Kind, Type

__all__ = ["check_policy", "LayerSources", "PolicySources", "CheckedPolicy", "LayerKind", "SymbolKind",
           "Resolved", "RuleInfo"]

_TYPES = {"yes or no": t.BOOL, "money": t.MONEY, "duration": t.DURATION, "supply limit": t.SUPPLY,
          "number": t.NUMBER, "date": t.DATE, "text": t.TEXT, "percentage": t.PERCENT}
LANGUAGES = ("en", "nl")


@attrs.frozen(kw_only=True)
class LayerSources:
    """The parsed files of one layer."""

    name: str
    kind: LayerKind
    title: str
    files: tuple[ast.RuleFile, ...]


@attrs.frozen(kw_only=True)
class PolicySources:
    """A policy's declaration and its layers, the shared ones first."""

    name: str
    declaration: ast.Policy | None
    layers: tuple[LayerSources, ...]
    #: The source registry beside the policy (``sources.yaml``), which `source <id> "…"` citations name.
    registry: SourceRegistry | None = None


def check_policy(sources: PolicySources) -> tuple[CheckedPolicy, tuple[Diagnostic, ...]]:
    """Check a policy; returns it with its warnings, or raises :class:`RxError` with every error."""
    checker = _PolicyChecker(sources)
    checked = checker.run()
    errors = [d for d in checker.problems if d.severity is Severity.ERROR]
    if errors:
        raise RxError(checker.problems)
    warnings = tuple(sorted((d for d in checker.problems if d.severity is Severity.WARNING),
                            key=Diagnostic.sort_key))
    return checked, warnings


def _explains(items: Sequence[ast.Explain]) -> MappingProxyType[str, str]:
    return MappingProxyType({e.lang: e.text for e in items})


def _type(ref: ast.TypeRef) -> Type:
    base = _TYPES.get(ref.words, t.NOTHING)
    return base.maybe() if ref.nullable else base


class _PolicyChecker:
    """Holds the symbol tables of one policy while it is checked."""

    def __init__(self, sources: PolicySources) -> None:
        self.sources = sources
        self.problems: list[Diagnostic] = []
        self.decisions: dict[str, DecisionInfo] = {}
        self.definitions_ast: dict[str, tuple[ast.Definition, str]] = {}
        self.definitions: dict[str, DefinitionInfo] = {}
        self.parameters: dict[str, ParameterInfo] = {}
        self.rules: list[RuleInfo] = []
        self.warnings: list[WarningInfo] = []
        self.tables: dict[str, tuple[str, ...]] = {}
        self.in_progress: list[str] = []
        self.cited: set[int] = set()
        self.deps: dict[tuple[SymbolKind, str], set[tuple[SymbolKind, str]]] = {}
        # Imported here: a compiled policy read from the cache needs the checker's model, not the checker.
        from rxpolicy.language.check.expressions import ExprChecker

        declaration = sources.declaration
        facts, problems = read_facts((layer.name, item) for layer, item in self.items())
        self.problems.extend(problems)
        # A layer checked on its own that declares no facts is read against the contract's case.
        self.facts: CaseSchema = facts or statutory_facts()
        self.exprs = ExprChecker(lookup=self.lookup, known_names=self.all_names, fields=self.facts.fields,
                                 plans=declaration.plans if declaration else (),
                                 definition_expr=lambda name: self.definitions_ast[name][0].expr
                                 if name in self.definitions_ast else None,
                                 decision_exprs=lambda name: [a.value for info in self.rules
                                                              for a in info.rule.assignments if a.decision == name],
                                 parameter_values=lambda name: [v.value for v in self.parameters[name].values]
                                 if name in self.parameters else [])

    def problem(self, code: str, span: object, message: str, help: str,
                severity: Severity = Severity.ERROR, related: tuple[tuple[str, object], ...] = ()) -> None:
        self.problems.append(Diagnostic(code=code, span=span, message=message, help=help,  # type: ignore[arg-type]
                                        severity=severity, related=related))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ symbol tables
    def items(self) -> Iterator[tuple[LayerSources, ast.Item]]:
        for layer in self.sources.layers:
            for rule_file in layer.files:
                for item in rule_file.items:
                    yield layer, item

    def all_names(self) -> list[str]:
        return [*self.facts.fields, *self.decisions, *self.definitions_ast, *self.parameters]

    def lookup(self, name: str) -> tuple[SymbolKind, Type] | None:
        if name in self.decisions:
            return SymbolKind.DECISION, self.decisions[name].type
        if name in self.parameters:
            return SymbolKind.PARAMETER, self.parameters[name].type
        if name in self.definitions_ast:
            return SymbolKind.DEFINITION, self.definition(name).type
        return None

    def _claim(self, seen: dict[str, ast.Item], name: str, item: ast.Item, what: str) -> bool:
        if name in seen:
            first = seen[name]
            self.problem("RX301", item.span, f"the {what} `{name}` is already declared at {first.span}",
                         "give one of them another name, or remove the copy", related=(("first declared here", first.span),))
            return False
        seen[name] = item
        return True

    def collect(self) -> None:
        seen: dict[str, ast.Item] = {}
        for layer, item in self.items():
            if isinstance(item, ast.Decision) and self._claim(seen, item.name, item, "decision"):
                self.decisions[item.name] = DecisionInfo(name=item.name, type=_type(item.type),
                                                         explains=_explains(item.explains), layer=layer.name,
                                                         span=item.span, outcome=item.outcome)
            elif isinstance(item, ast.Definition) and self._claim(seen, item.name, item, "definition"):
                self.definitions_ast[item.name] = (item, layer.name)
            elif isinstance(item, ast.Parameter) and self._claim(seen, item.name, item, "parameter"):
                self.parameters[item.name] = self.parameter(item, layer.name)
            elif isinstance(item, ast.Rule):
                self.rules.append(self.rule_info(item, layer))
            elif isinstance(item, ast.Warning):
                self.warnings.append(WarningInfo(warning=item, layer=layer.name))
            elif isinstance(item, ast.Table):
                self.tables[item.id] = tuple(row.id for row in item.rows)
                self.rules.extend(self.rule_info(row, layer) for row in item.rows)
                self.check_table(item)
            elif isinstance(item, (ast.Policy, ast.Layer)) and item.name != self.sources.name and \
                    item.name not in {layer.name for layer in self.sources.layers}:
                self.problem("RX303", item.span, f"`{item.name}` does not match the directory it is in",
                             "name the policy or layer after its directory")
        for name in self.decisions:
            if name in self.facts.fields:
                self.problem("RX301", self.decisions[name].span, f"`{name}` is a case field", "choose another name")
        outcomes = [d for d in self.decisions.values() if d.outcome]
        for extra in outcomes[1:]:
            self.problem("RX380", extra.span, f"`{extra.name}` and `{outcomes[0].name}` both say they are the outcome",
                         "keep `is the outcome` on one decision")
        if outcomes and outcomes[0].type != t.BOOL:
            self.problem("RX380", outcomes[0].span, f"the outcome `{outcomes[0].name}` is a {outcomes[0].type}, but an "
                         "outcome is yes or no", "move `is the outcome` to a yes/no decision")

    def rule_info(self, rule: ast.Rule, layer: LayerSources) -> RuleInfo:
        decides = tuple(dict.fromkeys(a.decision for a in rule.assignments))
        return RuleInfo(rule=rule, layer=layer.name, layer_kind=layer.kind, decides=decides)

    def check_table(self, table: ast.Table) -> None:
        if not table.decides:
            self.problem("RX327", table.span, f"the table `{table.id}` does not say what it decides",
                         "add `decides <decision>, …` after the table's id")
        for row in table.rows:
            assigned = {a.decision for a in row.assignments}
            missing = [d for d in table.decides if d not in assigned]
            extra = sorted(assigned - set(table.decides))
            if missing:
                self.problem("RX322", row.id_span, f"the row `{row.id}` does not give a value to {', '.join(missing)}",
                             f"add `then {missing[0]} = …` to the row; every row decides what its table decides")
            if extra:
                self.problem("RX322", row.id_span, f"the row `{row.id}` decides {', '.join(extra)}, which its table "
                             "does not", f"add {extra[0]} to the table's `decides`, or move it to a rule")
        for row in table.rows[:-1]:
            if row.when is None:
                self.problem("RX326", row.id_span, f"the row `{row.id}` has no `when`, so the rows after it never apply",
                             "give it a `when`, or move it to the end of the table")

    # ------------------------------------------------------------------ citations
    def cite(self, citation: ast.Citation) -> str:
        source = self.sources.registry.get(citation.source) if self.sources.registry and citation.source else None
        return source.cite(citation.text) if source is not None else citation.text

    def check_citations(self, citations: Sequence[ast.Citation]) -> None:
        """Every source a citation names must be in the registry (RX314), and there must be one (RX315)."""
        registry = self.sources.registry
        for citation in citations:
            if citation.source is None or id(citation) in self.cited:  # a table's rows share its citations
                continue
            self.cited.add(id(citation))
            if registry is None:
                self.problem("RX315", citation.source_span, f"`{citation.source}` names a source, but no source "
                             "registry (sources.yaml) is found beside the policy directory",
                             "create sources.yaml beside the policy directory listing the source under `sources:`, "
                             'or cite in plain text: `source "…"`')
            elif registry.get(citation.source) is None:
                guess = registry.suggestion(citation.source)
                self.problem("RX314", citation.source_span, f"`{citation.source}` is not a source of {registry.path}",
                             (f"did you mean `{guess}`? " if guess else "") + "the sources are: "
                             + ", ".join(sorted(registry.sources)) + "; add a new one to the registry first")

    # ------------------------------------------------------------------ parameters and definitions
    def parameter(self, item: ast.Parameter, layer: str) -> ParameterInfo:
        typ = _type(item.type)
        values = []
        for value in item.values:
            if not isinstance(value.expr, ast.Literal):
                self.problem("RX362", value.span, "a parameter value must be written out, like `250.00 EUR`",
                             "write the amount itself; compute with it in a `define`")
                continue
            got = self.exprs.infer(value.expr)
            if not (got.same_values(typ) or (got.kind is Kind.DURATION and typ.kind is Kind.SUPPLY)):
                self.problem("RX330", value.span, f"`{item.name}` is a {typ}, but this value is a {got}",
                             f"write a {typ} value")
            number = value.expr.value
            self.check_citations(value.citations)
            values.append(ParameterValueInfo(value=number, validity=value.validity,
                                             citation="; ".join(self.cite(c) for c in value.citations) or None,
                                             span=value.span))
        if not item.values:
            self.problem("RX361", item.span, f"the parameter `{item.name}` has no value",
                         "add `value … in force from YYYY-MM-DD`")
        self.check_overlaps([(v.validity, v.span) for v in values], f"values of `{item.name}`")
        if not item.citations and not any(v.citation for v in values) and item.interpretation is None:
            self.problem("RX310", item.span, f"the parameter `{item.name}` does not say where it comes from",
                         'add `source <id> "…"`: a source of sources.yaml (a law, the insurer\'s document) and its section')
        self.check_citations(item.citations)
        return ParameterInfo(name=item.name, type=typ, values=tuple(values),
                             citations=tuple(self.cite(c) for c in item.citations), interpretation=item.interpretation,
                             explains=_explains(item.explains), layer=layer, span=item.span)

    def definition(self, name: str) -> DefinitionInfo:
        if name in self.definitions:
            return self.definitions[name]
        item, layer = self.definitions_ast[name]
        if name in self.in_progress:
            cycle = " → ".join(self.in_progress[self.in_progress.index(name):] + [name])
            self.problem("RX350", item.span, f"`{name}` depends on itself ({cycle})", "break the circle")
            return DefinitionInfo(name=name, expr=item.expr, type=t.NOTHING, explains={}, layer=layer, span=item.span)
        self.in_progress.append(name)
        outer = self.exprs.used
        self.exprs.used = set()
        typ = self.exprs.infer(item.expr)
        self.deps[(SymbolKind.DEFINITION, name)] = self.exprs.used
        self.exprs.used = outer | {(SymbolKind.DEFINITION, name)}
        self.in_progress.pop()
        info = DefinitionInfo(name=name, expr=item.expr, type=typ, explains=_explains(item.explains), layer=layer,
                              span=item.span)
        self.definitions[name] = info
        return info

    # ------------------------------------------------------------------ durations
    def check_whole_durations(self) -> None:
        """RX354: `… days` or `… months` of a number that may have a fraction. Days and months are counted whole,
        so the fraction would be cut off when the rules are evaluated, changing a period (and the money that rests
        on it) without a word; the rule must say how to round. Asked once every rule is checked, because a
        decision is whole when every rule deciding it gives a whole number."""
        texts = {f.source.path: f.source for layer in self.sources.layers for f in layer.files}
        seen: set[int] = set()
        for node in self.exprs.durations:
            if id(node) in seen or self.exprs.whole(node.operand, settled=True):
                continue
            seen.add(id(node))
            source = texts.get(node.span.path)
            written = source.slice(node.span) if source else ""
            # `(a / 2) days`: the number as written, without the unit and the parentheses around it.
            number = written[:len(written) - len(node.unit)].rstrip() if written.endswith(node.unit) else ""
            if number.startswith("(") and number.endswith(")") and _one_group(number):
                number = number[1:-1].strip()
            number = number or "…"
            # `rounded` follows a computation (`a / 12 rounded …`); an `if … else …` needs parentheses of its own.
            operand = f"({number})" if isinstance(node.operand, ast.IfThenElse) else number
            units = "days" if node.unit.startswith("day") else "months"
            self.problem("RX354", node.span,
                         f"`{number}` may not be a whole number, but a duration counts whole {units}: rxpolicy "
                         "does not cut off the fraction without a word",
                         f"round it first: `({operand} rounded down to a whole number) {node.unit}`, or `rounded up` "
                         "or `rounded half up`, as the source says")

    # ------------------------------------------------------------------ rules
    def check_rules(self) -> None:
        by_id: dict[str, list[RuleInfo]] = {}
        for info in self.rules:
            by_id.setdefault(info.id, []).append(info)
        for infos in by_id.values():
            for i, a in enumerate(infos):
                for b in infos[i + 1:]:
                    if _periods_overlap(a.rule.validity, b.rule.validity):
                        self.problem("RX302", b.rule.id_span, f"the rule id `{b.id}` is already used at {a.rule.span}"
                                     " for a period that overlaps this one", "give this rule another id, or make "
                                     "the two versions' `in force` periods follow each other",
                                     related=(("other version", a.rule.span),))
        for info in self.rules:
            self.check_rule(info, by_id)
        seen: dict[str, WarningInfo] = {}
        for warning in self.warnings:
            self.check_warning(warning, seen)

    def check_warning(self, info: WarningInfo, seen: dict[str, WarningInfo]) -> None:
        warning = info.warning
        if warning.id in seen:
            self.problem("RX302", warning.id_span, f"the warning id `{warning.id}` is already used at "
                         f"{seen[warning.id].warning.span}", "give this warning another id")
        seen[warning.id] = info
        if not warning.citations:
            self.problem("RX310", warning.id_span, f"the warning `{warning.id}` does not say where it comes from",
                         'add `source <id> "…"`: a source of sources.yaml (a law, the insurer\'s document) and its section')
        self.check_citations(warning.citations)
        languages = {e.lang for e in warning.explains}
        if "en" not in languages:
            self.problem("RX311", warning.id_span, f"the warning `{warning.id}` has no sentence a patient could read",
                         'add `explain en "…"`: what the warning means for whoever reads the evaluation')
        elif "nl" not in languages:
            self.problem("RX312", warning.id_span, f"the warning `{warning.id}` has no Dutch sentence",
                         'add `explain nl "…"`', severity=Severity.WARNING)
        if warning.when is not None:  # without a `when`, every evaluation carries the warning
            self.exprs.condition(warning.when)

    def check_rule(self, info: RuleInfo, by_id: dict[str, list[RuleInfo]]) -> None:
        rule = info.rule
        if not rule.citations:
            self.problem("RX310", rule.id_span, f"the rule `{rule.id}` does not say where it comes from",
                         'add `source <id> "…"`: a source of sources.yaml (a law, the insurer\'s document) and its section')
        self.check_citations(rule.citations)
        languages = {e.lang for e in rule.explains}
        for explain in rule.explains:
            if explain.lang not in LANGUAGES:
                self.problem("RX313", explain.span, f"`{explain.lang}` is not a language explanations are written in",
                             "write `explain en \"…\"` or `explain nl \"…\"`")
        for translated in rule.interpretations:
            if translated.lang not in LANGUAGES:
                self.problem("RX313", translated.span, f"`{translated.lang}` is not a language explanations are "
                             "written in", "write `interpretation \"…\"` (English) or `interpretation nl \"…\"`")
        if "en" not in languages:
            self.problem("RX311", rule.id_span, f"the rule `{rule.id}` has no sentence a patient could read",
                         'add `explain en "…"`: one sentence saying what the rule means for the patient')
        elif "nl" not in languages:
            self.problem("RX312", rule.id_span, f"the rule `{rule.id}` has no Dutch sentence",
                         'add `explain nl "…"`', severity=Severity.WARNING)
        if not rule.assignments:
            self.problem("RX321", rule.id_span, f"the rule `{rule.id}` does not decide anything",
                         "add `then <decision> = <value>`")
        self.exprs.used = set()
        if rule.when is not None:
            self.exprs.condition(rule.when)
        condition_uses = self.exprs.used
        # A rule's values are only computed when its `when` holds, so what that proves known stays known.
        from rxpolicy.language.check.expressions import known_when

        known = known_when(rule.when, True) if rule.when is not None else frozenset()
        for assignment in rule.assignments:
            self.exprs.used = set()
            self.check_assignment(assignment, known)
            uses = self.deps.setdefault((SymbolKind.DECISION, assignment.decision), set())
            uses.update(condition_uses, self.exprs.used)
        for ref in rule.exception_to:
            self.check_exception(info, ref, by_id)

    def check_assignment(self, assignment: ast.Assignment, known: frozenset[str] = frozenset()) -> None:
        target = self.decisions.get(assignment.decision)
        got = self.exprs.infer(assignment.value, known)
        if target is None:
            guess = did_you_mean(assignment.decision, list(self.decisions))
            self.problem("RX320", assignment.name_span, f"`{assignment.decision}` is not a decision of this policy",
                         f"did you mean `{guess}`?" if guess else "declare it with `decision … end`, or fix the name")
            return
        want = target.type
        if got.kind is Kind.NOTHING:
            if not want.nullable and got.nullable and isinstance(assignment.value, ast.Literal):
                self.problem("RX331", assignment.value.span, f"`{target.name}` must always have a value",
                             f"give it a {want}, or declare it `{target.name}: …, or not applicable`")
            return
        fits = got.same_values(want) or (want.kind is Kind.SUPPLY and got.kind is Kind.DURATION)
        if not fits:
            self.problem("RX330", assignment.value.span, f"`{target.name}` is a {want}, but this is a {got}",
                         f"give `{target.name}` a {want.known()}")
        elif got.nullable and not want.nullable:
            self.problem("RX331", assignment.value.span, f"this value may be unknown, but `{target.name}` must always "
                         "have one", "give a value for the unknown case too (`if … is known then … else …`)")

    def check_exception(self, info: RuleInfo, ref: ast.RuleRef, by_id: dict[str, list[RuleInfo]]) -> None:
        parents = by_id.get(ref.id) or [r for r in self.rules if r.rule.table == ref.id]
        if not parents:
            guess = did_you_mean(ref.id, [*by_id, *self.tables])
            self.problem("RX323", ref.span, f"there is no rule `{ref.id}` to be an exception to",
                         f"did you mean `{guess}`?" if guess else "write the id of the rule this one derogates from")
            return
        if ref.id == info.id:
            self.problem("RX325", ref.span, f"the rule `{ref.id}` cannot be an exception to itself",
                         "name the general rule it derogates from")
            return
        shared = set(info.decides) & {d for p in parents for d in p.decides}
        if info.decides and not shared:
            self.problem("RX324", ref.span, f"`{info.id}` and `{ref.id}` decide different things, so one cannot be "
                         "an exception to the other", "an exception gives another value to a decision its general "
                         "rule decides")

    def check_exception_cycles(self) -> None:
        """Report every circle of exceptions (RX328), however many parents each rule names.

        The exception graph is walked whole: each `exception to` is an edge to every rule it names
        (a table id names all its rows), and each strongly connected group of two or more rules is one
        circle, reported once with all its rules. A rule that names itself is reported where it does so
        (RX325, :meth:`check_exception`), not again here. Iterative, so a long chain of exceptions cannot
        exhaust Python's stack.
        """
        rows: dict[str, list[str]] = {}
        for info in self.rules:
            if info.rule.table is not None:
                rows.setdefault(info.rule.table, []).append(info.id)
        ids = list(dict.fromkeys(r.id for r in self.rules))
        edges: dict[str, list[str]] = {i: [] for i in ids}
        for info in self.rules:
            for ref in info.rule.exception_to:
                targets = [ref.id] if ref.id in edges else rows.get(ref.id, [])
                edges[info.id].extend(t for t in targets if t != info.id and t not in edges[info.id])
        for group in _strongly_connected(ids, edges):
            if len(group) < 2:
                continue
            members = set(group)
            first = min((r for r in self.rules if r.id in members), key=lambda r: (r.rule.span.path,
                                                                                   r.rule.span.line))
            circle = _circle_through(first.id, edges, members)
            others = tuple((f"`{r.id}`", r.rule.id_span) for r in self.rules
                           if r.id in members and r.id != first.id)
            self.problem("RX328", first.rule.id_span,
                         f"the rules {', '.join(f'`{m}`' for m in sorted(members))} are exceptions to each other "
                         "in a circle: " + " → ".join(circle), "an exception derogates from a more general rule; "
                         "remove the `exception to` that points back, so one of them is the general rule",
                         related=others)

    # ------------------------------------------------------------------ validity and order
    def check_overlaps(self, periods: Sequence[tuple[ast.Validity | None, object]], what: str) -> None:
        for i, (a, _) in enumerate(periods):
            for b, span in periods[i + 1:]:
                if _periods_overlap(a, b):
                    self.problem("RX360", span, f"the {what} overlap: {a or 'always'} and {b or 'always'}",
                                 "make each period end the day before the next one starts")

    def order(self) -> tuple[tuple[SymbolKind, str], ...]:
        done: dict[tuple[SymbolKind, str], bool] = {}
        out: list[tuple[SymbolKind, str]] = []

        def visit(node: tuple[SymbolKind, str], trail: list[tuple[SymbolKind, str]]) -> None:
            state = done.get(node)
            if state is True:
                return
            if state is False:
                if node[0] is SymbolKind.DEFINITION:
                    return  # already reported, with its place, when the definition was checked
                cycle = trail[trail.index(node):] + [node]
                span = self.decisions[node[1]].span
                self.problem("RX350", span, "these depend on each other in a circle: "
                             + " → ".join(n for _, n in cycle), "a decision cannot depend on itself; break the circle")
                return
            done[node] = False
            for dep in sorted(self.deps.get(node, ()), key=lambda d: (d[0].value, d[1])):
                if dep[0] in (SymbolKind.DECISION, SymbolKind.DEFINITION):
                    visit(dep, trail + [node])
            done[node] = True
            out.append(node)

        for name in self.definitions:
            visit((SymbolKind.DEFINITION, name), [])
        for name in self.decisions:
            visit((SymbolKind.DECISION, name), [])
        return tuple(out)

    # ------------------------------------------------------------------ the whole policy
    def check_depths(self) -> None:
        """RX352: expressions that, with the definitions they use written out in place, nest too deeply.

        The code writer and the explainers write each definition out where it is used, so this is the
        depth of the generated code. Measured before any type is inferred (inference follows definitions
        recursively): a definition found too deep is entered with no type, so nothing recurses into it.
        Each is reported where it crosses the limit, not again in every expression that uses it.
        """
        expressions = {name: item.expr for name, (item, _) in self.definitions_ast.items()}
        depths = definition_depths(expressions)

        def written_out(name: ast.Name) -> int | None:
            return depths.get(name.parts[0]) if len(name.parts) == 1 and name.parts[0] in expressions else None

        def report(expr: ast.Expr, depth: int, what: str) -> None:
            used = sorted({n.parts[0] for n in names_in(expr) if written_out(n) is not None})
            if any(depths[u] > MAX_DEPTH for u in used):
                return  # reported in the definition that crosses the limit
            self.problem("RX352", expr.span, f"with the definitions it uses written out in place "
                         f"({', '.join(f'`{u}`' for u in used)}), {what} nests {depth} levels deep; rxpolicy "
                         f"allows at most {MAX_DEPTH}", "make the definitions it uses shallower, or work part of it "
                         "out as a decision of its own (a decision is computed once, not written out)")

        for name, (item, layer) in self.definitions_ast.items():
            if depths[name] > MAX_DEPTH:
                self.definitions[name] = DefinitionInfo(name=name, expr=item.expr, type=t.NOTHING, explains={},
                                                        layer=layer, span=item.span)
                report(item.expr, depths[name], f"the definition `{name}`")
        for info in self.rules:
            for expr in [info.rule.when, *(a.value for a in info.rule.assignments)]:
                if expr is not None:
                    depth = expression_depth(expr, written_out)
                    if depth > MAX_DEPTH:
                        report(expr, depth, "this expression")

    def run(self) -> CheckedPolicy:
        self.collect()
        self.check_depths()
        for name in list(self.definitions_ast):
            self.definition(name)
        self.check_rules()
        self.check_whole_durations()
        self.check_exception_cycles()
        order = self.order()
        self.problems.extend(self.exprs.problems)
        declaration = self.sources.declaration
        files = tuple(f for layer in self.sources.layers for f in layer.files)
        return CheckedPolicy(
            name=self.sources.name,
            title=(declaration.titles[0] if declaration and declaration.titles else self.sources.name),
            validity=declaration.validity if declaration else None,
            plans=declaration.plans if declaration else (),
            layers=tuple(LayerInfo(name=layer.name, title=layer.title, kind=layer.kind,
                                   files=tuple(f.source.path for f in layer.files),
                                   interpretation=dict(declaration.adoptions).get(layer.name) if declaration else None)
                         for layer in self.sources.layers),
            decisions=MappingProxyType(dict(self.decisions)), definitions=MappingProxyType(dict(self.definitions)),
            parameters=MappingProxyType(dict(self.parameters)), rules=tuple(self.rules),
            tables=MappingProxyType(dict(self.tables)), names=MappingProxyType(dict(self.exprs.names)),
            expr_types=MappingProxyType(dict(self.exprs.types)), order=order,
            files=tuple(f.source for f in files), files_ast=files, facts=self.facts,
            outcome=next((d.name for d in self.decisions.values() if d.outcome), None),
            registry=self.sources.registry, warnings=tuple(self.warnings))


def _one_group(text: str) -> bool:
    """Whether the parenthesis that opens ``text`` is the one that closes it (``(a / 2)``, not ``(a) * (b)``)."""
    depth = 0
    for position, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return position == len(text) - 1
    return False


def _strongly_connected(nodes: Sequence[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, without recursion; groups in the order they close."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = edges.get(node, [])
            if position < len(successors):
                work.append((node, position + 1))
                nxt = successors[position]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:  # returning to the caller: it inherits the lowest index reached
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _circle_through(start: str, edges: dict[str, list[str]], members: set[str]) -> list[str]:
    """The shortest way round from ``start`` back to it inside one circle of rules (breadth first)."""
    came_from: dict[str, str] = {}
    queue = [start]
    for node in queue:
        for nxt in edges.get(node, []):
            if nxt not in members:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    return [start, start]


def _periods_overlap(a: ast.Validity | None, b: ast.Validity | None) -> bool:
    if a is None or b is None:
        return True
    return a.overlaps(b)
