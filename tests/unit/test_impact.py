"""``rxpolicy impact``: every claim on two sides, the differences counted, checked against ``rxpolicy eval``."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from rxpolicy import PolicyStore, RxError, case_from_mapping, evaluate
from rxpolicy.bulk.impact import claim_impact
from rxpolicy.bulk.impact_render import impact_dict, impact_html
from rxpolicy.bulk.synth_files import write_claims
from rxpolicy.cli import cli
from rxpolicy.tools.diff_sides import parse_side

OLD, NEW = "hollandzorg@2025-06-01", "asr@2026-06-01"


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def claims(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 synthetic claims of 2025 (with the synthesiser's invalid ones), as Parquet."""
    path = tmp_path_factory.mktemp("impact") / "claims.parquet"
    write_claims(path, "parquet", 600, 7, years=(2025, 2025), plans=PolicyStore().load("hollandzorg").plans)
    return path


@pytest.fixture(scope="module")
def report(claims: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("report") / "impact.json"
    code, _, err = _invoke("impact", OLD, NEW, str(claims), "--out", str(out), "--witnesses", "2")
    assert code == 0, err
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _nested(record: Mapping[str, Any]) -> dict[str, Any]:
    """A flattened Parquet record in the case-file shape (written here, not taken from the bulk readers)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if value is None:
            continue
        *sections, name = key.split(".")
        node = out
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return out


def _a_year_later(value: Any, key: str = "") -> Any:
    """Every date one year later, the claim dispensed a year later: 29 February becomes the 28th, except a date of
    birth, which becomes 1 March (the built-in rules' reading of a 29 February birthday: the person keeps their
    age; claims of 2025 go to 2026, two years without 29 February, so no day next to it needs more)."""
    if isinstance(value, dict):
        return {k: _a_year_later(v, k) for k, v in value.items()}
    if isinstance(value, dt.date):
        try:
            return value.replace(year=value.year + 1)
        except ValueError:
            return dt.date(value.year + 1, 3, 1) if key == "born_on" else value.replace(year=value.year + 1, day=28)
    return value


def _records(claims: Path) -> list[dict[str, Any]]:
    return [_nested(r) for r in pq.read_table(claims).to_pylist()]


def test_counts_add_up_to_the_records_read(report: dict[str, Any], claims: Path) -> None:
    counts = report["counts"]
    assert counts["read"] == pq.read_metadata(claims).num_rows == 600
    assert counts["compared"] + counts["error_old_only"] + counts["error_new_only"] + counts["error_both"] == 600
    assert counts["changed"] + counts["unchanged"] == counts["compared"]
    for where in ("old_only", "new_only", "both"):
        assert sum(report["counts"][f"errors_{where}_by_code"].values()) == counts[f"error_{where}"]
    assert sum(g["claims"] for g in report["per_atc"]) == counts["compared"]
    assert sum(g["changed"] for g in report["per_atc"]) == counts["changed"]
    # the synthesiser's invalid claims are refused on both sides; hollandzorg's plan names by asr (RX407)
    assert counts["error_both"] > 0 and "RX407" in counts["errors_new_only_by_code"]


def test_money_totals_equal_the_sum_of_per_claim_evaluations(report: dict[str, Any], claims: Path) -> None:
    store = PolicyStore()
    old, new = store.load("hollandzorg"), store.load("asr")
    money = report["money_decisions"]
    assert money[:2] == ["insurer_pays", "patient_pays"]
    totals = {n: [Decimal(0), Decimal(0)] for n in money}
    compared = 0
    for number, record in enumerate(_records(claims), start=1):
        try:
            before = evaluate(old, case_from_mapping(record, source=f"record {number}", policy=old))
            after = evaluate(new, case_from_mapping(_a_year_later(record), source=f"record {number}", policy=new))
        except RxError:
            continue
        compared += 1
        for name in money:
            totals[name][0] += before[name].value or 0
            totals[name][1] += after[name].value or 0
    assert compared == report["counts"]["compared"]
    for name in money:
        assert Decimal(report["money"][name]["old"]) == totals[name][0]
        assert Decimal(report["money"][name]["new"]) == totals[name][1]
    assert totals["insurer_pays"][0] != totals["insurer_pays"][1]  # the change moves money at all


def _eval(record: dict[str, Any], policy: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / f"case-{policy}.yaml"
    path.write_text(yaml.safe_dump(json.loads(json.dumps(record, default=str))))
    code, out, err = _invoke("eval", str(path), "--policy", policy, "--format", "json")
    assert code in (0, 1), err
    decisions: dict[str, Any] = json.loads(out)["decisions"]
    return decisions


def test_witnesses_agree_with_rxpolicy_eval_on_each_side(report: dict[str, Any], claims: Path,
                                                        tmp_path: Path) -> None:
    records = _records(claims)
    covered = [c for c in report["changes"] if c["decision"] == "covered"]
    assert covered, "hollandzorg 2025 and asr 2026 decide some claim's coverage differently"
    checked = 0
    for change in covered + [c for c in report["changes"] if c["decision"] == "insurer_pays"]:
        for witness in change["witnesses"]:
            record = records[witness["record"] - 1]
            before = _eval(record, "hollandzorg", tmp_path)[change["decision"]]
            after = _eval(_a_year_later(record), "asr", tmp_path)[change["decision"]]
            assert (before["value"], after["value"]) == (witness["old"], witness["new"])
            assert (before["rule"], after["rule"]) == (witness["old_rule"], witness["new_rule"])
            assert before["value"] != after["value"]
            checked += 1
    assert checked >= 2


def test_columns_and_per_claim_moves_agree(tmp_path: Path) -> None:
    """Parquet claims are moved in columns and evaluated on the columnar path; JSON Lines ones each with
    ``move_case`` and per case: the same claims give the same report."""
    plans = PolicyStore().load("hollandzorg").plans
    store = PolicyStore()
    old, new = parse_side(OLD, store), parse_side(NEW, store)
    reports = []
    for fmt in ("parquet", "jsonl"):
        path = tmp_path / f"claims.{fmt}"
        write_claims(path, fmt, 400, 11, years=(2023, 2025), plans=plans)
        data = impact_dict(claim_impact(old, new, path, input_format=fmt))
        data.pop("claims")
        reports.append(data)
    assert reports[0]["counts"]["compared"] > 0
    assert reports[0] == reports[1]


class _Checker(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "input", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.seen: set[str] = set()
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)
        self.loads += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href")]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>"
        self.stack.pop()


def test_html_is_self_contained_and_well_formed(claims: Path) -> None:
    store = PolicyStore()
    page = impact_html(claim_impact(parse_side(OLD, store), parse_side(NEW, store), claims,
                                    input_format="parquet"))
    assert re.search(r"https?://", page) is None
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    assert checker.loads == [] and "script" not in checker.seen
    assert {"svg", "rect", "table"} <= checker.seen


@pytest.mark.parametrize("args, code", [
    (["nosuchpolicy@2025-06-01", NEW, "CLAIMS", "--out", "r.md"], "RX"),
    ([OLD, "asr@2026-13-01", "CLAIMS", "--out", "r.md"], "RX601"),
    ([OLD, "hollandzorg@2030-06-01", "CLAIMS", "--out", "r.md"], "RX501"),
    ([OLD, NEW, "missing.parquet", "--out", "r.md"], "RX801"),
    ([OLD, NEW, "CLAIMS", "--out", "r.txt"], "RX811"),
])
def test_bad_input_exits_2_with_a_message(args: list[str], code: str, claims: Path, tmp_path: Path) -> None:
    args = [str(claims) if a == "CLAIMS" else str(tmp_path / a) if a in ("r.md", "r.txt", "missing.parquet")
            else a for a in args]
    status, out, err = _invoke("impact", *args)
    assert status == 2
    assert re.search(rf"{code}\d*", err), err
    assert "Traceback" not in err and out == ""


def test_each_format_is_written(claims: Path, tmp_path: Path) -> None:
    for suffix, first in ((".md", "# Impact of"), (".html", "<!DOCTYPE html>"), (".json", "{")):
        out = tmp_path / f"report{suffix}"
        status, _, err = _invoke("impact", OLD, NEW, str(claims), "--out", str(out))
        assert status == 0, err
        assert out.read_text().startswith(first)
        assert "read 600 records" in err
