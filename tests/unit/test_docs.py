"""The documentation stays true: every claim a test can check is checked here.

* every RX code the source can raise has a section in docs/errors.md, and every section a code that exists;
* every example message in docs/errors.md is what rxpolicy prints today for a fault planted in a copy of
  the rules (the recipes are :data:`FAULTS` below);
* every case field of the schema is described in docs/case-file.md, every field the tables there name
  exists, and every case shown there loads (or is refused with the code its marker names);
* every rule-file excerpt marked ``<!-- from rules/x/y.rxp -->`` occurs in that file, and every other
  rule-language example parses;
* every output marked ``<!-- output of: rxpolicy … -->`` is an excerpt of what that command prints;
* the Python examples of README.md and docs/api.md run.

Run this module as a script to print what the planted faults give now, e.g. after changing a message:
``.venv/bin/python tests/unit/test_docs.py [RX503 ...]``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy import RxError, evaluate, load_policy, parse_case
from rxpolicy.cli import cli
from rxpolicy.language.facts import FIELDS
from rxpolicy.language.lower import parse_rule_file
from rxpolicy.language.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MARKDOWN = (ROOT / "README.md", *sorted(DOCS.glob("*.md")))

#: Codes only the decision service (`rxpolicy serve`) answers with.
SERVICE_CODES = ("RX901", "RX902", "RX903", "RX904", "RX905", "RX906")
_SOURCE_CODE = re.compile(r"""["'](RX\d{3})["']""")
_SECTION = re.compile(r"^## (RX\d{3})\b", re.MULTILINE)
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"<!--\s*(.*?)\s*-->\s*$")


# ------------------------------------------------------------------------------------------ reading docs

@dataclass(frozen=True)
class Block:
    """A fenced block of a Markdown file, with the HTML comment written on the line before it (if any)."""

    file: Path
    line: int
    lang: str
    text: str
    marker: str | None

    @property
    def where(self) -> str:
        """``docs/x.md:12`` for failure messages."""
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def blocks(file: Path) -> list[Block]:
    """Every fenced block of a Markdown file."""
    text = file.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.fullmatch(before.strip())
        found.append(Block(file=file, line=text.count("\n", 0, match.start()) + 1, lang=match.group(1),
                           text=match.group(2), marker=marker.group(1) if marker else None))
    return found


def normalised(text: str) -> str:
    """Text with every run of whitespace made one space (layout does not count in a quotation)."""
    return " ".join(text.split())


def source_codes() -> set[str]:
    """The RX codes the interpreter's source writes as string literals."""
    return {code for path in (ROOT / "interpreter" / "rxpolicy").rglob("*.py")
            for code in _SOURCE_CODE.findall(path.read_text(encoding="utf-8"))}


def error_sections() -> dict[str, str]:
    """docs/errors.md: each code's section text, from its heading to the next."""
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    heads = list(_SECTION.finditer(text))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return {h.group(1): text[h.start():end] for h, end in zip(heads, ends)}


# ------------------------------------------------------------------------------------------ planted faults

@dataclass(frozen=True)
class Fault:
    """A fault planted in a copy of rules/ (and a case file), and the command that reports it."""

    code: str
    args: tuple[str, ...]
    files: tuple[tuple[str, str], ...] = ()
    edits: tuple[tuple[str, str, str], ...] = ()
    exit_code: int = 2
    #: Files made read-only after planting (a file fmt must not replace).
    read_only: tuple[str, ...] = ()


CASE = """\
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
_CLAIM = ('{"dispensed_on": "2025-03-14", "insured": {"born_on": "1961-07-02"}, "prescription": {"prescriber": "gp"}, "medicine": {"name": "oxazepam 10 mg tablet", "atc": "N05BA04", "price": "12.40"}, "dispensing": {"supply_days": 30}}\n')
_EXAMPLE = "rules/hollandzorg/example.rxp"
_CHECK = ("check", "rules/hollandzorg")
_EVAL = ("eval", "case.yaml")
_EVAL_PLANTED = ("eval", "case.yaml", "--policy", "rules/hollandzorg")


def case(old: str = "", new: str = "") -> tuple[tuple[str, str], ...]:
    """case.yaml: the base case with one line changed."""
    assert old in CASE, old
    return (("case.yaml", CASE.replace(old, new, 1)),)


def example(text: str) -> tuple[tuple[str, str], ...]:
    """A rule file added to the HollandZorg policy."""
    return ((_EXAMPLE, text),)


def top_rule(when: str | None = 'insured.plan is "Top"', then: str | None = "plan_pays = 5.00 EUR", extra: str = "",
             rule_id: str = "plan-contribution/dental", source: bool = True, en: bool = True,
             nl: bool = True) -> tuple[tuple[str, str], ...]:
    """A small rule in the HollandZorg policy, with one thing wrong."""
    text = f"rule {rule_id}\n" + ('  source "example"\n' if source else "")
    text += (f"  when {when}\n" if when else "") + (f"  then {then}\n" if then else "") + extra
    text += '  explain en "Top pays 5 euros."\n' if en else ""
    text += '  explain nl "Top betaalt 5 euro."\n' if nl else ""
    return example(text + "end\n")


_TEST_FILE = "rules/hollandzorg/tests/example.test.yaml"
_TEST_BASE = """\
base:
  dispensed_on: 2025-03-14
  insured: {born_on: 1970-05-01}
  prescription: {prescriber: gp}
  medicine: {name: oxazepam 10 mg tablet, atc: N05BA04, price: 4.00}
  dispensing: {supply_days: 30}
