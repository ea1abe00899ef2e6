"""Rule files that used to crash the compiler get located RX errors with stated limits (issues 13.4 and 14.3).

Each limit (rxpolicy.language.limits, docs/language.md "Limits") is tested on both sides: at the
limit the policy compiles, evaluates and explains (so the generated Python stays within what Python's
parser accepts for every kind of expression); one past it is refused with the code and place. Before,
each of these inputs ended in exit 3: a ValueError (4,300-digit integers), "too many nested
parentheses" (200 `or`s, a 200-term sum, 250 `not`s), RecursionError (~500 terms), a leaked Lark
VisitError (27-digit money) or OverflowError (`at most 99999999999 months`, `in force from 0001-01-01`).

The last tests show that rule-file text never becomes code: texts and numbers enter the generated
Python only as bound constants or the ``repr`` of a checked value, operators only from the grammar's
tokens, names only as positions.
"""

from __future__ import annotations

import ast as python_ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from rxpolicy import RxError, case_from_mapping, evaluate, load_policy
from rxpolicy.cli import cli
from rxpolicy.explain.json import evaluation_json
from rxpolicy.explain.text import evaluation_text
from rxpolicy.language.limits import MAX_DEPTH

LAYER = """
layer statutory
  kind statutory
end

decision covered: yes or no
  explain en "reimbursed"
end

decision fee: money
  explain en "the fee"
end

decision period: supply limit
  explain en "the period"
end
"""


def write(root: Path, rules: str, *, validity: str = "in force from 2024-01-01 until 2025-12-31") -> Path:
    """A policy `p` on a small layer; ``rules`` are its rules. Returns the policy directory."""
    (root / "statutory").mkdir(parents=True, exist_ok=True)
    (root / "statutory" / "layer.rxp").write_text(LAYER, encoding="utf-8")
    (root / "p").mkdir(exist_ok=True)
    (root / "p" / "policy.rxp").write_text(f'policy p\n  title "P"\n  built on statutory\n  {validity}\nend\n',
                                           encoding="utf-8")
    (root / "p" / "rules.rxp").write_text(rules, encoding="utf-8")
    return root / "p"


def rule(rule_id: str, *body: str) -> str:
    return "\n".join(["", f"rule {rule_id}", '  source "test"', *(f"  {b}" for b in body), '  explain en "x"',
                      '  explain nl "x"', "end", ""])


CASE = {"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
        "medicine": {"name": "test medicine", "atc": "C08CA01", "price": "10.00"},
        "dispensing": {"supply_days": 30, "months_in_use": 2}}


def refused(directory: Path) -> list[tuple[str, int]]:
    """The codes and lines ``rxpolicy check`` reports, checked to be a clean refusal (exit 2, no traceback)."""
    with pytest.raises(RxError) as raised:
        load_policy(str(directory))
    result = CliRunner().invoke(cli, ["check", "--no-analysis", str(directory)])
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    return [(d.code, d.span.line if d.span else 0) for d in raised.value.diagnostics]


def decides(directory: Path) -> object:
    """The fee (or `covered`) the policy gives the test case; the explanation is rendered too."""
    evaluation = evaluate(load_policy(str(directory)), case_from_mapping(CASE))
    assert evaluation_text(evaluation) and evaluation_json(evaluation)
    return evaluation.values_by_name


def covered_when(condition: str) -> str:
    """`covered` is the condition (written on line 4), the fee nothing."""
    return rule("cover/all", f"then covered = {condition}") + rule("fee/none", "then fee = 0.00 EUR")


# ------------------------------------------------------------------------------------------ nesting depth

