"""Fuzzing: no case mapping, case text or rule-file edit makes rxpolicy crash, hang or forge an explanation.

Each property feeds hostile input (tests/fuzz/hostile_strategies.py) through the pipeline as far as it goes
and asks only what must hold for *every* input: the input is accepted, or refused with :class:`RxError`
whose diagnostics each carry a code, a message and a fix; nothing else is ever raised; and what is printed
has exactly one outcome line, no character that acts on a terminal, valid UTF-8 and valid JSON. `make test`
runs about two thousand examples in all (the `ci` profile); `make fuzz` runs the long campaign.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from typing import Any

import attrs
from hypothesis import event, given, settings

from hostile_strategies import EXAMPLE_CASES, base_mapping, case_mappings, case_texts, examples, policy, rule_file_mutations
from hostile_strategies import example_values as plausible_values
from rxpolicy import RxError, case_from_mapping, evaluate, load_case, parse_case
from rxpolicy.engine.compile import compile_policy
from rxpolicy.explain.diagnostics import render_diagnostics
from rxpolicy.explain.json import evaluation_json
from rxpolicy.explain.markdown import evaluation_markdown
from rxpolicy.explain.text import evaluation_text
from rxpolicy.language.check import PolicySources, check_policy
from rxpolicy.language.load import policy_sources, resolve_policy_dir
from rxpolicy.language.lower import parse_rule_file
from rxpolicy.language.source import SourceFile

_HIDDEN = ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")


@functools.cache
def sources() -> PolicySources:
    return policy_sources(resolve_policy_dir("hollandzorg"))


def shown_safely(text: str) -> str:
    text.encode("utf-8")
    hidden = [c for c in text if c != "\n" and unicodedata.category(c) in _HIDDEN]
    assert hidden == [], f"characters that act on a terminal or do not show: {hidden!r}"
    return text


def assert_refused_well(error: RxError, codes: str) -> None:
    """Every diagnostic of a refusal: a code of the expected family, a message and a fix, and it prints safely."""
    assert error.diagnostics
    event(f"refused: {error.diagnostics[0].code}")  # the share of each outcome, in the statistics of make fuzz
    for diagnostic in error.diagnostics:
        assert re.fullmatch(codes, diagnostic.code), diagnostic
        assert diagnostic.message and diagnostic.help, diagnostic
    shown_safely(render_diagnostics(error.diagnostics))


def assert_explained_well(case: Any) -> None:
    """Evaluated (or refused as evaluation refuses), each format prints one real outcome, safely."""
    try:
        evaluation = evaluate(policy(), case)
    except RxError as error:
        assert_refused_well(error, r"RX5\d\d")
        return
    event(f"evaluated: {evaluation.outcome}")
    for lang in ("en", "nl"):
        text = shown_safely(evaluation_text(evaluation, lang))
        outcomes = [line for line in text.split("\n") if line.startswith(("Outcome", "Uitkomst"))]
        assert len(outcomes) == (1 if evaluation.outcome is not None else 0), outcomes
        markdown = shown_safely(evaluation_markdown(evaluation, lang))
        assert "<" not in markdown.replace("\\<", "")
        data = json.loads(evaluation_json(evaluation, lang).encode("utf-8"))
        assert data.get("outcome") == evaluation.outcome


@settings(max_examples=examples(700))
@given(case_mappings(base_mapping(), plausible_values()))
def test_any_case_mapping_is_evaluated_or_refused_well(data: dict[str, Any]) -> None:
    try:
        case = case_from_mapping(data, policy=policy())
    except RxError as error:
        assert_refused_well(error, r"RX4\d\d")
        return
    assert_explained_well(case)


@settings(max_examples=examples(1200))
@given(case_texts())
def test_any_case_text_is_evaluated_or_refused_well(text: str) -> None:
    try:
        case = parse_case(text, path="case.yaml", policy=policy())
    except RxError as error:
        assert_refused_well(error, r"RX4\d\d")
        lines = text.count("\n") + 1
        assert all(d.span is None or 1 <= d.span.line <= lines for d in error.diagnostics)
        return
    assert_explained_well(case)


@functools.cache
def rule_texts() -> tuple[tuple[int, int], tuple[str, ...]]:
    """Where each rule file of the policy is (layer, file) and its text."""
    places = [(i, j) for i, layer in enumerate(sources().layers) for j in range(len(layer.files))]
    return tuple(places), tuple(sources().layers[i].files[j].source.text for i, j in places)  # type: ignore[return-value]


@settings(max_examples=examples(150))  # each one checks and compiles a whole policy
@given(rule_file_mutations(rule_texts()[1]))
def test_any_edit_of_a_rule_file_is_checked_compiled_and_evaluated_or_refused_well(edit: tuple[int, str]) -> None:
    index, text = edit
    layer_index, file_index = rule_texts()[0][index]
    layer = sources().layers[layer_index]
    path = layer.files[file_index].source.path
    try:
        parsed = parse_rule_file(SourceFile(path=path, text=text))
        files = layer.files[:file_index] + (parsed,) + layer.files[file_index + 1:]
        layers = sources().layers[:layer_index] + (attrs.evolve(layer, files=files),) + sources().layers[layer_index + 1:]
        checked, _ = check_policy(attrs.evolve(sources(), layers=layers))
    except RxError as error:
        assert_refused_well(error, r"RX[123]\d\d")
        return
    compiled = compile_policy(checked)
    event("checked and compiled")
    try:
        evaluate(compiled, load_case(EXAMPLE_CASES[0], policy=compiled))
    except RxError as error:
        assert_refused_well(error, r"RX[45]\d\d")
