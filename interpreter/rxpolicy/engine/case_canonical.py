"""A case's canonical JSON (the text a receipt's ``case_sha256`` hashes), written straight from its values.

The receipt's contract (docs/architecture.md, "The receipt") is the hash of the case with every written
field, defaults included, in canonical JSON: ``json.dumps(case.to_mapping(only_changed=False),
sort_keys=True, default=str)``. Building that nested mapping and sorting it took about a fifth of writing
an evaluation's JSON. The shape of the mapping depends only on the declared facts, so it is worked out once
per schema as a list of steps (literal text, and the position of a value in the case's tuple); per case
only the values are encoded. The text is the same, character for character, as the mapping's
(``tests/unit/test_case_canonical.py`` compares the two on generated cases), so receipts keep their hashes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Union

import attrs

from rxpolicy.engine.case import put_path as _put
from rxpolicy.language.facts import CaseSchema, FieldSpec
from rxpolicy.language.types import Kind
from rxpolicy.language.values import format_money

if TYPE_CHECKING:
    from rxpolicy.engine.case import Case

__all__ = ["CanonicalWriter", "canonical_writer", "canonical_case_json"]

_ENCODE: Callable[[str], str] = encode_basestring_ascii


@attrs.frozen
class _Field:
    """A value of the case at ``index``, written as the case file writes it."""

    index: int
    money: bool


@attrs.frozen
class _Section:
    """An ``all or none`` section: its facts as an object when any is known, else ``null``."""

    #: (JSON of the key, the field) in sorted key order.
    fields: tuple[tuple[str, _Field], ...]


_Step = Union[str, _Field, _Section]


def _value(value: object, money: bool) -> str:
    """One value as ``json.dumps`` writes it after :meth:`Case.to_mapping` made it plain."""
    kind = type(value)
    if isinstance(value, str) and kind is str:
        return _ENCODE(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if isinstance(value, dt.date) and kind is dt.date:
        return '"' + value.isoformat() + '"'
    if isinstance(value, Decimal) and kind is Decimal:
        return '"' + (format_money(value) if money else format(value, "f")) + '"'
    if isinstance(value, tuple) and kind is tuple and all(type(v) is str for v in value):
        return "[" + ", ".join(_ENCODE(v) for v in value) + "]"
    # Anything else (not produced by today's case builder): made plain as Case.to_mapping does, then written
    # as the mapping would be.
    plain: object = value
    if isinstance(value, dt.date):
        plain = value.isoformat()
    elif isinstance(value, Decimal):
        plain = format_money(value) if money else format(value, "f")
    elif isinstance(value, tuple):
        plain = list(value)
    return json.dumps(plain, sort_keys=True, default=str)


class CanonicalWriter:
    """Writes the canonical JSON of cases read with one schema (made once per schema).

    The steps become one generated Python expression (a join of literal texts and values read by position,
    the commonest kinds written inline), as the case builder is generated: no loop over steps per case. Only
    integers and the ``repr`` of texts the steps hold go into the code.
    """

    __slots__ = ("_steps", "_write")

    def __init__(self, steps: tuple[_Step, ...]) -> None:
        self._steps = steps
        namespace: dict[str, object] = {"E": _ENCODE, "V": _value, "S": _section}
        parts = []
        for number, step in enumerate(steps):
            if isinstance(step, str):
                parts.append(repr(step))
            elif isinstance(step, _Field):
                i, money = step.index, step.money
                parts.append(f"('null' if (x := values[{i}]) is None else E(x) if type(x) is str else 'true' if x is "
                             f"True else 'false' if x is False else V(x, {money}))")
            else:
                namespace[f"F{number}"] = step
                parts.append(f"S(F{number}, values)")
        source = "def write(values):\n    return ''.join((" + ", ".join(parts) + ",))\n"
        exec(compile(source, "<rxpolicy canonical case writer>", "exec"), namespace)  # noqa: S102 - see above
        self._write: Callable[[tuple[object, ...]], str] = namespace["write"]  # type: ignore[assignment]

    def __call__(self, values: tuple[object, ...]) -> str:
        """The canonical JSON of a case's values."""
        return self._write(values)


def _section(step: _Section, values: tuple[object, ...]) -> str:
    """An ``all or none`` section: ``null`` when none of its facts is known, else its facts as an object."""
    written = [(key, values[f.index], f.money) for key, f in step.fields]
    if all(value is None for _, value, _ in written):
        return "null"
    return "{" + ", ".join(f"{key}: {_value(value, money)}" for key, value, money in written) + "}"


def canonical_writer(schema: CaseSchema) -> CanonicalWriter | None:
    """The writer of a schema's canonical case JSON; None for a shape it does not cover (an ``all or none``
    section inside another), which :func:`canonical_case_json` then writes from the mapping."""
    whole = schema.all_or_none
    if any(a != b and b.startswith(a + ".") for a in whole for b in whole):
        return None
    fields = schema.fields
    written = schema.written

    def field(path: str) -> _Field:
        spec: FieldSpec = fields[path]
        return _Field(schema.index[path], spec.type.kind is Kind.MONEY)

    # The nested mapping to_mapping(only_changed=False) builds, with the steps in place of the values.
    tree: dict[str, object] = {}
    for path in written:
        if path.rpartition(".")[0] not in whole:
            _put(tree, path, field(path))
    for section in whole:
        members = [p for p in written if p.rpartition(".")[0] == section]
        keys = sorted((p[len(section) + 1:], p) for p in members)  # sorted as json.dumps sorts: by the key itself
        _put(tree, section, _Section(tuple((_ENCODE(key), field(p)) for key, p in keys)))
    steps: list[_Step] = []
    _steps(tree, steps)
    merged: list[_Step] = []
    for step in steps:  # neighbouring texts joined: fewer steps per case
        if merged and type(step) is str and type(merged[-1]) is str:
            merged[-1] = str(merged[-1]) + step
        else:
            merged.append(step)
    return CanonicalWriter(tuple(merged))


def _steps(node: object, steps: list[_Step]) -> None:
    if isinstance(node, dict):
        if not node:
            steps.append("{}")
            return
        steps.append("{")
        for position, key in enumerate(sorted(node)):
            steps.append(("" if position == 0 else ", ") + _ENCODE(key) + ": ")
            _steps(node[key], steps)
        steps.append("}")
    else:
        assert isinstance(node, (_Field, _Section))
        steps.append(node)


def canonical_case_json(case: Case, writer: CanonicalWriter | None) -> str:
    """The case's canonical JSON; ``writer`` from :func:`canonical_writer` for its schema (None: from the mapping)."""
    if writer is None:
        return json.dumps(case.to_mapping(only_changed=False), sort_keys=True, default=str)
    return writer(case.values)
