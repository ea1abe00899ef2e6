"""The case stage: YAML text (or a Python mapping) → a validated Case, or every problem at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.engine.case import Case, case_from_mapping, case_to_yaml, load_case, parse_case
from rxpolicy.language import facts as schema


# Line numbers matter: the error tests assert them.
BASE = """\
dispensed_on: 2025-03-14
insured:
  born_on: 1961-07-02
prescription:
  prescriber: gp
medicine:
  name: oxazepam 10 mg tablet
  atc: N05BA04
  price: 12.40
dispensing:
  supply_days: 30
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def problems(text: str, **kwargs: object) -> list[Diagnostic]:
    with pytest.raises(RxError) as caught:
        parse_case(text, path="case.yaml", **kwargs)  # type: ignore[arg-type]
    return list(caught.value.diagnostics)


def only(text: str, **kwargs: object) -> Diagnostic:
    found = problems(text, **kwargs)
    assert len(found) == 1, [d.message for d in found]
    return found[0]


def where(d: Diagnostic) -> tuple[str, str | None, int, int]:
    assert d.span is not None and d.span.path == "case.yaml"
    assert d.message and d.help
    return d.code, d.field, d.span.line, d.span.column


# --- values and defaults -------------------------------------------------------------------------------


def test_defaults_are_applied() -> None:
    case = parse_case(BASE)
    assert case.dispensed_on == dt.date(2025, 3, 14)
    assert case.get("insured.insured_from") == dt.date(2025, 1, 1)
    assert case.get("insured.insured_until") == dt.date(2025, 12, 31)
    for fee in ("dispensing", "delivery", "counselling", "inhaler_instruction"):
        assert case.get(f"dispensing.fees.{fee}") == Decimal("0.00")
    assert case.get("insured.voluntary_excess") == Decimal("0.00")
    assert case.get("insured.plan") is None
    assert case.get("prescription.purpose") == "treatment"
    assert case.get("prescription.appendix_2_condition_met") is True
    assert case.get("medicine.route") == "oral"
    assert case.get("medicine.preferred") is None
    assert case.get("medicine.doctors_note_prescribers") == ()
    assert case.get("dispensing.months_in_use") == 0
    assert case.get("dispensing.contracted") is True
    assert case.get("authorisation.granted_on") is None and case.get("authorisation.valid_until") is None
    assert len(case.values) == len(schema.FIELDS)
    assert case.values[schema.field_index("medicine.atc")] == "N05BA04"


def test_lines_record_where_fields_are_written() -> None:
    case = parse_case(BASE, path="case.yaml")
    assert case.source == "case.yaml"
    assert case.lines["dispensed_on"] == 1 and case.lines["medicine.price"] == 9
    assert "insured.insured_from" not in case.lines


@pytest.mark.parametrize("written, expected", [
    ("12.4", "12.40"), ("'12.40'", "12.40"), ('"0.10"', "0.10"), ("0.1", "0.10"), ("7", "7.00"),
    ("12.400", "12.40"), ("0", "0.00")])
def test_money_is_exact_from_its_text(written: str, expected: str) -> None:
    price = parse_case(edit("price: 12.40", f"price: {written}")).get("medicine.price")
    assert isinstance(price, Decimal) and str(price) == expected


def test_numbers_are_int_when_whole_else_decimal() -> None:
    case = parse_case(edit("supply_days: 30", "supply_days: 30\n  ml_per_day: 12.5"))
    assert case.get("dispensing.supply_days") == 30 and type(case.get("dispensing.supply_days")) is int
    assert case.get("dispensing.ml_per_day") == Decimal("12.5")


def test_yaml_booleans_and_raw_text() -> None:
    text = edit("prescriber: gp", "prescriber: gp\n  chronic: yes\n  acute: off")
    case = parse_case(edit("name: oxazepam 10 mg tablet", "name: yes", text))
    assert case.get("prescription.chronic") is True and case.get("prescription.acute") is False
    assert case.get("medicine.name") == "yes"


