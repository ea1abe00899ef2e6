"""The public Python API: the store, policy names and aliases, sharing a policy between threads."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import rxpolicy
from rxpolicy import PolicyStore, RxError, case_from_mapping, evaluate, load_policy
from rxpolicy.language.load import split_policy_year

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "rxpolicy"


def _case(day: str, atc: str = "C08CA01", supply: int = 30) -> rxpolicy.Case:
    return case_from_mapping({
        "dispensed_on": day, "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
        "medicine": {"name": "x", "atc": atc, "price": "10.00"}, "dispensing": {"supply_days": supply}})


def test_the_store_keeps_each_policy_apart_and_compiles_once() -> None:
    store = PolicyStore()
    hollandzorg, asr = store.load("hollandzorg"), store.load("asr")
    assert (hollandzorg.name, asr.name) == ("hollandzorg", "asr")
    assert store.load("hollandzorg") is hollandzorg
    assert hollandzorg.fingerprint != asr.fingerprint


def test_the_store_compiles_again_when_a_rule_file_changes(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    store = PolicyStore()
    first = store.load(str(tmp_path / "rules" / "hollandzorg"))
    periods = tmp_path / "rules" / "model" / "dispensing_periods.rxp"
    periods.write_text(periods.read_text().replace("at most 15 days", "at most 14 days"))
    second = store.load(str(tmp_path / "rules" / "hollandzorg"))
    assert second is not first
    case = _case("2025-03-14").replace({"dispensing.new_to_patient": True})
    assert str(evaluate(second, case)["max_supply"].value.duration) == "14 days"


def test_a_year_alias_names_the_policy() -> None:
    assert split_policy_year("hollandzorg-2025") == ("hollandzorg", 2025)
    assert split_policy_year("unknown-2025") == ("unknown-2025", None)
    assert PolicyStore().load("hollandzorg-2024").name == "hollandzorg"


def test_an_alias_year_that_differs_from_the_case_is_refused() -> None:
    result = subprocess.run([str(CLI), "eval", str(ROOT / "examples/hollandzorg/pill-age-19.yaml"),
                             "--policy", "hollandzorg-2024"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert "RX602" in result.stderr and "2025-03-14" in result.stderr


def test_an_unknown_policy_suggests_the_closest_name() -> None:
    with pytest.raises(RxError) as error:
        PolicyStore().load("hollandzrg")
    assert error.value.diagnostics[0].code == "RX601"
    assert "hollandzorg" in (error.value.diagnostics[0].help or "")


def test_a_policy_is_shared_by_threads_without_interference() -> None:
    policy = load_policy("hollandzorg")
    cases = [_case(f"2025-0{1 + i % 9}-1{i % 10}", atc=("N05BA04", "C08CA01", "J01AA02")[i % 3], supply=10 + i % 60)
             for i in range(600)]
    expected = [evaluate(policy, c, trace=True).values for c in cases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda c: evaluate(policy, c, trace=bool(hash(c) % 2)).values, cases))
    assert got == expected


def test_the_evaluation_ignores_the_callers_decimal_context() -> None:
    import decimal

    policy = load_policy("hollandzorg")
    case = case_from_mapping({
        "dispensed_on": "2025-09-01", "insured": {"born_on": "1950-01-25", "insured_from": "2025-06-15"},
        "prescription": {"prescriber": "gp"},
        "medicine": {"name": "x", "atc": "C08CA01", "price": "400.00", "reimbursement_limit": "100.00"},
        "dispensing": {"supply_days": 30}})
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = decimal.ROUND_DOWN
        value = evaluate(policy, case)["personal_contribution"].value
    assert str(value) == "137.00"


def test_an_unknown_rule_id_is_a_key_error_naming_the_closest_id() -> None:
    # issue 13.7: it raised StopIteration, which a caller's generator would swallow as "no more items".
    policy = load_policy("hollandzorg")
    assert policy.rule("dispensing-period/benzodiazepines").id == "dispensing-period/benzodiazepines"
    with pytest.raises(KeyError) as raised:
        policy.rule("dispensing-period/benzodiazepine")
    assert "no rule `dispensing-period/benzodiazepine`" in str(raised.value)
    assert "did you mean `dispensing-period/benzodiazepines`?" in str(raised.value)
