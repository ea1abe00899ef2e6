"""Cases beyond the stated limits (docs/errors.md, RX409) are refused, located, on every road a case takes.

Each of these shapes crashed rxpolicy (RecursionError, exit 3) or ran for minutes and gigabytes before the
limits: a self-referencing alias, an alias bomb, thousands of nested brackets, a 50 MB file. The roads are
the file (``load_case``, ``rxpolicy eval``, ``rxpolicy diff --cases``), the text (``parse_case``) and the
Python mapping (``case_from_mapping``, ``Case.replace``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rxpolicy import RxError, case_from_mapping, load_case, parse_case
from rxpolicy.cli import cli
from rxpolicy.engine.case_limits import CASE_LIMITS

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


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs": each alias repeats the one before it ``width`` times (9**9 values from 500 bytes)."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


#: (name, text, the message, line:col of the problem)
HOSTILE_TEXTS = [
    ("self-referencing alias", "x: &a [*a]\n", "the alias `*a` refers to the value it is part of", "1:8"),
    ("self-referencing section", CASE + "  fees: &f\n    own: *f\n", "the alias `*f` refers to the value", "13:10"),
    ("alias bomb", alias_bomb(), "holds more than 10,000 values (aliases counted", "5:10"),
    ("deep brackets", "x: " + "[" * 1000 + "]" * 1000 + "\n", "nests values more than 20 levels deep", "1:23"),
    ("deep mappings", "x: " + "{a: " * 500 + "1" + "}" * 500 + "\n", "nests values more than 20 levels deep", "1:77"),
    ("long value", CASE.replace("oxazepam 10 mg tablet", "x" * 1001), "a value of 1,001 characters", "7:9"),
    ("many values", "x: [" + ", ".join(["1"] * 10_001) + "]\n", "holds more than 10,000 values", "1:29996"),
]


@pytest.mark.parametrize(("name", "text", "message", "where"), HOSTILE_TEXTS, ids=[t[0] for t in HOSTILE_TEXTS])
def test_parse_case_refuses_a_text_beyond_a_limit_where_it_is(name: str, text: str, message: str, where: str) -> None:
    with pytest.raises(RxError) as error:
        parse_case(text, path="case.yaml")
    (diagnostic,) = error.value.diagnostics
    assert diagnostic.code == "RX409"
    assert message in diagnostic.message
    assert f"{diagnostic.span.line}:{diagnostic.span.column}" == where if diagnostic.span else False


def test_the_limits_leave_room_for_aliases_that_repeat_a_value() -> None:
    case = parse_case(CASE.replace("  born_on: 1970-05-01\n", "  born_on: &day 1970-05-01\n  insured_from: *day\n"))
    assert str(case.get("insured.insured_from")) == "1970-05-01"


def test_a_file_larger_than_the_limit_is_refused_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w", encoding="utf-8") as out:  # 50 MB: a comment line repeated, plus a valid case
        out.write(CASE)
        out.write(("# " + "x" * 97 + "\n") * 500_000)
    with pytest.raises(RxError) as error:
        load_case(path)
    (diagnostic,) = error.value.diagnostics
    assert diagnostic.code == "RX409"
    assert diagnostic.message == f"{path} is 50,000,{len(CASE):03d} bytes; a case may be at most 1,000,000"


def test_a_text_larger_than_the_limit_is_refused() -> None:
    with pytest.raises(RxError) as error:
        parse_case(CASE + "#" * CASE_LIMITS.max_bytes)
    assert [d.code for d in error.value.diagnostics] == ["RX409"]


def mapping() -> dict[str, Any]:
    return {"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
            "medicine": {"name": "oxazepam", "atc": "N05BA04", "price": "4.00"}, "dispensing": {"supply_days": 30}}


def self_containing() -> dict[str, Any]:
    case = mapping()
    case["dispensing"]["fees"] = case["dispensing"]
    return case


def deep() -> dict[str, Any]:
    case, value = mapping(), [1]
    for _ in range(5000):
        value = [value]
    case["medicine"]["doctors_note_prescribers"] = value
    return case


def bomb() -> dict[str, Any]:
    case, value = mapping(), ["lol"] * 9
    for _ in range(8):
        value = [value] * 9  # the same list 9 times: small in memory, 9**9 values walked
    case["medicine"]["doctors_note_prescribers"] = value
    return case


def with_value(section: str, name: str, value: object) -> dict[str, Any]:
    case = mapping()
    case[section][name] = value
    return case


MAPPINGS = [
    ("contains itself", self_containing, "`dispensing.fees` contains itself", "dispensing.fees"),
    ("deep", deep, "nests values more than 20 levels deep", "medicine.doctors_note_prescribers"),
    ("bomb", bomb, "the case holds more than 10,000 values", "medicine.doctors_note_prescribers"),
    ("long text", lambda: with_value("medicine", "name", "x" * 5000), "is a text of 5,000 characters",
     "medicine.name"),
]


@pytest.mark.parametrize(("name", "build", "message", "field"), MAPPINGS, ids=[m[0] for m in MAPPINGS])
def test_case_from_mapping_refuses_a_mapping_beyond_a_limit_naming_the_field(name: str, build: Any, message: str,
                                                                             field: str) -> None:
    with pytest.raises(RxError) as error:
        case_from_mapping(build())
    (diagnostic,) = error.value.diagnostics
    assert (diagnostic.code, diagnostic.field) == ("RX409", field)
    assert message in diagnostic.message


def test_case_replace_refuses_a_value_that_contains_itself() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(RxError) as error:
        case_from_mapping(mapping()).replace({"medicine.doctors_note_prescribers": loop})
    assert [d.code for d in error.value.diagnostics] == ["RX409"]


def run_cli(args: list[str], cwd: Path) -> Any:
    with contextlib.chdir(cwd):
        return CliRunner().invoke(cli, args)


@pytest.mark.parametrize(("name", "text", "message", "where"), HOSTILE_TEXTS[:4], ids=[t[0] for t in HOSTILE_TEXTS[:4]])
def test_eval_and_diff_cases_refuse_it_with_exit_2(name: str, text: str, message: str, where: str,
                                                   tmp_path: Path) -> None:
    (tmp_path / "case.yaml").write_text(text, encoding="utf-8")
    for args in (["eval", "case.yaml"], ["diff", "hollandzorg", "hollandzorg", "--cases", "."]):
        result = run_cli(args, tmp_path)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""
        assert f"case.yaml:{where}: RX409: " in result.stderr and message in result.stderr, result.stderr


def test_a_text_with_a_lone_surrogate_is_refused_not_a_crash() -> None:
    # Found by tests/fuzz: libyaml (the fast road) raised UnicodeEncodeError, an internal error.
    with pytest.raises(RxError) as error:
        parse_case(CASE.replace("oxazepam 10 mg tablet", "oxazepam \udcff"), path="case.yaml")
    assert [d.code for d in error.value.diagnostics] == ["RX401"]
