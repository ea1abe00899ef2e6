"""Rules against the source texts (issue 13, items 13 and 14; item 10's non-contracted pharmacy): checks that
need a policy of their own or look at the evaluation's warnings, which rule-test files do not express."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from rxpolicy import RxError, evaluate, parse_case
from rxpolicy.api import load_policy
from rxpolicy.explain.json import evaluation_dict
from rxpolicy.explain.text import evaluation_text

ROOT = Path(__file__).resolve().parents[2]

CASE = """\
dispensed_on: {day}
insured: {{born_on: {born}}}
prescription: {{prescriber: gp}}
medicine: {{name: {name}, atc: {atc}, price: 10.00, appendix_2: {appendix_2}}}
dispensing: {{supply_days: 30, contracted: {contracted}, fees: {{dispensing: 7.50}}}}
"""


def case(day: str = "2025-03-14", born: str = "1980-01-01", name: str = "amlodipine", atc: str = "C08CA01",
         appendix_2: bool = False, contracted: bool = True) -> str:
    return CASE.format(day=day, born=born, name=name, atc=atc, appendix_2=str(appendix_2).lower(),
                       contracted=str(contracted).lower())


def run(text: str, policy: str = "hollandzorg"):  # type: ignore[no-untyped-def]
    compiled = load_policy(policy)
    return evaluate(compiled, parse_case(text, plans=compiled.plans))


# ------------------------------------------------------------------------------------------ turning 18

@pytest.fixture(scope="module")
def first_of_month(tmp_path_factory: pytest.TempPathFactory) -> str:
    """HollandZorg's rules, but the excess starts on the first of the month after the 18th birthday."""
    rules = tmp_path_factory.mktemp("rules")
    for part in ("statutory", "model"):
        shutil.copytree(ROOT / "rules" / part, rules / part)
    shutil.copy(ROOT / "rules" / "sources.yaml", rules / "sources.yaml")
    policy = rules / "firstofmonth"
    shutil.copytree(ROOT / "rules" / "hollandzorg", policy, ignore=shutil.ignore_patterns("tests"))
    declaration = (policy / "policy.rxp").read_text(encoding="utf-8")
    (policy / "policy.rxp").write_text(declaration.replace("policy hollandzorg", "policy firstofmonth"), "utf-8")
    excess = (policy / "excess.rxp").read_text(encoding="utf-8")
    start = excess.index("parameter excess_from_18th_birthday")
    end = excess.index("\nend\n", start) + 1
    assert "  value yes\n" in excess[start:end]
    (policy / "excess.rxp").write_text(excess[:start] + excess[start:end].replace("  value yes\n", "  value no\n")
                                       + excess[end:], encoding="utf-8")
    return str(policy)


def test_no_excess_between_the_18th_birthday_and_the_first_of_the_next_month(first_of_month: str) -> None:
    # Born 2007-03-14: 18 on 2025-03-14; this insurer starts the excess on 2025-04-01.
    before = run(case(day="2025-03-20", born="2007-03-14"), first_of_month)
    assert before["excess_charged"].value == Decimal("0.00")
    assert before["excess_exempt"].value is True
    assert before["excess_charged"].rule.id == "excess/under-18"
    assert before["insurer_pays"].value == Decimal("17.50")
    # From the first of the month the year's excess (385 x 275 / 365 = 290.07 -> 290) is charged.
    after = run(case(day="2025-04-01", born="2007-03-14"), first_of_month)
    assert after["excess_charged"].value == Decimal("17.50")
    assert after["excess_exempt"].value is False


def test_from_the_birthday_itself_where_the_insurer_says_so() -> None:
    # HollandZorg counts from the birthday (parameter excess_from_18th_birthday: yes).
    on_birthday = run(case(day="2025-03-14", born="2007-03-14"))
    assert on_birthday["excess_charged"].value == Decimal("17.50")
    day_before = run(case(day="2025-03-13", born="2007-03-14"))
    assert day_before["excess_charged"].value == Decimal("0.00")


