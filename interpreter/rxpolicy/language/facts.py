"""The case schema: every field of the contract's case file, its type, default and wording.

This is data, shared by the checker (which names may a rule use, with which type) and by the
case loader (what a case file may contain). Each field carries the words an explanation uses
for it, in English and Dutch: a yes/no field a sentence for each answer, any other field a noun;
each choice (:class:`Choice`) the words for its codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from rxpolicy.language import types as t
from rxpolicy.language.values import days_in_year, whole_years_between

__all__ = ["Choice", "FieldSpec", "FIELDS", "DERIVED", "SECTIONS", "CHOICES", "LAYER_KINDS", "PRESCRIBER_KINDS",
           "INDICATION_CODES", "ROUTES", "PURPOSES", "DIETARY", "choice_words", "field_index", "derived_facts",
           "AUTHORISATION_DATES"]


@attrs.frozen
class Choice:
    """A choice a rule may name (the prescriber kinds, the routes, …) with the words explanations use for each code.

    The contract's codes stay in cases, rules and JSON; people read the words. English words carry their
    article where a sentence needs one ("the prescriber is a GP"); Dutch words read right after "is"
    ("de voorschrijver is huisarts", "de toedieningsweg is nasaal").
    """

    #: The name of the choice, as the choice type is named in messages (``prescriber kind``).
    name: str
    #: Code → words per language (``{"en": ..., "nl": ...}``), in the contract's order.
    words: Mapping[str, Mapping[str, str]]

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes, in the contract's order."""
        return tuple(self.words)


def _choice(name: str, **words: tuple[str, str]) -> Choice:
    return Choice(name, MappingProxyType({code: MappingProxyType({"en": en, "nl": nl})
                                          for code, (en, nl) in words.items()}))


_PRESCRIBER = _choice(
    "prescriber kind",
    gp=("a GP", "huisarts"), specialist=("a medical specialist", "medisch specialist"),
    dietician=("a dietician", "diëtist"), youth_doctor=("a youth healthcare doctor", "jeugdarts"),
    elderly_care_physician=("an elderly care physician", "specialist ouderengeneeskunde"),
    nurse_specialist=("a nurse specialist", "verpleegkundig specialist"),
    physician_assistant=("a physician assistant", "physician assistant"),
    dentist=("a dentist", "tandarts"), orthodontist=("an orthodontist", "orthodontist"),
    midwife=("a midwife", "verloskundige"), other=("another kind of prescriber", "een ander soort voorschrijver"))
_INDICATION = _choice(
    "indication code",
    cows_milk_allergy=("cow's milk allergy", "koemelkallergie"), endometriosis=("endometriosis", "endometriose"),
    menorrhagia=("menorrhagia", "menorragie"), contraception=("contraception", "anticonceptie"),
    pulmonary_arterial_hypertension=("pulmonary arterial hypertension", "pulmonale arteriële hypertensie"),
    depression=("depression", "depressie"))
#: Routes of administration (toedieningswegen) as the G-Standaard names them.
_ROUTE = _choice(
    "route",
    oral=("oral", "oraal"), inhalation=("inhalation", "inhalatie"), intravenous=("intravenous", "intraveneus"),
    subcutaneous=("subcutaneous", "subcutaan"), nasal=("nasal", "nasaal"), rectal=("rectal", "rectaal"),
    topical=("topical", "lokaal"), other=("a different one", "een andere"))
_PURPOSE = _choice(
    "purpose",
    treatment=("treatment", "behandeling"),
    travel_sickness=("preventing travel sickness", "het voorkomen van reisziekte"),
    research=("research", "onderzoek"), compassionate_use=("compassionate use", "compassionate use"))
#: The kinds of dietary preparation (dieetpreparaat) of the Regeling zorgverzekering.
_DIETARY = _choice(
    "dietary preparation",
    polymer=("polymeric", "polymeer"), oligomer=("oligomeric", "oligomeer"), monomer=("monomeric", "monomeer"),
    modular=("modular", "modulair"))
#: Not a case field: the kinds of rule layer (``kind statutory`` / ``kind insurer``), worded here with the rest.
_LAYER_KIND = _choice("layer kind", statutory=("statutory", "wettelijk"), insurer=("insurer", "verzekeraar"))

