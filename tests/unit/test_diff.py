"""``rxpolicy diff`` (issue 5, item 4): which cases two policies, or one policy on two dates, decide differently.

The HollandZorg texts name one dated change between 2023 and 2025: "As of 1 January 2024, esketamine
nasal spray no longer needs prior permission" (002_3f9fc1b668f8b9ea.txt). So the 2023 → 2025 diff must
show that change and what follows from it, and nothing else. Every finding is checked again here by
evaluating its witness on both sides; the rendered diff is snapshotted as a reviewer reads it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

import rxpolicy.tools.diff
from rxpolicy import Case, CompiledPolicy, PolicyStore, RxError, case_from_mapping, evaluate, load_case
from rxpolicy.cli import cli
from rxpolicy.diagnostics import Diagnostic
from rxpolicy.explain.diff import DiffReport, Finding, diff_dict, diff_json, diff_markdown, diff_text
from rxpolicy.language.values import add_months, whole_years_between
from rxpolicy.tools.diff import diff, move_case, parse_side
from rxpolicy.tools.explore import base_case

ROOT = Path(__file__).resolve().parents[2]


class TextSnapshot(SingleFileSnapshotExtension):
    """One plain-text file per snapshot, readable in a review."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"


class MarkdownSnapshot(TextSnapshot):
    file_extension = "md"


class JsonSnapshot(TextSnapshot):
    file_extension = "json"


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    """Compiled policies shared by the tests of this module."""
    return PolicyStore()


@pytest.fixture(scope="module")
def esketamine(store: PolicyStore) -> DiffReport:
    """HollandZorg on 1 June 2023 against 1 June 2025 (the same day of the year, neither a leap year)."""
    return diff(parse_side("hollandzorg@2023-06-01", store), parse_side("hollandzorg@2025-06-01", store))


def _ids(finding: Finding, side: str) -> tuple[str, ...]:
    verdict = finding.old if side == "old" else finding.new
    return tuple(r.id for r in verdict.rules.get(finding.decision, ()))


def _replayed(report: DiffReport, finding: Finding) -> None:
    """The finding holds when its witness is evaluated again on both sides."""
    old = evaluate(report.old.policy, finding.witness, trace=False)
    new = evaluate(report.new.policy, finding.moved, trace=False)
    name = finding.decision
    assert old[name].value != new[name].value, name
    assert (old[name].value, new[name].value) == (finding.old.values[name], finding.new.values[name])
    assert tuple(r.id for r in old[name].rules) == _ids(finding, "old")
    assert tuple(r.id for r in new[name].rules) == _ids(finding, "new")


# ------------------------------------------------------------------------------------------ HollandZorg 2023 → 2025

def test_esketamine_no_longer_needs_authorisation(esketamine: DiffReport) -> None:
    [finding] = [f for f in esketamine.shown if f.decision == "authorisation_required"]
    assert (finding.old.values["authorisation_required"], finding.new.values["authorisation_required"]) == (True, False)
    assert _ids(finding, "old") == ("authorisation/esketamine-nasal-spray",)
    assert _ids(finding, "new") == ("authorisation/not-required",)
    rule = finding.old.rules["authorisation_required"][0]
    assert rule.layer == "hollandzorg"
    assert "As of 1 January 2024, esketamine nasal spray no longer needs prior permission" in rule.source
    assert finding.kind == "rule"
    assert (finding.witness.get("medicine.atc"), finding.witness.get("medicine.route")) == ("N06AX27", "nasal")


def test_a_witness_names_no_other_medicine_than_its_atc_code(esketamine: DiffReport) -> None:
    base = base_case(esketamine.old.policy, esketamine.old.day)
    named = {base.get("medicine.atc"): base.get("medicine.name")}
    for finding in esketamine.findings:
        atc = finding.witness.get("medicine.atc")
        assert finding.witness.get("medicine.name") == named.get(atc, f"medicine with ATC {atc}"), finding.decision
        assert finding.moved.get("medicine.name") == finding.witness.get("medicine.name")
    assert "name: amlodipine 5 mg tablet\n      atc: N06AX27" not in diff_text(esketamine)
    assert "name: medicine with ATC N06AX27\n      atc: N06AX27" in diff_text(esketamine)


