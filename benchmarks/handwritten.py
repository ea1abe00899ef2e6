"""HollandZorg 2025 medicinal care, written by hand as plain Python: the benchmark's yardstick.

This is what a competent developer would write for the same rules without rxpolicy: one function
per concern, ``Decimal`` money, the contract's month arithmetic (:func:`rxpolicy.language.values.add_months`),
no trace, no rule ids. It implements the rule files under ``rules/statutory``, ``rules/model`` and
``rules/hollandzorg`` as they are in force in 2025 (the esketamine authorisation ended on
2023-12-31; 2024 has the same rules). The amounts are those of 2025: compulsory excess (verplicht
eigen risico) EUR 385, personal contribution cap (eigen bijdrage) EUR 250.

:func:`decide` reads a case's value tuple (:attr:`rxpolicy.Case.values`) by the positions
:func:`rxpolicy.language.facts.field_index` gives, looked up once at import, as the compiled policy does.
:func:`decide_mapping` is what an embedder's hand-written code would do with the case as it arrives, a
decoded JSON mapping in the contract's shape: a dict lookup per field with the contract's default for a
field left out, ``date.fromisoformat`` and ``Decimal(str)``, the computed facts worked out, no further
validation; then :func:`decide` on the values.
:func:`decide_table` is the same for a file of claims: what hand-written code does with a Parquet file's
Arrow table of flattened columns (``medicine.atc``, …, as ``rxpolicy batch`` reads them): each column to Python
values once (pyarrow's ``to_pylist``, the fastest way into Python objects), an empty cell given the contract's
default, the computed facts worked out; then :func:`decide` on each row.
``tests/unit/test_handwritten_agrees.py`` checks it against ``evaluate(policy, case)`` on thousands
of generated cases, so it doubles as a second, independent reading of the rule files.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Collection
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter
from typing import Any

from rxpolicy.language.facts import field_index, statutory_facts
from rxpolicy.language.values import CENT, Duration, SupplyLimit, Unit, add_months, whole_years_between

__all__ = ["DECISIONS", "decide", "decide_mapping", "decide_table"]

#: The decisions :func:`decide` returns, in the order of ``CompiledPolicy.decisions``.
DECISIONS = ("in_package", "preference_met", "appendix_2_conditions", "prescriber_allowed",
             "authorisation_required", "authorisation_ok", "max_supply", "min_supply", "supply_ok", "covered",
             "excess_exempt", "personal_contribution", "excess_charged", "insurer_pays", "plan_pays",
             "patient_pays")

ZERO = Decimal("0.00")
ONE = Decimal(1)
COMPULSORY_EXCESS = Decimal("385.00")  # verplicht eigen risico, Zvw art. 19
CONTRIBUTION_CAP = Decimal("250.00")  # maximum eigen bijdrage, Rzv art. 2.32 lid 2
EXCESS_AGE = 18
PREFERENCE_MARGIN = Decimal("1.03")  # at most 3 % above the cheapest in the group
PLANS_PAYING_CONTRIBUTION = frozenset({"Compact", "No Risk II"})
PRESCRIBERS = frozenset({"gp", "specialist", "youth_doctor", "elderly_care_physician", "nurse_specialist",
                         "physician_assistant", "dentist", "orthodontist", "midwife", "other"})
EXCLUDED_PURPOSES = frozenset({"travel_sickness", "research", "compassionate_use"})
ENDOMETRIOSIS_OR_MENORRHAGIA = frozenset({"endometriosis", "menorrhagia"})

CONTRACEPTIVE = ("G03A", "G02B")
BENZODIAZEPINE_HYPNOTIC_ANXIOLYTIC = ("N05B", "N05C")
# Each vaccine by the ATC codes that contain it (docs/readings.md, "Vaccines by ATC code"): a group prefix or a
# whole code of a combined vaccine.
DIPHTHERIA_POLIO_WHOOPING_COUGH = ("J07AF", "J07BF", "J07AJ", "J07AM51", "J07AG52", "J07CA01", "J07CA02", "J07CA03",
                                   "J07CA04", "J07CA05", "J07CA06", "J07CA07", "J07CA09", "J07CA11", "J07CA12",
                                   "J07CA13")
HEPATITIS_DIPHTHERIA_POLIO_WHOOPING_COUGH = ("J07BC", "J07CA08", "J07CA10", *DIPHTHERIA_POLIO_WHOOPING_COUGH)

PILL = SupplyLimit(Duration(12, Unit.MONTHS))
ONE_MONTH_OR_COURSE = SupplyLimit(Duration(1, Unit.MONTHS), or_one_course=True)
FIFTEEN_DAYS_OR_SMALLEST_PACK = SupplyLimit(Duration(15, Unit.DAYS), or_smallest_pack=True)
TWELVE_MONTHS = SupplyLimit(Duration(12, Unit.MONTHS))
ONE_MONTH = SupplyLimit(Duration(1, Unit.MONTHS))
THREE_MONTHS = Duration(3, Unit.MONTHS)

_FIELDS = (
    "dispensed_on", "insured.born_on", "insured.insured_from", "insured.insured_until", "insured.plan",
    "insured.voluntary_excess", "insured.excess_used", "insured.contribution_paid",
    "prescription.prescriber", "prescription.expert_in_indication", "prescription.indication",
    "prescription.first_for_indication", "prescription.chronic", "prescription.acute", "prescription.course_days",
    "prescription.medical_necessity", "prescription.logistical_necessity", "prescription.rare_condition",
    "prescription.specialised_in_condition", "prescription.challenge_test_done",
    "prescription.appendix_2_condition_met", "prescription.purpose",
    "medicine.atc", "medicine.route", "medicine.registered", "medicine.appendix_1", "medicine.appendix_2",
    "medicine.appendix_2_added_on", "medicine.doctors_note_procedure", "medicine.doctors_note_prescribers",
    "medicine.dietary_preparation", "medicine.infant_formula", "medicine.chemists_preparation",
    "medicine.authorisation_listed", "medicine.equivalent_to_non_appendix_1", "medicine.preferred",
    "medicine.cheapest_in_group", "medicine.on_excess_free_list", "medicine.price", "medicine.reimbursement_limit",
    "dispensing.supply_days", "dispensing.smallest_pack", "dispensing.ml_per_day", "dispensing.new_to_patient",
    "dispensing.months_in_use", "dispensing.adjusted", "dispensing.during_admission",
    "dispensing.fees.dispensing", "dispensing.fees.delivery", "dispensing.fees.counselling",
    "dispensing.fees.inhaler_instruction", "authorisation.granted_on", "authorisation.valid_until",
    "insured.age", "insured.days_insured", "days_in_year", "start_of_year", "end_of_year",
    "medicine.appendix_2_group", "medicine.import_route", "medicine.contribution_of_base",
    "prescription.within_own_care", "dispensing.dispenser", "dispensing.fees.medication_assessment",
)
_READ = itemgetter(*(field_index(path) for path in _FIELDS))


def decide(values: tuple[object, ...]) -> tuple[object, ...]:
    """Every decision for one case's value tuple, in the order of :data:`DECISIONS`."""
    (on, born, insured_from, insured_until, plan, voluntary_excess, excess_used, contribution_paid,
     prescriber, expert, indication, first_for_indication, chronic, acute, course_days, medical_necessity,
     logistical_necessity, rare_condition, specialised, challenge_test_done, condition_met, purpose,
     atc, route, registered, appendix_1, appendix_2, added_on, doctors_note, doctors_note_prescribers,
     dietary, infant_formula, chemists_preparation, authorisation_listed, equivalent, preferred,
     cheapest, excess_free_list, price, limit, supply_days, smallest_pack, ml_per_day, new_to_patient,
     months_in_use, adjusted, during_admission, fee_dispensing, fee_delivery, fee_counselling, fee_inhaler,
     granted_on, valid_until, age, days_insured, days_in_year, start_of_year, end_of_year,
     appendix_2_group, import_route, contribution_of_base, own_care, dispenser, fee_assessment) = _READ(values)
    # Dietary preparations and the over-the-counter groups are in Appendix 2 whatever the case says.
    flagged_appendix_2, appendix_2 = appendix_2, appendix_2 or dietary is not None or appendix_2_group is not None
    kind_in_care = dietary is not None or appendix_2_group is not None or import_route is not None
    preference = _preference_met(price, preferred, cheapest, medical_necessity, logistical_necessity)
    package = _in_package(registered, appendix_1, chemists_preparation, equivalent, purpose, during_admission,
                          preference, kind_in_care)
    contraceptive = atc.startswith(CONTRACEPTIVE)
    appendix_2_ok = _appendix_2_conditions(appendix_2, atc, contraceptive, age, indication, condition_met)
    prescriber_ok = _prescriber_allowed(prescriber, expert, appendix_2 and first_for_indication, rare_condition,
                                        specialised, atc, contraceptive, dietary, doctors_note,
                                        doctors_note_prescribers)
    if not own_care and not (rare_condition and specialised):  # the prescriber's own care
        prescriber_ok = False
    dispenser_ok = not (dispenser == "other" or dispenser == "dietary_supplier" and dietary is None)
    formula_for_allergy = infant_formula and indication == "cows_milk_allergy"
    required = (
        (formula_for_allergy and (challenge_test_done is not True or age >= 2
                                  or (ml_per_day is not None and ml_per_day > 1000)))
        or _on_authorisation_list(atc, route)
        or (contraceptive and indication in ENDOMETRIOSIS_OR_MENORRHAGIA)
        or rare_condition
        or (chemists_preparation and authorisation_listed)
        or (appendix_2 and added_on is not None and added_on >= start_of_year and not doctors_note))
    authorisation_ok = not required or (granted_on is not None and granted_on <= on <= valid_until)
    max_supply, min_supply = _dispensing_period(atc, route, acute, new_to_patient, chronic, months_in_use, adjusted)
    supply_ok = _supply_ok(on, supply_days, max_supply, smallest_pack, course_days)
    covered = (insured_from <= on <= insured_until and package and appendix_2_ok is not False and prescriber_ok
               and authorisation_ok and supply_ok and dispenser_ok)
    exempt = (age < EXCESS_AGE or (contraceptive and flagged_appendix_2)
              or (preferred is True and excess_free_list and not medical_necessity))
    always_subject = fee_delivery + fee_counselling + fee_inhaler
    total = price + fee_dispensing + always_subject + fee_assessment  # the assessment is free of excess
    if not covered:
        money: tuple[Decimal, ...] = (ZERO, ZERO, ZERO, ZERO, total)
    else:
        contribution = _personal_contribution(price, limit, days_insured, days_in_year, contribution_paid,
                                              contribution_of_base)
        excess = ZERO if age < EXCESS_AGE else min(
            always_subject if exempt else total - contribution - fee_assessment,
            _excess_room(born, insured_from, insured_until, start_of_year, end_of_year, days_in_year,
                         voluntary_excess, excess_used))
        plan_pays = contribution if plan in PLANS_PAYING_CONTRIBUTION else ZERO
        money = (contribution, excess, total - contribution - excess, plan_pays, contribution - plan_pays + excess)
    return (package, preference, appendix_2_ok, prescriber_ok, required, authorisation_ok, max_supply, min_supply,
            supply_ok, covered, exempt, *money)


