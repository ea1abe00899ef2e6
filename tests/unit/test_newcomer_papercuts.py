"""What a newcomer runs into first: each message says what is wrong in the newcomer's terms (issue 14, item 9)."""

from __future__ import annotations

import contextlib
import re
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rxpolicy import RxError, case_from_mapping, parse_case
from rxpolicy.cli import cli
from rxpolicy.language.load import builtin_rules_dir

ROOT = Path(__file__).resolve().parents[2]
CASE = """\
dispensed_on: 2025-03-14
insured:
  born_on: 1970-05-01
prescription:
  prescriber: gp
medicine:
  name: oxazepam 10 mg tablet
  atc: N05BA04
  price: 4.00
dispensing:
  supply_days: 30
"""


def invoke(*args: str, cwd: Path | None = None) -> Any:
    with contextlib.chdir(cwd or ROOT):
        return CliRunner().invoke(cli, list(args))


def test_dutch_amounts_have_a_decimal_comma_and_the_labels_line_up() -> None:
    out = invoke("eval", "examples/hollandzorg/benzodiazepine-chronic.yaml", "--lang", "nl").stdout
    assert "insurer_pays = € 0,00" in out and "€ 0.00" not in out
    assert re.search(r"· de prijs van het geneesmiddel: € 4,00$", out, re.MULTILINE)
    labelled = [line for line in out.splitlines() if re.match(r"  (regel|bron|betekenis):", line)]
    assert labelled and len({line.index(":") + len(re.match(r":\s*", line[line.index(":"):]).group())  # type: ignore[union-attr]
                             for line in labelled}) == 1, "the values after regel:, bron: and betekenis: line up"


def test_english_amounts_and_labels_are_as_before() -> None:
    out = invoke("eval", "examples/hollandzorg/benzodiazepine-chronic.yaml").stdout
    assert "insurer_pays = € 0.00" in out
    assert "\n  rule:    package/medicinal-care" in out and "\n  source:  Bzv" in out and "\n  meaning: " in out


def test_rx501_names_the_built_in_policy_in_force_on_the_date() -> None:
    result = invoke("eval", "examples/asr/pill-age-19.yaml")
    assert result.exit_code == 2
    assert "RX501: the policy `hollandzorg` has no rules in force on 2026-03-14" in result.stderr
    assert "help: `asr` is in force on 2026-03-14: use `--policy asr`; or check the dispensing date" in result.stderr


def test_an_empty_policy_name_is_an_error_not_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(CASE, encoding="utf-8")
    shutil.copytree(builtin_rules_dir() / "hollandzorg", tmp_path / "hollandzorg")
    for args in (["eval", "../case.yaml", "--policy", ""], ["eval", "../case.yaml", "--policy", "  "]):
        result = invoke(*args, cwd=tmp_path / "hollandzorg")
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith("RX601: the policy name is empty\n"), result.stderr


@pytest.mark.parametrize("line", ["  name: ''", '  name: "   "'])
def test_an_empty_name_is_refused(line: str) -> None:
    with pytest.raises(RxError) as error:
        parse_case(CASE.replace("  name: oxazepam 10 mg tablet", line))
    (diagnostic,) = error.value.diagnostics
    assert (diagnostic.code, diagnostic.field, diagnostic.message) == ("RX405", "medicine.name", "`medicine.name` is empty")


def test_an_empty_name_through_the_api_is_refused() -> None:
    data = {"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
            "medicine": {"name": "", "atc": "N05BA04", "price": "4.00"}, "dispensing": {"supply_days": 30}}
    with pytest.raises(RxError, match="`medicine.name` is empty"):
        case_from_mapping(data)


@pytest.mark.parametrize(("old", "new", "field"), [
    ("supply_days: 30", "supply_days: ٣٠", "dispensing.supply_days"),  # Arabic-Indic
    ("supply_days: 30", "supply_days: ３０", "dispensing.supply_days"),  # full-width
    ("price: 4.00", 'price: "４.00"', "medicine.price"),
    ("price: 4.00", "price: ۴.00", "medicine.price"),  # Persian
])
def test_digits_of_other_scripts_are_refused_with_the_digits_to_use(old: str, new: str, field: str) -> None:
    with pytest.raises(RxError) as error:
        parse_case(CASE.replace(old, new))
    (diagnostic,) = error.value.diagnostics
    assert (diagnostic.code, diagnostic.field) == ("RX404", field)
    assert diagnostic.help is not None and "with the digits 0-9" in diagnostic.help


