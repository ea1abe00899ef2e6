"""What the evaluator, the code writer and the renderers know of a rule and of a traced test.

A leaf module: :mod:`rxpolicy.engine.compile` builds these and :mod:`rxpolicy.engine.codegen` writes code
from them, so neither imports the other for them.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from rxpolicy.language import ast
from rxpolicy.language.check import LayerKind
from rxpolicy.language.source import Span
from rxpolicy.language.sources import Source

__all__ = ["LeafMeta", "RuleMeta", "WarningMeta"]


@attrs.frozen(kw_only=True)
class RuleMeta:
    """What the evaluator and the renderers need to know of a rule."""

    index: int
    id: str
    layer: str
    layer_kind: LayerKind
    #: The citations as explanations show them (source title words and section).
    citations: tuple[str, ...]
    interpretation: str | None
    explains: Mapping[str, str]
    rejection_code: str | None
    validity: ast.Validity | None
    decides: tuple[str, ...]
    parents: tuple[str, ...]
    table: str | None
    rule: ast.Rule = attrs.field(eq=False, repr=False)
    #: ``<layer>/<file>.rxp:<line>`` (``rules/…`` when built in): where the rule is written, the same from any
    #: working directory (explanations and receipts show this; diagnostics show the path as the user reaches it).
    location: str = ""
    #: The registry's descriptions of the sources cited (title, publisher, year, address), in citation order.
    sources: tuple[Source, ...] = ()
    #: Why the policy adopts this rule's shared layer where its own texts are silent (an interpretation too).
    layer_interpretation: str | None = None
    #: Whether a source confirms the rejection code (None: no code, or no registry entry for it).
    rejection_code_verified: bool | None = None

    @property
    def span(self) -> Span:
        """Where the rule is written."""
        return self.rule.span

    @property
    def source(self) -> str:
        """The citation as one text (several are joined with '; ')."""
        return "; ".join(self.citations)

    def interpretation_in(self, lang: str) -> str | None:
        """The interpretation in a language (``interpretation nl "…"``), else in English; None if there is none."""
        translated = next((t.text for t in self.rule.interpretations if t.lang == lang), None)
        return translated or self.interpretation


@attrs.frozen(kw_only=True)
class LeafMeta:
    """One test whose outcome the trace records: a comparison, a match, a yes/no fact or definition."""

    index: int
    node: ast.Expr = attrs.field(eq=False)
    #: ('rule', rule index) for a `when`, ('value', rule index) for an assigned value, ('definition', name).
    owner: tuple[str, object]
    #: True when an odd number of `not`s surround it: then a false outcome supports its condition.
    negated: bool


@attrs.frozen(kw_only=True)
class WarningMeta:
    """A warning (waarschuwing) of the policy: what the renderers show when its condition holds on a case."""

    index: int
    id: str
    layer: str
    #: The citations as explanations show them.
    citations: tuple[str, ...]
    sources: tuple[Source, ...]
    interpretation: str | None
    layer_interpretation: str | None
    explains: Mapping[str, str]
    warning: ast.Warning = attrs.field(eq=False, repr=False)

    @property
    def source(self) -> str:
        """The citation as one text (several are joined with '; ')."""
        return "; ".join(self.citations)

    @property
    def span(self) -> Span:
        """Where the warning is written."""
        return self.warning.span