def _preference_met(price: Decimal, preferred: bool | None, cheapest: Decimal | None, medical_necessity: bool,
                    logistical_necessity: bool) -> bool:
    """The preference policy (voorkeursbeleid): preferred medicine, or within 3 % of the cheapest, or MN / LN."""
    if medical_necessity or logistical_necessity:
        return True
    if preferred is False:
        return False
    return not (preferred is None and cheapest is not None and price > cheapest * PREFERENCE_MARGIN)


def _in_package(registered: bool, appendix_1: bool, chemists_preparation: bool, equivalent: bool, purpose: str,
                during_admission: bool, preference_met: bool, kind_in_care: bool) -> bool:
    """Medicinal care (farmaceutische zorg, Bzv art. 2.8): listed, an allowed preparation, an Appendix 2 product
    or supplied by an import route; no exclusion."""
    if not (registered and appendix_1 or chemists_preparation and not equivalent or kind_in_care):
        return False
    if purpose in EXCLUDED_PURPOSES or equivalent or during_admission:
        return False
    return preference_met


def _appendix_2_conditions(appendix_2: bool, atc: str, contraceptive: bool, age: int, indication: str | None,
                           condition_met: bool) -> bool | None:
    """The Appendix 2 (Bijlage 2) condition: decided here where the case holds the facts, else the pharmacy's."""
    if not appendix_2:
        return None
    if contraceptive:
        return age < 21 or indication in ENDOMETRIOSIS_OR_MENORRHAGIA
    if atc.startswith(DIPHTHERIA_POLIO_WHOOPING_COUGH):
        return age < 18
    return condition_met