def test_quoted_dates_and_open_indication() -> None:
    text = edit("dispensed_on: 2025-03-14", 'dispensed_on: "2025-03-14"')
    case = parse_case(edit("prescriber: gp", "prescriber: gp\n  indication: sore knee", text))
    assert case.dispensed_on == dt.date(2025, 3, 14)
    assert case.get("prescription.indication") == "sore knee"


@pytest.mark.parametrize("dispensed_on, age", [("2025-07-01", 63), ("2025-07-02", 64), ("2025-07-03", 64)])
def test_age_in_whole_years(dispensed_on: str, age: int) -> None:
    case = parse_case(edit("dispensed_on: 2025-03-14", f"dispensed_on: {dispensed_on}"))
    assert case.get("insured.age") == age


def test_days_insured_and_days_in_year() -> None:
    case = parse_case(edit("born_on: 1961-07-02", "born_on: 1961-07-02\n  insured_from: 2025-06-15"))
    assert case.get("insured.days_insured") == 200 and case.get("days_in_year") == 365
    leap = parse_case(edit("dispensed_on: 2025-03-14", "dispensed_on: 2024-03-14"))
    assert leap.get("days_in_year") == 366 and leap.get("insured.days_insured") == 366
    assert leap.get("insured.insured_until") == dt.date(2024, 12, 31)
    gone = parse_case(edit("born_on: 1961-07-02", "born_on: 1961-07-02\n  insured_until: 2024-12-31"
                                                  "\n  insured_from: 2024-01-01"))
    assert gone.get("insured.days_insured") == 0


def test_authorisation_section() -> None:
    case = parse_case(BASE + "authorisation: {granted_on: 2025-01-10, valid_until: 2025-12-31}\n")
    assert case.get("authorisation.granted_on") == dt.date(2025, 1, 10)
    assert case.get("authorisation.valid_until") == dt.date(2025, 12, 31)
    assert parse_case(BASE + "authorisation: null\n") == parse_case(BASE)


# --- every problem, with field, line and column --------------------------------------------------------


def test_rx401_not_yaml() -> None:
    assert where(only("dispensed_on: 2025-03-14\ninsured: [\n")) [0] == "RX401"
    d = only("dispensed_on: 2025-03-14\n  born_on: : x\n")
    assert d.code == "RX401" and d.span is not None and d.span.line == 2


def test_rx401_empty_and_not_a_mapping() -> None:
    empty = only("")
    assert (empty.code, empty.message) == ("RX401", "the case file is empty")
    assert where(only("- gp\n- 30\n")) == ("RX401", None, 1, 1)
    assert where(only(edit("insured:\n  born_on: 1961-07-02", "insured: 1961-07-02"))) == ("RX401", "insured", 2, 10)


def test_rx402_missing_required_field() -> None:
    d = only(edit("  price: 12.40\n", ""))
    assert where(d) == ("RX402", "medicine.price", 7, 3)  # the `medicine` section
    assert "price: 12.40" in (d.help or "") and "medicine" in (d.help or "")


def test_rx402_required_field_without_value() -> None:
    d = only(edit("price: 12.40", "price:"))
    assert where(d) == ("RX402", "medicine.price", 9, 9)
    assert "has no value" in d.message
    optional = only(edit("prescriber: gp", "prescriber: gp\n  chronic:"))
    assert optional.code == "RX404" and "default" in (optional.help or "")


def test_rx402_missing_dispensing_date_does_not_cascade() -> None:
    d = only(edit("dispensed_on: 2025-03-14\n", ""))
    assert where(d) == ("RX402", "dispensed_on", 1, 1)


def test_rx402_missing_section_points_at_line_1() -> None:
    d = only(edit("insured:\n  born_on: 1961-07-02\n", ""))
    assert where(d) == ("RX402", "insured.born_on", 1, 1)
    assert "born_on: 1961-07-02" in (d.help or "")


