"""Date parts, a date from parts, whole-number division and dates moved by days (issue 9's language items).

Each policy is written for the test (the layer of ``test_semantics``) and evaluated on cases whose
expected value is worked out here with Python's own date and integer arithmetic.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from test_semantics import codes, make_case, write_policy

from rxpolicy import CompiledPolicy, RxError, evaluate

PARTS = """
rule level-from-parts
  source "test"
  then level = year_of(insured.born_on) * 10000 + month_of(insured.born_on) * 100 + day_of(insured.born_on)
  explain en "the date of birth as a number"
end

rule allowed-birthday-this-year
  source "test"
  when date_from(year_of(dispensed_on), month_of(insured.born_on), 1) <= dispensed_on
  then allowed = yes
  explain en "the birthday month has begun"
end

rule not-allowed-birthday-this-year
  source "test"
  when date_from(year_of(dispensed_on), month_of(insured.born_on), 1) > dispensed_on
  then allowed = no
  explain en "the birthday month is still to come"
end

rule note-weeks
  source "test"
  then note = if remainder(dispensing.supply_days, 7) is 0 then "whole weeks" else not applicable
  explain en "whole weeks"
end
"""

DAYS = """
rule level-weeks
  source "test"
  then level = quotient(dispensing.supply_days, 7)
  explain en "whole weeks"
end

rule allowed-within-a-week
  source "test"
  when dispensed_on + 7 days <= insured.insured_until and dispensed_on - dispensing.supply_days days >= insured.insured_from
  then allowed = yes
  explain en "within the insured period"
end

rule not-allowed
  source "test"
  when not (dispensed_on + 7 days <= insured.insured_until and dispensed_on - dispensing.supply_days days >= insured.insured_from)
  then allowed = no
  explain en "outside"
end
"""


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    return write_policy(tmp_path_factory.mktemp("parts"), PARTS)


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    return write_policy(tmp_path_factory.mktemp("days"), DAYS)


@pytest.mark.parametrize("born", ["1970-05-01", "2000-02-29", "1999-12-31", "2024-01-15"])
@pytest.mark.parametrize("day", ["2025-01-01", "2025-05-01", "2025-12-31", "2024-02-29"])
def test_date_parts_and_a_date_from_parts(parts: CompiledPolicy, born: str, day: str) -> None:
    birth, on = dt.date.fromisoformat(born), dt.date.fromisoformat(day)
    evaluation = evaluate(parts, make_case(day, insured__born_on=born))
    assert evaluation.value("level") == birth.year * 10000 + birth.month * 100 + birth.day
    assert evaluation.value("allowed") is (dt.date(on.year, birth.month, 1) <= on)


@pytest.mark.parametrize("supply", [1, 6, 7, 13, 14, 30, 90])
def test_quotient_and_remainder_of_whole_numbers(parts: CompiledPolicy, days: CompiledPolicy, supply: int) -> None:
    assert evaluate(days, make_case(dispensing__supply_days=supply)).value("level") == supply // 7
    assert evaluate(parts, make_case(dispensing__supply_days=supply)).value("note") == (
        "whole weeks" if supply % 7 == 0 else None)


@pytest.mark.parametrize(("day", "until", "supply"), [
    ("2025-03-14", "2025-12-31", 30), ("2025-12-26", "2025-12-31", 30), ("2025-12-24", "2025-12-31", 30),
    ("2025-01-20", "2025-12-31", 19), ("2025-01-20", "2025-12-31", 20)])
def test_a_date_moved_by_days(days: CompiledPolicy, day: str, until: str, supply: int) -> None:
    on, end = dt.date.fromisoformat(day), dt.date.fromisoformat(until)
    start = dt.date(on.year, 1, 1)
    expected = on + dt.timedelta(days=7) <= end and on - dt.timedelta(days=supply) >= start
    case = make_case(day, insured__insured_until=until, dispensing__supply_days=supply)
    assert evaluate(days, case).value("allowed") is expected


def test_a_date_from_parts_that_is_no_date_is_an_evaluation_failure(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, PARTS.replace("month_of(insured.born_on), 1)", "2, day_of(insured.born_on))"))
    assert evaluate(policy, make_case("2024-03-01", insured__born_on="2000-02-29")).value("allowed") is True
    with pytest.raises(RxError) as raised:
        evaluate(policy, make_case("2025-03-01", insured__born_on="2000-02-29"))  # 29 February 2025 is no date
    assert codes(raised) == ["RX505"]
    with pytest.raises(RxError) as raised:
        evaluate(write_policy(tmp_path / "q", DAYS.replace("quotient(dispensing.supply_days, 7)",
                                                           "quotient(7, dispensing.supply_days - 30)")),
                 make_case(dispensing__supply_days=30))
    assert codes(raised) == ["RX505"]


@pytest.mark.parametrize(("expression", "code"), [
    ("year_of(dispensing.supply_days)", "RX348"), ("year_of(dispensed_on, dispensed_on)", "RX349"),
    ("quotient(dispensed_on, 7)", "RX348"), ("date_from(2025, 1)", "RX349")])
def test_a_function_given_the_wrong_arguments_is_refused(tmp_path: Path, expression: str, code: str) -> None:
    rules = f'rule r\n  source "test"\n  then level = {expression}\n  explain en "x"\nend\n'
    with pytest.raises(RxError) as raised:
        write_policy(tmp_path, rules)
    assert code in codes(raised)


def test_a_date_moved_by_days_builds_no_period_per_case(days: CompiledPolicy) -> None:
    # `+ 7 days` is one timedelta made when the policy is compiled; `- n days` a timedelta of the day count.
    python = days.epochs[-1].python.split("\ndef x_")[0]
    assert "date_add(" not in python and "Duration(" not in python


TEXT_MATCH = """
rule allowed-by-name
  source "test"
  when medicine.name matches "oxazepam*", "diazepam 5 mg tablet"
  then allowed = yes
  explain en "a named benzodiazepine"