def _prescriber_allowed(prescriber: str, expert: bool, first_appendix_2: bool, rare_condition: bool,
                        specialised: bool, atc: str, contraceptive: bool, dietary: str | None, doctors_note: bool,
                        doctors_note_prescribers: Collection[str]) -> bool:
    """Whether this prescriber may issue this prescription (first Appendix 2 prescriptions are restricted)."""
    if rare_condition and specialised:
        return True
    if prescriber not in PRESCRIBERS:  # a dietician: dietary preparations only
        return dietary is not None
    if not first_appendix_2:
        return True
    if dietary is not None:
        return prescriber in ("dietician", "youth_doctor", "gp", "specialist")
    if atc.startswith(HEPATITIS_DIPHTHERIA_POLIO_WHOOPING_COUGH):
        return prescriber in ("gp", "specialist")
    if atc.startswith("J07AL"):
        return prescriber == "specialist"
    if contraceptive:
        return True
    return prescriber == "specialist" and expert or doctors_note and prescriber in doctors_note_prescribers


def _on_authorisation_list(atc: str, route: str) -> bool:
    """Medicines that need prior written authorisation (machtiging) given by some routes."""
    if atc == "B01AC09":  # epoprostenol
        return route == "intravenous"
    if atc == "B01AC11":  # iloprost
        return route == "inhalation"
    if atc == "B01AC21":  # treprostinil
        return route in ("subcutaneous", "intravenous")
    return False


