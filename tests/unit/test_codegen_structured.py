"""Decisions written as `if/elif` chains where the code writer proves the rules exclusive (engine/codegen_tree.py).

The chains must decide exactly as the general code (collect every rule that applies, then settle): the same
values, the same deciding rules, the same conflicts and the same failed computations. Each policy here is
compiled both ways and evaluated on the same cases.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rxpolicy import CompiledPolicy, RxError, case_from_mapping, evaluate, load_case
from rxpolicy.engine.compile import compile_policy
from rxpolicy.api import check

ROOT = Path(__file__).resolve().parents[2]

RULE = """
rule {id}
{parent}  source "test"
{when}  then flag = {value}
  explain en "x"
  explain nl "x"
end
"""


def write_policy(tmp_path: Path, *rules: tuple[str, str | None, str | None, str]) -> Path:
    """A one-decision policy: rules as (id, exception to, when, value)."""
    text = 'policy p\n  title "P"\nend\n\ndecision flag: yes or no\n  explain en "the flag"\nend\n'
    for rule_id, parent, when, value in rules:
        text += RULE.format(id=rule_id, parent=f"  exception to {parent}\n" if parent else "",
                            when=f"  when {when}\n" if when else "", value=value)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "rules.rxp").write_text(text, encoding="utf-8")
    return tmp_path / "p"


def both(policy: Path | str) -> tuple[CompiledPolicy, CompiledPolicy]:
    checked, _ = check(str(policy))
    return compile_policy(checked), compile_policy(checked, structured=False)


def fast_source(policy: CompiledPolicy) -> str:
    return policy.epochs[-1].python.split("\n\ndef x_")[0]


def case(atc: str, months: int = 3, price: str = "10.00") -> object:
    return case_from_mapping({
        "dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
        "medicine": {"name": "x", "atc": atc, "price": price},
        "dispensing": {"supply_days": 30, "months_in_use": months}})


def outcome(policy: CompiledPolicy, the_case: object) -> object:
    """Values and deciding rule ids, or the codes and messages of the error."""
    try:
        evaluation = evaluate(policy, the_case, trace=False)  # type: ignore[arg-type]
    except RxError as error:
        return [(d.code, d.message) for d in error.diagnostics]
    return evaluation.values, [[policy.rules[i].id for i in rules] for rules in evaluation.deciders]


def test_exceptions_for_atc_prefixes_that_cannot_both_match_are_a_chain(tmp_path: Path) -> None:
    structured, general = both(write_policy(
        tmp_path, ("flag/base", None, None, "no"), ("flag/a", "flag/base", "medicine.atc matches A10*", "yes"),
        ("flag/b", "flag/base", "medicine.atc matches B01AC09, B02*", "medicine.price > 5.00 EUR")))
    assert "h = []" not in fast_source(structured) and "h = []" in fast_source(general)
    for atc in ("A10BA02", "B01AC09", "B02AA01", "C10AA05", "B01AC06"):
        for price in ("4.00", "9.00"):
            assert outcome(structured, case(atc, price=price)) == outcome(general, case(atc, price=price))
    assert outcome(structured, case("A10BA02"))[1][0] == ["flag/a"]  # type: ignore[index]


def test_overlapping_exceptions_keep_the_conflict_naming_both(tmp_path: Path) -> None:
    structured, general = both(write_policy(
        tmp_path, ("flag/base", None, None, "no"), ("flag/a", "flag/base", "medicine.atc matches A10*", "yes"),
        ("flag/b", "flag/base", "medicine.price > 5.00 EUR", "no")))
    assert "settle(h" in fast_source(structured)  # not proven exclusive: the general code
    got = outcome(structured, case("A10BA02", price="9.00"))
    assert got == outcome(general, case("A10BA02", price="9.00"))
    assert isinstance(got, list) and got[0][0] == "RX503" and "flag/a" in got[0][1] and "flag/b" in got[0][1]


def test_agreeing_exceptions_are_all_reasons(tmp_path: Path) -> None:
    structured, general = both(write_policy(
        tmp_path, ("flag/base", None, None, "no"), ("flag/a", "flag/base", "medicine.atc matches A10*", "yes"),
        ("flag/b", "flag/base", "medicine.price > 5.00 EUR", "yes")))
    assert outcome(structured, case("A10BA02", price="9.00")) == outcome(general, case("A10BA02", price="9.00"))
    assert outcome(structured, case("A10BA02", price="9.00"))[1][0] == ["flag/a", "flag/b"]  # type: ignore[index]


def test_a_test_that_can_fail_is_still_made_after_one_that_held(tmp_path: Path) -> None:
    # The second exception divides by a case field: the general code evaluates it even when the first
    # applies (a division by zero is RX505); a chain that skipped it would hide the failure.
    structured, general = both(write_policy(
        tmp_path, ("flag/base", None, None, "no"), ("flag/a", "flag/base", "medicine.atc matches A10*", "yes"),
        ("flag/b", "flag/base", "10 / dispensing.months_in_use > 1 and medicine.atc matches B01*", "yes")))
    got = outcome(structured, case("A10BA02", months=0))
    assert got == outcome(general, case("A10BA02", months=0))
    assert isinstance(got, list) and got[0][0] == "RX505"


def test_an_exception_to_every_other_exception_is_tested_first(tmp_path: Path) -> None:
    # flag/stop is an exception to the general rule and to both of its exceptions: when it applies, it alone
    # decides, however many of the others apply.
    structured, general = both(write_policy(
        tmp_path, ("flag/base", None, None, "no"), ("flag/a", "flag/base", "medicine.atc matches A10*", "yes"),
        ("flag/b", "flag/base", "medicine.atc matches B01*", "medicine.price < 20.00 EUR"),
        ("flag/stop", "flag/base, flag/a, flag/b", "medicine.price > 5.00 EUR", "no")))
    assert "h = []" not in fast_source(structured)
    for atc in ("A10BA02", "B01AC09", "C10AA05"):
        for price in ("4.00", "9.00"):
            assert outcome(structured, case(atc, price=price)) == outcome(general, case(atc, price=price))
    assert outcome(structured, case("A10BA02", price="9.00"))[1][0] == ["flag/stop"]  # type: ignore[index]


@pytest.mark.parametrize("name", ["hollandzorg", "asr"])
def test_the_built_in_policies_decide_alike_both_ways(name: str) -> None:
    """Every example case, and random variations of them, through both kinds of code (values and reasons)."""
    structured, general = both(name)
    rng = random.Random(9)
    compared = 0
    for path in sorted((ROOT / "examples" / name).glob("*.yaml")):
        base = load_case(path, plans=structured.plans).to_mapping()
        variants = [base]
        for _ in range(40):
            variant = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
            section = variant.setdefault("medicine", {})
            section["atc"] = rng.choice(("N05BA04", "G03AA07", "J07AL02", "J07CA02", "J01CA04", "C10AA05",
                                         "B01AC09", "V06DB", "A10BA02"))
            variant.setdefault("prescription", {})["prescriber"] = rng.choice(("gp", "specialist", "dietician",
                                                                             "dentist"))
            variants.append(variant)
        for mapping in variants:
            try:
                the_case = case_from_mapping(mapping, plans=structured.plans)
            except RxError:
                continue
            assert outcome(structured, the_case) == outcome(general, the_case), (path, mapping)
            compared += 1
    assert compared > 100


def test_a_computation_written_twice_is_computed_once(tmp_path: Path) -> None:
    # `medicine.price * 3` in two rules' conditions: one local variable, computed where first reached.
    structured, general = both(write_policy(
        tmp_path, ("flag/base", None, None, "no"),
        ("flag/a", "flag/base", "medicine.price * 3 > 20.00 EUR", "yes"),
        ("flag/b", "flag/base", "medicine.price * 3 > 50.00 EUR and medicine.atc matches B01*", "yes")))
    assert fast_source(general).count("* 3") == 2 and fast_source(structured).count("* 3") == 1
    for atc in ("A10BA02", "B01AC09"):
        for price in ("4.00", "9.00", "20.00"):
            assert outcome(structured, case(atc, price=price)) == outcome(general, case(atc, price=price))


@pytest.mark.parametrize(("written", "price", "expected"), [
    ("max(0 EUR, medicine.price - 10.00 EUR)", "10.00", "0.00"),
    ("max(medicine.price - 10.00 EUR, 0 EUR)", "10.00", "0.00"),
    ("min(medicine.price - 4.00 EUR, 6 EUR)", "10.00", "6.00"),
    ("min(6 EUR, medicine.price - 4.00 EUR, 7.00 EUR)", "10.00", "6.00"),
    ("max(medicine.price * 2, medicine.price + 1.00 EUR)", "0.50", "1.50"),
])
def test_min_and_max_keep_what_the_builtins_return(tmp_path: Path, written: str, price: str, expected: str) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "rules.rxp").write_text(
        'policy p\n  title "P"\nend\n\ndecision fee: money\n  explain en "the fee"\nend\n\n'
        f'rule fee/only\n  source "test"\n  then fee = {written}\n  explain en "x"\n  explain nl "x"\nend\n',
        encoding="utf-8")
    structured, general = both(tmp_path / "p")
    assert "max(" not in fast_source(structured) and "min(" not in fast_source(structured)
    got = [str(evaluate(p, case("A10BA02", price=price), trace=False).values[0])  # type: ignore[arg-type]
           for p in (structured, general)]
    assert got == [expected, expected]
