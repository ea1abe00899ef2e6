"""Many cases in one process: `rxpolicy eval A B …` and `-` (YAML documents or JSON Lines on standard input)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

RXPOLICY = Path(sys.executable).parent / "rxpolicy"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "hollandzorg"
COVERED, NOT_COVERED = EXAMPLES / "chronic-adjusted.yaml", EXAMPLES / "not-insured.yaml"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RXPOLICY), "eval", *args], input=stdin, capture_output=True, text=True, timeout=300)


def one(path: Path) -> dict[str, object]:
    """What `rxpolicy eval CASE --format json` says of one case on its own."""
    done = run(str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_several_files_give_one_json_line_each_as_each_alone_would() -> None:
    done = run(str(COVERED), str(NOT_COVERED), "--format", "json")
    assert done.returncode == 0, done.stderr
    records = lines(done.stdout)
    assert [r.pop("case") for r in records] == [str(COVERED), str(NOT_COVERED)]
    assert records == [one(COVERED), one(NOT_COVERED)]


def test_a_bad_case_among_good_ones_is_reported_and_the_others_still_evaluated(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(COVERED.read_text().replace("prescriber: gp", "prescriber: pharmacist"))
    done = run(str(COVERED), str(bad), str(tmp_path / "missing.yaml"), str(NOT_COVERED), "--format", "json")
    assert done.returncode == 2
    records = lines(done.stdout)
    assert [r["case"] for r in records] == [str(COVERED), str(bad), str(tmp_path / "missing.yaml"), str(NOT_COVERED)]
    assert [("errors" in r) for r in records] == [False, True, True, False]
    assert records[1]["errors"][0]["field"] == "prescription.prescriber"  # type: ignore[index]
    assert records[2]["errors"][0]["code"] == "RX001"  # type: ignore[index]
    assert f"{bad}:" in done.stderr and "missing.yaml does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_yaml_documents_on_standard_input_are_cases_and_messages_give_the_line_in_the_stream() -> None:
    broken = COVERED.read_text().replace("supply_days: 90", "supply_days: ninety")
    assert broken != COVERED.read_text()
    stream = f"{COVERED.read_text()}---\n{broken}---\n{NOT_COVERED.read_text()}"
    done = run("-", "--format", "json", stdin=stream)
    assert done.returncode == 2
    records = lines(done.stdout)
    assert [r["case"] for r in records] == ["<stdin> #1", "<stdin> #2", "<stdin> #3"]
    assert {k: v for k, v in records[0].items() if k != "case"} == one(COVERED)
    assert {k: v for k, v in records[2].items() if k != "case"} == one(NOT_COVERED)
    line = stream.splitlines().index("  supply_days: ninety") + 1
    assert records[1]["errors"][0]["line"] == line  # type: ignore[index]
    assert f"<stdin> #2:{line}:" in done.stderr and "supply_days: ninety" in done.stderr


def test_json_lines_on_standard_input_are_cases() -> None:
    stream = "".join(json.dumps(yaml.safe_load(p.read_text()), default=str) + "\n" for p in (NOT_COVERED, COVERED))
    done = run("-", "--format", "json", stdin=stream)
    assert done.returncode == 0, done.stderr
    records = lines(done.stdout)
    assert [r["outcome"] for r in records] == [one(NOT_COVERED)["outcome"], one(COVERED)["outcome"]]
    assert [r["decisions"] for r in records] == [one(NOT_COVERED)["decisions"], one(COVERED)["decisions"]]


def test_text_output_names_each_case() -> None:
    done = run(str(COVERED), str(NOT_COVERED))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("=== ") == 2 and f"=== {NOT_COVERED} ===" in done.stdout
    assert "Outcome: NOT COVERED" in done.stdout.split(f"=== {NOT_COVERED} ===")[1]


def test_one_case_file_keeps_the_contract_form() -> None:
    data = one(COVERED)
    assert "case" not in data and data["outcome"] == "covered"
