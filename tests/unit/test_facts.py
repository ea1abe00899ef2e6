"""Facts declared in the language: the case's fields are `fact` declarations of the statutory layer.

* a bad declaration is a located RX error (a fact declared twice, an unknown type, a default that is not one
  of the allowed values, …);
* a policy adds a fact and a rule using it in rule-file text only, and cases are evaluated with it
  (including the case-file error for a wrong value of the new fact);
* the JSON Schema of a case (``rxpolicy schema case``) accepts every example case and the contract's cases;
* the field tables of docs/case-file.md are the ones the declarations give;
* the case builder generated per schema gives the same case as the full check, or leaves the case to it.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import shutil
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from rxpolicy import RxError, evaluate, load_case, load_policy, parse_case
from rxpolicy.cli import cli
from rxpolicy.engine.case import case_from_mapping
from rxpolicy.engine.case_build import builder_for
from rxpolicy.engine.case_check import CheckRun, from_python
from rxpolicy.language.facts import CaseSchema, read_facts, statutory_facts
from rxpolicy.language.facts_publish import field_tables
from rxpolicy.language.lower import parse_rule_file
from rxpolicy.language.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*/*.yaml"))
SPEC_CASES = sorted(next((p for p in (ROOT.parent / "shared", Path("/work/shared")) if p.is_dir()),
                        ROOT / "missing").glob("spec/cases/*.yaml"))

_DATE = """fact dispensed_on: date
  required
  decides the rules in force
  explain en "the dispensing date"
end
"""


def problems(text: str) -> list[tuple[str, int, str]]:
    """(code, line, message) of every problem the declarations in ``text`` have."""
    items = parse_rule_file(SourceFile(path="facts.rxp", text=text)).items
    _, found = read_facts(("statutory", item) for item in items)
    return [(d.code, d.span.line if d.span else 0, d.message) for d in found]


def read(text: str) -> CaseSchema:
    items = parse_rule_file(SourceFile(path="facts.rxp", text=text)).items
    schema, found = read_facts(("statutory", item) for item in items)
    assert found == [] and schema is not None
    return schema


# ------------------------------------------------------------------------------------------ declarations

def test_the_statutory_layer_declares_the_contracts_case() -> None:
    facts = statutory_facts()
    assert facts.period_date == "dispensed_on"
    assert (facts.smallest_pack, facts.one_course) == ("dispensing.smallest_pack", "prescription.course_days")
    assert facts.all_or_none == ("authorisation",)
    assert facts.derived == ("insured.age", "insured.days_insured", "days_in_year", "start_of_year", "end_of_year")
    assert [p for p, s in facts.fields.items() if s.required] == [
        "dispensed_on", "insured.born_on", "prescription.prescriber", "medicine.name", "medicine.atc",
        "medicine.price", "dispensing.supply_days"]
    assert facts.fields["insured.voluntary_excess"].allowed == tuple(Decimal(n).quantize(Decimal("0.01"))
                                                                       for n in range(0, 600, 100))


def test_a_small_declaration_reads() -> None:
    schema = read(_DATE + """
choice colour
  option red en "red" nl "rood"
  option blue en "blue" nl "blauw"
end

fact thing.colour: colour
  default red
  explain en "the colour"
end

fact thing.tags: list of colour
  explain en "the tags"
end

fact thing.count: number, or unknown
  at least 2 because "it takes two"
  explain en "the count"
