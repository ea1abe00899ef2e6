"""`rxpolicy batch` and `rxpolicy claims synth`: claims in bulk, per record, every record accounted for.

Covers the generator (deterministic, the same claims in every format, a small share invalid on purpose), the
batch command on bad records (error rows with code and field, counts that add up, exit codes 0/1/2), the
same results from JSON Lines, CSV and Parquet input, agreement with `rxpolicy eval` on every example case,
money exact in Parquet and text, the progress bar's silence off a terminal, and an interrupted run: killed
mid-way, nothing looks complete that is not, and `--resume` completes it to what an uninterrupted run gives.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from rxpolicy import evaluate, load_policy, parse_case
from rxpolicy.explain.json import evaluation_dict
from rxpolicy.bulk.core import evaluate_records, row_dict, select_decisions
from rxpolicy.bulk.synth import FAULTS, synth_claims
from rxpolicy.bulk.synth_files import flatten
from rxpolicy.cli import cli

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "rxpolicy"
YEARS = (2023, 2025)


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _rows(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _valid(**changes: object) -> dict[str, object]:
    case: dict[str, object] = {
        "dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01", "excess_used": "385.00"}, "prescription": {"prescriber": "gp"},
        "medicine": {"name": "amlodipine 5 mg tablet", "atc": "C08CA01", "price": "10.00"},
        "dispensing": {"supply_days": 30, "fees": {"dispensing": "7.50"}}}
    for path, value in changes.items():
        *sections, name = path.split(".")
        node = case
        for section in sections:
            node = node[section]  # type: ignore[assignment]
        node[name] = value  # type: ignore[index]
    return case


# ------------------------------------------------------------------------------------------ the generator

def test_the_generator_is_deterministic_and_a_block_can_be_made_alone() -> None:
    first = list(synth_claims(25_000, 7, years=YEARS))
    assert first == list(synth_claims(25_000, 7, years=YEARS))
    assert first != list(synth_claims(25_000, 8, years=YEARS))
    # Claims 12,345 onwards made without the ones before them are the same claims.
    assert list(synth_claims(25_000, 7, years=YEARS, start=12_345)) == first[12_345:]


def test_the_mix_spans_the_years_medicines_and_a_small_share_of_faults() -> None:
    policy = load_policy("hollandzorg")
    claims = list(synth_claims(5_000, 3, years=(2023, 2026), plans=policy.plans))
    years = {c["dispensed_on"][:4] for c in claims}
    assert years == {"2023", "2024", "2025", "2026"}
    assert len({c["medicine"].get("atc") for c in claims}) >= 15
    assert any(c["insured"].get("plan") for c in claims)
    rows = evaluate_records(policy, claims)
    refused = [r for r in rows if r.error is not None and r.error.code.startswith("RX4")]
    # About 1 % invalid on purpose, each refused with one of the documented codes.
    assert 20 <= len(refused) <= 90
    assert {r.error.code for r in refused} <= {code for _, code in FAULTS}  # type: ignore[union-attr]
    # 2026 is outside hollandzorg's period: those claims cannot be decided (RX501), never silently passed.
    outside = [r for r, c in zip(rows, claims) if c["dispensed_on"] >= "2026"]
    assert outside and all(r.error is not None and r.error.code in ("RX501", "RX402", "RX405", "RX406")
                           for r in outside)


def test_synth_writes_the_same_claims_in_every_format(tmp_path: Path) -> None:
    for suffix in ("jsonl", "csv", "parquet"):
        code, _, err = _invoke("claims", "synth", "--n", "300", "--seed", "5", "--out", str(tmp_path / f"c.{suffix}"))
        assert code == 0, err
    claims = list(synth_claims(300, 5, years=YEARS, plans=load_policy("hollandzorg").plans))
    assert _rows((tmp_path / "c.jsonl").read_text()) == claims
    table = pq.read_table(tmp_path / "c.parquet")
    assert table.schema.field("medicine.price").type == pa.decimal128(12, 2)
    assert table.schema.field("dispensed_on").type == pa.date32()
    parquet_rows = [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]
    expected = [flatten(c) for c in claims]
    for got, want in zip(parquet_rows, expected, strict=True):
        assert {k: str(v) if not isinstance(v, bool) else v for k, v in got.items()} == \
            {k: str(v) if not isinstance(v, bool) else v for k, v in want.items()}


# ------------------------------------------------------------------------------------------ bad records

def test_bad_records_become_error_rows_and_the_counts_add_up(tmp_path: Path) -> None:
    lines = [
        json.dumps(_valid()),                                               # 1 covered
        "{not json",                                                         # 2 not JSON
        json.dumps([1, 2]),                                                  # 3 not an object
        json.dumps({k: v for k, v in _valid().items() if k != "medicine"} | {
            "medicine": {"name": "x", "price": "1.00"}}),                    # 4 atc missing
        json.dumps(_valid(**{"medicine.price": "-3.00"})),                   # 5 negative price
        json.dumps(_valid(**{"medicine.colour": "red"})),                    # 6 unknown field
        json.dumps(_valid(dispensed_on="2026-02-01")),                       # 7 hollandzorg not in force
        "",                                                                  # a blank line is no record
        json.dumps(_valid(**{"dispensing.supply_days": 90})),               # 8 not covered (too long)
    ]
    claims = tmp_path / "claims.jsonl"
    claims.write_text("\n".join(lines) + "\n")
    code, out, err = _invoke("batch", str(claims), "--policy", "hollandzorg")
    assert code == 1
    rows = _rows(out)
    assert [r["record"] for r in rows] == list(range(1, 9))
    assert [r["outcome"] for r in rows] == ["covered", None, None, None, None, None, None, "not_covered"]
    assert [(r["error_code"], r["error_field"]) for r in rows[1:7]] == [
        ("RX802", None), ("RX802", None), ("RX402", "medicine.atc"), ("RX405", "medicine.price"),
        ("RX403", "medicine.colour"), ("RX501", "dispensed_on")]
    assert all(r["error_message"] for r in rows[1:7])
    assert "2026-02-01" in str(rows[6]["error_message"])
    assert rows[7]["supply_ok"] is False and rows[7]["supply_ok.rule"]
    assert err.strip().splitlines()[-1] == (
        "rxpolicy batch: read 8 records: 2 evaluated (1 covered, 1 not covered), 6 error rows "
        "(RX402: 1, RX403: 1, RX405: 1, RX501: 1, RX802: 2)")


@pytest.mark.parametrize("engine", ["columnar", "per-case"])
def test_a_parquet_day_python_cannot_hold_is_an_error_row(tmp_path: Path, engine: str) -> None:
    # Parquet holds days of any year (date32 counts days from 1970 in 32 bits); Python's dates stop at 9999, and
    # reading such a day stopped the run with an internal error on both roads.
    table = pa.Table.from_pylist([flatten(_valid()) for _ in range(4)])
    typed = {"dispensed_on": pa.date32(), "insured.born_on": pa.date32(), "insured.excess_used": pa.decimal128(12, 2),
             "medicine.price": pa.decimal128(12, 2), "dispensing.fees.dispensing": pa.decimal128(12, 2)}
    table = table.cast(pa.schema([pa.field(f.name, typed.get(f.name, f.type)) for f in table.schema]))
    born = pa.array([3_000_000, 0, -800_000, 0], pa.date32())  # 10183-09-21, 1970-01-01, -0221-09-04, 1970-01-01
    table = table.set_column(table.schema.get_field_index("insured.born_on"), "insured.born_on", born)
    insured_until = pa.array([None, 2**52, None, None], pa.date64())  # a day past 9999, in milliseconds
    table = table.append_column("insured.insured_until", insured_until)
    claims = tmp_path / "claims.parquet"
    pq.write_table(table, claims)
    code, out, err = _invoke("batch", str(claims), "--policy", "hollandzorg", "--format", "jsonl",
                             "--engine", engine)
    assert code == 1, err
    assert "internal error" not in err
    rows = _rows(out)
    assert [(r["record"], r["error_code"], r["error_field"]) for r in rows] == [
        (1, "RX405", "insured.born_on"), (2, "RX405", "insured.insured_until"), (3, "RX405", "insured.born_on"),
        (4, None, None)]
    assert "`10183-09-21`, outside the dates rxpolicy works with" in str(rows[0]["error_message"])
    assert "`-0221-09-04`, outside the dates" in str(rows[2]["error_message"])
    assert rows[3]["outcome"] == "covered"


def test_exit_codes_say_whether_every_record_was_evaluated(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(_valid()) + "\n" + json.dumps(_valid(**{"dispensing.supply_days": 90})) + "\n")
    code, out, err = _invoke("batch", str(good))
    assert code == 0 and len(_rows(out)) == 2
    assert "read 2 records: 2 evaluated (1 covered, 1 not covered), 0 error rows" in err
    # Input that cannot be read at all: exit 2, a message, nothing on stdout.
    for bad, words in ((tmp_path / "missing.jsonl", "does not exist"), (tmp_path / "claims.txt", "format")):
        code, out, err = _invoke("batch", str(bad))
        assert (code, out) == (2, "") and "RX801" in err and words in err and "Traceback" not in err
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    code, out, err = _invoke("batch", str(broken), "--out", str(tmp_path / "r"))
    assert (code, out) == (2, "") and "RX801" in err and "cannot be read as Parquet" in err
    code, _, err = _invoke("batch", str(good), "--decisions", "covered,colour")
    assert code == 2 and "RX803" in err and "`colour`" in err


def test_a_file_naming_a_column_twice_is_refused_before_any_record(tmp_path: Path) -> None:
    # Which of two `medicine.price` columns holds the price cannot be told: the run stops (exit 2) rather than
    # deciding every claim by whichever column a reader happens to keep.
    flat = {k: v for k, v in flatten(_valid()).items() if v is not None}
    table = pa.table({k: [v] for k, v in flat.items()})
    table = table.append_column("medicine.price", pa.array(["-1.00"]))
    parquet = tmp_path / "twice.parquet"
    pq.write_table(table, parquet)
    text = tmp_path / "twice.csv"
    names = list(flat)
    text.write_text(",".join([*names, "medicine.atc"]) + "\n" + ",".join([*map(str, flat.values()), "A01"]) + "\n")
    for path, name in ((parquet, "medicine.price"), (text, "medicine.atc")):
        code, out, err = _invoke("batch", str(path), "--out", str(tmp_path / f"r-{path.suffix[1:]}"))
        assert (code, out) == (2, ""), err
        assert f"RX801: {path} has two columns named `{name}`" in err and "keep one column per case field" in err
        written = tmp_path / f"r-{path.suffix[1:]}"
        assert not list(written.glob("part-*")) and not (written / "_SUCCESS").exists()


# ------------------------------------------------------------------------------------------ results

def _example_cases() -> list[tuple[str, Path]]:
    return [(p.parent.name, p) for p in sorted((ROOT / "examples").glob("*/*.yaml"))]


@pytest.mark.parametrize("policy_name", ["hollandzorg", "asr"])
def test_batch_gives_every_example_the_decisions_eval_gives(tmp_path: Path, policy_name: str) -> None:
    policy = load_policy(policy_name)
    paths = [p for name, p in _example_cases() if name == policy_name]
    claims = tmp_path / "examples.jsonl"
    claims.write_text("".join(json.dumps(yaml.safe_load(p.read_text()), default=str) + "\n" for p in paths))
    code, out, err = _invoke("batch", str(claims), "--policy", policy_name, "--explain")
    assert code == 0, err
    for row, path in zip(_rows(out), paths, strict=True):
        expected = evaluation_dict(evaluate(policy, parse_case(path.read_text(), plans=policy.plans)))
        assert row["outcome"] == expected["outcome"]
        for name, decision in expected["decisions"].items():
            assert row[name] == decision["value"], (path.name, name)
            assert row[f"{name}.rule"] == ", ".join(r["rule"] for r in decision.get("rules", [decision])), name
        explanation = row["explanation"]
        assert isinstance(explanation, dict)
        assert explanation["decisions"] == expected["decisions"]


def test_the_three_input_formats_give_the_same_results(tmp_path: Path) -> None:
    outputs = []
    for suffix in ("jsonl", "csv", "parquet"):
        claims = tmp_path / f"c.{suffix}"
        assert _invoke("claims", "synth", "--n", "400", "--seed", "9", "--out", str(claims))[0] == 0
        code, out, err = _invoke("batch", str(claims), "--chunk-size", "150")
        assert code == 1, err  # the synthetic claims hold a few invalid ones
        outputs.append(out)
    assert outputs[0] == outputs[1] == outputs[2]
    assert len(_rows(outputs[0])) == 400


def test_money_is_exact_in_parquet_and_in_text(tmp_path: Path) -> None:
    claims = tmp_path / "c.jsonl"
    claims.write_text(json.dumps(_valid(**{"medicine.price": "0.10", "dispensing.fees.dispensing": "0.20",
                                           })) + "\n")
    assert _invoke("batch", str(claims), "--out", str(tmp_path / "p"))[0] == 0
    table = ds.dataset(tmp_path / "p").to_table()
    assert table.schema.field("insurer_pays").type == pa.decimal128(12, 2)
    assert table.column("insurer_pays").to_pylist() == [Decimal("0.30")]  # 0.1 + 0.2, not 0.30000000000000004
    code, out, _ = _invoke("batch", str(claims), "--format", "csv")
    assert next(csv.DictReader(io.StringIO(out)))["insurer_pays"] == "0.30"
    assert _rows(_invoke("batch", str(claims))[1])[0]["patient_pays"] == "0.00"


def test_no_progress_bar_off_a_terminal(tmp_path: Path) -> None:
    claims = tmp_path / "c.jsonl"
    claims.write_text(json.dumps(_valid()) + "\n")
    result = subprocess.run([str(CLI), "batch", str(claims), "--out", str(tmp_path / "r")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stderr == "rxpolicy batch: read 1 record: 1 evaluated (1 covered, 0 not covered), 0 error rows\n"


# ------------------------------------------------------------------------------------------ interrupted runs

def _dataset(path: Path) -> pa.Table:
    return ds.dataset(path, format="parquet").to_table().sort_by("record")


def test_a_killed_run_leaves_only_complete_partitions_and_resume_completes_it(tmp_path: Path) -> None:
    claims = tmp_path / "c.parquet"
    assert _invoke("claims", "synth", "--n", "6000", "--seed", "2", "--out", str(claims))[0] == 0
    out = tmp_path / "run"
    # Per case: slow enough to be killed mid-run on any machine (the columns would finish before the kill).
    command = [str(CLI), "batch", str(claims), "--out", str(out), "--chunk-size", "250", "--engine", "per-case"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.glob("part-*.parquet"))) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = sorted(out.glob("part-*.parquet"))
    assert 3 <= len(done) < 24, "killed mid-run"
    assert not (out / "_SUCCESS").exists()
    # What is there under a real name is complete: each partition holds its 250 records, in order.
    for index, part in enumerate(done):
        assert pq.read_table(part).column("record").to_pylist() == list(range(index * 250 + 1, index * 250 + 251))
    # A dataset reader sees only complete partitions (a half-written one is hidden, named with a dot).
    assert _dataset(out).num_rows == 250 * len(done)
    # Resuming with other options is refused; with the same, it completes the run.
    code, _, err = _invoke("batch", str(claims), "--out", str(out), "--chunk-size", "500", "--resume")
    assert code == 2 and "RX804" in err and "chunk_size" in err
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 1, resumed.stderr  # the claims hold a few invalid ones
    assert "read 6000 records" in resumed.stderr
    assert json.loads((out / "_SUCCESS").read_text())["read"] == 6000
    assert not list(out.glob(".*"))
    fresh = tmp_path / "fresh"
    assert _invoke("batch", str(claims), "--out", str(fresh), "--chunk-size", "250")[0] == 1
    assert _dataset(out).equals(_dataset(fresh))
    assert (out / "_SUCCESS").read_text() == (fresh / "_SUCCESS").read_text()


def test_an_existing_result_directory_is_not_overwritten_silently(tmp_path: Path) -> None:
    claims = tmp_path / "c.jsonl"
    claims.write_text(json.dumps(_valid()) + "\n")
    assert _invoke("batch", str(claims), "--out", str(tmp_path / "r"))[0] == 0
    code, _, err = _invoke("batch", str(claims), "--out", str(tmp_path / "r"))
    assert code == 2 and "RX804" in err and "--overwrite" in err
    assert _invoke("batch", str(claims), "--out", str(tmp_path / "r"), "--overwrite")[0] == 0


def test_the_core_takes_records_in_and_gives_rows_out() -> None:
    policy = load_policy("hollandzorg")
    selection = select_decisions(policy, ["covered", "insurer_pays"])
    rows = evaluate_records(policy, [_valid(), {"dispensed_on": "2025-01-01"}], first=10, selection=selection)
    assert [row_dict(r, selection) for r in rows][0] == {
        "record": 10, "outcome": "covered", "covered": True, "covered.rule": "coverage/conditions-met",
        "insurer_pays": "17.50", "insurer_pays.rule": "payment/insurer-covered"}
    assert row_dict(rows[1], selection)["error_code"] == "RX402"


def test_a_far_day_is_written_as_the_calendar_says() -> None:
    from rxpolicy.bulk.records import _day_text

    epoch = dt.date(1970, 1, 1)
    for days in [*range(-719_162, 2_932_897, 9_973), -719_162, 2_932_896, 0, 11_016]:  # 0001-01-01 … 9999-12-31
        assert _day_text(days) == (epoch + dt.timedelta(days=days)).isoformat()
    # Past Python's dates: the 400-year cycle repeats, so a day 146,097 days on is the same day 400 years on.
    assert _day_text(2_932_896 + 146_097) == "10399-12-31" and _day_text(-719_162 - 146_097) == "-0399-01-01"  # year 0 counted
