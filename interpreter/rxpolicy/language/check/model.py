"""What the checker hands to the compiler: a policy whose names are resolved and whose types are known.

Everything here is immutable. Expression nodes are identified by ``id(node)``; the AST they come
from is kept alive by :attr:`CheckedPolicy.files`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping

import attrs

from rxpolicy.language import ast
from rxpolicy.language.source import SourceFile, Span
from rxpolicy.language.facts import CaseSchema
from rxpolicy.language.types import Type

__all__ = ["CheckedPolicy", "DecisionInfo", "DefinitionInfo", "LayerInfo", "LayerKind", "ParameterInfo",
           "Resolved", "RuleInfo", "SymbolKind"]


class LayerKind(enum.Enum):
    """Statutory rules are shared by every insurer; insurer rules are one insurer's policy."""

    STATUTORY = "statutory"
    INSURER = "insurer"


@attrs.frozen(kw_only=True)
class LayerInfo:
    """One layer of a policy: its name, title, kind and the files that make it up."""

    name: str
    title: str
    kind: LayerKind
    files: tuple[str, ...]


class SymbolKind(enum.Enum):
    """What a name in an expression refers to."""

    FIELD = "case field"
    DEFINITION = "definition"
    DECISION = "decision"
    PARAMETER = "parameter"
    CHOICE = "choice value"


@attrs.frozen
class Resolved:
    """The meaning of one :class:`ast.Name`: its kind and the field path / name / choice it stands for."""

    kind: SymbolKind
    target: str


@attrs.frozen(kw_only=True)
class DecisionInfo:
    """A declared decision with its type and patient-facing description."""

    name: str
    type: Type
    explains: Mapping[str, str]
    layer: str
    span: Span
    #: Whether the policy declares this decision its outcome (``is the outcome``).
    outcome: bool = False


@attrs.frozen(kw_only=True)
class DefinitionInfo:
    """A named expression with its inferred type."""

    name: str
    expr: ast.Expr
    type: Type
    explains: Mapping[str, str]
    layer: str
    span: Span


@attrs.frozen(kw_only=True)
class ParameterValueInfo:
    """One dated value of a parameter, already evaluated (parameters are constants)."""

    value: object
    validity: ast.Validity | None
    citation: str | None
    span: Span


@attrs.frozen(kw_only=True)
class ParameterInfo:
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


@attrs.frozen(kw_only=True)
class RuleInfo:
    """A checked rule: the rule as written, its layer and the decisions it assigns."""

    rule: ast.Rule
    layer: str
    layer_kind: LayerKind
    decides: tuple[str, ...]

    @property
    def id(self) -> str:
        """The rule id, e.g. ``dispensing-period/chronic``."""
        return self.rule.id


@attrs.frozen(kw_only=True)
class CheckedPolicy:
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

    def source_of(self, path: str) -> SourceFile | None:
        """The source file with a display path."""
        return next((f for f in self.files if f.path == path), None)
