"""The corpus of hostile inputs: every file here once crashed, hung, forged an explanation or was misreported.

Each file says on its first line what rxpolicy must do with it: ``# expect: RXnnn`` (refused with that code,
exit 2, a located message with a fix, nothing on stdout) or ``# expect: ok`` (evaluated, and every format's
output holds exactly one outcome line, no character that acts on a terminal, valid UTF-8 and valid JSON).
Case files (``cases/``) go through ``rxpolicy eval`` (and the refused ones together through ``rxpolicy diff
--cases``); rule files (``rules/``)
are planted in a copy of the HollandZorg policy and go through ``rxpolicy check``. Each run has a time
limit, so a hang fails the test instead of stopping the suite. Add a file here for every new way found.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rxpolicy.cli import cli
from rxpolicy.language.load import builtin_rules_dir

HERE = Path(__file__).resolve().parent
CASES = sorted((HERE / "cases").glob("*.yaml"))
RULE_FILES = sorted((HERE / "rules").glob("*.rxp"))
#: Seconds one command may take; far above what any of these takes, so only a hang reaches it.
TIME_LIMIT = 60


def expected(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8").lstrip("\ufeff")
    assert first.startswith("# expect: "), f"{path.name}: the first line must say `# expect: RXnnn` or `# expect: ok`"
    return first.removeprefix("# expect: ").strip()


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(args: list[str], cwd: Path) -> Result:
    with contextlib.chdir(cwd), time_limit(TIME_LIMIT):
        return CliRunner().invoke(cli, args)


def assert_refused(result: Result, code: str, name: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert f": {code}: " in result.stderr or result.stderr.startswith(f"{code}: "), result.stderr
    assert "\n  help: " in result.stderr
    assert_shown_safely(result.stderr)


def assert_shown_safely(text: str) -> None:
    """Valid UTF-8 and nothing that acts on a terminal or does not show (line breaks are the output's own)."""
    text.encode("utf-8")
    hidden = [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")]
    assert hidden == [], hidden


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case_file(path: Path, tmp_path: Path) -> None:
    shutil.copy(path, tmp_path / path.name)
    expect = expected(path)
    if expect != "ok":
        assert_refused(run(["eval", path.name], tmp_path), expect, path.name)
        return
    for output in ("text", "markdown", "json"):
        result = run(["eval", path.name, "--format", output], tmp_path)
        assert result.exit_code == 0, result.output
        result.stdout_bytes.decode("utf-8")
        assert_shown_safely(result.stdout)
        lines = result.stdout.split("\n")
        if output == "text":
            assert len([line for line in lines if line.lstrip().startswith("Outcome")]) == 1, result.stdout
        elif output == "markdown":
            assert len([line for line in lines if line.lstrip("*# ").startswith("Outcome")]) == 1, result.stdout
            assert "<" not in result.stdout.replace("\\<", "")
        else:
            assert json.loads(result.stdout)["outcome"] in ("covered", "not_covered")


def test_diff_cases_refuses_every_refused_case_naming_each(tmp_path: Path) -> None:
    refused = {path.name: expected(path) for path in CASES if expected(path) != "ok"}
    for name in refused:
        shutil.copy(HERE / "cases" / name, tmp_path / name)
    result = run(["diff", "hollandzorg", "hollandzorg", "--cases", "."], tmp_path)
    assert_refused(result, "RX409", "the corpus")
    for name, code in refused.items():
        assert f"{name}:" in result.stderr and code in result.stderr, name


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.stem for p in RULE_FILES])
def test_rule_file(path: Path, tmp_path: Path) -> None:
    shutil.copytree(builtin_rules_dir(), tmp_path / "rules")
    shutil.copy(path, tmp_path / "rules" / "hollandzorg" / path.name)
    assert_refused(run(["check", "--no-analysis", "rules/hollandzorg"], tmp_path), expected(path), path.name)


def test_a_50_mb_case_is_refused_at_once(tmp_path: Path) -> None:
    # Made here rather than kept in the corpus: 50 MB of comments after a valid case (86 s before the limit).
    text = (HERE / "cases" / "forged-outcome-newline.yaml").read_text(encoding="utf-8")
    with (tmp_path / "big.yaml").open("w", encoding="utf-8") as out:
        out.write(text)
        out.write(("# " + "x" * 97 + "\n") * 500_000)
    result = run(["eval", "big.yaml"], tmp_path)
    assert_refused(result, "RX409", "big.yaml")
    assert "big.yaml is 50,000," in result.stderr
