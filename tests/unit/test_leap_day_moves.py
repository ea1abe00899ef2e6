"""A case moved to another year by ``rxpolicy diff`` and ``rxpolicy impact`` keeps the age its policy gives it, by
the policy's declared reading of a birthday on 29 February (``leap day birthday on 1 March`` / ``on 28 February``).

The expected values are the calendar worked out by hand: born on 29 February 2004, a person is 20 on 28 February
2025 and 21 on 1 March 2025 by the Dutch reading (1 March), 21 already on 28 February 2025 by the month rule
(28 February); in 2024 they turn 20 on 29 February under both. A date of birth on 29 February moved a year back
is then 1 March 2003 by the Dutch reading (20 on 28 February 2024, as on 28 February 2025) and 28 February 2003
by the month rule. Each test states the decision a case gets on its own date and checks the moved case gets it
too; the same rules on both sides, so any difference would be the move's.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rxpolicy import CompiledPolicy, PolicyStore, case_from_mapping, evaluate, load_policy
from rxpolicy.bulk.impact import claim_impact
from rxpolicy.bulk.impact_render import impact_dict
from rxpolicy.language.values import add_months, birthday, whole_years_between
from rxpolicy.tools.diff import diff, move_case, parse_side

ROOT = Path(__file__).resolve().parents[2]
DUTCH, MONTH_RULE = "1 March", "28 February"
READINGS = (DUTCH, MONTH_RULE)

#: A policy that covers a medicine only under 20 (Appendix 2's way of testing an age), on the built-in facts
#: with the age fact's reading replaced: the same rules every year, so a moved case must be decided alike.
_UNDER_20 = """\
layer tiny
  title "Covered under 20"
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
  when insured.age >= 20
  then covered = no
  explain en "Not covered from 20."
  explain nl "Niet vergoed vanaf 20."
end
"""


def _under_20(root: Path, reading: str) -> Path:
    directory = root / f"under-20-{reading.replace(' ', '-')}" / "tiny"
    directory.mkdir(parents=True)
    facts = (ROOT / "rules" / "statutory" / "facts.rxp").read_text(encoding="utf-8")
    assert "leap day birthday on 1 March" in facts, "the age fact declares its reading"
    (directory / "facts.rxp").write_text(facts.replace("leap day birthday on 1 March",
                                                       f"leap day birthday on {reading}"), encoding="utf-8")
    (directory / "rules.rxp").write_text(_UNDER_20, encoding="utf-8")
    return directory


@pytest.fixture(scope="module", params=READINGS)
def under_20(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The directory of a policy declaring ``request.param``, and the reading."""
    return str(_under_20(tmp_path_factory.mktemp("rules"), request.param)), request.param


def _case(born: dt.date, day: dt.date, policy: CompiledPolicy | None = None) -> Any:
    mapping = {"dispensed_on": day, "insured": {"born_on": born}, "prescription": {"prescriber": "gp"},
               "medicine": {"name": "a medicine", "atc": "C08CA01", "price": "10.00"},
               "dispensing": {"supply_days": 30}}
    return case_from_mapping(mapping, policy=policy)


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


#: Dates of birth on and next to 29 February, in leap and in common years; dispensing dates around the end of
#: February, in leap and in common years, and one far from it.
BORN = [d for year in (2003, 2004, 2005, 2008) for d in _days(dt.date(year, 2, 27), dt.date(year, 3, 2))]
DISPENSED = [d for year in (2023, 2024, 2025, 2027, 2028)
             for d in [*_days(dt.date(year, 2, 26), dt.date(year, 3, 2)), dt.date(year, 6, 1)]]


# ------------------------------------------------------------------------------------------ the hand-worked cases