def nested(kind: str, depth: int) -> str:
    """A yes/no expression nesting exactly ``depth`` levels (as rxpolicy counts them) of one kind."""
    if kind == "not":
        return "not " * (depth - 1) + "dispensing.new_to_patient"
    if kind == "or-and":  # alternating, so no chain is long enough to be regrouped
        text = "dispensing.new_to_patient"
        for level in range(depth - 1):
            text = f"dispensing.new_to_patient {'or' if level % 2 else 'and'} ({text})"
        return text
    if kind == "sum":  # depth - 1 additions and a comparison
        return " + ".join(["dispensing.supply_days"] * (depth - 1)) + " > 3"
    if kind == "division":  # number divisions: the generated code wraps each in Decimal(...)
        return " / ".join(["100"] + ["dispensing.supply_days"] * (depth - 2)) + " > 0"
    if kind == "if":
        text = "dispensing.new_to_patient"
        for _ in range(depth - 1):
            text = f"if dispensing.new_to_patient then {text} else no"
        return text
    if kind == "months":  # durations compared by laying them from the date: two calls a level
        text = "1 month"
        for _ in range(depth - 2):
            text = f"(if dispensing.new_to_patient then {text} else 2 months)"
        return f"{text} < 3 months"
    raise AssertionError(kind)


KINDS = ["not", "or-and", "sum", "division", "if", "months"]


@pytest.mark.parametrize("kind", KINDS)
def test_an_expression_at_the_depth_limit_compiles_evaluates_and_explains(tmp_path: Path, kind: str) -> None:
    directory = write(tmp_path, covered_when(nested(kind, MAX_DEPTH)))
    assert decides(directory)["covered"] in (True, False)


@pytest.mark.parametrize("kind", KINDS)
def test_one_level_deeper_is_rx210_at_the_expression(tmp_path: Path, kind: str) -> None:
    directory = write(tmp_path, covered_when(nested(kind, MAX_DEPTH + 1)))
    found = refused(directory)
    assert found and {code for code, _ in found} == {"RX210"}
    assert [line for _, line in found] == [4]


@pytest.mark.parametrize("size", [200, 500, 5000])
def test_the_reported_crashes_are_refusals(tmp_path: Path, size: int) -> None:
    # issue 14.3: a 200-term sum (generated Python: "too many nested parentheses"), ~500 terms (RecursionError);
    # issue 13.4: more than ~200 nested `not`s.
    for kind in ("sum", "not"):
        directory = write(tmp_path / kind, covered_when(nested(kind, size)))
        assert {code for code, _ in refused(directory)} == {"RX210"}


