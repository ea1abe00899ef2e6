"""What an editor asks of a policy's rule files: where each name is declared and used, and what it means.

The index is built from the parsed files of a policy and its layers (and, when the policy checks, from
the checked policy for types). It holds no editor protocol: :mod:`rxpolicy.tools.lsp.server` turns its answers
into Language Server Protocol messages. Places are :class:`Span`\\ s (lines and columns from 1).

Symbols (the things a name can stand for) are rule ids (rules, table rows and tables share one
namespace, as ``exception to`` names any of them), definitions, parameters, decisions, case fields
and layers.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType

import attrs

from rxpolicy.language import ast
from rxpolicy.language.check import CheckedPolicy, PolicySources
from rxpolicy.language.facts import CaseSchema, FieldSpec, read_facts, statutory_facts
from rxpolicy.language.source import SourceFile, Span
from rxpolicy.language.types import Kind

__all__ = ["Occurrence", "PolicyIndex", "SymbolKind", "field_spec", "policy_schema", "span_contains"]


class SymbolKind(enum.Enum):
    """What a name written in a rule file stands for."""

    RULE = "rule"
    DEFINITION = "definition"
    PARAMETER = "parameter"
    DECISION = "decision"
    FIELD = "case field"
    LAYER = "layer"


@attrs.frozen(kw_only=True)
class Occurrence:
    """One place a symbol is written: its declaration (``declares``) or a use."""

    kind: SymbolKind
    name: str
    span: Span
    declares: bool = False
    #: For a table row's declaration: the row's own id as written (``chronic`` of ``dispensing-period/chronic``).
    written: str = ""


def field_spec(path: str, schema: CaseSchema | None = None) -> FieldSpec | None:
    """The declaration of a case fact (feit van de casus): its type, default, limits and wording.

    The one place the editor support reads facts from: the policy's own ``fact`` declarations when given
    (``schema``), else the statutory layer's, which declare the contract's case.
    """
    return (schema or statutory_facts()).fields.get(path)


def policy_schema(sources: PolicySources, checked: CheckedPolicy | None) -> CaseSchema:
    """The facts a policy declares: the checked policy's, else read from its files' declarations."""
    if checked is not None:
        return checked.facts
    schema, _ = read_facts((layer.name, item) for layer in sources.layers for f in layer.files for item in f.items)
    return schema or statutory_facts()


def span_contains(span: Span, line: int, column: int) -> bool:
    """Whether a place (line, column from 1) is inside a span or right at its end (where the cursor stops)."""
    if (line, column) < (span.line, span.column):
        return False
    return (line, column) <= (span.end_line, span.end_column)


def _offset(source: SourceFile, line: int, column: int) -> int:
    text_before = source.text.split("\n")[: line - 1]
    return sum(len(part) + 1 for part in text_before) + column - 1


def _word_span(source: SourceFile, within: Span, pattern: str) -> Span | None:
    """The span of the first group of ``pattern`` inside ``within`` (a name that has no span of its own)."""
    start = _offset(source, within.line, within.column)
    end = _offset(source, within.end_line, within.end_column)
    found = re.compile(pattern).search(source.text, start, end)
    return source.span(found.start(1), found.end(1)) if found else None


def _all_word_spans(source: SourceFile, within: Span, pattern: str) -> Iterator[tuple[str, Span]]:
    start = _offset(source, within.line, within.column)
    end = _offset(source, within.end_line, within.end_column)
    for found in re.compile(pattern).finditer(source.text, start, end):
        yield found.group(1), source.span(found.start(1), found.end(1))


_NAME = r"([a-z_][a-z0-9_]*)"
_RULE_ID = r"([a-z][a-z0-9]*(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*)*)"


@attrs.frozen(kw_only=True)
class PolicyIndex:
    """Declarations and uses of every symbol of one policy (its own files and those of its layers)."""

    sources: PolicySources
    checked: CheckedPolicy | None
    occurrences: tuple[Occurrence, ...]
    #: (kind, name) → the items that declare it (several for a rule id with versions per period).
    items: Mapping[tuple[SymbolKind, str], tuple[object, ...]]
    files: Mapping[str, SourceFile]
    #: The facts of a case for this policy (its layers' ``fact`` declarations).
    schema: CaseSchema

    @classmethod
    def build(cls, sources: PolicySources, checked: CheckedPolicy | None = None) -> PolicyIndex:
        """Index every file of a policy's layers."""
        schema = policy_schema(sources, checked)
        builder = _Builder(sources, schema)
        for layer in sources.layers:
            for rule_file in layer.files:
                builder.file(rule_file)
        return cls(sources=sources, checked=checked, occurrences=tuple(builder.found),
                   items=MappingProxyType({k: tuple(v) for k, v in builder.items.items()}),
                   files=MappingProxyType(builder.files), schema=schema)

    # ------------------------------------------------------------------ lookups
    def at(self, path: str, line: int, column: int) -> Occurrence | None:
        """The symbol written at a place, if any (the narrowest span wins)."""
        hits = [o for o in self.occurrences if o.span.path == path and span_contains(o.span, line, column)]
        return min(hits, key=lambda o: (o.span.end_line - o.span.line, o.span.end_column - o.span.column),
                   default=None)

    def declarations(self, kind: SymbolKind, name: str) -> list[Occurrence]:
        """Where a symbol is declared (a case field has no declaration in rule files)."""
        return [o for o in self.occurrences if o.declares and o.kind is kind and o.name == name]

    def references(self, kind: SymbolKind, name: str, *, include_declaration: bool = True) -> list[Occurrence]:
        """Every place a symbol is written, declarations first when included."""
        found = [o for o in self.occurrences if o.kind is kind and o.name == name
                 and (include_declaration or not o.declares)]
        return sorted(found, key=lambda o: (not o.declares, o.span.path, o.span.line, o.span.column))

    def names(self, kind: SymbolKind) -> list[str]:
        """The declared names of a kind, in the order they are declared."""
        return list(dict.fromkeys(o.name for o in self.occurrences if o.declares and o.kind is kind))

    def item(self, kind: SymbolKind, name: str) -> tuple[object, ...]:
        """The AST items declaring a symbol."""
        return self.items.get((kind, name), ())

    def layer_of(self, path: str) -> str | None:
        """The name of the layer a file belongs to."""
        for layer in self.sources.layers:
            if any(f.source.path == path for f in layer.files):
                return layer.name
        return None

    def symbols_of(self, path: str) -> list[tuple[object, Span]]:
        """The items of one file, in order (for the outline)."""
        for layer in self.sources.layers:
            for rule_file in layer.files:
                if rule_file.source.path == path:
                    return [(item, item.span) for item in rule_file.items]
        return []

    def field(self, path: str) -> FieldSpec | None:
        """A fact of this policy's case."""
        return field_spec(path, self.schema)

    def field_paths(self) -> tuple[str, ...]:
        """Every fact a rule of this policy may name."""
        return tuple(self.schema.fields)

    def choices_of(self, field: str) -> tuple[str, ...]:
        """The values a choice field may be compared with (``medicine.route is oral``)."""
        spec = self.field(field)
        if spec is None or spec.type.kind not in (Kind.ENUM, Kind.LIST):
            return ()
        return spec.type.choices