def _dispensing_period(atc: str, route: str, acute: bool, new_to_patient: bool, chronic: bool,
                       months_in_use: int | Decimal, adjusted: bool) -> tuple[SupplyLimit, Duration | None]:
    """Maximum and minimum dispensing period (afleverperiode); the first row that applies wins."""
    if route == "oral" and atc.startswith("G03A"):
        return PILL, None
    if acute and atc.startswith("J01"):
        return ONE_MONTH_OR_COURSE, None
    if new_to_patient:
        return FIFTEEN_DAYS_OR_SMALLEST_PACK, None
    if chronic and months_in_use >= 6 and adjusted:
        if atc.startswith(BENZODIAZEPINE_HYPNOTIC_ANXIOLYTIC):
            return ONE_MONTH, None
        return TWELVE_MONTHS, THREE_MONTHS
    return ONE_MONTH, None


def _supply_ok(on: dt.date, supply_days: int | Decimal, max_supply: SupplyLimit, smallest_pack: bool,
               course_days: int | Decimal | None) -> bool:
    """Whether ``on + supply_days days <= on + max_supply``, or the alternative the limit allows."""
    if supply_days <= (max_supply.duration.end_from(on) - on).days:
        return True
    if max_supply.or_smallest_pack and smallest_pack:
        return True
    return max_supply.or_one_course and course_days is not None and supply_days <= course_days


def _pro_rate(amount: Decimal, days: int, days_in_year: int) -> Decimal:
    """A yearly amount for part of a year, rounded half up to whole euros."""
    return (amount * days / days_in_year).quantize(ONE, ROUND_HALF_UP).quantize(CENT)


def _personal_contribution(price: Decimal, limit: Decimal | None, days_insured: int, days_in_year: int,
                           contribution_paid: Decimal, of_base: Decimal | None) -> Decimal:
    """The price above the reimbursement limit (or the contribution of the medicine it was prepared from), up to
    what remains of the year's (pro-rated) cap."""
    above_limit = of_base if of_base is not None else price - limit if limit is not None and price > limit else ZERO
    room = max(ZERO, _pro_rate(CONTRIBUTION_CAP, days_insured, days_in_year) - contribution_paid)
    return min(above_limit, room)


def _excess_room(born: dt.date, insured_from: dt.date, insured_until: dt.date, start_of_year: dt.date,
                 end_of_year: dt.date, days_in_year: int, voluntary: Decimal, used: Decimal) -> Decimal:
    """What remains of this year's compulsory plus voluntary excess, each pro-rated from the 18th birthday."""
    start = max(insured_from, start_of_year, add_months(born, 12 * EXCESS_AGE))
    end = min(insured_until, end_of_year)
    days = (end - start).days + 1 if start <= end else 0
    return max(ZERO, _pro_rate(COMPULSORY_EXCESS, days, days_in_year) + _pro_rate(voluntary, days, days_in_year)
               - used)


# ----------------------------------------------------------------------------- from a decoded JSON mapping