#: Every choice by its name, the one place its words live.
CHOICES: Mapping[str, Choice] = MappingProxyType(
    {c.name: c for c in (_PRESCRIBER, _INDICATION, _ROUTE, _PURPOSE, _DIETARY, _LAYER_KIND)})
PRESCRIBER_KINDS = _PRESCRIBER.codes
INDICATION_CODES = _INDICATION.codes
ROUTES = _ROUTE.codes
PURPOSES = _PURPOSE.codes
DIETARY = _DIETARY.codes
LAYER_KINDS = _LAYER_KIND.codes


def choice_words(name: str, code: str, lang: str) -> str | None:
    """The words for one code of the choice named ``name`` (``"route"``, ``"nasal"`` → ``"nasaal"`` in Dutch).

    None when the choice or the code is not listed, e.g. the free text of an open choice.
    """
    choice = CHOICES.get(name)
    words = choice.words.get(code) if choice is not None else None
    if words is None:
        return None
    return words.get(lang) or words["en"]


#: A default is a value or a function of the dispensing date (for the insured period).
Default = Any


@attrs.frozen(kw_only=True)
class FieldSpec:
    """One case field: its path, type, default and how explanations word it."""

    path: str
    type: t.Type
    default: Default = None
    required: bool = False
    #: Open choices accept any text in a case; the listed codes are the ones rules may name.
    open_choice: bool = False
    #: Yes/no fields: the sentence when true and when false, per language.
    yes: Mapping[str, str] = attrs.field(factory=dict)
    no: Mapping[str, str] = attrs.field(factory=dict)
    #: Other fields: a noun phrase, per language.
    noun: Mapping[str, str] = attrs.field(factory=dict)
    #: Derived fields are computed from others, never written in a case.
    derived: bool = False

    def default_for(self, dispensed_on: dt.date) -> Any:
        """The default value of this field for a case dispensed on ``dispensed_on``."""
        default = self.default
        return default(dispensed_on) if callable(default) else default


def _yn(path: str, typ: t.Type, yes_en: str, no_en: str, yes_nl: str, no_nl: str, default: Default = False,
        ) -> FieldSpec:
    return FieldSpec(path=path, type=typ, default=default, yes={"en": yes_en, "nl": yes_nl},
                     no={"en": no_en, "nl": no_nl})


def _noun(path: str, typ: t.Type, en: str, nl: str, default: Default = None, required: bool = False,
          open_choice: bool = False, derived: bool = False) -> FieldSpec:
    return FieldSpec(path=path, type=typ, default=default, required=required, open_choice=open_choice,
                     noun={"en": en, "nl": nl}, derived=derived)


def _first_of_year(d: dt.date) -> dt.date:
    return dt.date(d.year, 1, 1)


def _last_of_year(d: dt.date) -> dt.date:
    return dt.date(d.year, 12, 31)


ZERO = Decimal("0.00")
B, MB = t.BOOL, t.BOOL.maybe()