def test_the_knock_on_effects_are_shown_and_nothing_else(esketamine: DiffReport) -> None:
    shown = [f for f in esketamine.shown if not f.calendar_only]
    decisions = {f.decision for f in shown}
    assert {"authorisation_required", "authorisation_ok", "covered", "excess_charged", "insurer_pays",
            "patient_pays"} <= decisions
    assert decisions <= {"authorisation_required", "authorisation_ok", "covered", "personal_contribution",
                         "excess_charged", "insurer_pays", "plan_pays", "patient_pays"}
    for finding in shown:
        # Nothing spurious: every difference is an esketamine nasal spray that had no valid authorisation.
        assert (finding.witness.get("medicine.atc"), finding.witness.get("medicine.route")) == ("N06AX27", "nasal")
        assert finding.old.values["authorisation_ok"] is False and finding.new.values["authorisation_ok"] is True
        assert finding.decision == "authorisation_required" or finding.kind == "follows", finding.decision
        _replayed(esketamine, finding)


def test_authorisation_missing_and_not_valid_are_two_ways_covered_changes(esketamine: DiffReport) -> None:
    covered = [f for f in esketamine.shown if f.decision == "covered"]
    assert sorted(_ids(f, "old") for f in covered) == [("coverage/authorisation-missing",),
                                                       ("coverage/authorisation-not-valid",)]
    assert all(_ids(f, "new") == ("coverage/conditions-met",) for f in covered)
    not_valid = next(f for f in covered if _ids(f, "old") == ("coverage/authorisation-not-valid",))
    granted, until = not_valid.witness.get("authorisation.granted_on"), not_valid.witness.get(
        "authorisation.valid_until")
    assert isinstance(granted, dt.date) and isinstance(until, dt.date)
    assert not granted <= not_valid.witness.dispensed_on <= until


def test_every_witness_is_minimal(esketamine: DiffReport, store: PolicyStore) -> None:
    base = base_case(esketamine.old.policy, esketamine.old.day)
    for finding in esketamine.findings:
        for path in (p for p in ("medicine.atc", "medicine.route", "insured.born_on", "insured.plan",
                                 "medicine.price", "medicine.reimbursement_limit", "dispensing.supply_days")
                     if finding.witness.get(p) != base.get(p)):
            reverted = finding.witness.replace({path: base.get(path)})
            old = evaluate(esketamine.old.policy, reverted, trace=False)[finding.decision]
            new = evaluate(esketamine.new.policy, move_case(reverted, esketamine.new.day), trace=False)[
                finding.decision]
            same_group = old.value != new.value and (tuple(r.id for r in old.rules), tuple(r.id for r in new.rules)) \
                == (_ids(finding, "old"), _ids(finding, "new"))
            assert not same_group, f"{finding.decision}: {path} is not needed in the witness"


def test_what_only_the_calendar_changes_is_left_out_unless_asked(esketamine: DiffReport, store: PolicyStore) -> None:
    assert esketamine.left_out and not any(f.calendar_only for f in esketamine.shown)
    assert "--calendar shows them" in diff_text(esketamine)
    full = diff(esketamine.old, esketamine.new, calendar=True)
    [supply] = [f for f in full.shown if f.calendar_only and f.decision == "supply_ok"]
    assert supply.kind == "calendar" and _ids(supply, "old") == _ids(supply, "new") == ("supply/fits-maximum",)
    # The same rule: 12 months from 1 June 2023 hold 366 days (29 February 2024), from 1 June 2025 they hold 365.
    days = supply.witness.get("dispensing.supply_days")
    assert isinstance(days, int)
    for day, fits in ((dt.date(2023, 6, 1), supply.old.values["supply_ok"]),
                      (dt.date(2025, 6, 1), supply.new.values["supply_ok"])):
        assert (day + dt.timedelta(days=days) <= add_months(day, 12)) is fits
    _replayed(full, supply)