end
""")
    colour = schema.fields["thing.colour"]
    assert colour.type.choices == ("red", "blue") and colour.default == "red"
    assert colour.type.words is not None and colour.type.words["blue"]["nl"] == "blauw"
    assert schema.fields["thing.tags"].default == ()
    assert schema.fields["thing.count"].type.nullable and schema.fields["thing.count"].at_least == 2
    assert list(schema.sections) == ["thing"]


@pytest.mark.parametrize(("text", "code", "line", "words"), [
    (_DATE + _DATE, "RX301", 6, "the fact `dispensed_on` is already declared"),
    (_DATE + 'fact medicine.price: mony\n  required\n  explain en "the price"\nend\n', "RX204", 6,
     "`mony` is neither a type nor a declared choice"),
    (_DATE + 'fact insured.excess: money\n  default 150.00 EUR\n  one of 0 EUR, 100 EUR\n  explain en "x"\nend\n',
     "RX380", 7, "the default of `insured.excess` (150.00 EUR) is not one of its allowed values"),
    # A number of two decimals is no amount: said as the number it is, by the fact's type.
    (_DATE + 'fact thing.dose: number\n  default 2.50\n  one of 1, 1.25\n  explain en "x"\nend\n',
     "RX380", 7, "the default of `thing.dose` (2.5) is not one of its allowed values"),
    (_DATE + 'fact insured.excess: money\n  default yes\n  explain en "x"\nend\n', "RX380", 7,
     "the default of `insured.excess` is a yes/no, but the fact is a money"),
    (_DATE + 'fact medicine.price: money\n  explain en "the price"\nend\n', "RX380", 6,
     "`medicine.price` has no default and is not required"),
    (_DATE + 'fact medicine.price: money\n  required\n  default 1.00 EUR\n  explain en "x"\nend\n', "RX380", 8,
     "`medicine.price` is required, so it has no default"),
    (_DATE + 'fact age: number\n  computed by whole_years(dispensed_on, dispensed_on)\n  explain en "x"\nend\n',
     "RX380", 6, "`whole_years` is not a built-in function a fact can be computed by"),
    (_DATE + 'fact age: date\n  computed by whole_years_between(dispensed_on, dispensed_on)\n  explain en "x"\nend\n',
     "RX380", 6, "`whole_years_between` gives a number, but `age` is a date"),
    (_DATE + 'fact chronic: yes or no\n  default no\n  if yes nl "chronisch"\n  if no en "not chronic"\nend\n',
     "RX380", 6, "`chronic` (when yes) has no English words"),
    (_DATE + 'fact chronic: yes or no\n  default no\n  explain en "chronic"\nend\n', "RX380", 8,
     "`chronic` is a yes/no fact: its words are a sentence for each answer"),
    (_DATE + 'fact kind: colour\n  default red\n  explain en "x"\nend\n', "RX204", 6,
     "`colour` is neither a type nor a declared choice"),
    (_DATE + 'fact other_day: date\n  required\n  decides the rules in force\n  explain en "x"\nend\n', "RX380", 6,
     "`other_day` and `dispensed_on` both say they decide the rules in force"),
    (_DATE + 'fact a: date\n  default b\n  explain en "a"\nend\nfact b: date\n  default a\n  explain en "b"\nend\n',
     "RX350", 6, "the value of `a` depends on itself"),
    (_DATE + 'fact until: date\n  required\n  not before since\n  explain en "x"\nend\n', "RX380", 6,
     "`until` is ordered against `since`, but both must be date facts"),
    ('fact day: date\n  required\n  explain en "the day"\nend\n', "RX380", 1,
     "no fact says it decides the rules in force"),
    (_DATE + 'choice colour\n  option red en "red"\n  option red en "rood"\nend\n', "RX380", 8,
     "the choice `colour` lists `red` twice"),
])
def test_a_bad_declaration_is_a_located_error(text: str, code: str, line: int, words: str) -> None:
    found = problems(text)
    assert any(c == code and at == line and words in message for c, at, message in found), found


def test_an_outcome_that_is_not_yes_or_no_is_an_error(tmp_path: Path) -> None:
    rules = _copy_rules(tmp_path)
    layer = rules / "statutory" / "layer.rxp"
    text = layer.read_text(encoding="utf-8").replace("decision max_supply: supply limit\n",
                                                     "decision max_supply: supply limit\n  is the outcome\n")
    layer.write_text(text, encoding="utf-8")
    out = CliRunner().invoke(cli, ["check", str(rules / "hollandzorg")])
    assert out.exit_code == 2
    assert "RX380: `max_supply` and `covered` both say they are the outcome" in out.stderr \
        or "RX380: `covered` and `max_supply` both say they are the outcome" in out.stderr, out.stderr


# ------------------------------------------------------------------------------------------ a new fact, no Python

_PHARMACY_FACTS = """fact pharmacy.contracted_for_group: yes or no
  default yes
  if yes en "the pharmacy is contracted for this product group"
  if yes nl "de apotheek is gecontracteerd voor deze productgroep"
  if no en "the pharmacy is not contracted for this product group"
  if no nl "de apotheek is niet gecontracteerd voor deze productgroep"
