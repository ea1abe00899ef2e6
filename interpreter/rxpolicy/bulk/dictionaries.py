"""The fixed dictionaries of the result table's closed-set text columns, worked out from the compiled policy.

Some result columns hold texts from a set known when the policy is compiled: ``outcome`` (the outcome decision's
name, or ``not_`` and its name), every ``<decision>.rule`` (the ids of the rules that may decide the decision,
several agreeing rules joined with ``", "``) and a decision whose every rule gives a constant (``max_supply``:
``"1 month"``, ``"15 days"``, …). These columns are Arrow ``dictionary<values=string, indices=int16>`` columns
whose dictionary is this module's list, the same list in the same order for every chunk, on the columnar and the
per-case path, on every Dask worker and after ``--resume``: chunks concatenate without unifying dictionaries, and
Parquet stores the columns dictionary-encoded without hashing their strings.

**Which rules may decide together.** A decision's rules are walked as both evaluators walk them
(:meth:`FunctionWriter.units`, :meth:`FunctionWriter.kids`): an exception that applies overrides the rule it is
an exception to, the first row of a table that applies is the only one of that table, and separate rules (or
tables) may apply together. Rules that apply together decide only when their values agree (otherwise the record
is a conflict, an error row without rule texts), so rules giving different constants are never listed together.
The texts list each rule once, in the order the evaluator meets them (see :func:`rxpolicy.engine.runtime.settle`).
A decision whose combinations would exceed :data:`MOST_TEXTS` keeps a plain string column.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from rxpolicy.engine.codegen import FunctionWriter
from rxpolicy.engine.codegen_expr import NOT_CONSTANT
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.explain.words import json_value
from rxpolicy.language import ast
from rxpolicy.language.types import Kind
from rxpolicy.language.values import Duration, SupplyLimit

__all__ = ["MOST_TEXTS", "arrow_dictionaries", "column_dictionaries", "dictionary_type"]

#: The most texts a column's dictionary holds (what 16-bit indices reach); a column whose closed set is larger,
#: or whose rule combinations would be more, stays plain text.
MOST_TEXTS = 2**15 - 1

#: One way rules may decide together: the positions of the rules as the evaluator meets them, and the constant
#: they agree on (``NOT_CONSTANT`` where none of them gives a constant).
_Hits = tuple[frozenset[int], object]


class _TooMany(Exception):
    """A decision's rule combinations exceed :data:`MOST_TEXTS`."""


def column_dictionaries(policy: CompiledPolicy) -> Mapping[str, tuple[str, ...]]:
    """Per closed-set text column of the results (``outcome``, ``<decision>.rule``, a decision of constant texts)
    its dictionary: every text the column can hold, in a fixed order (worked out once per policy, kept)."""
    found: Mapping[str, tuple[str, ...]] = policy.memo.get(("bulk", "dictionaries"), lambda: _dictionaries(policy))
    return found


def dictionary_type(size: int) -> Any:
    """The Arrow type of a closed-set text column with ``size`` texts: 16-bit indices into strings."""
    import pyarrow as pa

    assert size <= MOST_TEXTS
    return pa.dictionary(pa.int16(), pa.string())


@functools.lru_cache(maxsize=64)
def arrow_dictionaries(dictionaries: tuple[tuple[str, tuple[str, ...]], ...]) -> Mapping[str, tuple[Any, Mapping[str, int]]]:
    """A selection's dictionaries (:attr:`.core.Selection.dictionaries`) as Arrow arrays with each text's index,
    made once per selection (a few thousand texts) rather than per chunk."""
    import pyarrow as pa

    return {column: (pa.array(texts, pa.string()), {text: i for i, text in enumerate(texts)})
            for column, texts in dictionaries}