_FIELDS: tuple[FieldSpec, ...] = (
    _noun("dispensed_on", t.DATE, "the dispensing date", "de datum van terhandstelling", required=True),
    # insured
    _noun("insured.born_on", t.DATE, "the date of birth", "de geboortedatum", required=True),
    _noun("insured.insured_from", t.DATE, "the start of the insurance", "de ingangsdatum van de verzekering",
          default=_first_of_year),
    _noun("insured.insured_until", t.DATE, "the end of the insurance", "de einddatum van de verzekering",
          default=_last_of_year),
    _noun("insured.plan", t.TEXT.maybe(), "the supplementary plan", "de aanvullende verzekering"),
    _noun("insured.voluntary_excess", t.MONEY, "the voluntary excess", "het vrijwillig eigen risico", default=ZERO),
    _noun("insured.excess_used", t.MONEY, "the excess already charged this year",
          "het eigen risico dat dit jaar al is betaald", default=ZERO),
    _noun("insured.contribution_paid", t.MONEY, "the personal contribution already charged this year",
          "de eigen bijdrage die dit jaar al is betaald", default=ZERO),
    # prescription
    _noun("prescription.prescriber", t.enum_type(_PRESCRIBER.name, PRESCRIBER_KINDS), "the prescriber",
          "de voorschrijver", required=True),
    _yn("prescription.expert_in_indication", B,
        "the prescriber has demonstrable expertise in this indication",
        "the prescriber has no demonstrable expertise in this indication",
        "de voorschrijver heeft aantoonbare deskundigheid in deze indicatie",
        "de voorschrijver heeft geen aantoonbare deskundigheid in deze indicatie"),
    _noun("prescription.indication", t.enum_type(_INDICATION.name, INDICATION_CODES, nullable=True),
          "the indication", "de indicatie", open_choice=True),
    _yn("prescription.first_for_indication", B,
        "this is the first prescription for this indication", "this is not the first prescription for this indication",
        "dit is het eerste voorschrift voor deze indicatie", "dit is niet het eerste voorschrift voor deze indicatie"),
    _yn("prescription.chronic", B, "the prescriber states a chronic condition",
        "the prescriber does not state a chronic condition",
        "de voorschrijver vermeldt een chronische aandoening", "de voorschrijver vermeldt geen chronische aandoening"),
    _yn("prescription.acute", B, "it treats an acute condition", "it does not treat an acute condition",
        "het behandelt een acute aandoening", "het behandelt geen acute aandoening"),
    _noun("prescription.course_days", t.NUMBER.maybe(), "the length of one course in days",
          "de duur van één kuur in dagen"),
    _yn("prescription.medical_necessity", B, "the prescription states a medical necessity",
        "the prescription states no medical necessity",
        "het voorschrift vermeldt medische noodzaak", "het voorschrift vermeldt geen medische noodzaak"),
    _yn("prescription.logistical_necessity", B, "the preferred medicine is unavailable for a prolonged period",
        "there is no logistical necessity",
        "het voorkeursgeneesmiddel is langdurig niet leverbaar", "er is geen logistieke noodzaak"),
    _yn("prescription.rare_condition", B, "the insured has a very rare condition with a non-registered indication",
        "the insured has no very rare condition with a non-registered indication",
        "de verzekerde heeft een zeer zeldzame aandoening met een niet-geregistreerde indicatie",
        "de verzekerde heeft geen zeer zeldzame aandoening met een niet-geregistreerde indicatie"),
    _yn("prescription.specialised_in_condition", B, "the prescriber specialises in that rare condition",
        "the prescriber does not specialise in that rare condition",
        "de voorschrijver is gespecialiseerd in die zeldzame aandoening",
        "de voorschrijver is niet gespecialiseerd in die zeldzame aandoening"),
    _yn("prescription.challenge_test_done", MB, "a challenge test was performed", "no challenge test was performed",
        "er is een provocatietest gedaan", "er is geen provocatietest gedaan", default=None),
    _yn("prescription.appendix_2_condition_met", B, "the pharmacy finds the Appendix 2 condition met",
        "the pharmacy finds the Appendix 2 condition not met",
        "de apotheek vindt de voorwaarde van Bijlage 2 vervuld",
        "de apotheek vindt de voorwaarde van Bijlage 2 niet vervuld", default=True),
    _noun("prescription.purpose", t.enum_type(_PURPOSE.name, PURPOSES), "the purpose of the medicine",
          "het doel van het geneesmiddel", default="treatment"),
    # medicine
    _noun("medicine.name", t.TEXT, "the medicine", "het geneesmiddel", required=True),
    _noun("medicine.atc", t.ATC, "the ATC code", "de ATC-code", required=True),
    _noun("medicine.route", t.enum_type(_ROUTE.name, ROUTES), "the route of administration", "de toedieningsweg",
          default="oral"),
    _yn("medicine.registered", B, "the medicine is registered", "the medicine is not registered",
        "het geneesmiddel is geregistreerd", "het geneesmiddel is niet geregistreerd", default=True),
    _yn("medicine.appendix_1", B, "the medicine is listed in Appendix 1", "the medicine is not listed in Appendix 1",
        "het geneesmiddel staat in Bijlage 1", "het geneesmiddel staat niet in Bijlage 1", default=True),
    _yn("medicine.appendix_2", B, "the medicine is listed in Appendix 2", "the medicine is not listed in Appendix 2",
        "het geneesmiddel staat in Bijlage 2", "het geneesmiddel staat niet in Bijlage 2"),
    _noun("medicine.appendix_2_added_on", t.DATE.maybe(), "the date the medicine was added to Appendix 2",
          "de datum waarop het geneesmiddel aan Bijlage 2 is toegevoegd"),
    _yn("medicine.doctors_note_procedure", B, "a doctor's note procedure exists for the medicine",
        "no doctor's note procedure exists for the medicine",
        "er bestaat een artsenverklaring voor het geneesmiddel",
        "er bestaat geen artsenverklaring voor het geneesmiddel"),
    _noun("medicine.doctors_note_prescribers", t.list_type(_PRESCRIBER.name, PRESCRIBER_KINDS),
          "the prescribers the doctor's note names", "de voorschrijvers die de artsenverklaring noemt", default=()),
    _noun("medicine.dietary_preparation", t.enum_type(_DIETARY.name, DIETARY, nullable=True),
          "the kind of dietary preparation", "de soort dieetpreparaat"),
    _yn("medicine.infant_formula", B, "the medicine is infant formula", "the medicine is not infant formula",
        "het is zuigelingenvoeding", "het is geen zuigelingenvoeding"),
    _yn("medicine.chemists_preparation", B, "the medicine is a chemist's preparation",
        "the medicine is not a chemist's preparation",
        "het is een apotheekbereiding", "het is geen apotheekbereiding"),
    _yn("medicine.authorisation_listed", B, "the preparation is on the insurer's authorisation list",
        "the preparation is not on the insurer's authorisation list",
        "de bereiding staat op de machtigingslijst van de verzekeraar",
        "de bereiding staat niet op de machtigingslijst van de verzekeraar"),
    _yn("medicine.equivalent_to_non_appendix_1", B,
        "the medicine is equivalent to a registered medicine outside Appendix 1",
        "the medicine is not equivalent to a registered medicine outside Appendix 1",
        "het geneesmiddel is gelijkwaardig aan een geregistreerd geneesmiddel buiten Bijlage 1",
        "het geneesmiddel is niet gelijkwaardig aan een geregistreerd geneesmiddel buiten Bijlage 1"),
    _yn("medicine.preferred", MB, "the medicine is the insurer's preferred medicine",
        "its group has another preferred medicine",
        "het is het voorkeursgeneesmiddel van de verzekeraar", "de groep heeft een ander voorkeursgeneesmiddel",
        default=None),
    _noun("medicine.cheapest_in_group", t.MONEY.maybe(), "the price of the cheapest medicine in its group",
          "de prijs van het goedkoopste geneesmiddel in de groep"),
    _yn("medicine.on_excess_free_list", B, "the medicine is on the excess-free list",
        "the medicine is not on the excess-free list",
        "het geneesmiddel staat op de lijst zonder eigen risico",
        "het geneesmiddel staat niet op de lijst zonder eigen risico"),
    _noun("medicine.price", t.MONEY, "the price of the medicine", "de prijs van het geneesmiddel", required=True),
    _noun("medicine.reimbursement_limit", t.MONEY.maybe(), "the reimbursement limit", "de vergoedingslimiet"),
    # dispensing
    _noun("dispensing.supply_days", t.NUMBER, "the days of use this dispensing covers",
          "het aantal gebruiksdagen van deze terhandstelling", required=True),
    _yn("dispensing.smallest_pack", B, "the smallest pack was dispensed", "the smallest pack was not dispensed",
        "de kleinste verpakking is afgeleverd", "de kleinste verpakking is niet afgeleverd"),
    _noun("dispensing.ml_per_day", t.NUMBER.maybe(), "the millilitres per day", "het aantal milliliter per dag"),
    _yn("dispensing.new_to_patient", B, "the medicine is new to the patient", "the medicine is not new to the patient",
        "het geneesmiddel is nieuw voor de patiënt", "het geneesmiddel is niet nieuw voor de patiënt"),
    _noun("dispensing.months_in_use", t.NUMBER, "the months the patient has used the medicine",
          "het aantal maanden dat de patiënt het geneesmiddel gebruikt", default=0),
    _yn("dispensing.adjusted", B, "the patient is properly adjusted to the medicine",
        "the patient is not yet properly adjusted to the medicine",
        "de patiënt is goed ingesteld op het geneesmiddel", "de patiënt is nog niet goed ingesteld op het geneesmiddel"),
    _yn("dispensing.during_admission", B, "it is part of a hospital admission or specialist treatment",
        "it is not part of a hospital admission or specialist treatment",
        "het hoort bij een opname of medisch-specialistische behandeling",
        "het hoort niet bij een opname of medisch-specialistische behandeling"),
    _yn("dispensing.contracted", B, "a contracted pharmacy dispensed it", "a non-contracted pharmacy dispensed it",
        "een gecontracteerde apotheek leverde het af", "een niet-gecontracteerde apotheek leverde het af",
        default=True),
    _noun("dispensing.fees.dispensing", t.MONEY, "the dispensing fee", "het terhandstellingstarief", default=ZERO),
    _noun("dispensing.fees.delivery", t.MONEY, "the delivery fee", "de bezorgkosten", default=ZERO),
    _noun("dispensing.fees.counselling", t.MONEY, "the counselling fee", "het tarief voor het begeleidingsgesprek",
          default=ZERO),
    _noun("dispensing.fees.inhaler_instruction", t.MONEY, "the inhaler instruction fee",
          "het tarief voor inhalatie-instructie", default=ZERO),
    _noun("authorisation.granted_on", t.DATE.maybe(), "the date the authorisation was granted",
          "de datum waarop de machtiging is verleend"),
    _noun("authorisation.valid_until", t.DATE.maybe(), "the end of the authorisation",
          "de einddatum van de machtiging"),
)

