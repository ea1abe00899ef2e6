"""A receipt's case hash is the hash of the case's canonical JSON (docs/architecture.md, "The receipt"): every
written field, defaults included, as ``json.dumps(case.to_mapping(only_changed=False), sort_keys=True,
default=str)`` writes it. The receipt now writes that text from the case's values by steps worked out once per
schema (issue 9: the receipt took a fifth of an evaluation's JSON); these tests hold it to the definition, so a
receipt written before the change still matches the case it was written for.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from test_handwritten_agrees import random_case

from rxpolicy import Case, CompiledPolicy, case_from_mapping, evaluate, load_case, load_policy
from rxpolicy.engine.case_canonical import canonical_case_json, canonical_writer

ROOT = Path(__file__).resolve().parents[2]


def by_definition(case: Case) -> str:
    return json.dumps(case.to_mapping(only_changed=False), sort_keys=True, default=str)


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return load_policy("hollandzorg")


def test_generated_cases_are_written_as_their_mapping(policy: CompiledPolicy) -> None:
    writer = canonical_writer(policy.facts)
    assert writer is not None
    rng = random.Random(20261205)
    cases = [case_from_mapping(random_case(rng), plans=policy.plans) for _ in range(1500)]
    absent = sum(case.get("authorisation.granted_on") is None for case in cases)
    assert 0 < absent < len(cases)  # both shapes of the all-or-none authorisation section are compared
    for case in cases:
        assert canonical_case_json(case, writer) == by_definition(case)


def test_every_example_case_keeps_its_receipt_hash(policy: CompiledPolicy) -> None:
    paths = sorted((ROOT / "examples" / "hollandzorg").glob("*.yaml"))
    assert paths
    for path in paths:
        case = load_case(path, policy=policy)
        expected = hashlib.sha256(by_definition(case).encode()).hexdigest()
        assert evaluate(policy, case).receipt.case_sha256 == expected, path.name


def test_texts_outside_ascii_are_escaped_as_the_mapping_escapes_them(policy: CompiledPolicy) -> None:
    rng = random.Random(7)
    mapping = random_case(rng)
    mapping["medicine"]["name"] = 'crème "forte" \\ 10 mg\u2028é\U0001f48a'  # type: ignore[index]
    case = case_from_mapping(mapping, plans=policy.plans)
    text = canonical_case_json(case, canonical_writer(policy.facts))
    assert text == by_definition(case)
    assert text.isascii()


def test_a_schema_it_does_not_cover_is_written_from_the_mapping(policy: CompiledPolicy) -> None:
    case = load_case(ROOT / "examples" / "hollandzorg" / "not-insured.yaml", policy=policy)
    assert canonical_case_json(case, None) == by_definition(case)
