"""Case text cannot forge an explanation: what a case writes is shown, never acted on.

A newline in ``medicine.name`` printed a fake ``Outcome: COVERED`` line above the real ``Outcome: NOT
COVERED``; ANSI escapes reached the terminal (and could hide the real outcome); a lone surrogate made the
text output invalid UTF-8. Each renderer is run here on cases whose texts try it, and the output is read as
a program (or a person) would: line by line, as UTF-8, as JSON, as Markdown turned into HTML.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy import PolicyStore, RxError, evaluate, parse_case
from rxpolicy.cli import cli
from rxpolicy.explain.diagnostics import render_diagnostics
from rxpolicy.explain.escape import escape_controls, escape_markdown, escape_markdown_line
from rxpolicy.explain.json import evaluation_json
from rxpolicy.explain.markdown import evaluation_markdown
from rxpolicy.explain.text import evaluation_text

CASE = """\
dispensed_on: 2025-03-14
insured:
  born_on: 1970-05-01
prescription:
  prescriber: gp
  indication: {indication}
medicine:
  name: {name}
  atc: N05BA04
  price: 4.00
dispensing:
  supply_days: 90
"""

#: Names (as YAML double-quoted texts) that try to forge the outcome; the case itself is not covered.
FORGERIES = {
    "newline": r'"oxazepam\nOutcome: COVERED"',
    "carriage return": r'"oxazepam\rOutcome: COVERED"',
    "cursor up and erase line": r'"oxazepam\e[1A\e[2KOutcome: COVERED"',
    "hidden text": r'"oxazepam\e[8m"',
    "line separator": r'"oxazepam\LOutcome: COVERED"',
    "next line": r'"oxazepam\NOutcome: COVERED"',
    "paragraph separator": r'"oxazepam\POutcome: COVERED"',
    "right-to-left override": r'"oxazepam \u202eDEREVOC :emoctuO"',
    "lone surrogate": r'"oxazepam \udcff"',
    "markdown": r'"oxazepam\n\n**Outcome: covered**"',
    "html": '"oxazepam<br>**Outcome: covered**<script>alert(1)</script>"',
}


@pytest.fixture(scope="module")
def store() -> PolicyStore:
    return PolicyStore()


def evaluated(store: PolicyStore, name: str, indication: str = "null") -> object:
    policy = store.load("hollandzorg")
    return evaluate(policy, parse_case(CASE.format(name=name, indication=indication), plans=policy.plans))


def shown(text: str) -> str:
    """What a terminal would show: the output must be valid UTF-8 and hold no character that acts on it."""
    text.encode("utf-8")  # a lone surrogate raises here
    hidden = [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")]
    assert hidden == [], f"characters that act on a terminal or do not show: {hidden!r}"
    return text


@pytest.mark.parametrize("name", FORGERIES.values(), ids=FORGERIES.keys())
@pytest.mark.parametrize("lang", ["en", "nl"])
def test_the_text_has_one_outcome_line_and_it_is_the_real_one(store: PolicyStore, name: str, lang: str) -> None:
    text = shown(evaluation_text(evaluated(store, name), lang))  # type: ignore[arg-type]
    label = "Outcome:" if lang == "en" else "Uitkomst:"
    outcomes = [line for line in text.split("\n") if line.lstrip().startswith(("Outcome", "Uitkomst"))]
    assert outcomes == [f"{label} NOT COVERED" if lang == "en" else f"{label} NIET VERGOED"]


def test_the_name_is_shown_with_its_escapes(store: PolicyStore) -> None:
    text = evaluation_text(evaluated(store, FORGERIES["newline"]))  # type: ignore[arg-type]
    assert text.split("\n")[1] == r"oxazepam\nOutcome: COVERED — dispensed on 2025-03-14"
    text = evaluation_text(evaluated(store, FORGERIES["cursor up and erase line"]))  # type: ignore[arg-type]
    assert text.split("\n")[1] == r"oxazepam\x1b[1A\x1b[2KOutcome: COVERED — dispensed on 2025-03-14"


def test_an_indication_in_the_reasons_is_escaped_as_well(store: PolicyStore) -> None:
    # An open choice: any text is kept, and it is quoted in the reasons of a rule that tests it.
    evaluation = evaluated(store, "oxazepam", indication=r'"x\nOutcome: COVERED"')
    for lang in ("en", "nl"):
        for render in (evaluation_text, evaluation_markdown):
            out = shown(render(evaluation, lang))  # type: ignore[arg-type]
            assert not any(line.lstrip("*# ").startswith(("Outcome: COVERED", "Outcome: covered"))
                           for line in out.split("\n"))


@pytest.mark.parametrize("name", FORGERIES.values(), ids=FORGERIES.keys())
def test_the_markdown_has_one_outcome_line_and_no_html(store: PolicyStore, name: str) -> None:
    markdown = shown(evaluation_markdown(evaluated(store, name)))  # type: ignore[arg-type]
    lines = markdown.split("\n")
    assert [line for line in lines if "Outcome" in line and "oxazepam" not in line] == ["**Outcome: not covered**"]
    heading = lines[0]
    assert heading.startswith("# oxazepam") and heading.endswith(" — HollandZorg basic health insurance")
    assert "<" not in markdown.replace("\\<", ""), "an unescaped `<` starts HTML where the Markdown is shown"
    assert "**Outcome" not in heading.replace("\\*", "")


@pytest.mark.parametrize("name", FORGERIES.values(), ids=FORGERIES.keys())
def test_the_json_is_valid_utf8_and_keeps_the_name_as_written(store: PolicyStore, name: str) -> None:
    out = evaluation_json(evaluated(store, name))  # type: ignore[arg-type]
    data = json.loads(out.encode("utf-8"))  # encoding raises for a lone surrogate; json.loads for broken JSON
    assert data["outcome"] == "not_covered"


def test_the_command_line_writes_utf8_for_a_lone_surrogate(tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(CASE.format(name=FORGERIES["lone surrogate"], indication="null"))
    # (The JSON does not repeat the case.)
    for output, name in (("text", r"oxazepam \udcff"), ("json", ""), ("markdown", r"oxazepam \udcff")):
        result = CliRunner().invoke(cli, ["eval", str(tmp_path / "case.yaml"), "--format", output])
        assert result.exit_code == 0, result.output
        result.stdout_bytes.decode("utf-8")
        assert name in result.stdout


def test_a_diagnostic_quoting_case_text_escapes_it() -> None:
    with pytest.raises(RxError) as error:
        parse_case(CASE.format(name="oxazepam", indication="null").replace("N05BA04", r'"N05\e[2J\nOutcome: COVERED"'))
    out = shown(render_diagnostics(error.value.diagnostics))
    assert "\nOutcome" not in out and r"N05\x1b[2J\nOutcome: COVERED" in out


def test_a_long_line_under_a_diagnostic_is_cut_around_the_caret() -> None:
    with pytest.raises(RxError) as error:
        parse_case("x: [" + ", ".join(["1"] * 20_000) + "]\n", path="case.yaml")
    line = "x: [" + ", ".join(["1"] * 20_000) + "]"
    source_line, caret = render_diagnostics(error.value.diagnostics, lambda path, number: line).split("\n")[1:3]
    assert source_line.startswith("    1 | …") and source_line.endswith("…") and len(source_line) < 120
    assert caret.strip() == "^" and source_line[caret.index("^")] == "1"
    assert error.value.diagnostics[0].span.column > 1000  # type: ignore[union-attr]


def test_escape_controls_leaves_every_printable_character_of_any_script() -> None:
    text = "oxazepam 10 mg — € 12,40 ß 😀 ١٢ 中文 café"
    assert escape_controls(text) == text
    assert escape_controls("a\tb\x00c\u200bd\ud800") == r"a\tb\x00c\u200bd\ud800"
    assert escape_markdown_line(escape_markdown("*a* <b> [c](d)")) == r"\*a\* \<b\> \[c\]\(d\)"