tests:
"""


_SOURCES = """\
sources:
  hollandzorg-2025:
    kind: document
    title: Medicinal care
    cite_as: HollandZorg, Medicinal care 2025
    publisher: HollandZorg
    year: 2025
    policies: [hollandzorg]
    sections:
      - heading: Contact
        rules_expected: false
"""


def rule_test_fault(code: str, tests: str, *args: str) -> Fault:
    """A rule-test file of the HollandZorg policy with one thing wrong, run by ``rxpolicy test``."""
    return Fault(code, ("test", _TEST_FILE, *args), files=((_TEST_FILE, _TEST_BASE + tests),))


_ROW_TABLE = '''table plan-dental
  decides plan_pays
  source "example"
  row none
    then plan_pays = 0.00 EUR
    explain en "Nothing."
    explain nl "Niets."
  row top
    when insured.plan is "Top"
    then plan_pays = 5.00 EUR
    explain en "Top pays 5 euros."
    explain nl "Top betaalt 5 euro."
end
'''
_CONTRACTED = ("contracted", "dispensing.contracted", "yes", "A contracted pharmacy's delivery is reimbursed.",
               "Bezorging door een gecontracteerde apotheek wordt vergoed.")
_OTHER = ("other", None, "no", "Other deliveries are not reimbursed.", "Andere bezorging wordt niet vergoed.")


def delivery_table(*rows: tuple[str, str | None, str, str, str]) -> str:
    """A new decision `delivery_reimbursed` and a table deciding it, with rows (name, when, value, en, nl)."""
    parts = ['decision delivery_reimbursed: yes or no\n  explain en "the delivery fee is reimbursed"\n'
             '  explain nl "de bezorgkosten worden vergoed"\nend\n\ntable delivery\n  decides delivery_reimbursed\n'
             '  source "example"\n']
    for name, when, value, en, nl in rows:
        parts.append(f"\n  row {name}\n" + (f"    when {when}\n" if when else "")
                     + f'    then delivery_reimbursed = {value}\n    explain en "{en}"\n    explain nl "{nl}"\n')
    return "".join(parts) + "end\n"


_GAP = delivery_table(_CONTRACTED)
_CONFLICT = '''rule authorisation/nasal-sprays
  source "example"
  when medicine.route is nasal
  then authorisation_required = yes
  explain en "Nasal sprays need HollandZorg's written authorisation."
  explain nl "Neussprays vragen schriftelijke toestemming van HollandZorg."
end
'''
_DIVISION = delivery_table(("first-month", "100 / dispensing.months_in_use > 50", "yes",
                            "Delivery is reimbursed in the first month of use.",
                            "Bezorging wordt vergoed in de eerste maand van gebruik."), _OTHER)
_SHADOW = delivery_table(_CONTRACTED, ("contracted-with-fee",
                                       "dispensing.contracted and dispensing.fees.delivery > 0.00 EUR", "yes",
                                       "A contracted pharmacy's delivery fee is reimbursed.",
                                       "Het bezorgtarief van een gecontracteerde apotheek wordt vergoed."), _OTHER)
_CHECK_ONLY = ("check", "--no-analysis", "rules/hollandzorg")
_FEE = ("fact pharmacy.assessment_fee: money\n  default 12.50 EUR\n  one of 0.00 EUR, 12.00 EUR\n"
        '  explain en "the medication assessment fee"\nend\n')
_DENTAL = "parameter dental_allowance: money\n  source \"example\"\n"

FAULTS: tuple[Fault, ...] = (
    # RX0xx: files
    Fault("RX001", _EVAL),
    Fault("RX002", ("check", "rules/notes"), files=(("rules/notes/README.txt", "Rule files go here.\n"),)),
    Fault("RX003", ("fmt", _EXAMPLE), files=example("define adult =   insured.age >= 18\n"), read_only=(_EXAMPLE,)),
    # RX1xx: syntax
    Fault("RX101", _CHECK, files=top_rule(then="plan_pays = € 5.00")),
    Fault("RX102", _CHECK, files=example('rule plan-contribution/dental\n  source "example"\n'
                                         '  when insured.plan is "Top"\n  then plan_pays = 5.00 EUR\n'
                                         '  explain en "Top pays 5 euros."\n')),
    Fault("RX103", _CHECK, files=example('rule plan-contribution/dental\n  source "example"\n'
                                         '  wehn insured.plan is "Top"\n  then plan_pays = 5.00 EUR\n'
                                         '  explain en "Top pays 5 euros."\nend\n')),
    Fault("RX104", _CHECK, files=example('rule plan-contribution/dental\n  source "example"\n'
                                         '  when insured.plan is "Top"\n  then plan_pays = 5.00 EUR\n'
                                         '  explain "Top pays 5 euros."\nend\n')),
    # RX2xx: structure
    Fault("RX201", _CHECK, files=top_rule(extra="  in force from 2025-02-29\n")),
    Fault("RX202", _CHECK, files=top_rule(extra="  when insured.age >= 18\n")),
    Fault("RX203", _CHECK, files=top_rule(extra="  in force from 2025-01-01 until 2024-12-31\n")),
    Fault("RX204", _CHECK, files=example(_DENTAL.replace("money", "money date") + "  value 250.00 EUR\nend\n")),
    Fault("RX205", _CHECK, files=top_rule(then="plan_pays = 4.995 EUR")),
    Fault("RX207", _CHECK, files=top_rule(then="plan_pays = 500000000000000000000000000 EUR")),
    Fault("RX206", _CHECK, files=top_rule(when="dispensing.new_to_patient", rule_id="dispensing-period/new-hz",
                                          then="max_supply = at most 1.5 months\n       min_supply = not applicable")),
    Fault("RX208", _CHECK, files=top_rule(when="insured.born_on + 99999999999 months < dispensed_on")),
    Fault("RX209", _CHECK, files=top_rule(extra="  in force from 0001-01-01\n")),
    Fault("RX210", _CHECK, files=top_rule(when="\n       + ".join(["dispensing.fees.delivery"] * 51) + " > 0.00 EUR")),
    Fault("RX211", _CHECK, files=top_rule(when="dispensing.supply_days / 7 rounded half up to 1.5 decimals > 4")),
    # RX3xx: the checker
    Fault("RX301", _CHECK, files=example('define contraceptive = medicine.atc matches G03A*\n'
                                         '  explain en "the medicine is a contraceptive pill"\n')),
    Fault("RX302", _CHECK, files=example('rule authorisation/esketamine-nasal-spray\n'
                                         '  exception to authorisation/not-required\n  source "example"\n'
                                         '  when medicine.atc matches N06AX27\n  then authorisation_required = yes\n'
                                         '  in force from 2023-07-01 until 2024-06-30\n'
                                         '  explain en "Esketamine needs authorisation."\n'
                                         '  explain nl "Esketamine vraagt toestemming."\nend\n')),
    Fault("RX303", _CHECK, edits=(("rules/hollandzorg/policy.rxp", "policy hollandzorg", "policy holandzorg"),)),
    Fault("RX304", ("check", "rules/zilverzorg"), files=(("rules/zilverzorg/policy.rxp", (
        'policy zilverzorg\n  title "ZilverZorg basic health insurance"\n  built on statutory\n'
        '  built on modle\n  in force from 2025-01-01 until 2025-12-31\nend\n')),)),
    Fault("RX310", _CHECK, files=top_rule(source=False)),
    Fault("RX311", _CHECK, files=top_rule(en=False)),
    Fault("RX314", _CHECK, edits=(("rules/hollandzorg/plans.rxp", "source hollandzorg-2025", "source holandzorg-2025"),)),
    Fault("RX315", ("check", "zilverzorg"), files=(("zilverzorg/layer.rxp", (
        'layer zilverzorg\n  title "ZilverZorg conditions"\nend\n\ndecision covered: yes or no\n'
        '  explain en "the dispensing is reimbursed"\n  explain nl "de terhandstelling wordt vergoed"\nend\n\n'
        'rule coverage/always\n  source zvw "art. 11 lid 1"\n  then covered = yes\n'
        '  explain en "Always."\n  explain nl "Altijd."\nend\n')),)),
    # the planted `plan-contribution/dental` rule overlaps the plan table (a real RX371), so these two
    # warnings are shown with the analysis off:
    Fault("RX312", _CHECK_ONLY, files=top_rule(nl=False), exit_code=0),
    Fault("RX313", _CHECK, files=top_rule(extra='  explain de "Top zahlt 5 Euro."\n')),
    Fault("RX320", _CHECK, files=top_rule(then="plan_pay = 5.00 EUR")),
    Fault("RX321", _CHECK, files=top_rule(then=None)),
    Fault("RX322", _CHECK, files=example('table dispensing-period-hz\n  decides max_supply, min_supply\n'
                                         '  source "example"\n  row pill\n    when medicine.atc matches G03A*\n'
                                         '    then max_supply = at most 12 months\n'
                                         '    explain en "The pill: at most 12 months."\n'
                                         '    explain nl "De pil: ten hoogste 12 maanden."\nend\n')),
    Fault("RX323", _CHECK, files=top_rule(extra="  exception to preference/medical-neccessity\n")),
    Fault("RX324", _CHECK, files=top_rule(extra="  exception to coverage/conditions-met\n")),
    Fault("RX325", _CHECK, files=top_rule(extra="  exception to plan-contribution/dental\n")),
    Fault("RX326", _CHECK, files=example(_ROW_TABLE)),
    Fault("RX327", _CHECK, files=example(_ROW_TABLE.replace("  decides plan_pays\n", "")
                                         .replace("  row none\n    then plan_pays = 0.00 EUR\n"
                                                  "    explain en \"Nothing.\"\n    explain nl \"Niets.\"\n", ""))),
    Fault("RX328", _CHECK, files=example(
        top_rule(rule_id="plan-contribution/dental-top", extra="  exception to plan-contribution/dental\n")[0][1]
        + top_rule(extra="  exception to plan-contribution/dental-top\n")[0][1])),
    Fault("RX330", _CHECK, files=top_rule(then="plan_pays = yes")),
    Fault("RX331", _CHECK, files=top_rule(then="plan_pays = medicine.cheapest_in_group")),
    Fault("RX340", _CHECK, files=top_rule(when="medicine.atc_code matches N05B*")),
    Fault("RX341", _CHECK, files=top_rule(when="medicine.preferred")),
    Fault("RX342", _CHECK, files=top_rule(when="dispensing.supply_days > 1 month")),
    Fault("RX343", _CHECK, files=top_rule(when="medicine.price > medicine.reimbursement_limit")),
    Fault("RX344", _CHECK, files=top_rule(when="prescription.prescriber is huisarts")),
    Fault("RX345", _CHECK, files=top_rule(then="plan_pays = if covered then personal_contribution else no")),
    Fault("RX346", _CHECK_ONLY, files=top_rule(when="medicine.price is known"), exit_code=0),
    Fault("RX347", _CHECK, files=top_rule(when="medicine.atc matches N05BA0*")),
    Fault("RX348", _CHECK, files=example("define twelfth_birthday = insured.born_on + insured.age * 12 months\n")),
    Fault("RX349", _CHECK, files=top_rule(when="days_between(insured.insured_from) > 30")),
    Fault("RX350", _CHECK, files=top_rule(when="in_package", then="preference_met = yes",
                                          rule_id="preference/in-package")),
    Fault("RX351", _CHECK, files=top_rule(when='insured.plan is "Compakt"')),
    Fault("RX353", _CHECK_ONLY, files=top_rule(when="dispensing.supply_days rounded down to a whole number > 30"),
          exit_code=0),
    Fault("RX354", _CHECK, files=top_rule(
        when="dispensed_on + (dispensing.supply_days / 12) months <= insured.insured_until")),
    Fault("RX352", _CHECK, files=example(
        "define top = " + "not " * 30 + 'insured.plan is "Top"\n  explain en "the plan is Top"\n\n'
        + top_rule(when="not " * 20 + "top")[0][1])),
    Fault("RX360", _CHECK, files=example(_DENTAL + "  value 250.00 EUR in force from 2024-01-01 until 2025-12-31\n"
                                         "  value 300.00 EUR in force from 2025-01-01\nend\n")),
    Fault("RX361", _CHECK, files=example(_DENTAL + "end\n")),
    Fault("RX362", _CHECK, files=example(_DENTAL + "  value 125.00 EUR * 2\nend\n")),
    Fault("RX370", _CHECK, files=example(_SHADOW)),
    Fault("RX371", _CHECK, files=example(_CONFLICT)),
    Fault("RX372", _CHECK, files=example(_GAP)),
    Fault("RX373", _CHECK, edits=(("rules/hollandzorg/policy.rxp", "until 2025-12-31", "until 2027-12-31"),)),
    Fault("RX374", _CHECK, files=example(_DIVISION)),
    Fault("RX380", _CHECK, files=example(_FEE)),
    # RX4xx: case files
    Fault("RX401", _EVAL, files=case("  atc: N05BA04\n", "   atc: N05BA04\n")),
    Fault("RX401", _EVAL, files=case("  price: 12.40\n", "  price: 12.40\n  price: 11.90\n")),
    Fault("RX402", _EVAL, files=case("  price: 12.40\n", "")),
    Fault("RX403", _EVAL, files=case("  prescriber: gp\n", "  prescriber: gp\n  chronc: true\n")),
    Fault("RX403", _EVAL, files=case("  prescriber: gp\n", "  prescriber: gp\n  supply_days: 30\n")),
    Fault("RX403", _EVAL, files=case("  born_on: 1961-07-02\n", "  born_on: 1961-07-02\n  age: 63\n")),
    Fault("RX404", _EVAL, files=case("  prescriber: gp\n", "  prescriber: gp\n  chronic: maybe\n")),
    Fault("RX404", _EVAL, files=case("  supply_days: 30\n", "  supply_days: thirty\n")),
    Fault("RX405", _EVAL, files=case("  born_on: 1961-07-02\n", "  born_on: 1961-02-30\n")),
    Fault("RX405", _EVAL, files=case("  price: 12.40\n", "  price: 12.405\n")),
    Fault("RX405", _EVAL, files=case("  born_on: 1961-07-02\n",
                                     "  born_on: 1961-07-02\n  insured_from: 2025-06-01\n  insured_until: 2025-05-31\n")),
    Fault("RX405", _EVAL, files=case("  born_on: 1961-07-02\n", "  born_on: 1961-07-02\n  voluntary_excess: 250\n")),
    Fault("RX406", _EVAL, files=case("  atc: N05BA04\n", "  atc: N05BA04\n  route: nasel\n")),
    Fault("RX407", _EVAL, files=case("  born_on: 1961-07-02\n", "  born_on: 1961-07-02\n  plan: Compakt\n")),
    Fault("RX409", _EVAL, files=case("  supply_days: 30\n", "  supply_days: 30\n  fees: &fees\n    own: *fees\n")),
    # RX5xx: evaluation
    Fault("RX501", _EVAL, files=case("dispensed_on: 2025-03-14\n", "dispensed_on: 2026-03-14\n")),
    Fault("RX502", _EVAL_PLANTED, files=example(_GAP) + case("  supply_days: 30\n",
                                                             "  supply_days: 30\n  contracted: false\n")),
    Fault("RX503", _EVAL_PLANTED, files=example(_CONFLICT) + case("  atc: N05BA04\n", "  atc: N05BA04\n  route: nasal\n")),
    Fault("RX504", _EVAL_PLANTED, edits=(("rules/hollandzorg/policy.rxp", "until 2025-12-31", "until 2027-12-31"),),
          files=case("dispensed_on: 2025-03-14\n", "dispensed_on: 2027-03-14\n")),
    Fault("RX505", _EVAL_PLANTED, files=example(_DIVISION) + case()),
    # RX6xx: command line
    Fault("RX601", ("eval", "case.yaml", "--policy", "hollandzrog"), files=case()),
    Fault("RX602", ("eval", "case.yaml", "--policy", "hollandzorg-2024"), files=case()),
    # RX7xx: rule-test files
    rule_test_fault("RX701", "  - name: one month\n   expect: {max_supply: 1 month}\n"),
    rule_test_fault("RX702", "  - name: one month\n    expected: {max_supply: 1 month}\n    expect: {covered: true}\n"),
    rule_test_fault("RX703", "  - name: one month\n"),
    rule_test_fault("RX704", "  - name: one month\n    expect: {max_supply: 1 month}\n"
                             "  - name: one month\n    expect: {covered: true}\n"),
    rule_test_fault("RX705", "  - name: one month\n    expect: {max_suply: 1 month}\n"),
    rule_test_fault("RX706", "  - name: one month\n    decided_by: {max_supply: dispensing-period/benzodiazepine}\n"),
    rule_test_fault("RX707", "  - name: one month\n    expect: {max_supply: 4 weeks}\n"),
    Fault("RX708", ("test", "rules/hollandzorg/notes"),
          files=(("rules/hollandzorg/notes/README.txt", "Tests go here.\n"),)),
    Fault("RX709", ("test", _TEST_FILE, "--coverage"),
          files=((_TEST_FILE, _TEST_BASE + "  - name: one month\n    expect: {max_supply: 1 month}\n"),
                 ("rules/sources.yaml", _SOURCES))),
    # RX8xx: claims files and batch runs
    Fault("RX801", ("batch", "claims.txt"), files=(("claims.txt", _CLAIM),)),
    Fault("RX802", ("batch", "claims.jsonl"), files=(("claims.jsonl", _CLAIM + "{not json\n"),), exit_code=1),
    Fault("RX803", ("batch", "claims.jsonl", "--decisions", "covered,insurer_pay"),
          files=(("claims.jsonl", _CLAIM),)),
    Fault("RX804", ("batch", "claims.jsonl", "--resume"), files=(("claims.jsonl", _CLAIM),)),
    Fault("RX805", ("batch", "claims.jsonl"),
          files=(("claims.jsonl", _CLAIM + _CLAIM.replace('"12.40"', '"99999999999.00"')),), exit_code=1),
    Fault("RX811", ("impact", "hollandzorg@2024-06-01", "hollandzorg@2025-06-01", "claims.jsonl", "--out",
                    "report.txt"), files=(("claims.jsonl", _CLAIM),)),
)


@dataclass(frozen=True)
class Output:
    """What a command printed."""

    exit_code: int
    stdout: str
    stderr: str


def run_cli(args: tuple[str, ...] | list[str], cwd: Path) -> Output:
    """Run the command line in this process, in ``cwd`` (paths in messages are relative to it)."""
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(cli, list(args))
    return Output(exit_code=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def plant(fault: Fault, work: Path) -> Output:
    """Copy rules/ into ``work``, plant the fault and run its command there."""
    shutil.copytree(ROOT / "rules", work / "rules")
    for path, old, new in fault.edits:
        target = work / path
        text = target.read_text(encoding="utf-8")
        assert old in text, f"{fault.code}: `{old}` is no longer in {path}; plant the fault elsewhere"
        target.write_text(text.replace(old, new, 1), encoding="utf-8")
    for path, text in fault.files:
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text, encoding="utf-8")
    for path in fault.read_only:
        (work / path).chmod(0o444)
    return run_cli(fault.args, work)


def _fault_id(fault: Fault) -> str:
    same = [f for f in FAULTS if f.code == fault.code]
    return fault.code if len(same) == 1 else f"{fault.code}-{same.index(fault) + 1}"


# ------------------------------------------------------------------------------------------ errors.md

def test_every_code_the_source_raises_has_a_section_and_every_section_a_code() -> None:
    in_source, documented = source_codes(), set(error_sections())
    assert in_source, "no RX codes found in the source: is the pattern still right?"
    assert sorted(in_source - documented) == [], "codes without a section in docs/errors.md"
    assert sorted(documented - in_source) == [], "sections in docs/errors.md for codes the source never raises"


def test_every_documented_code_has_a_planted_example() -> None:
    # The service's codes (RX8xx) are planted over HTTP by tests/service/test_errors_doc.py.
    assert sorted(set(error_sections()) - {f.code for f in FAULTS} - set(SERVICE_CODES)) == []


def test_sections_are_in_code_order_and_each_says_what_it_means_and_how_to_fix_it() -> None:
    sections = error_sections()
    assert list(sections) == sorted(sections)
    for code, text in sections.items():
        assert "**Fix:**" in text, f"{code}: the section has no **Fix:** paragraph"
        assert "```text" in text, f"{code}: the section shows no example message"


@pytest.mark.parametrize("fault", FAULTS, ids=_fault_id)
def test_the_example_message_is_what_rxpolicy_prints(fault: Fault, tmp_path: Path) -> None:
    out = plant(fault, tmp_path)
    assert out.exit_code == fault.exit_code, out
    if fault.exit_code == 2:
        assert out.stdout == "", "bad input prints nothing on stdout"
    assert f": {fault.code}: " in out.stderr or out.stderr.startswith(f"{fault.code}: "), out.stderr
    shown = [b.text for b in blocks(DOCS / "errors.md") if b.lang == "text"]
    section = error_sections()[fault.code]
    assert any(out.stderr.strip() == text.strip() and text in section for text in shown), (
        f"docs/errors.md, section {fault.code}, should show exactly this output:\n{out.stderr}")


# ------------------------------------------------------------------------------------------ case-file.md

_FIELD_ROW = re.compile(r"^\| `([a-z0-9_.]+)` \|", re.MULTILINE)


def test_every_case_field_is_described() -> None:
    text = (DOCS / "case-file.md").read_text(encoding="utf-8")
    rows = set(_FIELD_ROW.findall(text))
    assert sorted(set(FIELDS) - rows) == [], "fields of schema.FIELDS without a row in docs/case-file.md"
    assert sorted(rows - set(FIELDS)) == [], "rows in docs/case-file.md for fields the schema does not have"


def _case_blocks() -> list[Block]:
    return [b for b in blocks(DOCS / "case-file.md") if b.lang == "yaml"]


def test_case_file_examples_load_or_are_refused_as_marked() -> None:
    plans = load_policy("hollandzorg").plans
    examples = _case_blocks()
    assert examples, "docs/case-file.md shows no case"
    for block in examples:
        refused = re.fullmatch(r"refused: (RX\d{3})", block.marker or "")
        if refused is None:
            parse_case(block.text, path=block.where, plans=plans)
            continue
        with pytest.raises(RxError) as caught:
            parse_case(block.text, path=block.where, plans=plans)
        assert [d.code for d in caught.value.diagnostics] == [refused.group(1)], block.where


# ------------------------------------------------------------------------------------------ rule excerpts

def _rxp_blocks() -> list[Block]:
    return [b for file in MARKDOWN for b in blocks(file) if b.lang == "rxp"]


def test_every_excerpt_is_quoted_from_its_file() -> None:
    quoted = [b for file in MARKDOWN for b in blocks(file) if (b.marker or "").startswith("from ")]
    assert len([b for b in quoted if b.lang == "rxp"]) >= 20, "the language guide quotes the built-in rules"
    for block in quoted:
        path = ROOT / (block.marker or "").removeprefix("from ").strip()
        assert path.is_file(), f"{block.where}: {path} does not exist"
        text = normalised(path.read_text(encoding="utf-8"))
        # `…` on a line of its own leaves lines out; each piece must occur, in order.
        position = 0
        for piece in re.split(r"^\s*…\s*$", block.text, flags=re.MULTILINE):
            found = text.find(normalised(piece), position)
            assert piece.strip() == "" or found >= 0, f"{block.where}: not in {path.name}:\n{piece}"
            position = max(position, found)


def test_every_other_rule_example_is_marked_and_parses() -> None:
    for block in _rxp_blocks():
        marker = block.marker or ""
        if marker.startswith("from "):
            continue
        assert marker.startswith("not in the built-in rules"), (
            f"{block.where}: mark an rxp block `<!-- from rules/… -->` or `<!-- not in the built-in rules … -->`")
        parse_rule_file(SourceFile(path=block.where, text=block.text))


# ------------------------------------------------------------------------------------------ outputs

def _is_excerpt(excerpt: str, full: str) -> bool:
    """Whether the excerpt's lines occur in ``full`` in order (lines of only `…` leave lines out)."""
    lines = iter(line.rstrip() for line in full.splitlines())
    wanted = [line.rstrip() for line in excerpt.splitlines() if line.strip() not in ("…", "...")]
    return all(any(line == want for line in lines) for want in wanted)


