"""File-system oddities are bad input (RX001, exit 2), never a crash or a hang.

Before: a dangling symbolic link or a directory named ``*.rxp`` crashed ``eval --policy`` (exit 3), even in
a sibling directory the policy does not use; a directory as the case got click's usage error instead of
RX001; a FIFO was said not to exist, and ``diff --cases`` waited on one forever. Commands that could hang
run in a subprocess with a timeout, so a hang fails the test instead of stopping the suite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy import RxError, load_case
from rxpolicy.cli import cli
from rxpolicy.language.load import builtin_rules_dir

ROOT = Path(__file__).resolve().parents[2]
RXPOLICY = Path(sys.executable).parent / "rxpolicy"
EXAMPLE = ROOT / "examples" / "hollandzorg" / "benzodiazepine-chronic.yaml"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command line in a subprocess; a hang ends the test (TimeoutExpired) instead of the suite."""
    return subprocess.run([str(RXPOLICY), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def bad_input(result: subprocess.CompletedProcess[str] | object) -> str:
    """Exit 2, nothing on stdout, RX001 with a help line, no traceback; returns stderr."""
    code = getattr(result, "returncode", getattr(result, "exit_code", None))
    stderr, stdout = getattr(result, "stderr"), getattr(result, "stdout")
    assert code == 2, (code, stdout, stderr)
    assert stdout == "" and "Traceback" not in stderr and "internal error" not in stderr
    assert "RX001: " in stderr and "\n  help: " in stderr, stderr
    return str(stderr)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A copy of the built-in rules to plant oddities in."""
    shutil.copytree(builtin_rules_dir(), tmp_path / "rules")
    return tmp_path / "rules"


def evaluate_with(rules: Path) -> object:
    return CliRunner().invoke(cli, ["eval", str(EXAMPLE), "--policy", str(rules / "hollandzorg")])


def test_a_dangling_link_in_the_policy_is_named(rules: Path) -> None:
    (rules / "hollandzorg" / "extra.rxp").symlink_to("/nonexistent/extra.rxp")
    err = bad_input(evaluate_with(rules))
    assert "extra.rxp is a symbolic link to /nonexistent/extra.rxp, which does not exist" in err


def test_a_directory_named_like_a_rule_file_in_the_policy_is_named(rules: Path) -> None:
    (rules / "hollandzorg" / "old.rxp").mkdir()
    err = bad_input(evaluate_with(rules))
    assert "old.rxp is a directory, but its name ends in .rxp like a rule file's" in err


def test_oddities_in_a_sibling_policy_do_not_matter(rules: Path) -> None:
    (rules / "asr" / "old.rxp").mkdir()
    (rules / "asr" / "gone.rxp").symlink_to("/nonexistent/gone.rxp")
    result = evaluate_with(rules)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "Outcome: NOT COVERED" in result.stdout  # type: ignore[attr-defined]


def test_a_directory_as_the_case_is_rx001(tmp_path: Path) -> None:
    (tmp_path / "case.yaml").mkdir()
    err = bad_input(CliRunner().invoke(cli, ["eval", str(tmp_path / "case.yaml")]))
    assert f"RX001: {tmp_path / 'case.yaml'} is a directory, not a case file" in err


def test_a_dangling_link_as_the_case_is_rx001(tmp_path: Path) -> None:
    (tmp_path / "case.yaml").symlink_to("/nonexistent/case.yaml")
    err = bad_input(CliRunner().invoke(cli, ["eval", str(tmp_path / "case.yaml")]))
    assert "case.yaml is a symbolic link to /nonexistent/case.yaml, which does not exist" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_case_is_rx001(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    shutil.copy(EXAMPLE, path)
    path.chmod(0)
    err = bad_input(CliRunner().invoke(cli, ["eval", str(path)]))
    assert f"cannot read the case file {path}: Permission denied" in err


def test_a_case_the_system_refuses_to_read_is_rx001(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What a file without read permission gives (the tests run as root, who reads every file).
    path = tmp_path / "case.yaml"
    shutil.copy(EXAMPLE, path)
    real = Path.read_text

    def refuse(self: Path, *args: object, **kwargs: object) -> str:
        if self == path:
            raise PermissionError(13, os.strerror(13), str(self))
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", refuse)
    err = bad_input(CliRunner().invoke(cli, ["eval", str(path)]))
    assert f"RX001: cannot read the case file {path}: Permission denied" in err


def test_a_fifo_as_the_case_is_rx001_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "case.yaml")
    err = bad_input(run("eval", "case.yaml", cwd=tmp_path))
    assert "RX001: case.yaml is a named pipe (FIFO), not a case file" in err
    with pytest.raises(RxError):
        load_case(str(tmp_path / "case.yaml"))


def test_diff_cases_on_a_fifo_or_a_directory_of_them_is_rx001_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    err = bad_input(run("diff", "hollandzorg", "hollandzorg", "--cases", "pipe.yaml", cwd=tmp_path))
    assert "RX001: pipe.yaml is a named pipe (FIFO), not a case file" in err
    shutil.copy(EXAMPLE, tmp_path / "case.yaml")
    err = bad_input(run("diff", "hollandzorg", "hollandzorg", "--cases", ".", cwd=tmp_path))
    assert "pipe.yaml is a named pipe (FIFO), not a case file" in err


def test_load_case_takes_a_str_path() -> None:
    assert load_case(str(EXAMPLE)) == load_case(EXAMPLE)
