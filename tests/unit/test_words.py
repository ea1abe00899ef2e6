"""Choice values in words: explanations say "huisarts" and "nasaal", the JSON keeps ``gp`` and ``nasal``.

Every code of every choice a case field holds has words in English and Dutch where the choice is declared
(``choice … end`` in rules/statutory/facts.rxp), and every layer kind in the language's own words; the
renderers use them wherever a choice value is put into words.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from rxpolicy import Evaluation, PolicyStore, evaluate, evaluate_case_file
from rxpolicy.explain.json import evaluation_dict
from rxpolicy.explain.markdown import evaluation_markdown
from rxpolicy.explain.text import evaluation_text
from rxpolicy.tools.whatif import what_if
from rxpolicy.explain.views import because
from rxpolicy.explain.words import LANGUAGES, layer_text, value_text
from rxpolicy.language.check.model import LayerKind
from rxpolicy.language.facts import FieldSpec, statutory_facts
from rxpolicy.language.grammar import grammar_text
from rxpolicy.language.types import Kind

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FACTS = statutory_facts()
FIELDS = FACTS.fields
CHOICE_FIELDS = [spec for spec in FIELDS.values() if spec.type.kind in (Kind.ENUM, Kind.LIST)]
CHOICES = {c.label: c for c in FACTS.choices.values()}


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    """Compiled policies shared by the tests of this module."""
    return PolicyStore()


def _example(store: PolicyStore, name: str, policy: str = "hollandzorg") -> Evaluation:
    return evaluate_case_file(EXAMPLES / policy / f"{name}.yaml", store.load(policy))


# ------------------------------------------------------------------------------------------ the words

def _a_rule():  # type: ignore[no-untyped-def]
    """Any built-in rule, to word its layer."""
    return PolicyStore().load("hollandzorg").rules[0]


def test_there_are_choice_fields_of_both_kinds() -> None:
    assert {spec.type.kind for spec in CHOICE_FIELDS} == {Kind.ENUM, Kind.LIST}
    assert len(CHOICE_FIELDS) >= 6


@pytest.mark.parametrize("spec", CHOICE_FIELDS, ids=lambda s: s.path)
def test_every_choice_of_every_choice_field_has_words_in_both_languages(spec: FieldSpec) -> None:
    typ = spec.type
    assert typ.name in CHOICES, f"{typ.name!r} has no words"
    assert CHOICES[typ.name].codes == typ.choices
    for code in typ.choices:
        for lang in LANGUAGES:
            words = CHOICES[typ.name].words[code].get(lang)
            assert words, f"{code} has no {lang} words"
            assert "_" not in words and words == words.strip(), words


def test_the_layer_kinds_of_the_rule_language_have_words() -> None:
    grammar = re.search(r"LAYER_KIND\.\d+: /\\b\(([a-z|]+)\)\\b/", grammar_text())
    assert grammar is not None
    kinds = set(grammar.group(1).split("|"))
    assert kinds == {k.value for k in LayerKind}
    for kind in LayerKind:
        rule = attrs.evolve(_a_rule(), layer=kind.value, layer_kind=kind)
        assert {layer_text(rule, lang) for lang in LANGUAGES} != {kind.value} or kind.value == "insurer"
        assert all(layer_text(rule, lang) for lang in LANGUAGES)


@pytest.mark.parametrize(("choice", "code", "dutch"), [
    ("prescriber kind", "gp", "huisarts"), ("prescriber kind", "specialist", "medisch specialist"),
    ("prescriber kind", "youth_doctor", "jeugdarts"),
    ("prescriber kind", "elderly_care_physician", "specialist ouderengeneeskunde"),
    ("prescriber kind", "nurse_specialist", "verpleegkundig specialist"),
    ("prescriber kind", "physician_assistant", "physician assistant"),
    ("prescriber kind", "midwife", "verloskundige"), ("prescriber kind", "dentist", "tandarts"),
    ("prescriber kind", "orthodontist", "orthodontist"), ("route", "nasal", "nasaal"),
])
def test_the_dutch_words_a_pharmacist_writes(choice: str, code: str, dutch: str) -> None:
    assert FACTS.choice_words(choice, code, "nl") == dutch


def test_the_statutory_layer_is_worded_in_dutch() -> None:
    rule = attrs.evolve(_a_rule(), layer="statutory", layer_kind=LayerKind.STATUTORY)
    assert layer_text(rule, "nl") == "wettelijk"


def test_a_code_is_worded_by_its_own_choice() -> None:
    """``other`` is a prescriber kind and a route: each choice says it its own way."""
    assert FACTS.choice_words("prescriber kind", "other", "nl") != FACTS.choice_words("route", "other", "nl")
    assert FACTS.choice_words("route", "no_such_route", "en") is None
    assert FACTS.choice_words("no such choice", "gp", "en") is None


def test_values_are_worded_only_when_their_type_says_they_are_codes() -> None:
    prescribers = FIELDS["medicine.doctors_note_prescribers"].type
    assert value_text(("gp", "youth_doctor"), "nl", prescribers) == "huisarts, jeugdarts"
    assert value_text(("gp", "youth_doctor"), "en", prescribers) == "a GP, a youth healthcare doctor"
    assert value_text((), "nl", prescribers) == "—"
    # A plain text (a plan's name) that happens to spell a code, and an open choice's free text, stay as written.
    assert value_text("other", "nl", FIELDS["insured.plan"].type) == "other"
    assert value_text("youth_doctor", "nl") == "youth doctor"
    assert value_text("acne", "nl", FIELDS["prescription.indication"].type) == "acne"


# ------------------------------------------------------------------------------------------ in the explanations

def test_the_dutch_explanation_says_the_route_and_the_layer_in_dutch(store: PolicyStore) -> None:
    evaluation = _example(store, "esketamine-2023-no-authorisation")
    text = evaluation_text(evaluation, "nl")
    assert "    - de toedieningsweg is nasaal\n" in text
    assert "(laag wettelijk)" in text and "(laag statutory" not in text
    # An insurer's layer is named by its name, not by its kind.
    assert "(laag hollandzorg, uitzondering op authorisation/not-required)" in text
    english = evaluation_text(evaluation, "en")
    assert "(layer statutory)" in english and "    - the route of administration is nasal\n" in english


def test_a_layer_not_named_after_its_kind_keeps_its_name(store: PolicyStore) -> None:
    rule = store.load("hollandzorg").rules[0]
    assert rule.layer_kind is LayerKind.STATUTORY and rule.layer == "statutory"
    assert layer_text(rule, "nl") == "wettelijk"
    assert layer_text(attrs.evolve(rule, layer="wet"), "nl") == "wet"
    insurer = attrs.evolve(rule, layer="insurer", layer_kind=LayerKind.INSURER)
    assert layer_text(insurer, "nl") == "verzekeraar"


def test_choices_compared_and_listed_in_words(store: PolicyStore) -> None:
    evaluation = _example(store, "pneumococcal-vaccine-gp")
    assert "de voorschrijver is huisarts (niet medisch specialist)" in because(evaluation, "prescriber_allowed", "nl")
    assert "the prescriber is a GP (not a medical specialist)" in because(evaluation, "prescriber_allowed", "en")
    markdown = evaluation_markdown(evaluation, "nl")
    assert "| `covered` | nee | `coverage/prescriber-not-allowed` | wettelijk |" in markdown


def test_a_prescriber_outside_the_doctors_note_and_a_dietary_preparation(store: PolicyStore) -> None:
    policy = store.load("hollandzorg")
    base = _example(store, "pneumococcal-vaccine-gp").case
    noted = evaluate(policy, base.replace({
        "medicine.atc": "L04AX07", "medicine.name": "an Appendix 2 medicine", "medicine.doctors_note_procedure": True,
        "medicine.doctors_note_prescribers": ("gp", "youth_doctor"), "prescription.prescriber": "nurse_specialist"}))
    assert ("de voorschrijver is verpleegkundig specialist (niet een van de voorschrijvers die de artsenverklaring "
            "noemt)") in because(noted, "prescriber_allowed", "nl")
    dietary = evaluate(policy, base.replace({
        "medicine.atc": "L04AX07", "medicine.name": "a dietary preparation", "medicine.dietary_preparation": "oligomer",
        "prescription.prescriber": "dietician"}))
    said = because(dietary, "prescriber_allowed", "nl")
    assert "de voorschrijver is diëtist" in said
    assert any(s.startswith("de voorschrijver is diëtist (niet een van huisarts, medisch specialist, jeugdarts")
               for s in said), said


def test_the_json_keeps_the_contracts_codes(store: PolicyStore) -> None:
    evaluation = _example(store, "pneumococcal-vaccine-gp")
    data = evaluation_dict(evaluation, "nl", receipt=False, what_if=what_if(evaluation))
    assert data["decisions"]["covered"]["layer"] == "statutory"
    assert data["what_would_change"][0]["changes"] == {"prescription.prescriber": "specialist"}
    assert data["what_would_change"][0]["was"] == {"prescription.prescriber": "gp"}
    assert data["what_would_change"][0]["sentence"] == "Wel vergoed als: de voorschrijver is medisch specialist."
    assert "de voorschrijver is huisarts (niet medisch specialist)" in data["decisions"]["prescriber_allowed"]["because"]


# ------------------------------------------------------------------------------------------ yes/no fields

@pytest.mark.parametrize("done, en, nl", [
    (None, "not given: a challenge test was performed", "niet opgegeven: er is een provocatietest gedaan"),
    (False, "no challenge test was performed", "er is geen provocatietest gedaan"),
])
def test_a_yes_no_field_compared_with_yes_reads_in_its_own_words(store: PolicyStore, done: bool | None, en: str,
                                                                  nl: str) -> None:
    # authorisation/cows-milk-formula: `when cows_milk_allergy_formula and prescription.challenge_test_done is not yes`
    case = _example(store, "pneumococcal-vaccine-gp").case.replace({
        "medicine.atc": "L04AX07", "medicine.dietary_preparation": "oligomer", "prescription.prescriber": "dietician",
        "medicine.infant_formula": True, "prescription.indication": "cows_milk_allergy",
        "prescription.challenge_test_done": done})
    evaluation = evaluate(store.load("hollandzorg"), case)
    assert evaluation.values_by_name["authorisation_required"] is True
    assert en in because(evaluation, "authorisation_required", "en")
    assert nl in because(evaluation, "authorisation_required", "nl")
    assert not any("challenge_test_done" in s or "yes" in s.split() for s in because(evaluation,
                                                                                      "authorisation_required", "nl"))
