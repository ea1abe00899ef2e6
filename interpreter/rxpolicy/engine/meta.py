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

__all__ = ["LeafMeta", "RuleMeta"]


@attrs.frozen(kw_only=True)
class RuleMeta:
    """What the evaluator and the renderers need to know of a rule."""

    index: int
    id: str
    layer: str
    layer_kind: LayerKind
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