def test_rx402_authorisation_needs_both_dates() -> None:
    d = only(BASE + "authorisation:\n  granted_on: 2025-01-10\n")
    assert where(d) == ("RX402", "authorisation.valid_until", 13, 3)


def test_rx403_unknown_field_with_suggestion() -> None:
    d = only(edit("prescriber: gp", "prescriber: gp\n  first_for_indiction: true"))
    assert where(d) == ("RX403", "prescription.first_for_indiction", 6, 3)
    assert "did you mean `first_for_indication`?" in d.message


def test_rx403_field_in_the_wrong_section() -> None:
    d = only(edit("atc: N05BA04", "atc: N05BA04\n  chronic: true"))
    assert where(d) == ("RX403", "medicine.chronic", 9, 3)
    assert "`chronic` belongs in `prescription`, not in `medicine`" in d.message
    assert "prescription" in (d.help or "")


def test_rx403_unknown_section_and_top_level_field() -> None:
    found = problems(edit("insured:", "insurd:"))
    assert [d.code for d in found] == ["RX402", "RX403"]  # insured.born_on is missing too
    typo = found[1]
    assert where(typo) == ("RX403", "insurd", 2, 1) and "did you mean `insured`?" in typo.message
    misplaced = only(edit("dispensed_on: 2025-03-14\n", "dispensed_on: 2025-03-14\nprice: 3\n"))
    assert where(misplaced) == ("RX403", "price", 2, 1)
    assert "belongs in `medicine`" in misplaced.message


def test_rx403_derived_field_is_not_written() -> None:
    d = only(edit("born_on: 1961-07-02", "born_on: 1961-07-02\n  age: 63"))
    assert where(d) == ("RX403", "insured.age", 4, 3)


@pytest.mark.parametrize("old, new, field, line, column, words", [
    ("born_on: 1961-07-02", "born_on: next week", "insured.born_on", 3, 12, "needs a date"),
    ("prescriber: gp", "prescriber: gp\n  chronic: maybe", "prescription.chronic", 6, 12, "needs yes or no"),
    ("prescriber: gp", "prescriber: gp\n  chronic: 'true'", "prescription.chronic", 6, 12, "needs yes or no"),
    ("price: 12.40", "price: twelve", "medicine.price", 9, 10, "needs an amount in euros"),
    ("supply_days: 30", "supply_days: 30 days", "dispensing.supply_days", 11, 16, "needs a number"),
    ("atc: N05BA04", "atc: N05BA04\n  route: [oral]", "medicine.route", 9, 10, "not a list"),
    ("price: 12.40", "price: {euros: 12}", "medicine.price", 9, 10, "not a section"),
])
def test_rx404_wrong_type(old: str, new: str, field: str, line: int, column: int, words: str) -> None:
    d = only(edit(old, new))
    assert where(d) == ("RX404", field, line, column)
    assert words in d.message and f"`{field}`" in d.message