#: Facts computed from the case, usable in rules like any field.
_DERIVED: tuple[FieldSpec, ...] = (
    _noun("insured.age", t.NUMBER, "the age in whole years on the dispensing date",
          "de leeftijd in hele jaren op de datum van terhandstelling", derived=True),
    _noun("insured.days_insured", t.NUMBER, "the days insured in the dispensing year",
          "het aantal verzekerde dagen in het jaar van terhandstelling", derived=True),
    _noun("days_in_year", t.NUMBER, "the days in the dispensing year", "het aantal dagen in het jaar",
          derived=True),
    _noun("start_of_year", t.DATE, "1 January of the dispensing year", "1 januari van het jaar van terhandstelling",
          derived=True),
    _noun("end_of_year", t.DATE, "31 December of the dispensing year", "31 december van het jaar van terhandstelling",
          derived=True),
)

FIELDS: Mapping[str, FieldSpec] = MappingProxyType({f.path: f for f in _FIELDS + _DERIVED})
DERIVED: tuple[str, ...] = tuple(f.path for f in _DERIVED)
#: The dates of the insurer's written authorisation (machtiging): a case holds both or neither.
AUTHORISATION_DATES: tuple[str, str] = ("authorisation.granted_on", "authorisation.valid_until")
#: The sections of a case file and the sections nested in them.
SECTIONS: tuple[str, ...] = ("insured", "prescription", "medicine", "dispensing", "dispensing.fees",
                             "authorisation")
_INDEX: Mapping[str, int] = MappingProxyType({path: i for i, path in enumerate(FIELDS)})


def field_index(path: str) -> int:
    """Position of a field in a case's value tuple (the compiled rules read values by position)."""
    return _INDEX[path]


def derived_facts(on: dt.date, born: dt.date, insured_from: dt.date, insured_until: dt.date) -> tuple[object, ...]:
    """The facts computed from a case's dates, in :data:`DERIVED` order.

    The age counts whole years with the contract's month arithmetic (a 29 February birthday falls on
    28 February in other years); the days insured count only the dispensing year.
    """
    first_day, last_day = max(insured_from, dt.date(on.year, 1, 1)), min(insured_until, dt.date(on.year, 12, 31))
    return (whole_years_between(born, on), max(0, (last_day - first_day).days + 1), days_in_year(on.year),
            dt.date(on.year, 1, 1), dt.date(on.year, 12, 31))


DefaultFn = Callable[[dt.date], Any]