def test_dates_in_digits_of_other_scripts_are_refused() -> None:
    with pytest.raises(RxError) as error:
        parse_case(CASE.replace("born_on: 1970-05-01", "born_on: ١٩٧٠-٠٥-٠١"))
    assert [(d.code, d.field) for d in error.value.diagnostics] == [("RX405", "insured.born_on")]


def test_a_negative_supply_asks_for_1_or_more() -> None:
    with pytest.raises(RxError) as error:
        parse_case(CASE.replace("supply_days: 30", "supply_days: -5"))
    (diagnostic,) = error.value.diagnostics
    assert diagnostic.message == "`dispensing.supply_days` cannot be negative (-5)"
    assert diagnostic.help == "write 1 or more, e.g. `supply_days: 30`"


@pytest.mark.parametrize(("text", "message", "fix"), [
    ("\ufeffrule a/b\nend\n", "a byte order mark (BOM, U+FEFF) cannot be used here", "without a byte order mark"),
    ("rule a/b\n\u00a0 when x\nend\n", "a no-break space (U+00A0) cannot be used here", "an ordinary space"),
    ("rule a/b\n\x00\nend\n", "a NUL character (U+0000) cannot be used here", "the file may be damaged"),
    ("rule a/b\n\u200b when x\nend\n", "the invisible character U+200B (zero width space) cannot be used here",
     "remove it"),
])
def test_an_invisible_character_in_a_rule_file_is_named(tmp_path: Path, text: str, message: str, fix: str) -> None:
    (tmp_path / "a.rxp").write_text(text, encoding="utf-8")
    result = invoke("check", "--no-analysis", str(tmp_path / "a.rxp"))
    assert result.exit_code == 2
    first = result.stderr.split("\n")
    assert first[0].endswith(f"RX101: {message}"), result.stderr
    assert fix in first[3]
    assert all(unicodedata.category(c)[0] != "C" for c in first[1]), "the line is shown with the character escaped"


def test_dutch_explanations_give_the_dutch_interpretation() -> None:
    out = invoke("eval", "examples/hollandzorg/benzodiazepine-chronic.yaml", "--lang", "nl").stdout
    lines = [line for line in out.splitlines() if line.startswith("  interpretatie:")]
    assert ("  interpretatie: `other` voorschrijvers worden gelezen als de andere artsen die de tekst noemt "
            "(arts voor verstandelijk gehandicapten, sportarts, SEH-arts).") in lines
    assert lines and all(" the " not in line and " are " not in line for line in lines), "every reading in Dutch"
    english = invoke("eval", "examples/hollandzorg/benzodiazepine-chronic.yaml").stdout
    assert "  interpretation: `other` prescribers are read as the other physicians" in english


def test_every_interpretation_of_the_built_in_rules_has_a_dutch_one() -> None:
    from rxpolicy.language.load import policy_sources, resolve_policy_dir

    missing = []
    for name in ("hollandzorg", "asr"):
        for layer in policy_sources(resolve_policy_dir(name)).layers:
            for rule_file in layer.files:
                for item in rule_file.items:
                    rules = item.rows if hasattr(item, "rows") else (item,)
                    missing += [f"{rule_file.source.path}: {getattr(r, 'id', getattr(r, 'name', '?'))}"
                                for r in rules if getattr(r, "interpretation", None)
                                and not any(t.lang == "nl" for t in r.interpretations)]
    assert missing == []


@pytest.mark.parametrize(("clauses", "code", "message"), [
    ('  interpretation "A."\n  interpretation nl "B."\n  interpretation nl "C."\n', "RX202",
     "`interpretation nl` is written twice in this block"),
    ('  interpretation "A."\n  interpretation de "B."\n', "RX313", "`de` is not a language explanations are written in"),
])
def test_interpretations_per_language_are_checked(tmp_path: Path, clauses: str, code: str, message: str) -> None:
    shutil.copytree(builtin_rules_dir(), tmp_path / "rules")
    (tmp_path / "rules" / "hollandzorg" / "example.rxp").write_text(
        'rule plan-contribution/dental\n  source "example"\n  when insured.plan is "Top"\n  then plan_pays = 5.00 EUR\n'
        + clauses + '  explain en "Top pays 5 euros."\n  explain nl "Top betaalt 5 euro."\nend\n', encoding="utf-8")
    result = invoke("check", "--no-analysis", "rules/hollandzorg", cwd=tmp_path)
    assert result.exit_code == 2
    assert f"{code}: {message}" in result.stderr, result.stderr