@pytest.mark.parametrize("old, new, field, line, column, words", [
    ("price: 12.40", "price: -1.00", "medicine.price", 9, 10, "cannot be negative"),
    ("price: 12.40", "price: 12.405", "medicine.price", 9, 10, "more than two decimals"),
    ("born_on: 1961-07-02", "born_on: 1961-02-30", "insured.born_on", 3, 12, "does not exist"),
    ("born_on: 1961-07-02", "born_on: '02-07-1961'", "insured.born_on", 3, 12, "YYYY-MM-DD"),
    ("born_on: 1961-07-02", "born_on: 2025-03-15", "insured.born_on", 3, 12, "is after `dispensed_on`"),
    ("born_on: 1961-07-02", "born_on: 1961-07-02\n  insured_from: 2025-06-01\n  insured_until: 2025-05-31",
     "insured.insured_until", 5, 18, "is before `insured.insured_from`"),
    ("born_on: 1961-07-02", "born_on: 1961-07-02\n  voluntary_excess: 150", "insured.voluntary_excess", 4, 21,
     "not a voluntary excess"),
    ("supply_days: 30", "supply_days: 0", "dispensing.supply_days", 11, 16, "at least 1 day"),
    ("supply_days: 30", "supply_days: 30\n  months_in_use: -2", "dispensing.months_in_use", 12, 18,
     "cannot be negative"),
    ("prescriber: gp", "prescriber: gp\n  course_days: -7", "prescription.course_days", 6, 16, "cannot be negative"),
    ("atc: N05BA04", "atc: n05ba04", "medicine.atc", 8, 8, "not a WHO ATC code"),
])
def test_rx405_impossible_value(old: str, new: str, field: str, line: int, column: int, words: str) -> None:
    d = only(edit(old, new))
    assert where(d) == ("RX405", field, line, column)
    assert words in d.message


def test_rx405_insurance_ending_before_its_default_start() -> None:
    d = only(edit("born_on: 1961-07-02", "born_on: 1961-07-02\n  insured_from: 2026-02-01"))
    assert where(d) == ("RX405", "insured.insured_from", 4, 17)
    assert d.message == "`insured.insured_from` (2026-02-01) is after `insured.insured_until` (2025-12-31, the default)"


def test_rx405_authorisation_ends_before_it_is_granted() -> None:
    d = only(BASE + "authorisation:\n  granted_on: 2025-02-01\n  valid_until: 2025-01-31\n")
    assert where(d) == ("RX405", "authorisation.valid_until", 14, 16)


@pytest.mark.parametrize("written, field, line", [
    ("  granted_on: null\n  valid_until: 2025-12-31\n", "authorisation.granted_on", 13),
    ("  granted_on: 2025-01-10\n  valid_until: null\n", "authorisation.valid_until", 14),
])
def test_rx402_an_authorisation_with_one_date_null(written: str, field: str, line: int) -> None:
    d = only(BASE + "authorisation:\n" + written)
    assert where(d) == ("RX402", field, line, 15 if field.endswith("granted_on") else 16)
    assert "both dates or none" in d.message
    assert "authorisation: null" in d.help


def test_an_authorisation_with_both_dates_null_is_no_authorisation() -> None:
    case = parse_case(BASE + "authorisation:\n  granted_on: null\n  valid_until: null\n")
    assert case.values == parse_case(BASE).values


def test_rx406_not_a_choice() -> None:
    d = only(edit("prescriber: gp", "prescriber: specialst"))
    assert where(d) == ("RX406", "prescription.prescriber", 5, 15)
    assert "did you mean `specialist`?" in d.message and "gp, specialist" in (d.help or "")
    d = only(edit("prescriber: gp", "prescriber: GP"))
    assert "did you mean `gp`?" in d.message


def test_rx406_list_entry_points_at_the_entry() -> None:
    d = only(edit("atc: N05BA04", "atc: N05BA04\n  doctors_note_prescribers: [gp, midwfe]"))
    assert where(d) == ("RX406", "medicine.doctors_note_prescribers", 9, 34)
    assert "did you mean `midwife`?" in d.message


def test_rx407_unknown_plan() -> None:
    text = edit("born_on: 1961-07-02", "born_on: 1961-07-02\n  plan: compact")
    d = only(text, plans=["Compact", "Extra"])
    assert where(d) == ("RX407", "insured.plan", 4, 9)
    assert "did you mean `Compact`?" in d.message and "Compact, Extra" in (d.help or "")
    assert parse_case(text).get("insured.plan") == "compact"  # without plans any name is accepted