def _output_blocks() -> Iterator[tuple[Block, list[str], Block | None]]:
    for file in MARKDOWN:
        found = blocks(file)
        for index, block in enumerate(found):
            command = re.fullmatch(r"output of: rxpolicy (.*)", block.marker or "")
            if command:
                earlier = [b for b in found[:index] if b.lang == "yaml"]
                yield block, shlex.split(command.group(1)), earlier[-1] if earlier else None


def test_every_shown_output_is_an_excerpt_of_the_real_one(tmp_path: Path) -> None:
    shown = list(_output_blocks())
    assert len(shown) >= 4
    for block, args, case_block in shown:
        if "CASE" in args:  # the case written in the block above
            assert case_block is not None, f"{block.where}: no yaml block above"
            (tmp_path / "case.yaml").write_text(case_block.text, encoding="utf-8")
            args = [str(tmp_path / "case.yaml") if a == "CASE" else a for a in args]
        out = run_cli(args, ROOT)
        printed = out.stdout if out.exit_code == 0 else out.stderr
        assert _is_excerpt(block.text, printed), f"{block.where}: not what `rxpolicy {shlex.join(args)}` " \
                                                 f"prints now:\n{printed}"


def test_every_shown_piece_of_generated_code_is_generated() -> None:
    shown = [b for b in blocks(DOCS / "architecture.md") if (b.marker or "").startswith("generated code of: ")]
    assert shown, "docs/architecture.md shows generated code"
    for block in shown:
        policy = load_policy((block.marker or "").removeprefix("generated code of: ").strip())
        generated = "\n".join(epoch.python for epoch in policy.epochs)
        # Constants are numbered in the order the writer meets them; which number is shown does not matter.
        def numberless(text: str) -> str:
            return re.sub(r"\bK\d+\b", "K", text)
        assert _is_excerpt(numberless(block.text), numberless(generated)), (
            f"{block.where}: not in the code generated now:\n{generated}")