class _Builder:
    def __init__(self, sources: PolicySources, schema: CaseSchema) -> None:
        self.sources = sources
        self.schema = schema
        self.found: list[Occurrence] = []
        self.items: dict[tuple[SymbolKind, str], list[object]] = {}
        self.files: dict[str, SourceFile] = {}
        # Names are resolved as the checker does: declared names first, then case fields.
        self.declared: dict[str, SymbolKind] = {}
        for layer in sources.layers:
            for rule_file in layer.files:
                for item in rule_file.items:
                    if isinstance(item, ast.Definition):
                        self.declared.setdefault(item.name, SymbolKind.DEFINITION)
                    elif isinstance(item, ast.Parameter):
                        self.declared.setdefault(item.name, SymbolKind.PARAMETER)
                    elif isinstance(item, ast.Decision):
                        self.declared.setdefault(item.name, SymbolKind.DECISION)

    def add(self, kind: SymbolKind, name: str, span: Span | None, declares: bool = False, item: object = None,
            written: str = "") -> None:
        if span is None:
            return
        self.found.append(Occurrence(kind=kind, name=name, span=span, declares=declares, written=written))
        if declares and item is not None:
            self.items.setdefault((kind, name), []).append(item)

    def file(self, rule_file: ast.RuleFile) -> None:
        source = rule_file.source
        self.files[source.path] = source
        for item in rule_file.items:
            self.item(source, item)

    def item(self, source: SourceFile, item: ast.Item) -> None:
        if isinstance(item, ast.Policy):
            self.add(SymbolKind.LAYER, item.name, _word_span(source, item.span, r"\bpolicy\s+" + _NAME), True, item)
            for name, span in _all_word_spans(source, item.span, r"\bbuilt\s+on\s+" + _NAME):
                self.add(SymbolKind.LAYER, name, span)
        elif isinstance(item, ast.Layer):
            self.add(SymbolKind.LAYER, item.name, _word_span(source, item.span, r"\blayer\s+" + _NAME), True, item)
        elif isinstance(item, ast.Decision):
            self.add(SymbolKind.DECISION, item.name, _word_span(source, item.span, r"\bdecision\s+" + _NAME),
                     True, item)
        elif isinstance(item, ast.Definition):
            self.add(SymbolKind.DEFINITION, item.name, _word_span(source, item.span, r"\bdefine\s+" + _NAME),
                     True, item)
            self.expr(item.expr)
        elif isinstance(item, ast.Parameter):
            self.add(SymbolKind.PARAMETER, item.name, _word_span(source, item.span, r"\bparameter\s+" + _NAME),
                     True, item)
            for value in item.values:
                self.expr(value.expr)
        elif isinstance(item, ast.Rule):
            self.rule(item)
        elif isinstance(item, ast.Fact):
            self.add(SymbolKind.FIELD, item.path, item.path_span, True, item)
        elif isinstance(item, ast.Warning) and item.when is not None:
            # A warning's condition uses names too: references and rename must reach it.
            self.expr(item.when)
        elif isinstance(item, ast.Table):
            self.add(SymbolKind.RULE, item.id, _word_span(source, item.span, r"\btable\s+" + _RULE_ID), True, item)
            decides = _word_span(source, item.span, r"\b(decides\s+" + _NAME[1:-1] + r"(?:\s*,\s*" + _NAME[1:-1]
                                 + r")*)")
            if decides is not None:
                for name, span in _all_word_spans(source, decides, r"(?<![a-z0-9_])" + _NAME):
                    if name != "decides":
                        self.add(SymbolKind.DECISION, name, span)
            for row in item.rows:
                self.rule(row)

    def rule(self, rule: ast.Rule) -> None:
        written = rule.id.rsplit("/", 1)[-1] if rule.table else rule.id
        self.add(SymbolKind.RULE, rule.id, rule.id_span, True, rule, written=written)
        for ref in rule.exception_to:
            self.add(SymbolKind.RULE, ref.id, ref.span)
        if rule.when is not None:
            self.expr(rule.when)
        for assignment in rule.assignments:
            self.add(SymbolKind.DECISION, assignment.decision, assignment.name_span)
            self.expr(assignment.value)

    def expr(self, expr: ast.Expr) -> None:
        for node in ast.walk(expr):
            if isinstance(node, ast.Name):
                kind = self.declared.get(node.dotted) if len(node.parts) == 1 else None
                if kind is not None:
                    self.add(kind, node.dotted, node.span)
                elif node.dotted in self.schema.fields:
                    self.add(SymbolKind.FIELD, node.dotted, node.span)


def rule_items(index: PolicyIndex, rule_id: str) -> Sequence[ast.Rule | ast.Table]:
    """The rules (versions per period) or the table with an id."""
    return [i for i in index.item(SymbolKind.RULE, rule_id) if isinstance(i, (ast.Rule, ast.Table))]