@pytest.mark.parametrize("size", [9, 200, 3000])
@pytest.mark.parametrize("operator", ["or", "and"])
def test_a_long_chain_of_or_or_and_is_regrouped_and_decides_as_written(tmp_path: Path, size: int,
                                                                        operator: str) -> None:
    # issue 14.3: 200 or-ed conditions crashed the compiler; a chain of one logical operator is regrouped as a
    # balanced tree (same operands, same order, log2(n) levels), so any length compiles and decides as written.
    test = "is" if operator == "or" else "is not"
    condition = f" {operator} ".join(f"dispensing.supply_days {test} {1000 + k}" for k in range(size))
    policy = load_policy(str(write(tmp_path, covered_when(condition))))
    for days in (30, 1000, 1000 + size // 2, 1000 + size - 1, 1000 + size):
        case = case_from_mapping(dict(CASE, dispensing={"supply_days": days}))
        listed = 1000 <= days < 1000 + size
        evaluation = evaluate(policy, case)
        assert evaluation["covered"].value is (listed if operator == "or" else not listed), days
    assert evaluation_text(evaluation)


def chain_of_definitions(length: int, per_definition: int, twice: bool = False) -> str:
    """Definitions d0 … d<length-1>, each nesting ``per_definition`` levels over the next one (used twice)."""
    text = ""
    for index in range(length):
        inner = f"d{index + 1}" if index + 1 < length else "dispensing.new_to_patient"
        if twice:  # `(x and x)` is one level, as the `not` it replaces
            body = f"{'not ' * (per_definition - 2)}({inner} and {inner})"
        else:
            body = f"{'not ' * (per_definition - 1)}{inner}"
        text += f"\ndefine d{index} = {body}\n  explain en \"d{index}\"\n"
    return text


@pytest.mark.parametrize("twice", [False, True], ids=["written-in-place", "computed-once"])
def test_definitions_written_out_within_the_limit_compile(tmp_path: Path, twice: bool) -> None:
    # Each use of a definition is one level more; five definitions of 9 levels plus their uses: 50.
    directory = write(tmp_path, chain_of_definitions(5, 9, twice) + covered_when("d0"))
    assert decides(directory)["covered"] in (True, False)
    assert refused(write(tmp_path / "deeper", chain_of_definitions(5, 10, twice) + covered_when("d0")))


def test_definitions_that_written_out_nest_too_deep_are_rx352_where_they_cross_the_limit(tmp_path: Path) -> None:
    # 2,000 definitions in a chain: measured without recursion, reported once, at the one that crosses the limit.
    text = chain_of_definitions(2000, 1) + covered_when("d0")
    found = refused(write(tmp_path, text))
    assert [code for code, _ in found] == ["RX352"]
    lines = text.split("\n")
    assert lines[found[0][1] - 1].startswith("define d")


def test_a_rule_that_crosses_the_limit_through_definitions_is_rx352_at_the_rule(tmp_path: Path) -> None:
    text = chain_of_definitions(4, 10) + covered_when("not " * 20 + "d0")
    found = refused(write(tmp_path, text))
    assert found == [("RX352", text.count("\n", 0, text.index("then covered")) + 1)]


# ------------------------------------------------------------------------------------------ written values

@pytest.mark.parametrize(("written", "code"), [
    ("1" * 5000 + " > 3", "RX207"),                # more than Python's 4,300-digit int conversion
    ("dispensing.supply_days > 1234567890123", "RX207"),
    ("medicine.price > 111111111111111111111111111 EUR", "RX207"),  # 27 digits: Lark's VisitError leaked
    ("medicine.price > 1.0000001 EUR", "RX207"),
    ("dispensed_on + 99999999999 months > dispensed_on", "RX208"),
    ("dispensed_on + 36601 days > dispensed_on", "RX208"),
    ("dispensed_on > 0001-01-01", "RX209"),
    ("dispensed_on < 9999-12-31", "RX209"),
])
def test_written_values_beyond_the_limits_are_refused_where_written(tmp_path: Path, written: str, code: str) -> None:
    found = refused(write(tmp_path, covered_when(written)))
    assert {c for c, _ in found} == {code}
    assert {line for _, line in found} == {4}


@pytest.mark.parametrize("written", [
    "dispensing.supply_days < 999999999999",
    "medicine.price < 999999999999.99 EUR",
    "dispensed_on + 1200 months > 2199-12-31",
    "dispensed_on - 36600 days > 1900-01-01",
])
def test_written_values_at_the_limits_compile_and_evaluate(tmp_path: Path, written: str) -> None:
    assert decides(write(tmp_path, covered_when(written)))["covered"] in (True, False)


def test_a_supply_limit_beyond_the_limit_is_rx208(tmp_path: Path) -> None:
    text = rule("cover/all", "then covered = yes") + rule("fee/none", "then fee = 0.00 EUR") + rule(
        "period/long", "then period = at most 99999999999 months")
    assert refused(write(tmp_path, text)) == [("RX208", text.count("\n", 0, text.index("then period")) + 1)]


@pytest.mark.parametrize("validity", ["in force from 0001-01-01", "in force from 2024-01-01 until 9999-12-31"])
def test_a_period_beyond_the_dates_is_rx209(tmp_path: Path, validity: str) -> None:
    text = rule("cover/all", "then covered = yes", validity) + rule("fee/none", "then fee = 0.00 EUR")
    assert [code for code, _ in refused(write(tmp_path, text))] == ["RX209"]
    policy_level = write(tmp_path / "policy", rule("cover/all", "then covered = yes")
                         + rule("fee/none", "then fee = 0.00 EUR"), validity=validity)
    assert [code for code, _ in refused(policy_level)] == ["RX209"]


# ------------------------------------------------------------------------------------------ text is never code

#: Texts as written between the double quotes of a rule file (`\"` is a quote, `\\` a backslash).
HOSTILE = [
    r"""\"); __import__('pathlib').Path('PWNED').touch(); (\"""",
    r"""'); __import__('pathlib').Path('PWNED').touch(); ('""",
    r"""\\\"]); __import__('pathlib').Path('PWNED').touch() #""",
    r"""\u0027); __import__(\u0027pathlib\u0027).Path(\u0027PWNED\u0027).touch(); (\u0027""",
    r"""line one\nline two \x00 \\ {K0} V[0] d_0 U""",
    "\u2028\u0085 ' \\\" \\' \\N{BULLET} \U0001F600",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_rule_text_is_data_and_nothing_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   text: str) -> None:
    monkeypatch.chdir(tmp_path)
    rules = (rule("cover/all", f'when medicine.name is "{text}"', "then covered = yes")
             + rule("cover/none", f'when not (medicine.name is "{text}")', "then covered = no")
             + rule("fee/none", "then fee = 0.00 EUR").replace('explain en "x"', f'explain en "{text}"'))
    directory = write(tmp_path / "rules", rules)
    policy = load_policy(str(directory))
    written = policy.rule("cover/all").rule.when.right.value  # type: ignore[union-attr]
    assert isinstance(written, str)
    case = dict(CASE, medicine=dict(CASE["medicine"], name=written))  # type: ignore[call-overload]
    evaluation = evaluate(policy, case_from_mapping(case))
    assert evaluation["covered"].value is True  # the text was compared as data, and matched
    assert evaluate(policy, case_from_mapping(CASE))["covered"].value is False
    assert evaluation_text(evaluation) and evaluation_json(evaluation)
    assert not (tmp_path / "PWNED").exists()
    for epoch in policy.epochs:  # the text is in the generated source only as a Python literal
        assert "__import__" not in epoch.python.replace(repr(written), "")


def test_generated_code_names_only_positions_constants_and_the_engine(tmp_path: Path) -> None:
    directory = write(tmp_path, covered_when('medicine.name is "x" and dispensing.supply_days > 3'))
    policy = load_policy(str(directory))
    allowed_calls = {"settle", "missing", "fits_within", "fits_days", "duration_key", "date_add", "add_months",
                     "longest", "shortest", "first_day_of_next_month", "Decimal", "Duration", "SupplyLimit", "_lf",
                     "min", "max", "int", "len"}
    for epoch in policy.epochs:
        tree = python_ast.parse(epoch.python)
        for node in python_ast.walk(tree):
            if isinstance(node, python_ast.Call) and isinstance(node.func, python_ast.Name):
                assert node.func.id in allowed_calls, node.func.id
            assert not isinstance(node, (python_ast.Import, python_ast.ImportFrom, python_ast.Lambda))


def test_fmt_lays_out_a_long_chain_and_refuses_a_too_deep_expression_as_check_does(tmp_path: Path) -> None:
    # fmt walked the parse tree recursively: 5,000 `or`s or 3,000 `not`s ended in a RecursionError (exit 3).
    from rxpolicy.tools.fmt import format_text

    long_chain = covered_when(" or ".join(f"dispensing.supply_days is {k}" for k in range(1200)))
    formatted = format_text(long_chain)
    assert format_text(formatted) == formatted and formatted.count(" or ") + formatted.count("\n    or ") >= 1199
    with pytest.raises(RxError) as raised:
        format_text(covered_when(nested("not", 3000)))
    assert [(d.code, d.span.line if d.span else 0) for d in raised.value.diagnostics] == [("RX210", 4)]


@pytest.mark.parametrize("computed", [
    "insured.born_on + (dispensing.supply_days * 1000) months > dispensed_on",  # year 3,001,970: was a ValueError
    "dispensed_on + (dispensing.supply_days * 100000) days > dispensed_on",
    "first_day_of_next_month(dispensed_on + (dispensing.supply_days * 1000) months) > dispensed_on",
])
def test_a_computed_date_beyond_the_calendar_is_rx505_at_the_rule(tmp_path: Path, computed: str) -> None:
    # Within every limit, a rule can still compute a date past year 9999 for a case: that is the rule's
    # computation failing for this case (RX505 at the rule), never an internal error.
    policy = load_policy(str(write(tmp_path, covered_when(computed))))
    case = case_from_mapping(dict(CASE, dispensing={"supply_days": 36000}))
    with pytest.raises(RxError) as raised:
        evaluate(policy, case)
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.code == "RX505" and "out of range" in diagnostic.message
    sane = case_from_mapping(dict(CASE, dispensing={"supply_days": 1}))
    assert evaluate(policy, sane)["covered"].value in (True, False)