@pytest.mark.parametrize(("born", "day", "to", "age", "dutch_born", "month_born"), [
    # 20 on 28 February 2025 by the Dutch reading (21 by the month rule); a year back the same.
    ("2004-02-29", "2025-02-28", "2024-02-28", {DUTCH: 20, MONTH_RULE: 21}, "2003-03-01", "2003-02-28"),
    # The 20th birthday itself, 29 February 2024; a year on there is no 29 February, and it is still the birthday.
    ("2004-02-29", "2024-02-29", "2025-02-28", {DUTCH: 20, MONTH_RULE: 20}, "2005-02-28", "2005-02-28"),
    # The day before the 20th birthday (28 February 2024); a year on, 28 February is the birthday by the month
    # rule, so the date of birth moves a day further: still the day before.
    ("2004-02-29", "2024-02-28", "2025-02-28", {DUTCH: 19, MONTH_RULE: 19}, "2005-03-01", "2005-03-01"),
    # Far from February: the date of birth lands on the birthday the reading lays.
    ("2008-02-29", "2026-06-01", "2025-06-01", {DUTCH: 18, MONTH_RULE: 18}, "2007-03-01", "2007-02-28"),
])
def test_a_leap_day_date_of_birth_moves_by_the_policys_reading(
        under_20: tuple[str, str], born: str, day: str, to: str, age: dict[str, int], dutch_born: str,
        month_born: str) -> None:
    directory, reading = under_20
    policy = load_policy(directory)
    case = _case(dt.date.fromisoformat(born), dt.date.fromisoformat(day), policy)
    assert case.get("insured.age") == age[reading]
    moved = move_case(case, dt.date.fromisoformat(to), policy)
    expected = dutch_born if reading == DUTCH else month_born
    assert (moved.dispensed_on, moved.get("insured.born_on")) == (dt.date.fromisoformat(to),
                                                                  dt.date.fromisoformat(expected))
    assert moved.get("insured.age") == age[reading]


def test_every_move_by_whole_years_keeps_the_age_by_either_reading(under_20: tuple[str, str]) -> None:
    directory, reading = under_20
    policy = load_policy(directory)
    checked = 0
    for born in BORN:
        for day in (d for d in DISPENSED if d >= born):
            case = _case(born, day, policy)
            for years in (-4, -3, -2, -1, 1, 2, 3, 4):
                to = add_months(day, 12 * years)
                moved = move_case(case, to, policy)
                moved_born = moved.get("insured.born_on")
                assert isinstance(moved_born, dt.date) and moved_born <= to
                assert moved.get("insured.age") == case.get("insured.age"), (born, day, to, moved_born)
                assert whole_years_between(moved_born, to, reading) == case.get("insured.age")
                checked += 1
    assert checked > 4000


def test_the_18th_birthday_keeps_its_day_of_the_year(under_20: tuple[str, str]) -> None:
    # Born 29 February 2008, 18 on 1 March 2026 (Dutch) or 28 February 2026: moved to 2025 or 2028, the 18th
    # birthday is still that day of the year, so an excess pro-rated from it counts the same days before it.
    directory, reading = under_20
    policy = load_policy(directory)
    case = _case(dt.date(2008, 2, 29), dt.date(2026, 6, 1), policy)
    eighteenth = birthday(dt.date(2008, 2, 29), 18, reading)
    assert (eighteenth.month, eighteenth.day) == ((3, 1) if reading == DUTCH else (2, 28))
    for to in (dt.date(2025, 6, 1), dt.date(2027, 6, 1), dt.date(2028, 6, 1)):
        born = move_case(case, to, policy).get("insured.born_on")
        assert isinstance(born, dt.date)
        moved = birthday(born, 18, reading)
        assert (moved.year, moved.month, moved.day) == (to.year, eighteenth.month, eighteenth.day)


# ------------------------------------------------------------------------------------------ rxpolicy diff

def test_diff_finds_no_difference_between_two_years_of_the_same_rules(under_20: tuple[str, str],
                                                                     tmp_path: Path) -> None:
    # Before, a person born on 29 February was moved to 28 February and so turned a year older on 28 February:
    # 20 on 28 February 2024, "not covered", against 19 and covered on 28 February 2025 (Dutch reading).
    directory, reading = under_20
    store = PolicyStore()
    cases = [(_case(born, day), f"{born} {day}") for born in BORN for day in DISPENSED if day >= born]
    for old, new in (("2025-02-28", "2024-02-28"), ("2024-02-28", "2025-02-28"), ("2024-02-29", "2025-02-28"),
                     ("2025-06-01", "2028-06-01")):
        report = diff(parse_side(f"{directory}@{old}", store), parse_side(f"{directory}@{new}", store), cases)
        assert report.not_compared == ()
        assert [(f.decision, f.origin, f.witness.get("insured.born_on")) for f in report.findings] == [], (old, new)


