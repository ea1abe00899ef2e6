"""A receipt identifies the rules by content alone, whatever directory rxpolicy runs in (issue 14.6).

Before, the fingerprint hashed each rule file's path as shown relative to the working directory, so
the same rules gave three fingerprints from three directories, and each decision's ``line`` changed
with them. Now a rule file is named ``<layer>/<file>.rxp`` (``rules/…`` when built in) everywhere a
receipt or an explanation names it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from click.testing import CliRunner

from rxpolicy import load_policy
from rxpolicy.cli import cli

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "examples" / "hollandzorg" / "benzodiazepine-chronic.yaml"


def receipt_and_lines(cwd: Path, policy: str) -> tuple[object, ...]:
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(cli, ["eval", str(CASE), "--policy", policy, "--format", "json"])
        markdown = CliRunner().invoke(cli, ["eval", str(CASE), "--policy", policy, "--format", "markdown"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    lines = {name: d["line"] for name, d in data["decisions"].items()}
    shown = [line for line in markdown.stdout.splitlines() if ".rxp:" in line]
    return data["receipt"]["policy_fingerprint"], data["receipt"]["rule_files"], lines, shown


def test_a_built_in_policy_has_one_receipt_from_three_directories(tmp_path: Path) -> None:
    found = {json.dumps(receipt_and_lines(cwd, "hollandzorg"), sort_keys=True)
             for cwd in (ROOT, tmp_path, ROOT / "rules" / "model")}
    assert len(found) == 1
    fingerprint, files, lines, shown = json.loads(found.pop())
    assert lines["max_supply"].startswith("rules/model/dispensing_periods.rxp:")
    assert "rules/hollandzorg/policy.rxp" in files and shown


def test_a_policy_directory_has_one_receipt_from_three_directories(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "rules", tmp_path / "work" / "rules")
    policy_dir = tmp_path / "work" / "rules" / "hollandzorg"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    results = [receipt_and_lines(cwd, os.path.relpath(policy_dir, cwd))
               for cwd in (tmp_path / "work", policy_dir, elsewhere)]
    assert results[0] == results[1] == results[2]
    fingerprint, files, lines, _ = results[0]
    assert lines["max_supply"].startswith("model/dispensing_periods.rxp:")  # a copy is not the built-in one
    assert sorted(files) == sorted(f"{p.parent.name}/{p.name}" for p in (tmp_path / "work" / "rules").glob("*/*.rxp")
                                   if p.parent.name in ("statutory", "model", "hollandzorg"))


def test_the_fingerprint_changes_with_the_content_only(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "rules", tmp_path / "a" / "rules")
    shutil.copytree(ROOT / "rules", tmp_path / "b" / "deeper" / "rules")
    a = load_policy(str(tmp_path / "a" / "rules" / "hollandzorg"))
    b = load_policy(str(tmp_path / "b" / "deeper" / "rules" / "hollandzorg"))
    assert a.fingerprint == b.fingerprint
    periods = tmp_path / "b" / "deeper" / "rules" / "model" / "dispensing_periods.rxp"
    periods.write_text(periods.read_text(encoding="utf-8") + "\n# a comment\n", encoding="utf-8")
    assert load_policy(str(tmp_path / "b" / "deeper" / "rules" / "hollandzorg")).fingerprint != a.fingerprint