end

fact pharmacy.assessment_fee: money
  default 0.00 EUR
  explain en "the medication assessment fee"
  explain nl "het tarief voor de medicatiebeoordeling"
end

rule coverage/pharmacy-not-contracted-for-group
  exception to coverage/conditions-met
  source "Example: an insurer that contracts pharmacies per product group"
  when not pharmacy.contracted_for_group
  then covered = no
  rejection code "0613"
  explain en "This pharmacy is not contracted for this product group."
  explain nl "Deze apotheek is niet gecontracteerd voor deze productgroep."
end

rule plan-contribution/assessment-fee
  exception to plan-contribution/none
  source "Example: a plan that pays the medication assessment fee"
  when insured.plan is "Top" and pharmacy.assessment_fee > 0.00 EUR
  then plan_pays = pharmacy.assessment_fee
  explain en "Your plan pays the medication assessment fee."
  explain nl "Uw aanvullende verzekering betaalt het tarief voor de medicatiebeoordeling."
end
"""

_CASE = """dispensed_on: 2025-03-14
insured:
  born_on: 1961-07-02
  plan: Top
prescription:
  prescriber: gp
medicine:
  name: amlodipine 5 mg tablet
  atc: C08CA01
  price: 10.00
dispensing:
  supply_days: 30
"""


def _copy_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("tests"))
    return rules


@pytest.fixture(scope="module")
def with_pharmacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HollandZorg's rules with two more facts and two rules using them, added as a rule file only."""
    rules = _copy_rules(tmp_path_factory.mktemp("pharmacy"))
    (rules / "hollandzorg" / "pharmacy.rxp").write_text(_PHARMACY_FACTS, encoding="utf-8")
    return rules / "hollandzorg"


def test_the_new_facts_are_declared_by_the_insurer_layer(with_pharmacy: Path) -> None:
    policy = load_policy(str(with_pharmacy))
    assert policy.facts.fields["pharmacy.contracted_for_group"].layer == "hollandzorg"
    assert "pharmacy.assessment_fee" in policy.facts.fields
    assert "pharmacy.contracted_for_group" not in statutory_facts().fields


def test_a_rule_uses_the_new_fact(with_pharmacy: Path) -> None:
    policy = load_policy(str(with_pharmacy))
    as_before = evaluate(policy, parse_case(_CASE, policy=policy))
    assert as_before.outcome == "covered"
    refused = evaluate(policy, parse_case(_CASE + "pharmacy:\n  contracted_for_group: false\n", policy=policy))
    assert refused.outcome == "not_covered"
    assert [r.id for r in refused.reasons] == ["coverage/pharmacy-not-contracted-for-group"]
    assert refused.explain("covered")[0].rule.rejection_code == "0613"


def test_a_computation_uses_the_new_money_fact(with_pharmacy: Path) -> None:
    policy = load_policy(str(with_pharmacy))
    evaluation = evaluate(policy, parse_case(_CASE + "pharmacy:\n  assessment_fee: 6.50\n", policy=policy))
    assert evaluation["plan_pays"].value == Decimal("6.50")
    assert evaluation["plan_pays"].rule.id == "plan-contribution/assessment-fee"