def test_years_without_a_rule_change_show_nothing(store: PolicyStore) -> None:
    report = diff(parse_side("hollandzorg@2024-06-01", store), parse_side("hollandzorg@2025-06-01", store))
    assert [f for f in report.findings if not f.calendar_only] == []
    assert "No rule or amount decides any case differently." in diff_text(report)
    same = diff(parse_side("hollandzorg@2025-06-01", store), parse_side("hollandzorg@2025-06-01", store))
    assert same.findings == ()


def test_the_diff_as_text(esketamine: DiffReport, snapshot: SnapshotAssertion) -> None:
    assert diff_text(esketamine) == snapshot(extension_class=TextSnapshot)


def test_the_diff_as_markdown(esketamine: DiffReport, snapshot: SnapshotAssertion) -> None:
    assert diff_markdown(esketamine) == snapshot(extension_class=MarkdownSnapshot)


def test_the_diff_as_json(esketamine: DiffReport, snapshot: SnapshotAssertion) -> None:
    assert diff_json(esketamine) == snapshot(extension_class=JsonSnapshot)


def test_the_diff_is_the_same_every_time(esketamine: DiffReport, store: PolicyStore) -> None:
    again = diff(parse_side("hollandzorg@2023-06-01", store), parse_side("hollandzorg@2025-06-01", store))
    assert diff_json(again) == diff_json(esketamine)


# ------------------------------------------------------------------------------------------ HollandZorg → a.s.r.

def test_hollandzorg_against_asr(store: PolicyStore) -> None:
    report = diff(parse_side("hollandzorg@2025-06-01", store), parse_side("asr@2026-06-01", store))
    by_rules = {(f.decision, _ids(f, "old"), _ids(f, "new")): f for f in report.shown}
    # a.s.r. reimburses a group without a preferred medicine up to its maximum (rules/asr/preference.rxp).
    preference = by_rules[("preference_met", ("preference/more-than-3-percent-above-cheapest",),
                           ("preference/group-without-preferred-medicine",))]
    price, cheapest = preference.witness.get("medicine.price"), preference.witness.get("medicine.cheapest_in_group")
    assert isinstance(price, type(cheapest)) and price > cheapest * 103 / 100  # type: ignore[operator]
    # a.s.r. names no plan that pays the statutory personal contribution.
    plans = [f for (decision, _, new), f in by_rules.items() if decision == "plan_pays"
             and new == ("plans/none-pay-the-contribution",)]
    assert plans and all(f.witness.get("insured.plan") in ("Compact", "No Risk II") for f in plans)
    for finding in report.shown:
        _replayed(report, finding)


# ------------------------------------------------------------------------------------------ small policies

_TINY = """\
layer tiny
  title "A tiny policy"
  kind statutory
end

decision covered: yes or no
  explain en "the dispensing is reimbursed"
  explain nl "de terhandstelling wordt vergoed"
end

rule coverage/base
  source "test, base"
  then covered = yes
  explain en "Covered."
  explain nl "Vergoed."
end

rule coverage/age
  exception to coverage/base
  source "test, age"
  when insured.age >= 65
  then covered = no
  explain en "Not covered from an age."
  explain nl "Niet vergoed vanaf een leeftijd."
end
"""


@pytest.fixture()
def tiny(tmp_path: Path) -> tuple[str, str]:
    """Two versions of a one-rule policy: not covered from 65, then from 67."""
    for name, age in (("old", 65), ("new", 67)):
        directory = tmp_path / name / "tiny"
        directory.mkdir(parents=True)
        (directory / "rules.rxp").write_text(_TINY.replace(">= 65", f">= {age}"), encoding="utf-8")
    return str(tmp_path / "old" / "tiny"), str(tmp_path / "new" / "tiny")


def _person(age: int, day: dt.date = dt.date(2025, 6, 1)) -> Case:
    return case_from_mapping({"dispensed_on": day, "insured": {"born_on": add_months(day, -12 * age)},
                              "prescription": {"prescriber": "gp"},
                              "medicine": {"name": "a medicine", "atc": "C08CA01", "price": "10.00"},
                              "dispensing": {"supply_days": 30}})


