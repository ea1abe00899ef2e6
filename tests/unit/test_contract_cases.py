"""The contract's example cases decide as their ``.expected.json`` says (issue 13.6).

The contract (the spec beside the project, ``../shared/spec`` from the repository root) ships example cases,
each with the decisions it must produce. Before, a test only loaded them, from a hard-coded absolute path,
and never compared a decision. Here each is evaluated through the command line, as the contract's own
runner does, and every expected decision is compared. The directory is outside the repository: when it
is absent (a clone on its own) the tests are skipped and say why; ``RXPOLICY_SPEC_CASES`` points elsewhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy import case_to_yaml, load_case, parse_case
from rxpolicy.cli import cli

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(os.environ.get("RXPOLICY_SPEC_CASES", ROOT.parent / "shared" / "spec" / "cases"))
FOUND = sorted(CASES.glob("*.yaml")) if CASES.is_dir() else []
pytestmark = pytest.mark.skipif(not FOUND, reason=f"the contract's example cases are not beside the checkout "
                                                   f"({CASES}); set RXPOLICY_SPEC_CASES to run these tests")


@pytest.mark.parametrize("path", FOUND, ids=lambda p: p.name)
def test_the_case_decides_as_the_contract_expects(path: Path) -> None:
    expected = json.loads(path.with_name(path.name.removesuffix(".yaml") + ".expected.json").read_text("utf-8"))
    result = CliRunner().invoke(cli, ["eval", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    decisions = json.loads(result.stdout)["decisions"]
    got = {name: decisions.get(name, {}).get("value") for name in expected}
    assert got == expected


@pytest.mark.parametrize("path", FOUND, ids=lambda p: p.name)
def test_the_case_loads_and_writes_back_alike(path: Path) -> None:
    case = load_case(path, display=path.name)
    assert case.source == path.name
    assert parse_case(case_to_yaml(case)) == case


def test_there_are_example_cases_with_expectations() -> None:
    assert len(FOUND) >= 5
    assert all(p.with_name(p.name.removesuffix(".yaml") + ".expected.json").is_file() for p in FOUND)
