"""Every boundary of HollandZorg's dispensing periods (issue 3), through the Python API.

The expectations come from 002_3f9fc1b668f8b9ea.txt, "How long do we reimburse medicines?", in the
order ../shared/spec/README.md fixes (pill, acute antibiotic, new medicine, chronic with the
benzodiazepine exception, otherwise), and from the contract's month arithmetic: a supply of
``supply_days`` fits ``N months`` when ``dispensed_on + supply_days days <= dispensed_on + N months``,
a day missing in the target month becoming that month's last day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pytest

from rxpolicy import CompiledPolicy, Evaluation, case_from_mapping, evaluate, load_policy
from rxpolicy.explain.words import json_value

OTHER = "dispensing-period/other"
PILL = "dispensing-period/contraceptive-pill"
ANTIBIOTIC = "dispensing-period/acute-antibiotic"
NEW = "dispensing-period/new-medicine"
CHRONIC = "dispensing-period/chronic"
BENZODIAZEPINES = "dispensing-period/benzodiazepines"
FITS = "supply/fits-maximum"

#: Chronic use the contract's row (4) accepts: stated chronic, 6 months in use, adjusted.
CHRONIC_USE: Mapping[str, object] = {"prescription.chronic": True, "dispensing.months_in_use": 6,
                                     "dispensing.adjusted": True}


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    """The built-in HollandZorg policy, compiled once for this module."""
    return load_policy("hollandzorg")


def _evaluate(policy: CompiledPolicy, changes: Mapping[str, object], day: str = "2025-03-14") -> Evaluation:
    """An adult on amlodipine (no period of its own), with some fields changed."""
    base = case_from_mapping({
        "dispensed_on": day, "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
        "medicine": {"name": "amlodipine 5 mg tablet", "atc": "C08CA01", "price": "10.00"},
        "dispensing": {"supply_days": 30, "fees": {"dispensing": "7.50"}}})
    return evaluate(policy, base.replace(changes))


def _period(evaluation: Evaluation) -> tuple[object, object, str, str]:
    """max_supply and min_supply in the contract's JSON form, with the rules that decided them."""
    return (json_value(evaluation["max_supply"].value), json_value(evaluation["min_supply"].value),
            evaluation["max_supply"].rule.id, evaluation["min_supply"].rule.id)


def _supply(evaluation: Evaluation) -> tuple[bool, str]:
    ok = evaluation["supply_ok"]
    assert isinstance(ok.value, bool)
    return ok.value, ok.rule.id


# ----------------------------------------------------------------------------- benzodiazepines and chronic use

@pytest.mark.parametrize("atc", ["N05BA04", "N05BA12", "N05BB01", "N05BE01", "N05CD02", "N05CF02", "N05CH01"])
def test_benzodiazepines_hypnotics_and_anxiolytics_beat_the_chronic_rule(policy: CompiledPolicy, atc: str) -> None:
    evaluation = _evaluate(policy, {"medicine.atc": atc, **CHRONIC_USE, "dispensing.supply_days": 31})
    assert _period(evaluation) == ("1 month", None, BENZODIAZEPINES, BENZODIAZEPINES)
    assert _supply(evaluation) == (True, FITS)
    assert _supply(_evaluate(policy, {"medicine.atc": atc, **CHRONIC_USE, "dispensing.supply_days": 90})) == (
        False, FITS)


@pytest.mark.parametrize("atc", ["N05AH03", "N06AB10", "N03AE01", "C08CA01"])
def test_other_medicines_in_chronic_use_get_three_to_twelve_months(policy: CompiledPolicy, atc: str) -> None:
    evaluation = _evaluate(policy, {"medicine.atc": atc, **CHRONIC_USE, "dispensing.supply_days": 90})
    assert _period(evaluation) == ("12 months", "3 months", CHRONIC, CHRONIC)
    assert _supply(evaluation) == (True, FITS)


def test_the_chronic_rule_is_overridden_not_skipped_for_a_benzodiazepine(policy: CompiledPolicy) -> None:
    evaluation = _evaluate(policy, {"medicine.atc": "N05BA04", **CHRONIC_USE})
    statuses = {t.rule.id: (t.status.name, tuple(r.id for r in t.beaten_by)) for t in evaluation.explain("max_supply")}
    assert statuses[BENZODIAZEPINES] == ("DECIDED", ())
    assert statuses[CHRONIC] == ("OVERRIDDEN", (BENZODIAZEPINES,))