#: The order of a case's values (the contract's facts, then the computed ones), written out as a hand-written
#: reader would; checked against the declared facts at import so that the two cannot drift apart.
_VALUE_ORDER = (
    "dispensed_on", "insured.born_on", "insured.insured_from", "insured.insured_until", "insured.plan",
    "insured.voluntary_excess", "insured.excess_used", "insured.contribution_paid", "prescription.prescriber",
    "prescription.expert_in_indication", "prescription.indication", "prescription.first_for_indication",
    "prescription.chronic", "prescription.acute", "prescription.course_days", "prescription.medical_necessity",
    "prescription.logistical_necessity", "prescription.rare_condition", "prescription.specialised_in_condition",
    "prescription.challenge_test_done", "prescription.appendix_2_condition_met", "prescription.purpose",
    "prescription.within_own_care", "medicine.name", "medicine.atc", "medicine.route", "medicine.registered",
    "medicine.appendix_1", "medicine.appendix_2", "medicine.appendix_2_added_on", "medicine.doctors_note_procedure",
    "medicine.doctors_note_prescribers", "medicine.dietary_preparation", "medicine.appendix_2_group",
    "medicine.import_route", "medicine.contribution_of_base", "medicine.infant_formula",
    "medicine.chemists_preparation", "medicine.authorisation_listed", "medicine.equivalent_to_non_appendix_1",
    "medicine.preferred", "medicine.cheapest_in_group", "medicine.on_excess_free_list", "medicine.price",
    "medicine.reimbursement_limit", "dispensing.supply_days", "dispensing.smallest_pack", "dispensing.ml_per_day",
    "dispensing.new_to_patient", "dispensing.months_in_use", "dispensing.adjusted", "dispensing.during_admission",
    "dispensing.contracted", "dispensing.dispenser", "dispensing.fees.dispensing", "dispensing.fees.delivery",
    "dispensing.fees.counselling", "dispensing.fees.inhaler_instruction", "dispensing.fees.medication_assessment",
    "authorisation.granted_on", "authorisation.valid_until", "insured.age", "insured.days_insured", "days_in_year",
    "start_of_year", "end_of_year",
)
assert _VALUE_ORDER == tuple(statutory_facts().fields), "the declared facts changed: update _VALUE_ORDER"

_EMPTY: dict[str, object] = {}
_fromiso = dt.date.fromisoformat


def _optional_date(text: object) -> dt.date | None:
    return None if text is None else _fromiso(text)  # type: ignore[arg-type]


def _optional_money(amount: object) -> Decimal | None:
    return None if amount is None else Decimal(amount)  # type: ignore[arg-type]


def decide_mapping(case: dict[str, Any]) -> tuple[object, ...]:
    """Every decision for one case given as a decoded JSON mapping (ISO dates, amounts as ``"12.40"`` or whole
    numbers), read as an embedder's hand-written code would: no checks beyond what the reading itself does."""
    insured = case["insured"]
    prescription = case["prescription"]
    medicine = case["medicine"]
    dispensing = case["dispensing"]
    fees = dispensing.get("fees") or _EMPTY
    authorisation = case.get("authorisation") or _EMPTY
    on = _fromiso(case["dispensed_on"])
    born = _fromiso(insured["born_on"])
    year = on.year
    start_of_year, end_of_year = dt.date(year, 1, 1), dt.date(year, 12, 31)
    insured_from = insured.get("insured_from")
    insured_from = start_of_year if insured_from is None else _fromiso(insured_from)
    insured_until = insured.get("insured_until")
    insured_until = end_of_year if insured_until is None else _fromiso(insured_until)
    days_in_year = 366 if calendar.isleap(year) else 365
    first, last = max(insured_from, start_of_year), min(insured_until, end_of_year)
    days_insured = max(0, (last - first).days + 1)
    values = (
        on, born, insured_from, insured_until, insured.get("plan"),
        Decimal(insured.get("voluntary_excess", 0)), Decimal(insured.get("excess_used", 0)),
        Decimal(insured.get("contribution_paid", 0)),
        prescription["prescriber"], prescription.get("expert_in_indication", False), prescription.get("indication"),
        prescription.get("first_for_indication", False), prescription.get("chronic", False),
        prescription.get("acute", False), prescription.get("course_days"),
        prescription.get("medical_necessity", False), prescription.get("logistical_necessity", False),
        prescription.get("rare_condition", False), prescription.get("specialised_in_condition", False),
        prescription.get("challenge_test_done"), prescription.get("appendix_2_condition_met", True),
        prescription.get("purpose", "treatment"), prescription.get("within_own_care", True),
        medicine["name"], medicine["atc"], medicine.get("route", "oral"), medicine.get("registered", True),
        medicine.get("appendix_1", True), medicine.get("appendix_2", False),
        _optional_date(medicine.get("appendix_2_added_on")), medicine.get("doctors_note_procedure", False),
        tuple(medicine.get("doctors_note_prescribers", ())), medicine.get("dietary_preparation"),
        medicine.get("appendix_2_group"), medicine.get("import_route"),
        _optional_money(medicine.get("contribution_of_base")), medicine.get("infant_formula", False),
        medicine.get("chemists_preparation", False), medicine.get("authorisation_listed", False),
        medicine.get("equivalent_to_non_appendix_1", False), medicine.get("preferred"),
        _optional_money(medicine.get("cheapest_in_group")), medicine.get("on_excess_free_list", False),
        Decimal(medicine["price"]), _optional_money(medicine.get("reimbursement_limit")),
        dispensing["supply_days"], dispensing.get("smallest_pack", False), dispensing.get("ml_per_day"),
        dispensing.get("new_to_patient", False), dispensing.get("months_in_use", 0),
        dispensing.get("adjusted", False), dispensing.get("during_admission", False),
        dispensing.get("contracted", True), dispensing.get("dispenser", "pharmacy"),
        Decimal(fees.get("dispensing", 0)), Decimal(fees.get("delivery", 0)), Decimal(fees.get("counselling", 0)),
        Decimal(fees.get("inhaler_instruction", 0)), Decimal(fees.get("medication_assessment", 0)),
        _optional_date(authorisation.get("granted_on")), _optional_date(authorisation.get("valid_until")),
        whole_years_between(born, on), days_insured, days_in_year, start_of_year, end_of_year,
    )
    return decide(values)