# ------------------------------------------------------------------------------------------ Python examples

@pytest.mark.parametrize("file", ["README.md", "docs/api.md"])
def test_the_python_examples_run(file: str) -> None:
    code = [b for b in blocks(ROOT / file) if b.lang == "python"]
    assert code, f"{file} has no Python example"
    namespace: dict[str, object] = {"__name__": "docs_example"}
    printed = io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(printed):
        for block in code:
            exec(compile(block.text, block.where, "exec"), namespace)  # noqa: S102 - our own documentation
    if file == "README.md":  # its comments say what each print() prints
        said = [m.group(1) for b in code for m in re.finditer(r"^print\(.*\)\s+# (.*)$", b.text, re.MULTILINE)]
        assert said and printed.getvalue().splitlines() == said


# ------------------------------------------------------------------------------------------ claims of the guide

def test_an_exception_to_two_applying_rules_counts_once(tmp_path: Path) -> None:
    """docs/language.md, Exceptions: an exception to several rules is one reason, however many of them apply."""
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "hollandzorg" / "example.rxp").write_text("""\
rule authorisation/nervous-system
  exception to authorisation/not-required
  source "example"
  when medicine.atc matches N05*
  then authorisation_required = yes
  explain en "a"
end

rule authorisation/anxiolytics
  exception to authorisation/not-required
  source "example"
  when medicine.atc matches N05B*
  then authorisation_required = yes
  explain en "b"
end

rule authorisation/from-the-gp
  exception to authorisation/nervous-system, authorisation/anxiolytics
  source "example"
  when prescription.prescriber is gp
  then authorisation_required = no
  explain en "c"
end
""", encoding="utf-8")
    policy = load_policy(str(tmp_path / "rules" / "hollandzorg"))
    result = evaluate(policy, parse_case(CASE))["authorisation_required"]
    assert [r.id for r in result.rules] == ["authorisation/from-the-gp"]


