"""The result's ``outcome`` is the declared outcome decision's, on the columns as per case.

The engine knows no pharmacy: which decision is the outcome is what the rule files declare (``is the outcome``),
and a decision that happens to be called ``covered`` is an ordinary decision. The columnar road once read the
outcome from a decision named ``covered``; these policies declare another one, or none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy.cli import cli


def _layer(outcome: str | None) -> str:
    declared = "  is the outcome\n"
    return (
        'layer statutory\n  title "Outcome test layer"\n  kind statutory\nend\n\n'
        f'decision reimbursed: yes or no\n  explain en "reimbursed"\n{declared if outcome == "reimbursed" else ""}end\n\n'
        f'decision covered: yes or no\n  explain en "covered"\n{declared if outcome == "covered" else ""}end\n'
    )


def _rule(name: str, decides: str, when: str = "") -> str:
    condition = f"  when {when}\n" if when else ""
    return f'rule {name}\n  source "test"\n{condition}  then {decides}\n  explain en "x"\nend\n\n'


RULES = (_rule("reimbursed/short", "reimbursed = yes", "dispensing.supply_days <= 10")
         + _rule("reimbursed/long", "reimbursed = no", "dispensing.supply_days > 10")
         # `covered` says the opposite, so reading the wrong decision shows in every row.
         + _rule("covered/short", "covered = no", "dispensing.supply_days <= 10")
         + _rule("covered/long", "covered = yes", "dispensing.supply_days > 10"))


def _policy(root: Path, outcome: str | None) -> Path:
    (root / "statutory").mkdir(parents=True)
    (root / "statutory" / "layer.rxp").write_text(_layer(outcome), encoding="utf-8")
    (root / "p").mkdir()
    declaration = 'policy p\n  title "P"\n  built on statutory\n  in force from 2024-01-01 until 2025-12-31\nend\n\n'
    (root / "p" / "policy.rxp").write_text(declaration + RULES, encoding="utf-8")
    return root / "p"


def _claims(tmp_path: Path, supplies: list[int]) -> Path:
    path = tmp_path / "claims.jsonl"
    lines = [{"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"},
              "prescription": {"prescriber": "gp"},
              "medicine": {"name": "test medicine", "atc": "C08CA01", "price": "10.00"},
              "dispensing": {"supply_days": n}} for n in supplies]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("outcome", ["reimbursed", "covered", None])
def test_the_outcome_is_the_declared_decisions_on_both_roads(tmp_path: Path, outcome: str | None) -> None:
    policy = _policy(tmp_path / "rules", outcome)
    claims = _claims(tmp_path, [5, 30, 10, 11])
    rows = {}
    for engine in ("columnar", "per-case"):
        result = CliRunner().invoke(cli, ["batch", str(claims), "--policy", str(policy), "--engine", engine,
                                          "--quiet"])
        assert result.exit_code == 0, result.stderr
        if engine == "columnar":
            assert "runs per case" not in result.stderr  # the columns decide these claims
        rows[engine] = [json.loads(line) for line in result.stdout.splitlines()]
    outcomes = [row["outcome"] for row in rows["columnar"]]
    assert outcomes == [row["outcome"] for row in rows["per-case"]]
    expected = {"reimbursed": ["reimbursed", "not_reimbursed", "reimbursed", "not_reimbursed"],
                "covered": ["not_covered", "covered", "not_covered", "covered"],
                None: [None, None, None, None]}[outcome]
    assert outcomes == expected


@pytest.mark.parametrize("to_directory", [False, True])
@pytest.mark.parametrize("outcome", ["reimbursed", "covered", None])
def test_the_summary_counts_the_declared_outcome(tmp_path: Path, outcome: str | None, to_directory: bool) -> None:
    """The summary on stderr (and in ``_SUCCESS``) counts the declared outcome decision, under its name; it
    once counted texts `covered` / `not_covered` whatever the policy declared, and so said 0 and 0."""
    policy = _policy(tmp_path / "rules", outcome)
    claims = _claims(tmp_path, [5, 30, 10])
    out = ["--out", str(tmp_path / "out")] if to_directory else []
    result = CliRunner().invoke(cli, ["batch", str(claims), "--policy", str(policy), *out])
    assert result.exit_code == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    expected = {"reimbursed": "3 evaluated (2 reimbursed, 1 not reimbursed), 0 error rows",
                "covered": "3 evaluated (1 covered, 2 not covered), 0 error rows",
                None: "3 evaluated, 0 error rows"}[outcome]
    assert summary.endswith("read 3 records: " + expected), summary
    if to_directory:
        counts = json.loads((tmp_path / "out" / "_SUCCESS").read_text(encoding="utf-8"))
        said = {"reimbursed": {"reimbursed": 2, "not_reimbursed": 1}, "covered": {"covered": 1, "not_covered": 2},
                None: {}}[outcome]
        found = {k: v for k, v in counts.items() if "reimbursed" in k or "covered" in k}
        assert found == said, counts