def test_a_raised_age_limit_shows_with_a_person_between_the_limits(tiny: tuple[str, str], store: PolicyStore) -> None:
    old, new = parse_side(f"{tiny[0]}@2025-06-01", store), parse_side(f"{tiny[1]}@2025-06-01", store)
    [finding] = diff(old, new).findings
    assert (finding.decision, _ids(finding, "old"), _ids(finding, "new")) == ("covered", ("coverage/age",),
                                                                               ("coverage/base",))
    born = finding.witness.get("insured.born_on")
    assert isinstance(born, dt.date) and whole_years_between(born, dt.date(2025, 6, 1)) in (65, 66)
    assert finding.kind == "rule" and not finding.calendar_only


def test_cases_from_files(tiny: tuple[str, str], store: PolicyStore, tmp_path: Path) -> None:
    cases = [(_person(40), "forty.yaml"), (_person(66), "sixty-six.yaml"), (_person(70), "seventy.yaml")]
    old, new = parse_side(f"{tiny[0]}@2025-06-01", store), parse_side(f"{tiny[1]}@2025-06-01", store)
    [finding] = diff(old, new, cases).findings
    assert finding.origin == "sixty-six.yaml"
    assert diff(old, new, [cases[0], cases[2]]).findings == ()


def test_a_case_file_keeps_its_own_medicine_in_the_witness(tiny: tuple[str, str], store: PolicyStore) -> None:
    # The finding needs no ATC code: the witness still shows the file's medicine, name and code together.
    case = _person(66).replace({"medicine.name": "simvastatin 40 mg tablet", "medicine.atc": "C10AA01"})
    old, new = parse_side(f"{tiny[0]}@2025-06-01", store), parse_side(f"{tiny[1]}@2025-06-01", store)
    [finding] = diff(old, new, [(case, "simvastatin.yaml")]).findings
    assert (finding.witness.get("medicine.name"), finding.witness.get("medicine.atc")) == (
        "simvastatin 40 mg tablet", "C10AA01")


def test_a_case_file_a_side_cannot_load_is_reported_not_compared(store: PolicyStore) -> None:
    # a.s.r. declares no supplementary plans: `rxpolicy eval --policy asr` refuses a case with `plan: Compact`.
    compact = ROOT / "examples" / "hollandzorg" / "contribution-part-year-compact.yaml"
    plain = ROOT / "examples" / "hollandzorg" / "pill-age-19.yaml"
    with pytest.raises(RxError) as refused:
        load_case(compact, plans=store.load("asr").plans)
    cases = [(load_case(path), path.name) for path in (compact, plain)]
    report = diff(parse_side("hollandzorg@2025-06-01", store), parse_side("asr@2026-06-01", store), cases)
    [not_compared] = report.not_compared
    [eval_says] = refused.value.diagnostics
    assert (not_compared.origin, not_compared.side, not_compared.problem.code, not_compared.problem.message) == (
        compact.name, "new", eval_says.code, eval_says.message)
    assert report.findings and {f.origin for f in report.findings} == {plain.name}
    assert f"{compact.name}: the new side `asr@2026-06-01` cannot load it: RX407: " in diff_text(report)
    assert json.loads(diff_json(report))["not_compared"] == [
        {"file": compact.name, "side": "new", "code": "RX407", "message": not_compared.problem.message}]
    assert f"- {compact.name}: the new side" in diff_markdown(report)