def test_a_new_benzodiazepine_gets_the_new_medicine_row_not_the_exception(policy: CompiledPolicy) -> None:
    evaluation = _evaluate(policy, {"medicine.atc": "N05BA04", **CHRONIC_USE, "dispensing.new_to_patient": True,
                                    "dispensing.supply_days": 15})
    assert _period(evaluation) == ("15 days", None, NEW, NEW)
    assert _supply(evaluation) == (True, FITS)
    assert _supply(_evaluate(policy, {"medicine.atc": "N05BA04", **CHRONIC_USE, "dispensing.new_to_patient": True,
                                      "dispensing.supply_days": 16}))[0] is False


def test_a_benzodiazepine_without_chronic_use_gets_the_general_month(policy: CompiledPolicy) -> None:
    evaluation = _evaluate(policy, {"medicine.atc": "N05BA04"})
    assert _period(evaluation) == ("1 month", None, OTHER, OTHER)


@pytest.mark.parametrize(("months", "rule", "maximum", "minimum"), [
    (0, OTHER, "1 month", None), (5, OTHER, "1 month", None), (6, CHRONIC, "12 months", "3 months"),
    (7, CHRONIC, "12 months", "3 months"), (120, CHRONIC, "12 months", "3 months")])
def test_chronic_use_starts_at_six_months(policy: CompiledPolicy, months: int, rule: str, maximum: str,
                                          minimum: str | None) -> None:
    evaluation = _evaluate(policy, {**CHRONIC_USE, "dispensing.months_in_use": months})
    assert _period(evaluation) == (maximum, minimum, rule, rule)


@pytest.mark.parametrize("missing", [{"dispensing.adjusted": False}, {"prescription.chronic": False}])
def test_chronic_use_needs_a_stated_condition_and_an_adjusted_patient(policy: CompiledPolicy,
                                                                      missing: Mapping[str, object]) -> None:
    evaluation = _evaluate(policy, {**CHRONIC_USE, "dispensing.months_in_use": 8, **missing,
                                    "dispensing.supply_days": 90})
    assert _period(evaluation) == ("1 month", None, OTHER, OTHER)
    assert _supply(evaluation) == (False, FITS)


# ----------------------------------------------------------------------------- a medicine new to the patient

@pytest.mark.parametrize(("days", "smallest_pack", "ok"), [
    (15, False, True), (16, False, False), (30, False, False), (30, True, True), (15, True, True), (90, True, True)])
def test_a_new_medicine_gets_15_days_or_the_smallest_pack(policy: CompiledPolicy, days: int, smallest_pack: bool,
                                                          ok: bool) -> None:
    evaluation = _evaluate(policy, {"dispensing.new_to_patient": True, "dispensing.supply_days": days,
                                    "dispensing.smallest_pack": smallest_pack})
    assert _period(evaluation)[::2] == ("15 days", NEW)
    assert _supply(evaluation) == (ok, FITS)
    assert evaluation["covered"].value is ok


def test_the_smallest_pack_alone_does_not_stretch_the_general_month(policy: CompiledPolicy) -> None:
    evaluation = _evaluate(policy, {"dispensing.smallest_pack": True, "dispensing.supply_days": 60})
    assert _period(evaluation)[::2] == ("1 month", OTHER)
    assert _supply(evaluation) == (False, FITS)


# ----------------------------------------------------------------------------- acute antibiotics

@pytest.mark.parametrize(("course", "days", "ok"), [
    (40, 40, True), (40, 41, False), (40, 31, True), (7, 31, True), (7, 32, False), (None, 31, True),
    (None, 32, False)])
def test_an_acute_antibiotic_gets_one_month_or_one_course(policy: CompiledPolicy, course: int | None, days: int,
                                                          ok: bool) -> None:
    # 2025-01-10 + 1 month = 2025-02-10: a month of 31 days
    evaluation = _evaluate(policy, {"medicine.atc": "J01CA04", "prescription.acute": True,
                                    "prescription.course_days": course, "dispensing.supply_days": days},
                           day="2025-01-10")
    assert _period(evaluation) == ("1 month", None, ANTIBIOTIC, ANTIBIOTIC)
    assert _supply(evaluation) == (ok, FITS)


def test_a_non_acute_antibiotic_does_not_get_the_course(policy: CompiledPolicy) -> None:
    evaluation = _evaluate(policy, {"medicine.atc": "J01CA04", "prescription.course_days": 40,
                                    "dispensing.supply_days": 40}, day="2025-01-10")
    assert _period(evaluation)[::2] == ("1 month", OTHER)
    assert _supply(evaluation) == (False, FITS)


@pytest.mark.parametrize("atc", ["J02AC01", "J05AB01", "P01AB01"])
def test_other_anti_infectives_are_not_the_antibiotic_row(policy: CompiledPolicy, atc: str) -> None:
    # The contract identifies antibiotics by ATC J01 only.
    evaluation = _evaluate(policy, {"medicine.atc": atc, "prescription.acute": True, "prescription.course_days": 40,
                                    "dispensing.supply_days": 40})
    assert _period(evaluation)[::2] == ("1 month", OTHER)