# ----------------------------------------------------------------------------- from an Arrow table

#: The contract's default of each written fact that has one (the same as :func:`decide_mapping`'s ``get``s).
_DEFAULTS: dict[str, object] = {
    "insured.voluntary_excess": ZERO, "insured.excess_used": ZERO, "insured.contribution_paid": ZERO,
    "prescription.expert_in_indication": False, "prescription.first_for_indication": False,
    "prescription.chronic": False, "prescription.acute": False, "prescription.medical_necessity": False,
    "prescription.logistical_necessity": False, "prescription.rare_condition": False,
    "prescription.specialised_in_condition": False, "prescription.appendix_2_condition_met": True,
    "prescription.purpose": "treatment", "prescription.within_own_care": True,
    "medicine.route": "oral", "medicine.registered": True, "medicine.appendix_1": True, "medicine.appendix_2": False,
    "medicine.doctors_note_procedure": False, "medicine.doctors_note_prescribers": (),
    "medicine.infant_formula": False, "medicine.chemists_preparation": False, "medicine.authorisation_listed": False,
    "medicine.equivalent_to_non_appendix_1": False, "medicine.on_excess_free_list": False,
    "dispensing.smallest_pack": False, "dispensing.new_to_patient": False, "dispensing.months_in_use": 0,
    "dispensing.adjusted": False, "dispensing.during_admission": False, "dispensing.contracted": True,
    "dispensing.dispenser": "pharmacy", "dispensing.fees.dispensing": ZERO, "dispensing.fees.delivery": ZERO,
    "dispensing.fees.counselling": ZERO, "dispensing.fees.inhaler_instruction": ZERO,
    "dispensing.fees.medication_assessment": ZERO,
}
#: The written facts, in value order (the computed ones are the last five of :data:`_VALUE_ORDER`).
_WRITTEN = _VALUE_ORDER[:-5]
_date = dt.date


def decide_table(table: Any) -> list[tuple[object, ...]]:
    """Every decision for each claim of a pyarrow Table or RecordBatch of flattened columns, in row order."""
    columns = []
    for name in _WRITTEN:
        column = table.column(name).to_pylist()
        default = _DEFAULTS.get(name)
        if name == "medicine.doctors_note_prescribers":
            column = [() if v is None else tuple(v) for v in column]
        elif default is not None:
            column = [default if v is None else v for v in column]
        columns.append(column)
    decisions = []
    for row in zip(*columns, strict=True):
        on, born, insured_from, insured_until = row[0], row[1], row[2], row[3]
        year = on.year
        start_of_year, end_of_year = _date(year, 1, 1), _date(year, 12, 31)
        if insured_from is None:
            insured_from = start_of_year
        if insured_until is None:
            insured_until = end_of_year
        first, last = max(insured_from, start_of_year), min(insured_until, end_of_year)
        decisions.append(decide((on, born, insured_from, insured_until, *row[4:], whole_years_between(born, on),
                                 max(0, (last - first).days + 1), 366 if calendar.isleap(year) else 365,
                                 start_of_year, end_of_year)))
    return decisions
