"""A birthday on 29 February (issue 9's language items): where it falls in a year without 29 February is a declared
reading on the age fact (`leap day birthday on 1 March`, the default, or `on 28 February`), and `birthday(…)` lays
the 18th birthday of the excess by the same reading.

The expected values are the calendar worked out by hand: someone born on 29 February 2008 is 17 on
28 February 2026 and 18 on 1 March 2026 under the Dutch reading, 18 on 28 February 2026 under the month rule.
The built-in a.s.r. 2026 rules are used as they are, and in a copy whose facts declare the other reading.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from rxpolicy import CompiledPolicy, RxError, api, case_from_mapping, evaluate, load_policy
from rxpolicy.bulk.columnar import compile_columnar, evaluate_columnar
from rxpolicy.bulk.core import select_decisions
from rxpolicy.bulk.records import Chunk
from rxpolicy.bulk.run import BatchRun, evaluate_chunk
from rxpolicy.bulk.synth_files import claims_table
from rxpolicy.explain.views import because, reasons
from rxpolicy.tools.fmt import format_text
from rxpolicy.tools.lsp.complete import complete

ROOT = Path(__file__).resolve().parents[2]
DUTCH = "leap day birthday on 1 March"
MONTH_RULE = "leap day birthday on 28 February"


def vaccine_case(day: str, born: str = "2008-02-29") -> dict[str, Any]:
    """A diphtheria-polio-whooping-cough vaccine (Appendix 2: reimbursed under 18), dispensed on ``day``."""
    return {"dispensed_on": day, "insured": {"born_on": born}, "prescription": {"prescriber": "gp"},
            "medicine": {"name": "DTP vaccine", "atc": "J07CA02", "appendix_2": True, "price": "40.00"},
            "dispensing": {"supply_days": 1, "fees": {"dispensing": "7.50"}}}


@pytest.fixture(scope="module")
def dutch() -> CompiledPolicy:
    return load_policy("asr")


def rules_reading(root: Path, reading: str) -> Path:
    """A copy of the built-in rules whose age fact declares ``reading``."""
    shutil.copytree(ROOT / "rules", root / "rules")
    facts = root / "rules" / "statutory" / "facts.rxp"
    text = facts.read_text(encoding="utf-8")
    assert DUTCH in text, "the age fact declares its reading"
    facts.write_text(text.replace(DUTCH, reading), encoding="utf-8")
    return root / "rules"


@pytest.fixture(scope="module")
def month_rule(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    return load_policy(str(rules_reading(tmp_path_factory.mktemp("rules"), MONTH_RULE) / "asr"))


def decide(policy: CompiledPolicy, day: str, born: str = "2008-02-29") -> dict[str, object]:
    evaluation = evaluate(policy, case_from_mapping(vaccine_case(day, born), plans=policy.plans))
    return {name: evaluation.value(name) for name in ("appendix_2_conditions", "excess_exempt", "excess_charged")}


UNDER_18 = {"appendix_2_conditions": True, "excess_exempt": True, "excess_charged": Decimal("0.00")}
ADULT = {"appendix_2_conditions": False, "excess_exempt": False}


def adult(decided: dict[str, object]) -> bool:
    return {k: decided[k] for k in ADULT} == ADULT


@pytest.mark.parametrize(("day", "is_adult"), [("2026-02-27", False), ("2026-02-28", False), ("2026-03-01", True)])
def test_the_dutch_reading_turns_18_on_1_march(dutch: CompiledPolicy, day: str, is_adult: bool) -> None:
    decided = decide(dutch, day)
    assert adult(decided) if is_adult else decided == UNDER_18


@pytest.mark.parametrize(("day", "is_adult"), [("2026-02-27", False), ("2026-02-28", True), ("2026-03-01", True)])
def test_the_month_rule_turns_18_on_28_february(month_rule: CompiledPolicy, day: str, is_adult: bool) -> None:
    decided = decide(month_rule, day)
    assert adult(decided) if is_adult else decided == UNDER_18


@pytest.mark.parametrize("policy_name", ["dutch", "month_rule"])
def test_someone_born_on_another_day_is_not_affected(policy_name: str, request: pytest.FixtureRequest) -> None:
    policy = request.getfixturevalue(policy_name)
    assert adult(decide(policy, "2026-02-28", born="2008-02-28"))
    assert decide(policy, "2026-02-27", born="2008-02-28") == UNDER_18
    assert decide(policy, "2026-02-28", born="2008-03-01") == UNDER_18


@pytest.mark.parametrize(("policy_name", "en", "nl"), [
    ("dutch", "born on 29 February: in a year without 29 February the birthday counts on 1 March",
     "geboren op 29 februari: in een jaar zonder 29 februari telt de verjaardag op 1 maart"),
    ("month_rule", "born on 29 February: in a year without 29 February the birthday counts on 28 February",
     "geboren op 29 februari: in een jaar zonder 29 februari telt de verjaardag op 28 februari"),
])
def test_the_explanation_says_where_the_birthday_was_counted(policy_name: str, en: str, nl: str,
                                                             request: pytest.FixtureRequest) -> None:
    policy = request.getfixturevalue(policy_name)
    evaluation = evaluate(policy, case_from_mapping(vaccine_case("2026-02-28"), plans=policy.plans))
    # Under the Dutch reading the excess is not yet due (its rule tests the 18th birthday); under the month rule
    # it is, by the general rule, which tests nothing.
    decisions = ("appendix_2_conditions", "excess_exempt") if policy_name == "dutch" else ("appendix_2_conditions",)
    for lang, note in (("en", en), ("nl", nl)):
        for decision in decisions:
            age_reasons = [r for r in reasons(evaluation, decision, lang) if r.inputs]
            assert [i.sentence for r in age_reasons for i in r.inputs] == [note], (decision, lang)
    ages = [r for r in reasons(evaluation, "appendix_2_conditions", "en") if r.inputs]
    expected_age = 17 if policy_name == "dutch" else 18
    assert ages[0].sentence == f"the age in whole years on the dispensing date is {expected_age} " \
                               f"({'less than 18' if expected_age == 17 else 'not less than 18'})"


def test_no_note_for_someone_born_on_another_day(dutch: CompiledPolicy) -> None:
    evaluation = evaluate(dutch, case_from_mapping(vaccine_case("2026-02-28", born="2008-03-01"), plans=dutch.plans))
    assert not any(r.inputs for r in reasons(evaluation, "appendix_2_conditions", "en"))
    assert "the age in whole years on the dispensing date is 17 (less than 18)" in because(
        evaluation, "appendix_2_conditions")


# ------------------------------------------------------------------------------------------------ the columns

def _records(policy: CompiledPolicy) -> list[dict[str, Any]]:
    """Claims of people born on 29 February (and the days around it) dispensed around their birthdays, in every
    year of the policy: flat, as a claims file holds them."""
    records = []
    years = range(policy.epochs[0].start.year, policy.epochs[-1].start.year + 1)
    for year in years:
        for born in ("2008-02-29", "2004-02-29", f"{year - 18}-02-28", f"{year - 18}-03-01", "2012-02-29"):
            for day in (f"{year}-02-27", f"{year}-02-28", f"{year}-03-01", f"{year}-03-31", f"{year}-04-01"):
                if dt.date.fromisoformat(day) < dt.date.fromisoformat(born):
                    continue
                for atc in ("J07CA02", "N06BA04"):
                    records.append({"dispensed_on": day, "insured.born_on": born, "prescription.prescriber": "gp",
                                    "medicine.name": "x", "medicine.atc": atc, "medicine.appendix_2": True,
                                    "medicine.price": "40.00", "dispensing.supply_days": 1,
                                    "dispensing.fees.dispensing": "7.50"})
    return records


@pytest.mark.parametrize("policy_name", ["dutch", "month_rule"])
def test_the_columns_count_a_29_february_birthday_as_the_per_case_evaluator(
        policy_name: str, request: pytest.FixtureRequest) -> None:
    policy = request.getfixturevalue(policy_name)
    compiled = compile_columnar(policy)
    assert compiled.unsupported() == [], "`birthday(…)` compiles to columns"
    records = _records(policy)
    chunk = Chunk(index=0, first=1, count=len(records), table=claims_table(records))
    selection = select_decisions(policy)
    per_case = BatchRun(claims=Path("-"), input_format="parquet", policy=policy, selection=selection, out=None,
                        output_format="parquet", engine="per-case")
    expected = evaluate_chunk(per_case, chunk)
    counts: dict[str, int] = {}

    def fallback(positions: list[int]) -> pa.Table:
        return expected.take(positions)

    got = evaluate_columnar(compiled, chunk, selection, fallback, counts)
    assert got.equals(expected)
    assert counts.get("columnar") == len(records), counts   # every claim decided by the columns themselves


def test_the_two_readings_decide_the_same_claims_differently(dutch: CompiledPolicy,
                                                             month_rule: CompiledPolicy) -> None:
    records = _records(dutch)
    differ = [r for r in records
              if decide(dutch, r["dispensed_on"], r["insured.born_on"])
              != decide(month_rule, r["dispensed_on"], r["insured.born_on"])]
    # Only someone born on 29 February 2008, on 28 February 2026 (the vaccine and the excess both change).
    assert {(r["insured.born_on"], r["dispensed_on"]) for r in differ} == {("2008-02-29", "2026-02-28")}


# ------------------------------------------------------------------------------------------------ declaring it

def test_the_reading_is_refused_on_a_fact_that_counts_no_birthdays(tmp_path: Path) -> None:
    rules = rules_reading(tmp_path, DUTCH)
    facts = rules / "statutory" / "facts.rxp"
    text = facts.read_text(encoding="utf-8")
    marker = "  computed by days_in_year (dispensed_on)\n"
    facts.write_text(text.replace(marker, marker + "  leap day birthday on 28 February\n"), encoding="utf-8")
    with pytest.raises(RxError) as raised:
        api.check(str(rules / "asr"))
    (found,) = [d for d in raised.value.diagnostics if d.code == "RX380"]
    assert found.span is not None and found.span.path.endswith("facts.rxp")
    line = facts.read_text(encoding="utf-8").splitlines()[found.span.line - 1]
    assert line == "  leap day birthday on 28 February" and found.span.column == 3
    assert "`days_in_year` counts no birthdays" in found.message
    assert "`whole_years_between`" in found.help


def test_two_readings_in_one_policy_are_refused(tmp_path: Path) -> None:
    rules = rules_reading(tmp_path, DUTCH)
    (rules / "asr" / "age.rxp").write_text(
        "fact insured.age_in_years: number\n  computed by whole_years_between (insured.born_on, dispensed_on)\n"
        f"  {MONTH_RULE}\n  explain en \"the age\"\nend\n", encoding="utf-8")
    with pytest.raises(RxError) as raised:
        api.check(str(rules / "asr"))
    (found,) = [d for d in raised.value.diagnostics if d.code == "RX380"]
    assert found.span is not None and found.span.path.endswith("age.rxp") and found.span.line == 3
    assert "on 28 February, and `insured.age` on 1 March" in found.message
    assert found.help.startswith("write `leap day birthday on 1 March` on both")


def test_a_misspelt_day_is_refused_with_the_two_it_may_be(tmp_path: Path) -> None:
    rules = rules_reading(tmp_path, "leap day birthday on 1 april")
    with pytest.raises(RxError) as raised:
        api.check(str(rules / "asr"))
    (found,) = raised.value.diagnostics
    assert found.code in ("RX103", "RX104") and "`1 March` or `28 February`" in found.message + found.help


def test_the_formatter_keeps_the_reading_on_one_line() -> None:
    text = ("fact insured.age: number\n  explain en \"the age\"\n  leap   day\n  birthday on 28\n February\n"
            "  computed by whole_years_between (insured.born_on, dispensed_on)\nend\n")
    formatted = format_text(text)
    assert "  computed by whole_years_between (insured.born_on, dispensed_on)\n  leap day birthday on 28 February\n" \
        in formatted
    assert format_text(formatted) == formatted


def test_completion_offers_the_reading_in_a_fact() -> None:
    text = "fact insured.age: number\n  computed by whole_years_between (insured.born_on, dispensed_on)\n  "
    _, offered = complete(None, text, len(text), None)
    assert "leap day birthday on" in {c.label for c in offered}
    text += "leap day birthday on "
    _, offered = complete(None, text, len(text), None)
    assert {c.label for c in offered} >= {"1 March", "28 February"}