def _dictionaries(policy: CompiledPolicy) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    if policy.outcome is not None:
        out["outcome"] = (policy.outcome, f"not_{policy.outcome}")
    else:
        out["outcome"] = ()  # no outcome declared: the column is empty (all null)
    writers = [FunctionWriter(policy.checked, policy.rules, policy.decisions, {}, epoch.start, epoch.rules_in_force,
                              {}, "fast") for epoch in policy.epochs]
    for decision in policy.decisions:
        rule_texts: dict[str, None] = {}
        value_texts: dict[str, None] | None = {} if decision.type.kind not in (Kind.BOOL, Kind.MONEY, Kind.DATE) \
            else None
        try:
            for writer in writers:
                slots = _slots(writer, decision.name)
                for hits, _ in sorted(_decision_hits(writer, decision.name, slots),
                                      key=lambda h: (len(h[0]), sorted(h[0]))):
                    rule_texts[", ".join(dict.fromkeys(slots[s][0].id for s in sorted(hits)))] = None
                for _, constant in slots:
                    if constant is NOT_CONSTANT:
                        value_texts = None
                    elif value_texts is not None and constant is not None:  # None: not applicable, a null
                        value_texts[str(json_value(constant, decision.type))] = None
        except _TooMany:
            pass
        else:
            if len(rule_texts) <= MOST_TEXTS:
                out[f"{decision.name}.rule"] = tuple(rule_texts)
        if value_texts and len(value_texts) <= MOST_TEXTS:
            out[decision.name] = tuple(value_texts)
    return out


def _slots(writer: FunctionWriter, name: str) -> list[tuple[RuleMeta, object]]:
    """The rules deciding ``name`` in a period, in the order the evaluator meets them (an exception before the
    rule it is an exception to, as :class:`.columnar._Compiler` numbers its hits), each with its constant value
    (``NOT_CONSTANT`` when it is computed per case)."""
    slots: list[tuple[RuleMeta, object]] = []

    def node(rule: RuleMeta) -> None:
        for kid in writer.kids(rule, name):
            node(kid)
        if name in rule.decides:
            assignment = next(a for a in rule.rule.assignments if a.decision == name)
            slots.append((rule, _constant(writer, assignment.value)))

    for unit in writer.units(name):
        for row in unit:
            node(row)
    return slots


def _constant(writer: FunctionWriter, node: ast.Expr) -> object:
    """A rule's value when it is the same for every case in the period (``NOT_CONSTANT`` otherwise): what
    :meth:`FunctionWriter.fold` finds, and a supply limit of a constant duration (``15 days or the smallest
    pack``), which the rules write as a limit of their own."""
    if isinstance(node, ast.SupplyLimitExpr):
        duration = writer.fold(node.duration)
        if not isinstance(duration, Duration):
            return NOT_CONSTANT
        return SupplyLimit(duration=duration, or_smallest_pack=node.or_smallest_pack,
                           or_one_course=node.or_one_course)
    return writer.fold(node)


def _decision_hits(writer: FunctionWriter, name: str, slots: list[tuple[RuleMeta, object]]) -> list[_Hits]:
    """Every set of rules that may decide ``name`` together in a period (see the module's docstring)."""
    position = iter(range(len(slots)))

    def node(rule: RuleMeta) -> list[_Hits]:
        # The same walk as _slots, so the positions match: kids first, then the rule's own value.
        kids = [node(kid) for kid in writer.kids(rule, name)]
        together = _together(kids)
        if name in rule.decides:
            own = next(position)
            together.append((frozenset([own]), slots[own][1]))  # no exception applies: the rule itself decides
        return together

    units = []
    for unit in writer.units(name):
        # The first row of a table that applies is the only one: its rows never decide together.
        units.append([hits for row in unit for hits in node(row)])
    return _together(units)


def _together(parts: list[list[_Hits]]) -> list[_Hits]:
    """The sets made of at most one choice of each part (at least one part chosen) whose values agree."""
    sets: list[_Hits] = []
    for choices in parts:
        # Counted as they are made, not after: two parts of a few thousand sets each would otherwise build
        # millions of pairings (gigabytes) only to find the column stays plain text.
        size = len(sets) + len(choices)
        if size > MOST_TEXTS:
            raise _TooMany
        joined: list[_Hits] = []
        for rules, value in sets:
            for more, other in choices:
                agreed = _agreed(value, other)
                if agreed is _DISAGREE:
                    continue
                joined.append((rules | more, agreed))
                if size + len(joined) > MOST_TEXTS:
                    raise _TooMany
        sets += choices + joined
    return sets


_DISAGREE = object()


def _agreed(a: object, b: object) -> object:
    """The value two groups of rules decide together: the constant they share, ``NOT_CONSTANT`` (a value computed
    per case, which may equal anything), or :data:`_DISAGREE` (two different constants: a conflict)."""
    if a is NOT_CONSTANT:
        return b
    if b is NOT_CONSTANT:
        return a
    try:
        same = bool(a == b)  # as settle() compares
    except Exception:  # noqa: BLE001 - values that do not compare: assume they may agree (a text too many, never one missing)
        return a
    return a if same else _DISAGREE
