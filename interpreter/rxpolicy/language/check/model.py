"""What the checker hands to the compiler: a policy whose names are resolved and whose types are known.

Everything here is immutable. Expression nodes are identified by ``id(node)``; the AST they come
from is kept alive by :attr:`CheckedPolicy.files`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping

import attrs

from rxpolicy.language.fieldwise import Fieldwise
from rxpolicy.language import ast
from rxpolicy.language.source import SourceFile, Span
from rxpolicy.language.facts import CaseSchema
from rxpolicy.language.sources import SourceRegistry
from rxpolicy.language.types import Type

__all__ = ["CheckedPolicy", "DecisionInfo", "DefinitionInfo", "LayerInfo", "LayerKind", "ParameterInfo",
           "Resolved", "RuleInfo", "SymbolKind", "WarningInfo"]


class LayerKind(enum.Enum):
    """Statutory rules are shared by every insurer; insurer rules are one insurer's policy."""

    STATUTORY = "statutory"
    INSURER = "insurer"


@attrs.frozen(kw_only=True, repr=False, eq=False)
class LayerInfo(Fieldwise):
    """One layer of a policy: its name, title, kind and the files that make it up."""

    name: str
    title: str
    kind: LayerKind
    files: tuple[str, ...]
    #: Why the policy adopts this shared layer where its own texts are silent (``built on … interpretation``).
    interpretation: str | None = None


class SymbolKind(enum.Enum):
    """What a name in an expression refers to."""

    FIELD = "case field"
    DEFINITION = "definition"
    DECISION = "decision"
    PARAMETER = "parameter"
    CHOICE = "choice value"


@attrs.frozen(repr=False, eq=False)
class Resolved(Fieldwise):
    """The meaning of one :class:`ast.Name`: its kind and the field path / name / choice it stands for."""

    kind: SymbolKind
    target: str


@attrs.frozen(kw_only=True, repr=False, eq=False)
class DecisionInfo(Fieldwise):
    """A declared decision with its type and patient-facing description."""

    name: str
    type: Type
    explains: Mapping[str, str]
    layer: str
    span: Span
    #: Whether the policy declares this decision its outcome (``is the outcome``).
    outcome: bool = False


@attrs.frozen(kw_only=True, repr=False, eq=False)
class DefinitionInfo(Fieldwise):
    """A named expression with its inferred type."""

    name: str
    expr: ast.Expr
    type: Type
    explains: Mapping[str, str]
    layer: str
    span: Span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ParameterValueInfo(Fieldwise):
    """One dated value of a parameter, already evaluated (parameters are constants)."""

    value: object
    validity: ast.Validity | None
    citation: str | None
    span: Span


@attrs.frozen(kw_only=True, repr=False, eq=False)
class ParameterInfo(Fieldwise):
    """An amount with dated values and a citation."""

    name: str
    type: Type
    values: tuple[ParameterValueInfo, ...]
    citations: tuple[str, ...]
    interpretation: str | None
    explains: Mapping[str, str]
    layer: str
    span: Span

    def value_on(self, day: dt.date) -> ParameterValueInfo | None:
        """The value in force on a date, or None."""
        for value in self.values:
            if value.validity is None or value.validity.contains(day):
                return value
        return None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class WarningInfo(Fieldwise):
    """A checked warning: the warning as written and its layer."""

    warning: ast.Warning
    layer: str

    @property
    def id(self) -> str:
        """The warning id, e.g. ``case/contraceptive-not-in-appendix-2``."""
        return self.warning.id


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RuleInfo(Fieldwise):
    """A checked rule: the rule as written, its layer and the decisions it assigns."""

    rule: ast.Rule
    layer: str
    layer_kind: LayerKind
    decides: tuple[str, ...]

    @property
    def id(self) -> str:
        """The rule id, e.g. ``dispensing-period/chronic``."""
        return self.rule.id


@attrs.frozen(kw_only=True, repr=False, eq=False)
class CheckedPolicy(Fieldwise):
    """A policy ready to compile: names resolved, types known, dependencies ordered."""

    name: str
    title: str
    validity: ast.Validity | None
    plans: tuple[str, ...]
    layers: tuple[LayerInfo, ...]
    decisions: Mapping[str, DecisionInfo]
    definitions: Mapping[str, DefinitionInfo]
    parameters: Mapping[str, ParameterInfo]
    rules: tuple[RuleInfo, ...]
    #: Table id → its row ids in order.
    tables: Mapping[str, tuple[str, ...]]
    #: ``id(ast.Name)`` → what it refers to.
    names: Mapping[int, Resolved]
    #: ``id(expression node)`` → its type.
    expr_types: Mapping[int, Type]
    #: Definitions and decisions in an order where each comes after everything it uses.
    order: tuple[tuple[SymbolKind, str], ...]
    files: tuple[SourceFile, ...]
    files_ast: tuple[ast.RuleFile, ...]
    #: The facts of a case this policy declares (its layers' `fact` declarations).
    facts: CaseSchema
    #: The decision that is the outcome (``is the outcome``), if one is declared.
    outcome: str | None = None
    #: The source registry the citations name (None for a policy that cites in plain text only).
    registry: SourceRegistry | None = None
    #: Warnings: conditions under which an evaluation carries a sentence, deciding nothing.
    warnings: tuple[WarningInfo, ...] = ()

    def cite(self, citation: ast.Citation) -> str:
        """A citation as explanations show it: the source's title words and the section, never an id or a file."""
        source = self.registry.get(citation.source) if self.registry and citation.source else None
        return source.cite(citation.text) if source is not None else citation.text

    def layer(self, name: str) -> LayerInfo | None:
        """The layer with this name."""
        return next((layer for layer in self.layers if layer.name == name), None)

    def source_of(self, path: str) -> SourceFile | None:
        """The source file with a display path."""
        return next((f for f in self.files if f.path == path), None)
