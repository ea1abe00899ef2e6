"""Bad input through the command line: exit code 2, nothing on stdout, a located message with a fix on stderr.

The contract (../shared/spec/README.md): bad input ends with exit code 2, nothing on stdout and a
message on stderr that names the file, the field (or line and column) and what to do; never a
traceback. These tests run the installed console script in a subprocess, in a temporary working
directory, so paths in messages are short and relative.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rxpolicy.language.load import builtin_policies, builtin_rules_dir

RXPOLICY = Path(sys.executable).parent / "rxpolicy"

CASE = """\
dispensed_on: 2025-03-14
insured:
  born_on: 1970-05-01
prescription:
  prescriber: gp
  chronic: true
medicine:
  name: oxazepam 10 mg tablet
  atc: N05BA04
  price: 4.00
dispensing:
  supply_days: 30
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RXPOLICY), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_bad_input(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 2, stdout empty, no traceback, a `help:` line; returns stderr."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert re.search(r"^\s*help: \S", result.stderr, re.MULTILINE), result.stderr
    return result.stderr


def caret_under(stderr: str, location: str) -> str:
    """The source line and caret line printed after the diagnostic at ``location``; returns the caret line."""
    lines = stderr.splitlines()
    (index,) = [i for i, line in enumerate(lines) if line.startswith(location)]
    source, caret = lines[index + 1], lines[index + 2]
    assert re.match(r"^\s*\d+ \| ", source), source
    assert re.fullmatch(r"\s*\^+", caret), caret
    return caret


def write_case(tmp_path: Path, old: str = "", new: str = "", name: str = "case.yaml") -> Path:
    text = CASE
    if old:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sample_case_is_good(tmp_path: Path) -> None:
    # The bad cases below are this case with one thing broken.
    write_case(tmp_path)
    result = run("eval", "case.yaml", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"policy": "hollandzorg"' in result.stdout


# ------------------------------------------------------------------------------------------ case files

@pytest.mark.parametrize("output_format", ["text", "json", "markdown"])
def test_a_case_that_is_not_yaml(tmp_path: Path, output_format: str) -> None:
    (tmp_path / "case.yaml").write_text("dispensed_on: [2025\n  x: : :\n", encoding="utf-8")
    stderr = assert_bad_input(run("eval", "case.yaml", "--format", output_format, cwd=tmp_path))
    assert re.search(r"^case\.yaml:2:\d+: RX401: the case is not valid YAML", stderr, re.MULTILINE), stderr
    caret_under(stderr, "case.yaml:2:")


def test_a_missing_required_field(tmp_path: Path) -> None:
    write_case(tmp_path, "  born_on: 1970-05-01\n", "")
    stderr = assert_bad_input(run("eval", "case.yaml", cwd=tmp_path))
    assert re.search(r"^case\.yaml:\d+:\d+: RX402: the required field `insured\.born_on` is missing", stderr,
                     re.MULTILINE), stderr
    assert "born_on:" in stderr.split("help:")[1]


def test_an_unknown_field_gets_a_suggestion(tmp_path: Path) -> None:
    write_case(tmp_path, "  chronic: true", "  chronc: true")
    stderr = assert_bad_input(run("eval", "case.yaml", cwd=tmp_path))
    assert stderr.startswith("case.yaml:6:3: RX403: "), stderr
    assert "`prescription`" in stderr and "`chronc`" in stderr
    assert "did you mean `chronic`" in stderr
    assert caret_under(stderr, "case.yaml:6:3:") == " " * (len("    6 | ") + 2) + "^" * len("chronc")


def test_a_value_of_the_wrong_type(tmp_path: Path) -> None:
    write_case(tmp_path, "supply_days: 30", "supply_days: many")
    stderr = assert_bad_input(run("eval", "case.yaml", cwd=tmp_path))
    assert stderr.startswith("case.yaml:12:16: RX404: `dispensing.supply_days` needs a number, not `many`"), stderr
    caret_under(stderr, "case.yaml:12:16:")


def test_an_impossible_value_born_after_dispensing(tmp_path: Path) -> None:
    write_case(tmp_path, "born_on: 1970-05-01", "born_on: 2025-06-01")
    stderr = assert_bad_input(run("eval", "case.yaml", cwd=tmp_path))
    assert stderr.startswith("case.yaml:3:12: RX405: "), stderr
    assert "`insured.born_on`" in stderr and "2025-06-01" in stderr and "2025-03-14" in stderr
    caret_under(stderr, "case.yaml:3:12:")


def test_a_date_that_does_not_exist(tmp_path: Path) -> None:
    write_case(tmp_path, "dispensed_on: 2025-03-14", "dispensed_on: 2025-02-30")
    stderr = assert_bad_input(run("eval", "case.yaml", cwd=tmp_path))
    assert stderr.startswith("case.yaml:1:15: RX405: "), stderr
    assert "`dispensed_on`" in stderr and "2025-02-30" in stderr


def test_every_problem_of_a_case_is_reported(tmp_path: Path) -> None:
    text = CASE.replace("  chronic: true", "  chronc: true").replace("supply_days: 30", "supply_days: many")
    (tmp_path / "case.yaml").write_text(text, encoding="utf-8")
    stderr = assert_bad_input(run("eval", "case.yaml", cwd=tmp_path))
    places = re.findall(r"^case\.yaml:(\d+):\d+: (RX\d+)", stderr, re.MULTILINE)
    assert places == [("6", "RX403"), ("12", "RX404")]


def test_a_case_file_that_does_not_exist(tmp_path: Path) -> None:
    stderr = assert_bad_input(run("eval", "no-such-case.yaml", cwd=tmp_path))
    assert "RX001" in stderr and "no-such-case.yaml" in stderr and "does not exist" in stderr


# -------------------------------------------------------------------------------------------- policies

def test_an_unknown_policy_name_gets_a_suggestion(tmp_path: Path) -> None:
    write_case(tmp_path)
    stderr = assert_bad_input(run("eval", "case.yaml", "--policy", "hollandzrg", cwd=tmp_path))
    assert "RX601" in stderr and "`hollandzrg`" in stderr
    assert "did you mean `hollandzorg`?" in stderr


def test_a_case_dated_outside_the_policys_years(tmp_path: Path) -> None:
    write_case(tmp_path, "dispensed_on: 2025-03-14", "dispensed_on: 2019-05-01")
    stderr = assert_bad_input(run("eval", "case.yaml", cwd=tmp_path))
    first = stderr.splitlines()[0]
    assert "2019-05-01" in first and "`hollandzorg`" in first
    assert "dispensed_on" in stderr


def test_a_case_dated_outside_the_policys_years_names_the_case_file(tmp_path: Path) -> None:
    # Regression: RX501 had no span, so the message named neither the case file nor `dispensed_on`'s line.
    write_case(tmp_path, "dispensed_on: 2025-03-14", "dispensed_on: 2019-05-01")
    stderr = assert_bad_input(run("eval", "case.yaml", cwd=tmp_path))
    assert stderr.startswith("case.yaml:1:"), stderr


# ------------------------------------------------------------------------------------------ rule files

@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A copy of the built-in rules in the working directory, to plant faults in."""
    target = tmp_path / "rules"
    shutil.copytree(builtin_rules_dir(), target)
    return target


def plant(path: Path, old: str, new: str) -> tuple[int, int]:
    """Replace the first ``old`` in a rule file; returns its 1-based line and column."""
    text = path.read_text(encoding="utf-8")
    offset = text.index(old)
    path.write_text(text[:offset] + new + text[offset + len(old):], encoding="utf-8")
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def dispensing_periods(rules: Path) -> Path:
    """The rule file with the dispensing periods HollandZorg uses (it moved from hollandzorg/ to a shared layer)."""
    candidates = [rules / "hollandzorg" / "dispensing_periods.rxp", *sorted(rules.glob("*/dispensing_periods.rxp"))]
    for candidate in candidates:
        if candidate.is_file() and "medicine.atc" in candidate.read_text(encoding="utf-8"):
            return candidate
    raise AssertionError("no dispensing_periods.rxp that uses medicine.atc")


def test_check_a_rule_file_with_a_misspelt_field(rules_copy: Path, tmp_path: Path) -> None:
    file = dispensing_periods(rules_copy)
    line, column = plant(file, "medicine.atc", "medicine.act")
    shown = file.relative_to(tmp_path).as_posix()
    stderr = assert_bad_input(run("check", "rules/hollandzorg", cwd=tmp_path))
    location = f"{shown}:{line}:{column}: RX340: "
    assert location + "`medicine.act` is not a case field" in stderr, stderr
    assert "did you mean `medicine.atc`?" in stderr
    caret = caret_under(stderr, location)
    assert caret.index("^") == len(f"{line:>5} | ") + column - 1
    assert caret.count("^") == len("medicine.act")


def test_check_a_rule_file_with_a_syntax_error(rules_copy: Path, tmp_path: Path) -> None:
    file = dispensing_periods(rules_copy)
    line, column = plant(file, "when ", "wehn ")
    shown = file.relative_to(tmp_path).as_posix()
    stderr = assert_bad_input(run("check", "rules/hollandzorg", cwd=tmp_path))
    location = f"{shown}:{line}:{column}: RX103: "
    assert location + "`wehn` is not a keyword the rule language knows here" in stderr, stderr
    assert "help: did you mean `when`?" in stderr
    caret_under(stderr, location)


def test_check_reports_the_syntax_errors_of_every_file(rules_copy: Path, tmp_path: Path) -> None:
    policy_file = rules_copy / "hollandzorg" / "policy.rxp"
    other = next(f for f in sorted((rules_copy / "hollandzorg").glob("*.rxp"))
                 if f != policy_file and "\n  when " in f.read_text(encoding="utf-8"))
    first = plant(policy_file, "built on", "buit on")
    second = plant(other, "\n  when ", "\n  wehn ")
    second = (second[0] + 1, 3)  # the planted text starts with the newline before `when`
    stderr = assert_bad_input(run("check", "rules/hollandzorg", cwd=tmp_path))
    for file, (line, column) in ((policy_file, first), (other, second)):
        location = f"{file.relative_to(tmp_path).as_posix()}:{line}:{column}: RX103: "
        assert location in stderr, (location, stderr)
        caret_under(stderr, location)


def test_check_a_path_that_does_not_exist(tmp_path: Path) -> None:
    stderr = assert_bad_input(run("check", "no/such/dir", cwd=tmp_path))
    assert "RX001" in stderr and "no/such/dir" in stderr


def test_eval_with_a_policy_directory_that_does_not_check(rules_copy: Path, tmp_path: Path) -> None:
    line, column = plant(dispensing_periods(rules_copy), "medicine.atc", "medicine.act")
    write_case(tmp_path)
    stderr = assert_bad_input(run("eval", "case.yaml", "--policy", "rules/hollandzorg", cwd=tmp_path))
    assert f":{line}:{column}: RX340: " in stderr


# ----------------------------------------------------------------------------- the command line itself

@pytest.mark.parametrize("args", [("eval", "case.yaml", "--colour"), ("eval",), ("frobnicate",),
                                  ("eval", "case.yaml", "--format", "yaml"), ("eval", "case.yaml", "--lang", "de")])
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    write_case(tmp_path)
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "Error:" in result.stderr and "Usage:" in result.stderr


def test_check_without_arguments_checks_every_built_in_policy(tmp_path: Path) -> None:
    result = run("check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in builtin_policies())
    assert "hollandzorg" in names
    ok_lines = [line for line in result.stdout.splitlines() if line.startswith("ok ")]
    assert sorted(line.split()[1].rstrip(":") for line in ok_lines) == names
    assert "Traceback" not in result.stderr


def test_policies_lists_hollandzorg_and_its_first_day(tmp_path: Path) -> None:
    result = run("policies", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("hollandzorg ")]
    assert "2023-01-01" in line


# ----------------------------------------------------------------------------- files that are not UTF-8 text

@pytest.mark.parametrize("command, name, kind", [
    (("check", "."), "bad.rxp", "rule file"),
    (("fmt", "bad.rxp"), "bad.rxp", "rule file"),
    (("eval", "case.yaml"), "case.yaml", "case file"),
    (("test", "bad.test.yaml"), "bad.test.yaml", "rule test file"),
])
def test_a_file_that_is_not_utf8_text_is_named_in_plain_words(tmp_path: Path, command: tuple[str, ...], name: str,
                                                              kind: str) -> None:
    (tmp_path / name).write_bytes(("dispensed_on: 2025-03-14\n" if name == "case.yaml" else "# x\n").encode()
                                  + b"\xff\n")
    stderr = assert_bad_input(run(*command, cwd=tmp_path))
    assert f"{name} is not UTF-8 text (byte " in stderr, stderr
    assert f"help: save the {kind} as UTF-8 text" in stderr
    assert "codec" not in stderr  # Python's wording stays out of it


def test_a_policy_in_the_working_directory_is_named_after_it(tmp_path: Path) -> None:
    policy = tmp_path / "dental"
    policy.mkdir()
    (policy / "notes.rxp").write_text("# no rules yet\n", encoding="utf-8")
    result = run("check", ".", cwd=policy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok  dental: "), result.stdout
