"""``evaluation_json`` writes the text ``json.dumps`` writes for ``evaluation_dict``, byte for byte.

Since issue 9 the text is written by orjson where it is installed, from data whose case-independent parts
(each rule's reference, the cited sources) are kept per policy. These tests hold the text to its definition over generated cases (covered and
refused, several deciding rules, rules set aside), both layouts and both languages, with a handbook address,
with a what-if, with a text the case writes that needs escaping, and with a lone surrogate.
"""

from __future__ import annotations

import json
import random

import pytest
from test_handwritten_agrees import random_case

from rxpolicy import CompiledPolicy, Evaluation, case_from_mapping, evaluate, load_policy
from rxpolicy.explain.json import evaluation_dict, evaluation_json, utf8_safe
from rxpolicy.tools.whatif import what_if


def by_definition(evaluation: Evaluation, indent: int | None, **options: object) -> str:
    data = evaluation_dict(evaluation, **options)  # type: ignore[arg-type]
    if indent is None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(data, ensure_ascii=False, indent=indent)
    return utf8_safe(text + "\n")


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return load_policy("hollandzorg")


@pytest.fixture(scope="module")
def evaluations(policy: CompiledPolicy) -> list[Evaluation]:
    rng = random.Random(905)
    return [evaluate(policy, case_from_mapping(random_case(rng), plans=policy.plans)) for _ in range(400)]


def test_the_sample_has_every_shape(evaluations: list[Evaluation]) -> None:
    data = [evaluation_dict(e) for e in evaluations]
    assert any("reasons" in d for d in data) and any("reasons" not in d for d in data)
    entries = [entry for d in data for entry in d["decisions"].values()]
    for key in ("computation", "rules", "overridden", "interpretation", "rejection_code"):
        assert any(key in entry for entry in entries), key


@pytest.mark.parametrize("indent", [None, 2, 4])
@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_text_is_the_dict_as_json_dumps_writes_it(evaluations: list[Evaluation], indent: int | None,
                                                      lang: str) -> None:
    for evaluation in evaluations[:150]:
        assert evaluation_json(evaluation, lang, indent=indent) == by_definition(evaluation, indent, lang=lang)


def test_with_a_handbook_and_without_a_receipt(evaluations: list[Evaluation]) -> None:
    for evaluation in evaluations[:60]:
        for indent in (None, 2):
            options = {"handbook": "https://example.org/handbook/", "receipt": False}
            assert (evaluation_json(evaluation, indent=indent, **options)  # type: ignore[arg-type]
                    == by_definition(evaluation, indent, **options))


def test_with_what_would_change(evaluations: list[Evaluation]) -> None:
    refused = [e for e in evaluations if not e.positive][:2]
    assert refused
    for evaluation in refused:
        found = what_if(evaluation)
        for indent in (None, 2):
            assert evaluation_json(evaluation, what_if=found, indent=indent) == by_definition(
                evaluation, indent, what_if=found)


def test_texts_from_the_case_are_escaped_alike(policy: CompiledPolicy) -> None:
    mapping = random_case(random.Random(3))
    mapping["medicine"]["name"] = 'crème "forte"\t\\ 10 mg \x01 \u2028 \ud800'  # type: ignore[index]
    mapping["medicine"]["atc"] = "N05BA04"  # type: ignore[index]
    evaluation = evaluate(policy, case_from_mapping(mapping, plans=policy.plans))
    for indent in (None, 2):
        text = evaluation_json(evaluation, indent=indent)
        assert text == by_definition(evaluation, indent)
        text.encode("utf-8")  # the lone surrogate is written as an escape


def test_the_dict_is_fresh_each_time(evaluations: list[Evaluation]) -> None:
    first = evaluation_dict(evaluations[0])
    name, entry = next(iter(first["decisions"].items()))
    entry["rule"] = "changed"
    entry.setdefault("cites", []).append("changed")
    again = evaluation_dict(evaluations[0])
    assert again["decisions"][name]["rule"] != "changed" and "changed" not in again["decisions"][name]["cites"]
    assert "changed" not in evaluation_json(evaluations[0])


def test_without_orjson(evaluations: list[Evaluation], monkeypatch: pytest.MonkeyPatch) -> None:
    import rxpolicy.explain.json as module

    monkeypatch.setattr(module, "orjson", None)  # as where orjson has no wheel: Python's encoder writes it
    for evaluation in evaluations[:30]:
        for indent in (None, 2):
            assert evaluation_json(evaluation, indent=indent) == by_definition(evaluation, indent)
