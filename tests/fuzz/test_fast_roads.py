"""The fast roads to a case read exactly what the full check reads, or leave the case to it.

A case from a mapping goes first through a builder generated per schema (``engine/case_build``), which
also stands in for the walk over the mapping's shape (the RX409 limits). For any mapping, what it
builds must be what the full check builds (equal values of the same types), and it must build nothing
the full check or the limits refuse. The same for a case text: what ``parse_case`` reads on its fast road
(libyaml's nodes, or JSON) must be the case, lines included, that the full check reads from the text,
and every refusal must be the full check's, message for message.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from decimal import Decimal
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from hostile_strategies import base_mapping, case_mappings, case_texts, example_values, examples, policy
from rxpolicy import RxError
from rxpolicy.engine.case import read_case_text
from rxpolicy.engine.case_build import builder_for, read_text_fast
from rxpolicy.engine.case_check import CheckRun, from_python
from rxpolicy.engine.case_limits import CASE_LIMITS, check_python_shape

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_CENTS = re.compile(r"\d+\.\d\d")


@functools.cache
def plausible_values() -> dict[str, list[Any]]:
    """Per field, every value the example cases give it, as written (strings) and as Python holds it."""
    values: dict[str, list[Any]] = {}
    for field, seen in example_values().items():
        for value in seen:
            for each in (value, _typed(value)):
                if each not in values.setdefault(field, []) or type(each) is not type(value):
                    values[field].append(each)
    return values


def _typed(value: Any, depth: int = 0) -> Any:
    """A mapping as Python code holds it: dates as ``datetime.date``, amounts as ``Decimal`` (the case's sections
    only: deeper, and in a mapping that contains itself, values stay as they are)."""
    if isinstance(value, dict) and depth < 3:
        return {k: _typed(v, depth + 1) for k, v in value.items()}
    if isinstance(value, str) and _ISO.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:  # a date that does not exist stays the text it is
            return value
    if isinstance(value, str) and _CENTS.fullmatch(value):
        return Decimal(value)
    return value


@settings(max_examples=examples(700))
@given(case_mappings(base_mapping(), plausible_values()), st.booleans())
def test_the_generated_builder_reads_a_mapping_as_the_full_check_does(data: dict[str, Any], typed: bool) -> None:
    data = _typed(data) if typed else data
    facts, plans = policy().facts, policy().plans
    built = builder_for(facts)(data, plans)
    try:
        check_python_shape(data, CASE_LIMITS)
        full, _ = CheckRun(schema=facts, source="<t>", from_file=False, plans=plans).check(from_python(data))
    except RxError as error:
        event(f"refused: {error.diagnostics[0].code}")
        assert built is None, "the builder accepted a case the full check or the limits refuse"
        return
    event("built by the builder" if built is not None else "left to the full check")
    if built is not None:
        assert built == full
        assert [type(v) for v in built] == [type(v) for v in full]


def _full_road(text: str) -> tuple[tuple[object, ...], list[tuple[str, int]]] | None:
    """What the full road reads of a text (values and lines, in order), or None when it refuses the text."""
    try:
        case = read_case_text(text, "case.yaml", policy().facts, policy().plans)
    except RxError as error:
        event(f"refused: {error.diagnostics[0].code}")
        return None
    return case.values, list(case.lines.items())


def _agrees(text: str) -> None:
    fast = read_text_fast(text, policy().facts, policy().plans)
    full = _full_road(text)
    if fast is None:
        event("left to the full road")
        return
    event("read on the fast road")
    assert full is not None, "the fast road accepted a text the full road refuses"
    assert fast[0] == full[0]
    assert [type(v) for v in fast[0]] == [type(v) for v in full[0]]
    assert list(fast[1].items()) == full[1]
    assert all(fast[1][path] == line for path, line in full[1])


@settings(max_examples=examples(800))
@given(case_texts())
def test_the_fast_road_reads_a_yaml_text_as_the_full_road_does(text: str) -> None:
    _agrees(text)


@settings(max_examples=examples(500))
@given(case_mappings(base_mapping(), plausible_values()), st.sampled_from([(", ", ": "), (",", ":")]),
       st.booleans())
def test_the_fast_road_reads_a_json_text_as_the_full_road_does(data: dict[str, Any],
                                                               separators: tuple[str, str], lines: bool) -> None:
    try:
        text = json.dumps(data, default=str, separators=separators, ensure_ascii=False, indent=2 if lines else None)
    except (ValueError, TypeError, RecursionError):  # a mapping that contains itself, or a key JSON cannot have
        return
    _agrees(text)