def test_each_reason_for_refusal_gives_its_own_facts(tmp_path: Path) -> None:
    """docs/language.md, Exceptions: the travel-sickness case is refused for three reasons, each with its facts."""
    case_block = next(b for b in blocks(DOCS / "language.md") if b.lang == "yaml" and "scopolamine" in b.text)
    (tmp_path / "case.yaml").write_text(case_block.text, encoding="utf-8")
    out = run_cli(("eval", str(tmp_path / "case.yaml"), "--format", "json"), ROOT)
    reasons = json.loads(out.stdout)["reasons"]
    assert len(reasons) == 3
    assert len({tuple(r["because"]) for r in reasons}) == 3


# ------------------------------------------------------------------------------------------ as a script

def main(codes: list[str]) -> None:
    """Print what each planted fault gives now (all, or those of the codes named)."""
    for fault in FAULTS:
        if codes and fault.code not in codes:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = plant(fault, Path(tmp))
        print(f"===== {_fault_id(fault)} (exit {out.exit_code})\n{out.stderr}")


if __name__ == "__main__":
    main(sys.argv[1:])


# ------------------------------------------------------------------------------------------ standing on its own

def test_nothing_in_the_product_points_outside_the_repository() -> None:
    """No rule, code or doc cites a path outside the repository or a source by its archived file name."""
    outside = re.compile(r"shared/|\b\d{3}_[0-9a-f]{16}\.txt\b|domain\.md")
    files = [ROOT / "README.md", *(p for top in ("rules", "interpreter", "docs") for p in (ROOT / top).rglob("*")
                                   if p.is_file() and p.suffix in (".rxp", ".py", ".md", ".yaml", ".lark"))]
    found = [f"{p.relative_to(ROOT)}:{n}" for p in files
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if outside.search(line)]
    assert found == []


def test_every_built_in_citation_names_a_registry_source() -> None:
    """Built-in rules cite `source <id> "…"`, so explanations show the source's title, never a file."""
    for name in ("hollandzorg", "asr"):
        checked = load_policy(name).checked
        assert checked.registry is not None
        plain = [(r.id, c.text) for r in checked.rules for c in r.rule.citations if c.source is None]
        assert plain == [], f"{name}: citations without a source id"
        for rule in checked.rules:
            for citation in rule.rule.citations:
                assert checked.registry.get(str(citation.source)) is not None, (rule.id, citation.source)