# ------------------------------------------------------------------------------------------ warnings

def test_a_pill_the_case_leaves_out_of_appendix_2_is_flagged_naming_both() -> None:
    flagged = run(case(born="2000-01-01", name="levonorgestrel/ethinylestradiol", atc="G03AA07"))
    assert [w.id for w in flagged.warnings] == ["case/contraceptive-not-in-appendix-2"]
    # Decided from the case as given: covered, no Appendix 2 condition; the warning names both facts.
    assert flagged["covered"].value is True and flagged["appendix_2_conditions"].value is None
    text = evaluation_text(flagged)
    assert "Warnings:" in text and "ATC G03A" in text and "medicine.appendix_2: no" in text
    data = evaluation_dict(flagged, receipt=False)
    assert data["warnings"][0]["warning"] == "case/contraceptive-not-in-appendix-2"
    assert data["warnings"][0]["cites"] == ["rzv", "readings"] and "rzv" in data["sources"]
    listed = run(case(born="2000-01-01", atc="G03AA07", appendix_2=True))
    assert listed.warnings == () and "warnings" not in evaluation_dict(listed, receipt=False)


def test_a_childhood_vaccine_the_case_leaves_out_of_appendix_2_is_flagged() -> None:
    assert [w.id for w in run(case(atc="J07AM51")).warnings] == ["case/childhood-vaccine-not-in-appendix-2"]
    assert run(case(atc="J07CA10")).warnings == ()  # typhoid and hepatitis A: none of the three


@pytest.mark.parametrize("policy", ["hollandzorg", "asr"])
def test_a_non_contracted_pharmacy_is_said_to_be_paid_at_a_rate_rxpolicy_does_not_know(policy: str) -> None:
    day = "2025-03-14" if policy == "hollandzorg" else "2026-03-14"
    evaluation = run(case(day=day, contracted=False), policy)
    assert [w.id for w in evaluation.warnings] == ["dispensing/non-contracted-pharmacy"]
    assert "rxpolicy does not know that rate" in evaluation_text(evaluation)
    assert "rxpolicy kent dat tarief niet" in evaluation_text(evaluation, lang="nl")
    assert run(case(day=day), policy).warnings == ()


def _tiny(tmp_path: Path, warning: str) -> Path:
    layer = tmp_path / "tiny"
    layer.mkdir()
    (layer / "layer.rxp").write_text(
        'layer tiny\n  title "Tiny"\nend\n\ndecision covered: yes or no\n  explain en "covered"\n'
        '  explain nl "vergoed"\nend\n\nrule coverage/always\n  source "tiny"\n  then covered = yes\n'
        '  explain en "Always."\n  explain nl "Altijd."\nend\n\n' + warning, encoding="utf-8")
    return layer


def test_a_warning_without_when_is_always_carried(tmp_path: Path) -> None:
    layer = _tiny(tmp_path, 'warning note/always\n  source "tiny"\n  explain en "Note."\n  explain nl "Let op."\nend\n')
    evaluation = run(case(), str(layer))
    assert [w.id for w in evaluation.warnings] == ["note/always"]


def test_a_warning_whose_condition_is_not_yes_or_no_is_refused(tmp_path: Path) -> None:
    layer = _tiny(tmp_path, 'warning note/price\n  source "tiny"\n  when medicine.price\n  explain en "Note."\n'
                            '  explain nl "Let op."\nend\n')
    with pytest.raises(RxError) as caught:
        load_policy(str(layer))
    assert caught.value.diagnostics[0].span is not None


def test_a_warning_must_cite_a_source(tmp_path: Path) -> None:
    layer = _tiny(tmp_path, 'warning note/x\n  when medicine.appendix_2\n  explain en "Note."\n  explain nl "Let op."\nend\n')
    with pytest.raises(RxError) as caught:
        load_policy(str(layer))
    assert [d.code for d in caught.value.diagnostics] == ["RX310"]