end

rule not-allowed-by-name
  source "test"
  when not (medicine.name matches "oxazepam*", "diazepam 5 mg tablet")
  then allowed = no
  explain en "another medicine"
end
"""


@pytest.mark.parametrize(("name", "allowed"), [
    ("oxazepam 10 mg tablet", True), ("oxazepam", True), ("diazepam 5 mg tablet", True),
    ("diazepam 5 mg tablets", False), ("Oxazepam 10 mg", False), ("temazepam", False)])
def test_a_text_matches_its_beginnings_and_whole_texts(tmp_path: Path, name: str, allowed: bool) -> None:
    from rxpolicy.explain.views import because

    policy = write_policy(tmp_path, TEXT_MATCH)
    evaluation = evaluate(policy, make_case(medicine__name=name))
    assert evaluation.value("allowed") is allowed
    expected = ('begins with "oxazepam" or is "diazepam 5 mg tablet"' if allowed
                else 'does not begin with "oxazepam" and is not "diazepam 5 mg tablet"')
    assert because(evaluation, "allowed") == (f'the medicine "{name}" {expected}',)


def test_a_text_pattern_that_matches_everything_or_a_pattern_on_a_number_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RxError) as raised:
        write_policy(tmp_path / "a", TEXT_MATCH.replace('"oxazepam*"', '"*"'))
    assert "RX347" in codes(raised)
    with pytest.raises(RxError) as raised:
        write_policy(tmp_path / "b", TEXT_MATCH.replace("medicine.name matches", "dispensing.supply_days matches"))
    assert "RX342" in codes(raised)


def test_rxpolicy_check_and_fmt_take_a_text_match(tmp_path: Path) -> None:
    import subprocess
    import sys

    write_policy(tmp_path, TEXT_MATCH)
    cli = Path(sys.executable).parent / "rxpolicy"
    checked = subprocess.run([str(cli), "check", str(tmp_path / "p")], capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stderr
    assert "no shadowed rules" in checked.stdout
    formatted = subprocess.run([str(cli), "fmt", "--check", str(tmp_path / "p")], capture_output=True, text=True,
                               timeout=300)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