def test_diff_of_two_policies_keeps_the_excess_from_the_18th_birthday() -> None:
    # a.s.r. 2026 and HollandZorg 2025 charge the same excess from the same (Dutch) 18th birthday: born on
    # 29 February 2008, dispensed on 1 June 2026, 385 × 306 / 365 = 322.77, rounded half up 323 (the 18th birthday
    # 1 March 2026). A year back the date of birth was 28 February 2007, the excess 385 × 307 / 365 = 324.
    store = PolicyStore()
    old, new = parse_side("asr@2026-06-01", store), parse_side("hollandzorg@2025-06-01", store)
    case = case_from_mapping({"dispensed_on": "2026-06-01", "insured": {"born_on": "2008-02-29"},
                              "prescription": {"prescriber": "gp"},
                              "medicine": {"name": "ezetimibe 10 mg tablet", "atc": "C10AX09", "price": "500.00"},
                              "dispensing": {"supply_days": 30, "fees": {"dispensing": "7.50"}}})
    assert evaluate(old.policy, case).value("excess_charged") == Decimal("323.00")
    report = diff(old, new, [(case, "born-on-a-leap-day.yaml")])
    assert [f.decision for f in report.findings] == []
    moved = move_case(case, new.day, new.policy)
    assert moved.get("insured.born_on") == dt.date(2007, 3, 1)
    assert evaluate(new.policy, moved).value("excess_charged") == Decimal("323.00")


# ------------------------------------------------------------------------------------------ rxpolicy impact

def _claims(path: Path, fmt: str) -> int:
    """Claims of people born on and next to 29 February, dispensed around the end of February 2024 and 2025."""
    rows = [{"dispensed_on": day, "insured.born_on": born, "prescription.prescriber": "gp",
             "medicine.name": "a medicine", "medicine.atc": "C08CA01", "medicine.price": Decimal("10.00"),
             "dispensing.supply_days": 30}
            for born in BORN for day in DISPENSED if day.year in (2024, 2025) and day >= born]
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([
            ("dispensed_on", pa.date32()), ("insured.born_on", pa.date32()), ("prescription.prescriber", pa.string()),
            ("medicine.name", pa.string()), ("medicine.atc", pa.string()), ("medicine.price", pa.decimal128(12, 2)),
            ("dispensing.supply_days", pa.int64())])), path)
    else:
        path.write_text("".join(json.dumps(row, default=str) + "\n" for row in rows), encoding="utf-8")
    return len(rows)


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_impact_between_two_years_of_the_same_rules_changes_nothing(under_20: tuple[str, str], tmp_path: Path,
                                                                   fmt: str) -> None:
    # Parquet claims are moved in columns, JSON Lines ones claim by claim: both by the policy's reading.
    directory, _ = under_20
    store = PolicyStore()
    path = tmp_path / f"claims.{fmt}"
    count = _claims(path, fmt)
    for old, new in (("2024-06-01", "2025-06-01"), ("2025-06-01", "2024-06-01"), ("2025-06-01", "2028-06-01")):
        report = impact_dict(claim_impact(parse_side(f"{directory}@{old}", store),
                                          parse_side(f"{directory}@{new}", store), path, input_format=fmt))
        assert (report["counts"]["read"], report["counts"]["compared"]) == (count, count)
        assert (report["counts"]["changed"], report["changes"]) == (0, []), (old, new)


def test_impact_in_columns_and_claim_by_claim_agree_on_leap_day_births(under_20: tuple[str, str],
                                                                       tmp_path: Path) -> None:
    directory, _ = under_20
    store = PolicyStore()
    # A policy whose decision changes with the year (covered under 20 on one side, always on the other) shows
    # every claim moved: the two paths must move them alike.
    always = tmp_path / "always" / "tiny"
    always.mkdir(parents=True)
    (always / "facts.rxp").write_text((Path(directory) / "facts.rxp").read_text(encoding="utf-8"), encoding="utf-8")
    (always / "rules.rxp").write_text(_UNDER_20.replace("insured.age >= 20", "insured.age >= 200"),
                                      encoding="utf-8")
    reports = []
    for fmt in ("parquet", "jsonl"):
        path = tmp_path / f"claims.{fmt}"
        _claims(path, fmt)
        data = impact_dict(claim_impact(parse_side(f"{directory}@2024-06-01", store),
                                        parse_side(f"{always}@2025-06-01", store), path, input_format=fmt))
        data.pop("claims")
        reports.append(data)
    assert reports[0]["counts"]["changed"] > 0
    assert reports[0] == reports[1]