def test_a_case_one_side_cannot_decide_is_a_group_of_its_own(tiny: tuple[str, str], store: PolicyStore,
                                                              tmp_path: Path) -> None:
    gap = tmp_path / "gap" / "tiny"
    gap.mkdir(parents=True)
    # The base rule applies under 80 only: from 80 the new version decides nothing (RX502).
    rules = _TINY.replace("  then covered = yes", "  when insured.age < 80\n  then covered = yes")
    (gap / "rules.rxp").write_text(rules, encoding="utf-8")
    report = diff(parse_side(f"{tiny[0]}@2025-06-01", store), parse_side(f"{gap}@2025-06-01", store))
    [finding] = report.findings
    assert (finding.decision, finding.kind, finding.old.error, finding.new.error and finding.new.error.code) == (
        "", "error", None, "RX502")
    born = finding.witness.get("insured.born_on")
    assert isinstance(born, dt.date) and whole_years_between(born, dt.date(2025, 6, 1)) >= 80
    assert "the case: decides → cannot decide (RX502)" in diff_text(report)


# ------------------------------------------------------------------------------------------ the same case on two dates

def test_a_case_moves_with_all_its_dates() -> None:
    case = _person(17, dt.date(2023, 6, 1)).replace({
        "insured.insured_from": dt.date(2023, 3, 15), "authorisation.granted_on": dt.date(2023, 5, 1),
        "authorisation.valid_until": dt.date(2023, 6, 1)})
    moved = move_case(case, dt.date(2025, 6, 1))
    assert moved.dispensed_on == dt.date(2025, 6, 1)
    assert moved.get("insured.born_on") == dt.date(2008, 6, 1) and moved.get("insured.age") == 17
    assert moved.get("insured.insured_from") == dt.date(2025, 3, 15)
    assert moved.get("insured.insured_until") == dt.date(2025, 12, 31)  # the default follows the year
    assert moved.get("insured.days_insured") == case.get("insured.days_insured")
    assert (moved.get("authorisation.granted_on"), moved.get("authorisation.valid_until")) == (
        dt.date(2025, 5, 1), dt.date(2025, 6, 1))
    assert moved == case.replace({"dispensed_on": dt.date(2025, 6, 1), "insured.born_on": dt.date(2008, 6, 1),
                                  "insured.insured_from": dt.date(2025, 3, 15),
                                  "authorisation.granted_on": dt.date(2025, 5, 1),
                                  "authorisation.valid_until": dt.date(2025, 6, 1)})
    assert move_case(moved, dt.date(2023, 6, 1)) == case


def _insured(case: Case) -> tuple[object, object, object]:
    """Where the dispensing date lies in the insured period (-1 before, 0 in, 1 after), the period, days insured."""
    start, end, day = case.get("insured.insured_from"), case.get("insured.insured_until"), case.dispensed_on
    assert isinstance(start, dt.date) and isinstance(end, dt.date) and start <= end
    return (-1 if day < start else 1 if day > end else 0), (end - start).days, case.get("insured.days_insured")


def test_an_insured_period_ending_before_the_day_stays_in_order() -> None:
    # Insured until 31 May, dispensed 1 June: moved to 1 January the end must not land before the start.
    case = _person(40).replace({"insured.insured_until": dt.date(2025, 5, 31)})
    moved = move_case(case, dt.date(2025, 1, 1))
    assert moved.get("insured.insured_until") == dt.date(2024, 12, 31)
    assert moved.get("insured.insured_from") == dt.date(2024, 8, 3)
    assert _insured(moved)[:2] == _insured(case)[:2] == (1, 150)


def test_a_move_by_part_of_a_year_keeps_the_days_insured() -> None:
    # Insured from 1 March: dispensed 1 June 2025 or 1 December 2026, the same 306 days of the year are insured.
    case = _person(40).replace({"insured.insured_from": dt.date(2025, 3, 1)})
    moved = move_case(case, dt.date(2026, 12, 1))
    assert (moved.get("insured.insured_from"), moved.get("insured.insured_until")) == (
        dt.date(2026, 3, 1), dt.date(2026, 12, 31))
    assert _insured(moved) == _insured(case) == (0, 305, 306)


def test_a_period_moves_with_the_day_when_by_years_it_would_not_hold_it() -> None:
    # Insured January to June, dispensed 1 June: by whole years the period would end before 1 December.
    case = _person(40).replace({"insured.insured_until": dt.date(2025, 6, 30)})
    moved = move_case(case, dt.date(2026, 12, 1))
    assert (moved.get("insured.insured_from"), moved.get("insured.insured_until")) == (
        dt.date(2026, 7, 3), dt.date(2026, 12, 30))
    assert _insured(moved) == _insured(case) == (0, 180, 181)