def test_a_wrong_value_of_the_new_fact_is_a_case_file_error(with_pharmacy: Path, tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(_CASE + "pharmacy:\n  contracted_for_group: perhaps\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["eval", str(case), "--policy", str(with_pharmacy)])
    assert out.exit_code == 2 and out.stdout == ""
    assert out.stderr.startswith(f"{case}:14:25: RX404: `pharmacy.contracted_for_group` needs yes or no, "
                                 "not `perhaps`"), out.stderr
    assert "help: write `contracted_for_group: true` or `contracted_for_group: false`" in out.stderr


def test_the_new_fact_is_unknown_to_a_policy_that_does_not_declare_it(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(_CASE + "pharmacy:\n  contracted_for_group: false\n", encoding="utf-8")
    out = CliRunner().invoke(cli, ["eval", str(case), "--policy", "hollandzorg"])
    assert out.exit_code == 2
    assert "RX403: the top level of a case has no field `pharmacy`" in out.stderr, out.stderr


def test_a_case_read_without_the_policy_gets_the_new_facts_defaults(with_pharmacy: Path) -> None:
    policy = load_policy(str(with_pharmacy))
    case = parse_case(_CASE)  # the contract's case, without the pharmacy facts
    evaluation = evaluate(policy, case)
    assert evaluation.case.get("pharmacy.contracted_for_group") is True
    assert evaluation.outcome == "covered"


def test_the_new_fact_is_in_the_json_schema(with_pharmacy: Path) -> None:
    out = CliRunner().invoke(cli, ["schema", "case", "--policy", str(with_pharmacy)])
    assert out.exit_code == 0, out.stderr
    schema = json.loads(out.stdout)
    pharmacy = schema["properties"]["pharmacy"]["anyOf"][0]["properties"]
    assert pharmacy["contracted_for_group"]["type"] == "boolean"
    assert pharmacy["contracted_for_group"]["default"] is True


# ------------------------------------------------------------------------------------------ JSON Schema

def _json_form(value: object) -> object:
    """A case as JSON holds it: dates as ISO strings."""
    if isinstance(value, dict):
        return {str(k): _json_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_form(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else value


@pytest.fixture(scope="module")
def case_schema() -> dict[str, object]:
    out = CliRunner().invoke(cli, ["schema", "case"])
    assert out.exit_code == 0, out.stderr
    schema = json.loads(out.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return schema  # type: ignore[no-any-return]


def test_there_are_cases_to_validate() -> None:
    assert len(EXAMPLES) >= 20
    assert len(SPEC_CASES) >= 5


@pytest.mark.parametrize("path", EXAMPLES + SPEC_CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_and_contract_case_is_valid_by_the_json_schema(path: Path,
                                                                      case_schema: dict[str, object]) -> None:
    data = _json_form(yaml.safe_load(path.read_text(encoding="utf-8")))
    jsonschema.Draft202012Validator(case_schema, format_checker=jsonschema.FormatChecker()).validate(data)


@pytest.mark.parametrize(("change", "where"), [
    ({"dispensing": {"supply_days": 0}}, "supply_days"),
    ({"prescription": {"prescriber": "huisarts"}}, "prescriber"),
    ({"insured": {"born_on": "1961-07-02", "voluntary_excess": 250}}, "voluntary_excess"),
    ({"insured": {"born_on": "1961-07-02", "age": 63}}, "age"),
    ({"authorisation": {"granted_on": "2025-01-10"}}, "valid_until"),
    ({"medicine": {"name": "x", "atc": "n05ba04", "price": 1}}, "atc"),
])
def test_the_json_schema_refuses_what_the_loader_refuses(change: dict[str, object], where: str,
                                                          case_schema: dict[str, object]) -> None:
    data = _json_form(yaml.safe_load(_CASE))
    assert isinstance(data, dict)
    for section, fields in change.items():
        data[section] = {**data.get(section, {}), **fields} if isinstance(fields, dict) else fields
    with pytest.raises(jsonschema.ValidationError) as refused:
        jsonschema.Draft202012Validator(case_schema).validate(data)
    assert where in str(refused.value)
    with pytest.raises(RxError):
        case_from_mapping(data)


# ------------------------------------------------------------------------------------------ the docs

def test_the_field_tables_of_the_docs_are_the_declared_ones() -> None:
    """docs/case-file.md holds the tables the declarations give, between its two markers; to renew them run
    ``.venv/bin/python tests/unit/test_facts.py``."""
    doc = (ROOT / "docs" / "case-file.md").read_text(encoding="utf-8")
    begin, end = "<!-- fields: begin (generated from the fact declarations) -->\n", "<!-- fields: end -->"
    assert begin in doc and end in doc
    assert doc.split(begin, 1)[1].split(end, 1)[0].strip() == field_tables(statutory_facts()).strip()


def renew_docs() -> None:
    """Write the declared field tables into docs/case-file.md."""
    path = ROOT / "docs" / "case-file.md"
    doc = path.read_text(encoding="utf-8")
    begin, end = "<!-- fields: begin (generated from the fact declarations) -->\n", "<!-- fields: end -->"
    head, rest = doc.split(begin, 1)
    path.write_text(head + begin + "\n" + field_tables(statutory_facts()) + "\n" + end + rest.split(end, 1)[1],
                    encoding="utf-8")


# ------------------------------------------------------------------------------------------ the generated builder

def _full_check(data: dict[str, object]) -> tuple[object, ...]:
    values, _ = CheckRun(schema=statutory_facts(), source="<t>", from_file=False).check(from_python(data))
    return values


def _mapping(path: Path) -> dict[str, object]:
    return load_case(path).to_mapping(only_changed=False)


@pytest.mark.parametrize("path", EXAMPLES + SPEC_CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_generated_builder_gives_the_full_checks_case(path: Path) -> None:
    data = _mapping(path)
    built = builder_for(statutory_facts())(data, None)
    assert built is not None, "a valid case in the plain form is read by the generated builder"
    assert built == _full_check(data)
    assert [type(v) for v in built] == [type(v) for v in _full_check(data)]


@pytest.mark.parametrize("change", [
    {"medicine": {"price": 12.4}},                      # a float: the full check refuses it
    {"medicine": {"price": "12.405"}},                  # three decimals
    {"dispensing": {"supply_days": 0}},                 # below the least value
    {"dispensing": {"supply_days": Decimal("1.5")}},   # not whole
    {"insured": {"voluntary_excess": 250}},              # not one that can be chosen
    {"insured": {"insured_from": "2025-06-01", "insured_until": "2025-05-31"}},
    {"authorisation": {"granted_on": "2025-01-10", "valid_until": None}},
    {"prescription": {"prescriber": "huisarts"}},
    {"insured": {"age": 63}},
    {"insured": {"plan": "Compakt"}},
])
def test_the_generated_builder_leaves_every_problem_to_the_full_check(change: dict[str, object]) -> None:
    data = _mapping(EXAMPLES[0])
    for section, fields in change.items():
        data[section] = {**data[section], **fields} if isinstance(data.get(section), dict) else fields  # type: ignore[dict-item]
    assert builder_for(statutory_facts())(data, ("Compact",)) is None
    with pytest.raises(RxError):
        case_from_mapping(data, plans=("Compact",))


def test_a_case_of_the_contract_pickles_as_its_values() -> None:
    case = load_case(EXAMPLES[0])
    again = pickle.loads(pickle.dumps(case))
    assert again == case and again.lines == case.lines and again.schema is statutory_facts()


def test_the_builder_is_written_once_per_schema() -> None:
    assert builder_for(statutory_facts()) is builder_for(statutory_facts())


def test_the_fast_roads_from_many_threads_give_what_one_thread_gives() -> None:
    # The builders, the names table and the JSON decoder are shared by every thread: reading cases at once from
    # eight threads (mappings, YAML and one-line JSON texts, valid and not) gives what one thread gives.
    texts = [path.read_text(encoding="utf-8") for path in EXAMPLES]
    inputs: list[object] = [*(_mapping(p) for p in EXAMPLES), *texts,
                            *(json.dumps(_mapping(p), default=str) for p in EXAMPLES),
                            texts[0].replace("gp", "huisarts"), {"dispensed_on": "2025-02-30"}]

    def read(item: object) -> object:
        try:
            case = parse_case(item) if isinstance(item, str) else case_from_mapping(item)  # type: ignore[arg-type]
        except RxError as error:
            return [d.message for d in error.diagnostics]
        return case.values, dict(case.lines)

    alone = [read(item) for item in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(read, inputs * 4)) == alone * 4


if __name__ == "__main__":
    renew_docs()


def test_every_kind_of_fact_has_the_words_messages_say() -> None:
    """``KIND_WORDS`` is public: the bulk evaluator's message for a claims column of the wrong type says a kind
    in the same words as a case's RX404 (it once imported the private name)."""
    from rxpolicy import load_policy
    from rxpolicy.engine.case_check import KIND_WORDS

    kinds = {field.type.kind for field in load_policy("hollandzorg").case_facts.fields.values()}
    assert kinds and kinds <= set(KIND_WORDS)
    assert all(isinstance(words, str) and words for words in KIND_WORDS.values())
