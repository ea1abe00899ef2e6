"""Snapshots of the explanations of every example case: a rule change shows up as a reviewed diff.

The snapshots are our own renderings (text in English and Dutch, the contract JSON, Markdown),
never Python objects. Update them only on purpose (`pytest --snapshot-update`), read the diff,
and say in the commit message why the explanation changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from rxpolicy import Evaluation, PolicyStore, evaluate_case_file
from rxpolicy.explain.json import evaluation_dict
from rxpolicy.explain.markdown import evaluation_markdown
from rxpolicy.explain.text import evaluation_text
from rxpolicy.explain.whatif import WhatIf
from rxpolicy.tools.whatif import what_if

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CASES = sorted(EXAMPLES.glob("*/*.yaml"))


class TextSnapshot(SingleFileSnapshotExtension):
    """One plain-text file per snapshot, readable in a review."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"


class JsonSnapshot(TextSnapshot):
    file_extension = "json"


class MarkdownSnapshot(TextSnapshot):
    file_extension = "md"


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    return PolicyStore()


def _why_not(evaluation: Evaluation) -> WhatIf | None:
    """What `rxpolicy eval --why-not` adds: the search, for a case that is not covered (reviewed with the rest)."""
    return what_if(evaluation) if evaluation.outcome == "not_covered" else None


def _id(path: Path) -> str:
    return f"{path.parent.name}-{path.stem}"


def test_every_family_and_insurer_has_examples() -> None:
    policies = {p.parent.name for p in CASES}
    assert policies == {"hollandzorg", "asr"}
    assert len(CASES) >= 12


@pytest.mark.parametrize("case_path", CASES, ids=_id)
def test_text_explanation(case_path: Path, store: PolicyStore, snapshot: SnapshotAssertion) -> None:
    evaluation = evaluate_case_file(case_path, store.load(case_path.parent.name))
    assert evaluation_text(evaluation, "en", what_if=_why_not(evaluation)) == snapshot(extension_class=TextSnapshot)


@pytest.mark.parametrize("case_path", CASES, ids=_id)
def test_dutch_explanation(case_path: Path, store: PolicyStore, snapshot: SnapshotAssertion) -> None:
    evaluation = evaluate_case_file(case_path, store.load(case_path.parent.name))
    assert evaluation_text(evaluation, "nl", what_if=_why_not(evaluation)) == snapshot(extension_class=TextSnapshot)


@pytest.mark.parametrize("case_path", CASES, ids=_id)
def test_json_decisions(case_path: Path, store: PolicyStore, snapshot: SnapshotAssertion) -> None:
    evaluation = evaluate_case_file(case_path, store.load(case_path.parent.name))
    # The receipt (versions, hashes) and the rule files' line numbers change with every edit of a rule file;
    # the decisions, rules and reasons are what we review here.
    rendered = json.dumps(_without_lines(evaluation_dict(evaluation, "en", receipt=False,
                                                         what_if=_why_not(evaluation))), indent=2,
                          ensure_ascii=False) + "\n"
    assert rendered == snapshot(extension_class=JsonSnapshot)


def _without_lines(data: object) -> object:
    if isinstance(data, dict):
        return {k: _without_lines(v) for k, v in data.items() if k != "line"}
    if isinstance(data, list):
        return [_without_lines(v) for v in data]
    return data


@pytest.mark.parametrize("case_path", [p for p in CASES if p.stem in {"benzodiazepine-chronic", "pill-age-19"}],
                         ids=_id)
def test_markdown_explanation(case_path: Path, store: PolicyStore, snapshot: SnapshotAssertion) -> None:
    evaluation = evaluate_case_file(case_path, store.load(case_path.parent.name))
    assert evaluation_markdown(evaluation, "en", what_if=_why_not(evaluation)) == snapshot(extension_class=MarkdownSnapshot)