@pytest.mark.parametrize("day", [dt.date(2025, 1, 1), dt.date(2025, 12, 31), dt.date(2026, 2, 28),
                                 dt.date(2026, 12, 1), dt.date(2024, 2, 29), dt.date(2023, 7, 15)])
def test_every_insured_period_moves_valid_and_insured_on_the_day_as_before(day: dt.date) -> None:
    around = [dt.date(2024, 12, 31), dt.date(2025, 1, 1), dt.date(2025, 3, 1), dt.date(2025, 5, 31),
              dt.date(2025, 6, 1), dt.date(2025, 6, 2), dt.date(2025, 12, 31), dt.date(2026, 6, 30)]
    for start, end in ((a, b) for a in around for b in around if a <= b):
        case = _person(40).replace({"insured.insured_from": start, "insured.insured_until": end})
        moved = move_case(case, day)
        assert moved.dispensed_on == day and moved.get("insured.age") == 40
        assert _insured(moved)[0] == _insured(case)[0], (start, end)


def test_a_case_that_cannot_be_moved_is_skipped_not_an_error(tiny: tuple[str, str], store: PolicyStore,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # Moving keeps dates in order, so no case should fail to move; if one does, the search goes on without it.
    def refuse_the_old(case: Case, day: dt.date, by: CompiledPolicy | None = None) -> Case:
        if case.get("insured.age") in (65, 66):
            raise RxError(Diagnostic(code="RX405", message="cannot be moved"))
        return move_case(case, day, by)

    monkeypatch.setattr(rxpolicy.tools.diff, "move_case", refuse_the_old)
    old, new = parse_side(f"{tiny[0]}@2025-06-01", store), parse_side(f"{tiny[1]}@2026-06-01", store)
    skipped = diff(old, new)
    assert skipped.findings == () and skipped.cases_skipped > 0
    assert f"Skipped: {skipped.cases_skipped} case(s) built while searching could not be moved" in diff_text(skipped)
    assert json.loads(diff_json(skipped))["cases_skipped"] == skipped.cases_skipped
    [not_compared] = diff(old, new, [(_person(40), "forty.yaml"), (_person(66), "sixty-six.yaml")]).not_compared
    assert (not_compared.origin, not_compared.problem.code) == ("sixty-six.yaml", "RX405")


def test_a_side_on_another_day_of_the_year_compares_without_an_error(tiny: tuple[str, str], store: PolicyStore,
                                                                    tmp_path: Path) -> None:
    # A policy reading the insured period names dates around the dispensing day; moved 151 days back, an
    # insured period ending the day before must stay a period.
    insured = tmp_path / "insured" / "tiny"
    insured.mkdir(parents=True)
    (insured / "rules.rxp").write_text(_TINY.replace("insured.age >= 65", "dispensed_on > insured.insured_until"),
                                       encoding="utf-8")
    report = diff(parse_side(f"{insured}@2025-06-01", store), parse_side(f"{tiny[1]}@2025-01-01", store))
    assert {f.decision for f in report.findings} == {"covered"}
    for finding in report.findings:
        assert _insured(finding.moved)[0] == _insured(finding.witness)[0]


# ------------------------------------------------------------------------------------------ sides

def test_a_side_without_a_date_is_the_middle_of_its_period(store: PolicyStore) -> None:
    side = parse_side("hollandzorg", store)
    assert (side.day, side.defaulted) == (dt.date(2024, 7, 1), True)  # 2023-01-01 … 2025-12-31
    assert parse_side("hollandzorg-2025", store).day == dt.date(2025, 7, 1)
    dated = parse_side("hollandzorg@2023-06-01", store)
    assert (dated.day, dated.defaulted, dated.policy.name) == (dt.date(2023, 6, 1), False, "hollandzorg")
    assert "no date given: the middle of its in-force period" in diff_text(diff(side, side, []))


def test_a_side_says_why_its_date_was_chosen(store: PolicyStore) -> None:
    sides = {spec: parse_side(spec, store) for spec in ("hollandzorg", "hollandzorg-2024", "hollandzorg@2024-07-01")}
    assert {spec: side.day_from for spec, side in sides.items()} == {
        "hollandzorg": "middle", "hollandzorg-2024": "year", "hollandzorg@2024-07-01": "given"}
    assert len({side.day for side in sides.values()}) == 1  # the same day, three reasons
    text = diff_text(diff(sides["hollandzorg-2024"], sides["hollandzorg"], []))
    assert "old: `hollandzorg` on 2024-07-01 (no date given: 1 July of 2024, the year its name gives)" in text
    assert "new: `hollandzorg` on 2024-07-01 (no date given: the middle of its in-force period)" in text
    assert json.loads(diff_json(diff(sides["hollandzorg-2024"], sides["hollandzorg@2024-07-01"], [])))["old"][
        "date_from"] == "year"


def test_a_policy_without_rules_is_refused(store: PolicyStore, tmp_path: Path) -> None:
    empty = tmp_path / "onefile"
    empty.mkdir()
    (empty / "notes.rxp").write_text("# rules will go here\n", encoding="utf-8")
    with pytest.raises(RxError) as raised:
        parse_side(f"{empty}@2025-01-01", store)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "RX601" and "hold no rules, so there is nothing to compare" in diagnostic.message


@pytest.mark.parametrize(("spec", "code", "said"), [
    ("hollandzrog@2025-06-01", "RX601", "did you mean `hollandzorg`?"),
    ("hollandzorg@2025-02-30", "RX601", "`2025-02-30` is a date that does not exist"),
    ("hollandzorg@1-6-2025", "RX601", "not a date written as YYYY-MM-DD"),
    ("hollandzorg@", "RX601", "`hollandzorg@`: the date after the `@` is missing"),
    ("hollandzorg@", "RX601", "e.g. `hollandzorg@2025-06-01`, or leave out the `@`"),
    ("@2025-06-01", "RX601", "names no policy"),
    ("hollandzorg@2027-01-01", "RX501", "no rules in force on 2027-01-01"),
    ("hollandzorg-2025@2024-06-01", "RX602", "asks for the rules of 2025"),
])
def test_a_bad_side_is_refused(spec: str, code: str, said: str, store: PolicyStore) -> None:
    with pytest.raises(RxError) as raised:
        parse_side(spec, store)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == code and (said in diagnostic.message or said in (diagnostic.help or ""))


# ------------------------------------------------------------------------------------------ the command

def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["diff", *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_command_exits_0_with_differences_and_1_with_exit_code(tiny: tuple[str, str]) -> None:
    old, new = f"{tiny[0]}@2025-06-01", f"{tiny[1]}@2025-06-01"
    code, out, _ = _run(old, new)
    assert code == 0 and "covered: no → yes" in out
    assert _run(old, new, "--exit-code")[0] == 1
    assert _run(old, old, "--exit-code")[0] == 0
    code, out, _ = _run(old, new, "--format", "json")
    assert code == 0 and [d["decision"] for d in json.loads(out)["differences"]] == ["covered"]
    assert _run(old, new, "--format", "markdown")[1].startswith(f"# `{old}` → `{new}`")


def test_the_command_reads_case_files(tiny: tuple[str, str], tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "sixty-six.yaml").write_text(
        "dispensed_on: 2025-06-01\ninsured:\n  born_on: 1959-01-01\nprescription:\n  prescriber: gp\n"
        "medicine:\n  name: a medicine\n  atc: C08CA01\n  price: 10.00\ndispensing:\n  supply_days: 30\n",
        encoding="utf-8")
    code, out, _ = _run(f"{tiny[0]}@2025-06-01", f"{tiny[1]}@2025-06-01", "--cases", str(cases))
    assert code == 0 and f"found from {cases / 'sixty-six.yaml'}" in out
    one = cases / "sixty-six.yaml"
    code, out, err = _run(f"{tiny[0]}@2025-06-01", f"{tiny[1]}@2025-06-01", "--cases", str(one))
    assert (code, err) == (0, "") and f"found from {one}" in out


def test_every_bad_case_file_is_reported_at_once(tiny: tuple[str, str], tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    good = ("dispensed_on: 2025-06-01\ninsured:\n  born_on: 1959-01-01\nprescription:\n  prescriber: gp\n"
            "medicine:\n  name: a medicine\n  atc: C08CA01\n  price: 10.00\ndispensing:\n  supply_days: 30\n")
    (cases / "a-no-price.yaml").write_text(good.replace("  price: 10.00\n", ""), encoding="utf-8")
    (cases / "b-good.yaml").write_text(good, encoding="utf-8")
    (cases / "c-no-date.yaml").write_text(good.replace("dispensed_on: 2025-06-01\n", ""), encoding="utf-8")
    code, out, err = _run(f"{tiny[0]}@2025-06-01", f"{tiny[1]}@2025-06-01", "--cases", str(cases))
    assert (code, out) == (2, "")
    assert re.search(r"a-no-price\.yaml.*RX4\d\d: .*price", err) and re.search(r"c-no-date\.yaml.*RX4\d\d: .*dispensed_on",
                                                                              err), err
    assert "b-good.yaml" not in err


def test_a_missing_case_path_is_named_as_neither_directory_nor_file(tiny: tuple[str, str]) -> None:
    code, out, err = _run(f"{tiny[0]}@2025-06-01", f"{tiny[1]}@2025-06-01", "--cases", "nowhere")
    assert (code, out) == (2, "") and "RX001: `--cases nowhere`: there is no directory or file `nowhere`" in err


@pytest.mark.parametrize("args", [("hollandzorg@2025-02-30", "asr"), ("hollandzorg", "asr", "--cases", "nowhere"),
                                  ("nowhere@2025-06-01", "asr"), ("hollandzorg@", "asr")])
def test_bad_input_exits_2_with_nothing_on_stdout(args: tuple[str, ...]) -> None:
    code, out, err = _run(*args)
    assert (code, out) == (2, "") and re.search(r"RX\d{3}: ", err) and "Traceback" not in err


def test_json_is_the_report_as_data(esketamine: DiffReport) -> None:
    data = json.loads(diff_json(esketamine))
    assert data == json.loads(json.dumps(diff_dict(esketamine)))
    assert data["moved_by"] == {"years": 2, "days": 0} and data["calendar_left_out"] is True
    first = data["differences"][0]
    assert first["decision"] == "authorisation_required"
    assert first["old"]["rules"][0]["rule"] == "authorisation/esketamine-nasal-spray"
    assert first["witness"]["medicine"]["atc"] == "N06AX27" and first["new_dispensed_on"] == "2025-06-01"


# ------------------------------------------------------------------------------------------ the documentation

def _shown_outputs() -> Iterator[tuple[str, list[str], str]]:
    """Blocks of docs/tools/diff.md and whatif.md marked ``<!-- output of: rxpolicy … -->``."""
    for doc in ("diff.md", "whatif.md"):
        text = (ROOT / "docs" / "tools" / doc).read_text(encoding="utf-8")
        for match in re.finditer(r"<!-- output of: rxpolicy (.*?) -->\n```\w*\n(.*?)^```", text, re.M | re.S):
            yield doc, shlex.split(match.group(1)), match.group(2)


def test_every_output_shown_in_the_docs_is_real(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    shown = list(_shown_outputs())
    assert len(shown) >= 4
    for doc, args, block in shown:
        result = CliRunner().invoke(cli, args)
        printed = iter(result.stdout.splitlines())
        wanted = [line.rstrip() for line in block.splitlines() if line.strip() not in ("…", "...")]
        missing = [line for line in wanted if not any(line == p.rstrip() for p in printed)]
        assert not missing, f"docs/tools/{doc}: `rxpolicy {shlex.join(args)}` no longer prints {missing[0]!r}"