def test_all_problems_are_collected() -> None:
    text = BASE.replace("price: 12.40", "price: -3").replace("supply_days: 30", "supply_days: 0") \
        .replace("prescriber: gp", "prescriber: gp\n  chronc: true").replace("  atc: N05BA04\n", "")
    found = problems(text)
    assert [(d.code, d.field) for d in found] == [
        ("RX403", "prescription.chronc"), ("RX402", "medicine.atc"), ("RX405", "medicine.price"),
        ("RX405", "dispensing.supply_days")]
    assert "did you mean `chronic`?" in found[0].message


def test_key_written_twice() -> None:
    d = only(edit("price: 12.40", "price: 12.40\n  price: 13.40"))
    assert where(d) == ("RX401", "medicine.price", 10, 3)


# --- writing a case back, changing it, the Python API --------------------------------------------------


FULL = BASE + """\
authorisation:
  granted_on: 2025-01-10
  valid_until: 2025-12-31
"""


def test_to_mapping_shape() -> None:
    case = parse_case(edit("price: 12.40", "price: 12.4\n  doctors_note_prescribers: [specialist]", FULL))
    assert case.to_mapping() == {
        "dispensed_on": "2025-03-14",
        "insured": {"born_on": "1961-07-02"},
        "prescription": {"prescriber": "gp"},
        "medicine": {"name": "oxazepam 10 mg tablet", "atc": "N05BA04", "doctors_note_prescribers": ["specialist"],
                     "price": "12.40"},
        "dispensing": {"supply_days": 30},
        "authorisation": {"granted_on": "2025-01-10", "valid_until": "2025-12-31"},
    }
    full = parse_case(BASE).to_mapping(only_changed=False)
    assert full["authorisation"] is None
    assert full["dispensing"]["fees"] == {  # type: ignore[index]
        "dispensing": "0.00", "delivery": "0.00", "counselling": "0.00", "inhaler_instruction": "0.00"}
    assert full["insured"]["insured_from"] == "2025-01-01"  # type: ignore[index]
    assert "age" not in full["insured"] and "days_in_year" not in full  # type: ignore[operator]


@pytest.mark.parametrize("text", [BASE, FULL, edit("name: oxazepam 10 mg tablet", """name: 'yes'
  preferred: false
  cheapest_in_group: 3.5
  appendix_2_added_on: 2020-01-01
  dietary_preparation: polymer
  doctors_note_prescribers: [specialist, gp]""", FULL), edit("born_on: 1961-07-02", """born_on: 1961-07-02
  plan: 'null'
  insured_from: 2025-06-15
  voluntary_excess: 500""", edit("supply_days: 30", "supply_days: 30\n  ml_per_day: 0.75\n  fees: {delivery: 2}"))])
def test_yaml_round_trip(text: str) -> None:
    case = parse_case(text)
    written = case_to_yaml(case)
    assert parse_case(written) == case
    assert case_from_mapping(case.to_mapping()) == case
    assert case_from_mapping(case.to_mapping(only_changed=False)) == case
    assert "{" not in written  # block style


def test_yaml_output_is_plain() -> None:
    written = case_to_yaml(parse_case(FULL))
    assert "price: 12.40\n" in written and "dispensed_on: 2025-03-14\n" in written
    assert written.splitlines()[0] == "dispensed_on: 2025-03-14"
    assert "authorisation:\n  granted_on: 2025-01-10\n  valid_until: 2025-12-31\n" in written


def test_replace() -> None:
    case = parse_case(BASE, path="case.yaml")
    cheaper = case.replace({"medicine.price": Decimal("3.5"), "prescription.chronic": True})
    assert cheaper.get("medicine.price") == Decimal("3.50") and cheaper.get("prescription.chronic") is True
    assert case.get("medicine.price") == Decimal("12.40")  # the original is unchanged
    assert cheaper.source == "case.yaml" and "medicine.price" not in cheaper.lines
    assert cheaper.lines["medicine.atc"] == 8
    older = case.replace({"insured.born_on": dt.date(1950, 1, 1)})
    assert older.get("insured.age") == 75
    later = case.replace({"dispensed_on": "2024-02-01"})
    assert later.get("insured.insured_from") == dt.date(2024, 1, 1) and later.get("days_in_year") == 366
    granted = case.replace({"authorisation.granted_on": dt.date(2025, 1, 1),
                            "authorisation.valid_until": dt.date(2025, 6, 30)})
    assert granted.get("authorisation.valid_until") == dt.date(2025, 6, 30)
    assert case.replace({}) == case