def test_a_new_acute_antibiotic_follows_the_antibiotic_row(policy: CompiledPolicy) -> None:
    evaluation = _evaluate(policy, {"medicine.atc": "J01CA04", "prescription.acute": True,
                                    "prescription.course_days": 20, "dispensing.new_to_patient": True,
                                    "dispensing.supply_days": 20})
    assert _period(evaluation)[::2] == ("1 month", ANTIBIOTIC)
    assert _supply(evaluation) == (True, FITS)


# ----------------------------------------------------------------------------- the pill

@pytest.mark.parametrize(("days", "ok"), [(365, True), (366, False), (30, True)])
def test_the_pill_gets_twelve_months(policy: CompiledPolicy, days: int, ok: bool) -> None:
    # 2025-03-14 + 12 months = 2026-03-14, 365 days later
    evaluation = _evaluate(policy, {"medicine.atc": "G03AA07", "medicine.route": "oral",
                                    "dispensing.supply_days": days})
    assert _period(evaluation) == ("12 months", None, PILL, PILL)
    assert _supply(evaluation) == (ok, FITS)


def test_the_pill_comes_before_chronic_use(policy: CompiledPolicy) -> None:
    evaluation = _evaluate(policy, {"medicine.atc": "G03AA07", **CHRONIC_USE})
    assert _period(evaluation) == ("12 months", None, PILL, PILL)


@pytest.mark.parametrize(("atc", "route"), [("G03AC08", "subcutaneous"), ("G03AA07", "other"),
                                            ("G02BA03", "oral"), ("G03BA03", "oral")])
def test_a_contraceptive_that_is_not_the_oral_g03a_pill_is_not_the_pill_row(policy: CompiledPolicy, atc: str,
                                                                             route: str) -> None:
    evaluation = _evaluate(policy, {"medicine.atc": atc, "medicine.route": route, "dispensing.supply_days": 365})
    assert _period(evaluation)[::2] == ("1 month", OTHER)
    assert _supply(evaluation) == (False, FITS)


# ----------------------------------------------------------------------------- calendar months

@pytest.mark.parametrize(("day", "month_end", "fits", "too_long"), [
    ("2025-01-31", "2025-02-28", 28, 29),   # 31 January + 1 month = 28 February
    ("2024-01-31", "2024-02-29", 29, 30),   # in a leap year: 29 February
    ("2025-03-31", "2025-04-30", 30, 31),   # 30-day month
    ("2025-02-28", "2025-03-28", 28, 29),
    ("2024-02-29", "2024-03-29", 29, 30),
    ("2025-12-31", "2026-01-31", 31, 32),   # across the year end
    ("2025-01-10", "2025-02-10", 31, 32)])
def test_one_month_is_a_calendar_month_from_the_dispensing_date(policy: CompiledPolicy, day: str, month_end: str,
                                                                fits: int, too_long: int) -> None:
    start = dt.date.fromisoformat(day)
    assert start + dt.timedelta(days=fits) == dt.date.fromisoformat(month_end)
    assert _supply(_evaluate(policy, {"dispensing.supply_days": fits}, day=day)) == (True, FITS)
    assert _supply(_evaluate(policy, {"dispensing.supply_days": too_long}, day=day)) == (False, FITS)


@pytest.mark.parametrize(("day", "fits", "too_long"), [
    ("2024-02-29", 365, 366),   # + 12 months = 2025-02-28
    ("2024-03-01", 365, 366),   # + 12 months = 2025-03-01
    ("2023-03-01", 366, 367),   # + 12 months = 2024-03-01, across 29 February 2024
    ("2024-01-31", 366, 367)])  # + 12 months = 2025-01-31
def test_twelve_months_are_calendar_months(policy: CompiledPolicy, day: str, fits: int, too_long: int) -> None:
    pill = {"medicine.atc": "G03AA07", "medicine.route": "oral"}
    assert _supply(_evaluate(policy, {**pill, "dispensing.supply_days": fits}, day=day)) == (True, FITS)
    assert _supply(_evaluate(policy, {**pill, "dispensing.supply_days": too_long}, day=day)) == (False, FITS)


def test_twelve_months_of_chronic_use_from_29_february(policy: CompiledPolicy) -> None:
    chronic = {**CHRONIC_USE, "dispensing.supply_days": 365}
    evaluation = _evaluate(policy, chronic, day="2024-02-29")
    assert _period(evaluation)[::2] == ("12 months", CHRONIC)
    assert _supply(evaluation) == (True, FITS)
    assert _supply(_evaluate(policy, {**chronic, "dispensing.supply_days": 366}, day="2024-02-29"))[0] is False
