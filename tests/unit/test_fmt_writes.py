"""``rxpolicy fmt`` never destroys a rule file: every file is left either as it was or fully formatted.

Before, fmt rewrote each file in place: killed mid-write it left a 3,000-rule file empty, a write error
(a full disk) left it cut short and was called a bug in rxpolicy (exit 3), and with several files the
earlier ones were rewritten when a later one failed. These tests make the failures happen for real, in a
subprocess: a file-size limit (RLIMIT_FSIZE) makes writes fail as a full disk does, and the process is
killed with SIGKILL at the two worst moments (new text written but not renamed; one file renamed, the
next not) and at random moments of a long run.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy.cli import cli

MESSY_RULE = 'rule r/{n}   when medicine.price > {n}.00 EUR then covered = yes  explain en "Rule {n}." end\n'


def messy(rules: int) -> str:
    return "".join(MESSY_RULE.format(n=n) for n in range(rules))


def tidy(rules: int) -> str:
    return "".join(f'rule r/{n}\n  when medicine.price > {n}.00 EUR\n  then covered = yes\n  explain en "Rule {n}."\nend\n'
                   + ("\n" if n < rules - 1 else "") for n in range(rules))


def test_the_formatted_text_these_tests_expect_is_what_fmt_writes(tmp_path: Path) -> None:
    (tmp_path / "a.rxp").write_text(messy(3), encoding="utf-8")
    assert CliRunner().invoke(cli, ["fmt", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "a.rxp").read_text(encoding="utf-8") == tidy(3)


_FMT_IN_A_SUBPROCESS = """
import os, signal, sys
from rxpolicy.cli import cli
mode, paths = sys.argv[1], sys.argv[2:]
if mode == "kill-before-rename":  # the new texts are written and flushed, none renamed yet
    os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
elif mode == "kill-after-first-rename":
    rename = os.replace
    def replace(source, target):
        rename(source, target)
        os.kill(os.getpid(), signal.SIGKILL)
    os.replace = replace
cli.main(args=["fmt", *paths], prog_name="rxpolicy")
"""


def fmt_process(mode: str, *paths: Path, file_size_limit: int | None = None) -> subprocess.Popen[str]:
    def limit() -> None:
        if file_size_limit is not None:  # writes past the limit fail with EFBIG, as on a full disk (no SIGXFSZ)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
    return subprocess.Popen([sys.executable, "-c", _FMT_IN_A_SUBPROCESS, mode, *map(str, paths)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit)


def rule_files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.rxp"))}


def test_a_write_that_fails_leaves_every_file_as_it_was_and_names_the_file(tmp_path: Path) -> None:
    small, big = tmp_path / "a-small.rxp", tmp_path / "b-big.rxp"
    small.write_text(messy(3), encoding="utf-8")
    big.write_text(messy(1000), encoding="utf-8")
    process = fmt_process("plain", small, big, file_size_limit=len(messy(1000)) - 1000)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 2, err
    assert out == ""
    assert err.startswith(f"RX003: cannot write the rule file {big}: File too large; it is unchanged\n"), err
    assert "internal error" not in err
    # The small file was formatted in memory and could be written, but is left as it was with the big one.
    assert rule_files(tmp_path) == {"a-small.rxp": messy(3), "b-big.rxp": messy(1000)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-small.rxp", "b-big.rxp"], "a temporary file is left"


def test_killed_after_writing_before_renaming_every_file_is_as_it_was(tmp_path: Path) -> None:
    for name in ("a.rxp", "b.rxp"):
        (tmp_path / name).write_text(messy(200), encoding="utf-8")
    process = fmt_process("kill-before-rename", tmp_path)
    process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL
    assert rule_files(tmp_path) == {"a.rxp": messy(200), "b.rxp": messy(200)}
    # What the kill left behind is hidden and not a rule file: the policy and fmt do not read it.
    assert all(p.name.startswith(".") and p.suffix == ".tmp" for p in tmp_path.iterdir() if p.suffix != ".rxp")


def test_killed_between_two_renames_one_file_is_formatted_and_the_other_as_it_was(tmp_path: Path) -> None:
    for name in ("a.rxp", "b.rxp"):
        (tmp_path / name).write_text(messy(200), encoding="utf-8")
    process = fmt_process("kill-after-first-rename", tmp_path)
    process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL
    assert sorted(rule_files(tmp_path).values()) == sorted([messy(200), tidy(200)])


def test_killed_at_any_moment_a_file_is_old_or_new_never_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "big.rxp"
    for delay in (0.5, 1.5, 3.0):  # (no claim on the timing: whenever the kill lands, the file is whole)
        path.write_text(messy(3000), encoding="utf-8")
        process = fmt_process("plain", path)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=300)
        assert path.read_text(encoding="utf-8") in (messy(3000), tidy(3000)), f"killed after {delay} s"


def test_a_read_only_file_is_refused_and_no_file_is_changed(tmp_path: Path) -> None:
    writable, read_only = tmp_path / "a.rxp", tmp_path / "b.rxp"
    for path in (writable, read_only):
        path.write_text(messy(2), encoding="utf-8")
    read_only.chmod(0o444)
    result = CliRunner().invoke(cli, ["fmt", str(tmp_path)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"RX003: the rule file {read_only} is read-only; fmt leaves it unchanged\n"
                             f"  help: make it writable (`chmod u+w {read_only}`) to format it, or leave it out\n")
    assert rule_files(tmp_path) == {"a.rxp": messy(2), "b.rxp": messy(2)}


def test_permissions_and_symbolic_links_are_kept(tmp_path: Path) -> None:
    target, link = tmp_path / "rules.rxp", tmp_path / "link.rxp"
    target.write_text(messy(2), encoding="utf-8")
    target.chmod(0o640)
    link.symlink_to(target.name)
    result = CliRunner().invoke(cli, ["fmt", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and target.read_text(encoding="utf-8") == tidy(2)
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_directory_that_cannot_be_written_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (The tests run as root, who may write anywhere; the refusal is made as the system makes it.)
    path = tmp_path / "a.rxp"
    path.write_text(messy(2), encoding="utf-8")

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, os.strerror(13))

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    result = CliRunner().invoke(cli, ["fmt", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"RX003: cannot write the rule file {path}: Permission denied; it is unchanged\n")
    assert f"make {tmp_path} writable" in result.stderr
    assert path.read_text(encoding="utf-8") == messy(2)
