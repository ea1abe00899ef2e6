"""What would change it (issue 5, item 5): the smallest changes of facts that make a case covered.

The expectations come from the HollandZorg texts as the rules write them: a benzodiazepine is reimbursed
for at most 1 month, also for chronic use; only a medical specialist may issue the first prescription of
a pneumococcal vaccine; esketamine nasal spray needed written authorisation in 2023; the pill after 21
only for endometriosis or menorrhagia, for which HollandZorg asks written authorisation. Every returned
counterfactual is checked by applying it with ``Case.replace`` and evaluating again: covered, and minimal.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy import CompiledPolicy, Evaluation, PolicyStore, evaluate, evaluate_case_file
from rxpolicy.cli import cli
from rxpolicy.explain.json import evaluation_dict
from rxpolicy.explain.markdown import evaluation_markdown
from rxpolicy.explain.text import evaluation_text
from rxpolicy.explain.whatif import Counterfactual, alternatives, sentence, what_if_json, what_if_markdown, what_if_text
from rxpolicy.language.facts import AUTHORISATION_DATES as AUTHORISATION
from rxpolicy.language.facts import statutory_facts
from rxpolicy.tools.whatif import fixed_facts, what_if, what_would_change

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOT_COVERED = [p for p in sorted(EXAMPLES.glob("*/*.yaml"))
               if evaluate_case_file(p, PolicyStore().load(p.parent.name), trace=False).outcome == "not_covered"]


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    """Compiled policies shared by the tests of this module."""
    return PolicyStore()


def _example(store: PolicyStore, name: str, policy: str = "hollandzorg") -> Evaluation:
    return evaluate_case_file(EXAMPLES / policy / f"{name}.yaml", store.load(policy))


def _changes(found: tuple[Counterfactual, ...]) -> list[dict[str, object]]:
    return [dict(cf.changes) for cf in found]


def _covered(policy: CompiledPolicy, evaluation: Evaluation, changes: dict[str, object]) -> bool:
    return evaluate(policy, evaluation.case.replace(changes), trace=False)["covered"].value is True


def _units(changes: dict[str, object]) -> list[list[str]]:
    """The changed facts, an authorisation's two dates being one."""
    units: dict[str, list[str]] = {}
    for path in changes:
        units.setdefault("authorisation" if path in AUTHORISATION else path, []).append(path)
    return list(units.values())


# ------------------------------------------------------------------------------------------ the four stories

def test_a_chronic_benzodiazepine_for_90_days_is_covered_for_at_most_a_month(store: PolicyStore) -> None:
    evaluation = _example(store, "benzodiazepine-chronic")
    found = what_would_change(evaluation)
    # Dispensed on 2025-03-14: one month later is 2025-04-14, 31 days.
    assert _changes(found) == [{"dispensing.supply_days": 31}]
    assert found[0].bounds == {"dispensing.supply_days": "at most"}
    assert found[0].rule.id == "coverage/conditions-met"
    policy = store.load("hollandzorg")
    assert not _covered(policy, evaluation, {"dispensing.supply_days": 32})
    assert _covered(policy, evaluation, {"dispensing.supply_days": 1})
    said = sentence(alternatives(found)[0], "covered")
    assert said == "Covered if the supply covers at most 31 days (the maximum is 1 month)."


def test_a_pneumococcal_vaccine_from_a_gp_is_covered_from_a_specialist(store: PolicyStore) -> None:
    found = what_would_change(_example(store, "pneumococcal-vaccine-gp"))
    assert _changes(found) == [{"prescription.prescriber": "specialist"}]
    assert found[0].was == {"prescription.prescriber": "gp"}
    assert sentence(alternatives(found)[0], "covered") == "Covered if the prescriber is a medical specialist."
    assert sentence(alternatives(found, "nl")[0], "covered", "nl") == (
        "Wel vergoed als: de voorschrijver is medisch specialist.")


def test_a_missing_authorisation_is_granted_on_or_before_the_dispensing_date(store: PolicyStore) -> None:
    found = what_would_change(_example(store, "esketamine-2023-no-authorisation"))
    day = dt.date(2023, 10, 2)
    assert _changes(found) == [{"authorisation.granted_on": day, "authorisation.valid_until": day}]
    assert found[0].size == 1
    assert "granted on or before 2023-10-02 and valid on that day" in sentence(alternatives(found)[0], "covered")


def test_an_authorisation_that_ran_out_only_needs_to_last_longer(store: PolicyStore) -> None:
    policy = store.load("hollandzorg")
    expired = _example(store, "esketamine-2023-no-authorisation").case.replace(
        {"authorisation.granted_on": dt.date(2023, 1, 2), "authorisation.valid_until": dt.date(2023, 9, 30)})
    found = what_would_change(evaluate(policy, expired))
    assert _changes(found) == [{"authorisation.granted_on": dt.date(2023, 1, 2),
                                "authorisation.valid_until": dt.date(2023, 10, 2)}]
    assert "valid until at least 2023-10-02" in sentence(alternatives(found)[0], "covered")


