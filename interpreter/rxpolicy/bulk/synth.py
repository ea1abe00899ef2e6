"""Synthetic dispensing claims: a deterministic generator of realistic case mappings, for demos, tests and benchmarks.

The same ``seed`` and ``n`` give the same claims, byte for byte, in every format and on every machine: one
:class:`random.Random` per block of :data:`BLOCK` claims, seeded from ``(seed, block)``, so a block can be made
without the ones before it (the benchmarks and the Dask tests make their inputs in parallel).

The mix (documented in the README, "Claims in bulk"):

* medicines: :data:`MEDICINES` with their weights: everyday chronic medicines (statins, blood pressure,
  diabetes, acid inhibitors), benzodiazepines and hypnotics, the pill, antibiotics for acute infections, an
  inhaler, a vaccine, esketamine, an expensive orphan drug under authorisation, travel sickness, infant formula;
* ages 0–95 (a fifth under 18), a quarter chronic and adjusted users, one in ten new to the patient;
* prices within each medicine's range, reimbursement limits where the medicine has one, preferred / not
  preferred medicines, dispensing fees and sometimes a delivery, counselling or inhaler-instruction fee;
* supplementary plans drawn from the policy's own plan names (none when it declares none), voluntary excess,
  excess and contribution already used, one in twenty insured for part of the year;
* dispensing dates spread evenly over the years asked for (default: the years the policy is in force);
* :data:`INVALID_SHARE` of the claims (1 %) broken on purpose, one fault each from :data:`FAULTS`, each a case the
  case validator refuses (a missing ATC code, a negative price, an unknown prescriber, …).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import attrs

__all__ = ["BLOCK", "FAULTS", "INVALID_SHARE", "MEDICINES", "Medicine", "synth_claims"]

#: Claims made from one seeded random generator: blocks can be made independently of each other.
BLOCK = 10_000
#: The share of claims with one deliberate fault.
INVALID_SHARE = 0.01


@attrs.frozen(kw_only=True)
class Medicine:
    """One medicine of the mix: how often it is dispensed, its price range and what its claims look like."""

    name: str
    atc: str
    weight: int
    price: tuple[str, str]
    route: str = "oral"
    #: Fields every claim of this medicine has (``medicine.appendix_2: True``, ...).
    fixed: tuple[tuple[str, object], ...] = ()
    #: 'chronic' (long use, sometimes new), 'acute' (a course), 'once' (a single dispensing).
    use: str = "chronic"
    limit_share: float = 0.0
    preference: bool = False


MEDICINES: tuple[Medicine, ...] = (
    Medicine(name="simvastatin 40 mg tablet", atc="C10AA01", weight=14, price=("1.50", "9.00"), preference=True),
    Medicine(name="atorvastatin 20 mg tablet", atc="C10AA05", weight=10, price=("2.00", "12.00"), preference=True),
    Medicine(name="amlodipine 5 mg tablet", atc="C08CA01", weight=10, price=("2.00", "14.00")),
    Medicine(name="metformin 500 mg tablet", atc="A10BA02", weight=9, price=("1.80", "6.00")),
    Medicine(name="omeprazole 20 mg capsule", atc="A02BC01", weight=9, price=("3.00", "24.00"), preference=True,
             limit_share=0.4),
    Medicine(name="pantoprazole 40 mg tablet", atc="A02BC02", weight=6, price=("3.00", "19.00"), preference=True,
             limit_share=0.4),
    Medicine(name="insulin glargine 100 U/ml pen", atc="A10AE04", weight=4, price=("45.00", "110.00"),
             route="subcutaneous", limit_share=0.8),
    Medicine(name="oxazepam 10 mg tablet", atc="N05BA04", weight=5, price=("2.00", "6.00"),
             fixed=(("medicine.appendix_2", True),)),
    Medicine(name="temazepam 10 mg capsule", atc="N05CD07", weight=4, price=("2.00", "5.00"),
             fixed=(("medicine.appendix_2", True),)),
    Medicine(name="levonorgestrel/ethinylestradiol 150/30 tablet", atc="G03AA07", weight=6, price=("8.00", "25.00"),
             fixed=(("medicine.appendix_2", True),)),
    Medicine(name="doxycycline 100 mg capsule", atc="J01AA02", weight=5, price=("4.00", "12.00"), use="acute"),
    Medicine(name="amoxicillin 500 mg capsule", atc="J01CA04", weight=6, price=("2.50", "9.00"), use="acute"),
    Medicine(name="salbutamol 100 mcg inhaler", atc="R03AC02", weight=5, price=("6.00", "45.00"), route="inhalation"),
    Medicine(name="methylphenidate 10 mg tablet", atc="N06BA04", weight=3, price=("9.00", "40.00")),
    Medicine(name="esketamine 28 mg nasal spray", atc="N06AX27", weight=1, price=("180.00", "260.00"), route="nasal",
             use="once"),
    Medicine(name="diphtheria/tetanus/pertussis/polio vaccine", atc="J07CA02", weight=1, price=("15.00", "45.00"),
             route="other", use="once", fixed=(("medicine.appendix_2", True),)),
    Medicine(name="pneumococcal vaccine", atc="J07AL02", weight=1, price=("8.00", "60.00"), route="other", use="once",
             fixed=(("medicine.appendix_2", True),)),
    Medicine(name="miglustat 100 mg capsule", atc="A16AX06", weight=1, price=("3500.00", "4500.00"),
             fixed=(("medicine.appendix_2", True),)),
    Medicine(name="cinnarizine 25 mg tablet", atc="N07CA02", weight=1, price=("3.00", "9.00"), use="once"),
    Medicine(name="amino acid based infant formula", atc="V06DX01", weight=1, price=("30.00", "90.00"),
             fixed=(("medicine.infant_formula", True), ("medicine.appendix_2", True),
                    ("prescription.indication", "cows_milk_allergy"))),
)

#: The faults of invalid claims: each is a case the validator refuses with the code given.
FAULTS: tuple[tuple[str, str], ...] = (
    ("medicine.atc missing", "RX402"),
    ("negative price", "RX405"),
    ("unknown prescriber", "RX406"),
    ("supply_days 0", "RX405"),
    ("born after dispensing", "RX405"),
    ("voluntary excess 150", "RX405"),
)
_PRESCRIBERS = (("gp", 70), ("specialist", 22), ("nurse_specialist", 3), ("elderly_care_physician", 2),
                ("dentist", 1), ("midwife", 1), ("youth_doctor", 1))
_FEES = ("7.50", "8.10", "8.40", "9.25", "12.75")


def synth_claims(n: int, seed: int, *, years: tuple[int, int], plans: Sequence[str] = (),
                 start: int = 0) -> Iterator[dict[str, Any]]:
    """Claims ``start`` to ``n - 1`` as nested case mappings (the case-file shape: money as two-decimal strings).

    ``years`` is the first and last dispensing year; ``plans`` the supplementary plan names to draw from.
    """
    weights = [m.weight for m in MEDICINES]
    first_day = dt.date(years[0], 1, 1).toordinal()
    days = dt.date(years[1], 12, 31).toordinal() - first_day + 1
    block = -1
    rng = random.Random()
    for number in range(start, n):
        if number // BLOCK != block:
            block = number // BLOCK
            rng = random.Random(f"rxpolicy-claims:{seed}:{block}")
            # Catch up within the block so that `start` inside a block gives the same claims.
            for _ in range(block * BLOCK, number):
                _claim(rng, weights, first_day, days, plans)
        yield _claim(rng, weights, first_day, days, plans)


def _money(rng: random.Random, low: str, high: str) -> Decimal:
    cents = rng.randint(int(Decimal(low) * 100), int(Decimal(high) * 100))
    return Decimal(cents) / 100


def _claim(rng: random.Random, weights: list[int], first_day: int, days: int,
           plans: Sequence[str]) -> dict[str, Any]:
    medicine = rng.choices(MEDICINES, weights)[0]
    on = dt.date.fromordinal(first_day + rng.randrange(days))
    age = rng.randint(0, 17) if rng.random() < 0.2 else rng.randint(18, 95)
    born = on - dt.timedelta(days=age * 365 + rng.randrange(365))
    flat: dict[str, object] = {"dispensed_on": on, "insured.born_on": born}
    if rng.random() < 0.05:  # part of the year insured
        if rng.random() < 0.5:
            flat["insured.insured_from"] = dt.date(on.year, rng.randint(1, on.month), 1)
        else:
            flat["insured.insured_until"] = dt.date(on.year, 12, 31) - dt.timedelta(days=rng.randrange(200))
    if plans and rng.random() < 0.3:
        flat["insured.plan"] = rng.choice(plans)
    if rng.random() < 0.15:
        flat["insured.voluntary_excess"] = Decimal(rng.choice((100, 200, 300, 400, 500)))
    used = rng.random()
    if used < 0.4:
        flat["insured.excess_used"] = Decimal(385)
    elif used < 0.7:
        flat["insured.excess_used"] = _money(rng, "0.00", "384.99")
    if rng.random() < 0.1:
        flat["insured.contribution_paid"] = _money(rng, "0.00", "250.00")
    prescriber = rng.choices([p for p, _ in _PRESCRIBERS], [w for _, w in _PRESCRIBERS])[0]
    if medicine.atc in ("N06AX27", "A16AX06"):
        prescriber = "specialist"
    flat["prescription.prescriber"] = prescriber
    price = _money(rng, *medicine.price)
    flat.update({"medicine.name": medicine.name, "medicine.atc": medicine.atc, "medicine.price": price})
    if medicine.route != "oral":
        flat["medicine.route"] = medicine.route
    flat.update(medicine.fixed)
    if medicine.preference:
        draw = rng.random()
        if draw < 0.6:
            flat["medicine.preferred"] = True
            flat["medicine.on_excess_free_list"] = rng.random() < 0.5
        elif draw < 0.8:
            flat["medicine.preferred"] = False
            flat["prescription.medical_necessity"] = rng.random() < 0.3
        else:
            flat["medicine.cheapest_in_group"] = (price * Decimal(rng.choice(("0.90", "0.98", "1.00")))).quantize(
                Decimal("0.01"))
    if rng.random() < medicine.limit_share:
        flat["medicine.reimbursement_limit"] = (price * Decimal(rng.choice(("0.50", "0.75", "1.00", "1.20")))
                                                ).quantize(Decimal("0.01"))
    if medicine.use == "acute":
        course = rng.choice((5, 7, 10, 14, 42))
        flat.update({"prescription.acute": True, "prescription.course_days": course,
                     "dispensing.supply_days": rng.choice((course, course, 30, 45))})
    elif medicine.use == "once":
        flat["dispensing.supply_days"] = rng.choice((1, 10, 28, 30))
        if medicine.atc.startswith("J07"):
            flat["prescription.first_for_indication"] = True
        if medicine.atc == "N07CA02":
            flat["prescription.purpose"] = rng.choice(("travel_sickness", "treatment"))
    else:
        kind = rng.random()
        if kind < 0.1:
            flat.update({"dispensing.new_to_patient": True, "dispensing.supply_days": rng.choice((14, 15, 28, 30)),
                         "dispensing.smallest_pack": rng.random() < 0.5})
        elif kind < 0.45:
            flat.update({"prescription.chronic": True, "dispensing.months_in_use": rng.randint(0, 60),
                         "dispensing.adjusted": rng.random() < 0.85,
                         "dispensing.supply_days": rng.choice((30, 60, 90, 90, 90, 180, 365))})
        else:
            flat["dispensing.supply_days"] = rng.choice((7, 14, 28, 28, 30, 30, 30, 60))
    if ("medicine.appendix_2", True) in medicine.fixed and medicine.atc.startswith("N05") and rng.random() < 0.1:
        # A first prescription of an Appendix 2 medicine: who may write it depends on the prescriber.
        flat["prescription.first_for_indication"] = True
        flat["prescription.expert_in_indication"] = rng.random() < 0.5
    if medicine.atc == "A16AX06":
        flat.update({"prescription.rare_condition": True, "prescription.specialised_in_condition": True,
                     "prescription.first_for_indication": rng.random() < 0.3})
        if rng.random() < 0.8:
            granted = on - dt.timedelta(days=rng.randrange(300))
            flat["authorisation.granted_on"] = granted
            flat["authorisation.valid_until"] = granted + dt.timedelta(days=rng.choice((180, 364)))
    if medicine.atc == "V06DX01":
        flat.update({"prescription.challenge_test_done": rng.random() < 0.8,
                     "dispensing.ml_per_day": rng.choice((400, 600, 800, 1000, 1200, 1500))})
        flat["prescription.prescriber"] = rng.choice(("specialist", "youth_doctor", "gp", "dietician"))
        flat["insured.born_on"] = on - dt.timedelta(days=rng.randrange(700))
    flat["dispensing.fees.dispensing"] = Decimal(rng.choice(_FEES))
    fee = rng.random()
    if fee < 0.05:
        flat["dispensing.fees.delivery"] = Decimal(rng.choice(("2.50", "3.50", "4.00")))
    elif fee < 0.08:
        flat["dispensing.fees.counselling"] = Decimal("12.40")
    if medicine.route == "inhalation" and rng.random() < 0.3:
        flat["dispensing.fees.inhaler_instruction"] = Decimal("12.00")
    if rng.random() < 0.02:
        flat["dispensing.contracted"] = False
    if rng.random() < INVALID_SHARE:
        _break(rng, flat, on)
    return _nested(flat)


def _break(rng: random.Random, flat: dict[str, object], on: dt.date) -> None:
    """One deliberate fault (see :data:`FAULTS`)."""
    fault = rng.randrange(len(FAULTS))
    if fault == 0:
        flat["medicine.atc"] = None
    elif fault == 1:
        flat["medicine.price"] = -Decimal(str(flat["medicine.price"]))
    elif fault == 2:
        flat["prescription.prescriber"] = "doctor"
    elif fault == 3:
        flat["dispensing.supply_days"] = 0
    elif fault == 4:
        flat["insured.born_on"] = on + dt.timedelta(days=rng.randint(1, 900))
    else:
        flat["insured.voluntary_excess"] = Decimal(150)


def _nested(flat: dict[str, object]) -> dict[str, Any]:
    """The case-file shape: sections as nested mappings, dates ISO, money as two-decimal strings."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        if value is None:
            continue
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = f"{value:.2f}"
        *sections, name = path.split(".")
        node = out
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return out