def test_replace_validates() -> None:
    case = parse_case(BASE)
    with pytest.raises(RxError) as caught:
        case.replace({"medicine.price": "-1", "prescription.prescriber": "nurse", "insured.age": 3})
    assert {(d.code, d.field) for d in caught.value.diagnostics} == {
        ("RX403", "insured.age"), ("RX406", "prescription.prescriber"), ("RX405", "medicine.price")}
    assert all(d.span is None for d in caught.value.diagnostics)


PYTHON_MEDICINE: dict[str, object] = {"name": "oxazepam 10 mg tablet", "atc": "N05BA04", "price": Decimal("12.4")}
PYTHON_CASE: dict[str, object] = {
    "dispensed_on": dt.date(2025, 3, 14),
    "insured": {"born_on": dt.date(1961, 7, 2)},
    "prescription": {"prescriber": "gp"},
    "medicine": PYTHON_MEDICINE,
    "dispensing": {"supply_days": 30},
}


def test_case_from_mapping_accepts_python_values() -> None:
    case = case_from_mapping(PYTHON_CASE)
    assert case == parse_case(BASE) and case.source == "<python>" and dict(case.lines) == {}
    as_text = case_from_mapping({**PYTHON_CASE, "medicine": {**PYTHON_MEDICINE, "price": "12.40"}})
    as_int = case_from_mapping({**PYTHON_CASE, "medicine": {**PYTHON_MEDICINE, "price": 12}})
    assert as_text == case and as_int.get("medicine.price") == Decimal("12.00")


def test_case_from_mapping_rejects_float_money() -> None:
    with pytest.raises(RxError) as caught:
        case_from_mapping({**PYTHON_CASE, "medicine": {**PYTHON_MEDICINE, "price": 12.4}}, source="api")
    (d,) = caught.value.diagnostics
    assert (d.code, d.field) == ("RX404", "medicine.price")
    assert "write money as a string or Decimal, a float cannot hold cents exactly" in d.message


def test_case_from_mapping_rejects_wrong_python_types() -> None:
    with pytest.raises(RxError) as caught:
        case_from_mapping({**PYTHON_CASE, "dispensed_on": dt.datetime(2025, 3, 14, 10, 0),
                           "prescription": {"prescriber": "gp", "chronic": 1}})
    assert {(d.code, d.field) for d in caught.value.diagnostics} == {
        ("RX405", "dispensed_on"), ("RX404", "prescription.chronic")}


def test_get_unknown_field() -> None:
    with pytest.raises(KeyError, match="did you mean `medicine.atc`"):
        parse_case(BASE).get("medicine.act")


def test_load_case_unreadable(tmp_path: Path) -> None:
    with pytest.raises(RxError) as caught:
        load_case(tmp_path / "missing.yaml")
    assert caught.value.diagnostics[0].code == "RX001"
    bad = tmp_path / "bad.yaml"
    bad.write_text("price: [\n", encoding="utf-8")
    with pytest.raises(RxError) as caught:
        load_case(bad, display="shown.yaml")
    span = caught.value.diagnostics[0].span
    assert span is not None and span.path == "shown.yaml"


def test_case_is_hashable_and_compares_by_value() -> None:
    a, b = parse_case(BASE, path="a.yaml"), case_from_mapping(PYTHON_CASE)
    assert a == b and hash(a) == hash(b) and isinstance(a, Case)