def test_the_pill_at_22_needs_endometriosis_or_menorrhagia_and_then_authorisation(store: PolicyStore) -> None:
    evaluation = _example(store, "pill-age-22")
    found = what_would_change(evaluation)
    authorised = {"authorisation.granted_on": dt.date(2025, 3, 14), "authorisation.valid_until": dt.date(2025, 3, 14)}
    assert _changes(found) == [{"prescription.indication": "endometriosis", **authorised},
                               {"prescription.indication": "menorrhagia", **authorised}]
    merged = alternatives(found)
    assert len(merged) == 1
    assert sentence(merged[0], "covered").startswith("Covered if the indication is endometriosis or menorrhagia, and ")
    # One fact is not enough: the indication alone needs the authorisation HollandZorg asks for it.
    assert what_would_change(evaluation, max_changes=1) == ()
    assert not _covered(store.load("hollandzorg"), evaluation, {"prescription.indication": "endometriosis"})


# ------------------------------------------------------------------------------------------ every counterfactual

@pytest.mark.parametrize("path", NOT_COVERED, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_every_counterfactual_is_covered_minimal_and_makeable(path: Path, store: PolicyStore) -> None:
    policy = store.load(path.parent.name)
    evaluation = evaluate_case_file(path, policy)
    found = what_would_change(evaluation)
    assert [cf.size for cf in found] == sorted(cf.size for cf in found), "fewest changes first"
    for cf in found:
        changes = dict(cf.changes)
        assert not set(changes) & set(fixed_facts(statutory_facts())), changes
        assert _covered(policy, evaluation, changes), changes
        units = _units(changes)
        for smaller in itertools.chain.from_iterable(itertools.combinations(units, n) for n in range(len(units))):
            kept = {p: changes[p] for unit in smaller for p in unit}
            assert not _covered(policy, evaluation, kept), f"{kept} already makes it covered"
        for path_, bound in cf.bounds.items():
            # One step back towards the case's own value no longer works: the value is the boundary.
            step = Decimal("0.01") if isinstance(changes[path_], Decimal) else 1
            back = changes[path_] + step if bound == "at most" else changes[path_] - step  # type: ignore[operator]
            assert not _covered(policy, evaluation, {**changes, path_: back}), (path_, back)


def test_no_fact_of_a_pair_works_alone(store: PolicyStore) -> None:
    """Of the pill at 22's pair, neither fact works with any value of its own."""
    evaluation = _example(store, "pill-age-22")
    singles = {p for cf in what_would_change(evaluation) for unit in _units(dict(cf.changes)) for p in unit}
    policy = store.load("hollandzorg")
    for indication in ("endometriosis", "menorrhagia", "contraception", None):
        assert not _covered(policy, evaluation, {"prescription.indication": indication})
    assert not _covered(policy, evaluation, {p: dt.date(2025, 3, 14) for p in AUTHORISATION})
    assert singles == {"prescription.indication", *AUTHORISATION}


def test_nothing_is_proposed_for_what_cannot_change(store: PolicyStore) -> None:
    evaluation = _example(store, "not-insured")
    assert what_would_change(evaluation) == ()
    text = evaluation_text(evaluation, what_if=what_if(evaluation))
    assert "What would change it:\n  - No change of at most 2 facts" in text


def test_the_explanations_say_how_many_facts_were_tried(store: PolicyStore) -> None:
    """The pill at 22 needs two facts changed: asked for one, the explanations say none of one fact works."""
    evaluation = _example(store, "pill-age-22")
    assert what_if_text(what_if(evaluation, max_changes=1))[-1] == (
        "  - No change of at most 1 fact that can still be made would make it covered (the dispensing date, "
        "the insured person and period, the medicine itself and what happened before are taken as they are).")
    assert what_if_markdown(what_if(evaluation, max_changes=1), "nl")[-1].startswith(
        "- Geen wijziging van ten hoogste 1 gegeven dat nog te veranderen is, maakt dit vergoed ")
    assert what_if_json(what_if(evaluation, max_changes=1)) == []
    assert len(what_if_json(what_if(evaluation, max_changes=2))) == 2
    assert "at most 2 facts" in what_if_text(what_if(_example(store, "not-insured")))[-1]


def test_a_cheaper_medicine_within_3_percent_of_the_cheapest(store: PolicyStore) -> None:
    evaluation = _example(store, "above-cheapest-plus-3-percent")
    prices = [cf for cf in what_would_change(evaluation) if "medicine.price" in cf.changes]
    # The cheapest in the group costs EUR 5.00: at most 3 % more is EUR 5.15.
    assert [(dict(cf.changes), dict(cf.bounds)) for cf in prices] == [
        ({"medicine.price": Decimal("5.15")}, {"medicine.price": "at most"})]


def test_a_decision_already_yes_or_not_yes_or_no_gives_nothing(store: PolicyStore) -> None:
    covered = _example(store, "chronic-adjusted")
    assert covered.outcome == "covered"
    assert what_would_change(covered) == ()
    benzodiazepine = _example(store, "benzodiazepine-chronic")
    assert what_would_change(benzodiazepine, "max_supply") == ()
    assert what_would_change(benzodiazepine, "no_such_decision") == ()


def test_any_other_decision_that_is_no(store: PolicyStore) -> None:
    found = what_would_change(_example(store, "benzodiazepine-chronic"), "supply_ok")
    assert _changes(found) == [{"dispensing.supply_days": 31}]
    assert all(cf.decision == "supply_ok" and cf.values["supply_ok"] is True for cf in found)
    assert sentence(alternatives(found)[0], "supply_ok").startswith("supply_ok would be yes if the supply covers")


# ------------------------------------------------------------------------------------------ in the explanations

def test_the_explanations_of_a_case_not_covered_end_with_what_would_change_it(store: PolicyStore) -> None:
    evaluation = _example(store, "pneumococcal-vaccine-gp")
    found = what_if(evaluation)
    assert evaluation_text(evaluation, what_if=found).endswith(
        "\nWhat would change it:\n  - Covered if the prescriber is a medical specialist. (coverage/conditions-met)\n")
    assert evaluation_text(evaluation, "nl", what_if=found).endswith(
        "\nWat zou het veranderen:\n  - Wel vergoed als: de voorschrijver is medisch specialist. "
        "(coverage/conditions-met)\n")
    assert evaluation_markdown(evaluation, what_if=found).endswith(
        "\n## What would change it\n\n- Covered if the prescriber is a medical specialist. "
        "(`coverage/conditions-met`)\n")
    data = json.loads(json.dumps(evaluation_dict(evaluation, receipt=False, what_if=found)))
    assert data["what_would_change"] == [{
        "decision": "covered", "changes": {"prescription.prescriber": "specialist"},
        "was": {"prescription.prescriber": "gp"}, "rule": "coverage/conditions-met", "layer": "statutory",
        "sentence": "Covered if the prescriber is a medical specialist."}]


def test_rendering_never_searches_unless_given_a_what_if(store: PolicyStore) -> None:
    """Not covered, but no what-if passed: the explanations say nothing of what would change it."""
    evaluation = _example(store, "pneumococcal-vaccine-gp")
    assert evaluation.outcome == "not_covered"
    assert "What would change it" not in evaluation_text(evaluation)
    assert "What would change it" not in evaluation_markdown(evaluation)
    assert "what_would_change" not in evaluation_dict(evaluation, receipt=False)


def test_the_command_searches_only_when_asked(tmp_path: Path) -> None:
    case = str(EXAMPLES / "hollandzorg" / "pneumococcal-vaccine-gp.yaml")
    plain = CliRunner().invoke(cli, ["eval", case])
    asked = CliRunner().invoke(cli, ["eval", case, "--why-not"])
    as_json = CliRunner().invoke(cli, ["eval", case, "--format", "json", "--why-not"])
    assert plain.exit_code == asked.exit_code == as_json.exit_code == 0
    assert "What would change it" not in plain.output  # not a terminal: a program is reading
    assert asked.output.startswith(plain.output.rstrip("\n")) and "What would change it" in asked.output
    assert json.loads(as_json.output)["what_would_change"][0]["changes"] == {"prescription.prescriber": "specialist"}


def test_a_covered_case_has_no_what_if_section(store: PolicyStore) -> None:
    evaluation = _example(store, "chronic-adjusted")
    assert "What would change it" not in evaluation_text(evaluation)
    assert "What would change it" not in evaluation_markdown(evaluation)
    assert "what_would_change" not in evaluation_dict(evaluation, receipt=False)


def test_the_search_is_bounded_and_says_when_it_stopped(store: PolicyStore) -> None:
    path = EXAMPLES / "hollandzorg" / "benzodiazepine-chronic.yaml"
    evaluation = evaluate_case_file(path, store.load("hollandzorg"))
    full = what_if(evaluation)
    assert full.complete and full.counterfactuals
    cut = what_if(evaluation, max_evaluations=3)
    assert not cut.complete
    # What a stopped search found still holds: each change makes the case covered.
    for cf in cut.counterfactuals:
        assert evaluate(evaluation.policy, evaluation.case.replace(cf.changes)).outcome == "covered"
    assert "stopped at its limit" in "\n".join(what_if_text(cut))
    assert evaluation_dict(evaluation, what_if=cut)["what_would_change_complete"] is False
    assert "what_would_change_complete" not in evaluation_dict(evaluation, what_if=full)


def test_any_budget_ends_the_search_without_an_error(store: PolicyStore) -> None:
    # Checking whether a change's number may go further spends re-evaluations after the search proper: a budget
    # spent there must end the search like any other (it raised the search's internal signal before).
    policy = store.load("hollandzorg")
    refused = [e for e in (evaluate_case_file(p, policy) for p in sorted((EXAMPLES / "hollandzorg").glob("*.yaml")))
               if e.outcome != "covered"]
    assert refused
    for evaluation in refused:
        full = what_if(evaluation)
        for budget in (1, 5, 30, 100, 300):
            cut = what_if(evaluation, max_evaluations=budget)
            assert cut.complete or len(cut.counterfactuals) <= len(full.counterfactuals)
            for cf in cut.counterfactuals:
                assert evaluate(policy, evaluation.case.replace(cf.changes))[cut.decision].value is True
