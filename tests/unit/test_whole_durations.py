"""A duration made from a number (`x days`, `x months`) of a number that may have a fraction: refused (RX354).

Days and months are counted whole. Before RX354 the engine cut the fraction off without a word (`int()`): 23 days
of supply / 12 was 1.92 months, laid as 1 month, and a supply that ends in the next year passed as ending within
the insurance; `… / 2) days` stopped `rxpolicy check` and `eval` with an internal error. Each policy is written for
the test (the layer of ``test_semantics``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from test_semantics import make_case, write_policy

from rxpolicy import RxError, api, evaluate
from rxpolicy.diagnostics import Diagnostic, Severity
from rxpolicy.explain.diagnostics import render_diagnostic
from rxpolicy.language.values import FractionalCount, whole_count

PARAMETER = 'parameter course: number\n  source "test"\n  explain en "a course"\n  value {value}\nend\n\n'
LEVEL = 'rule level-{n}\n  source "test"\n{when}  then level = {value}\n  explain en "x"\nend\n\n'
HALF = 'define half_supply = dispensing.supply_days / 2\n  explain en "half the supply"\n\n'


def ends_in_time(period: str, extra: str = "") -> str:
    """Two rules deciding `allowed`: whether ``dispensed_on + period`` is within the insurance."""
    test = f"dispensed_on + {period} <= insured.insured_until"
    return (extra + f'rule r-yes\n  source "test"\n  when {test}\n  then allowed = yes\n  explain en "x"\nend\n\n'
            f'rule r-no\n  source "test"\n  when not ({test})\n  then allowed = no\n  explain en "x"\nend\n')


def refused(tmp_path: Path, rules: str) -> list[Diagnostic]:
    """The errors refusing a policy (warnings left out)."""
    with pytest.raises(RxError) as raised:
        write_policy(tmp_path, rules)
    return [d for d in raised.value.diagnostics if d.severity is Severity.ERROR]


def shown(diagnostic: Diagnostic) -> str:
    """The diagnostic as `rxpolicy check` prints it, with its line and caret."""
    def line_of(path: str, line: int) -> str:
        return Path(path).read_text(encoding="utf-8").splitlines()[line - 1]
    return render_diagnostic(diagnostic, line_of)


# ------------------------------------------------------------------------------------------------ refused

def test_a_division_made_into_months_is_refused_at_the_place_with_the_fix(tmp_path: Path) -> None:
    (first, second) = refused(tmp_path, ends_in_time("(dispensing.supply_days / 12) months"))
    assert first.code == second.code == "RX354"
    assert first.message == ("`dispensing.supply_days / 12` may not be a whole number, but a duration counts whole "
                             "months: rxpolicy does not cut off the fraction without a word")
    assert first.help == ("round it first: `(dispensing.supply_days / 12 rounded down to a whole number) months`, or "
                          "`rounded up` or `rounded half up`, as the source says")
    # each rule's own place: line 8 (after the policy's 5 lines, `rule` and `source`), under the whole duration
    assert first.span is not None and second.span is not None and first.span.line == 8 and second.span.line > 8
    text = shown(first).splitlines()
    assert text[0].startswith(f"{first.span.path}:8:{first.span.column}: RX354: ")
    assert text[2].strip() == "^" * len("(dispensing.supply_days / 12) months")
    assert text[2].index("^") == text[1].index("(dispensing")


@pytest.mark.parametrize(("period", "extra", "number"), [
    ("(dispensing.supply_days / 2) days", "", "dispensing.supply_days / 2"),
    ("half_supply days", HALF, "half_supply"),                               # a definition that divides
    ("course days", PARAMETER.format(value="7.5"), "course"),               # a parameter with a fraction
    ("(dispensing.supply_days * 1.5) days", "", "dispensing.supply_days * 1.5"),
    ("(if dispensing.ml_per_day is known then dispensing.ml_per_day else 0) days", "",  # a fact with decimals
     "if dispensing.ml_per_day is known then dispensing.ml_per_day else 0"),
    ("level days", LEVEL.format(n=1, when="  when dispensing.smallest_pack\n", value="3")
     + LEVEL.format(n=2, when="  when not dispensing.smallest_pack\n", value="dispensing.supply_days / 3"), "level"),
    ("(min(dispensing.supply_days, dispensing.supply_days / 7)) months", "",
     "min(dispensing.supply_days, dispensing.supply_days / 7)"),
])
def test_a_number_that_may_have_a_fraction_is_refused_as_a_duration(tmp_path: Path, period: str, extra: str,
                                                                     number: str) -> None:
    found = refused(tmp_path, ends_in_time(period, extra))
    assert [d.code for d in found] == ["RX354", "RX354"]   # once in each rule that writes it
    assert all(d.message.startswith(f"`{number}` may not be a whole number") for d in found)


@pytest.mark.parametrize(("period", "extra"), [
    ("(dispensing.supply_days / 2) days", ""),
    ("half_supply days", HALF),
    ("(if dispensing.ml_per_day is known then dispensing.ml_per_day else 0) days", ""),
    ("(dispensing.supply_days / 12) months", ""),
])
def test_the_fix_the_message_gives_is_accepted(tmp_path: Path, period: str, extra: str) -> None:
    (found, _) = refused(tmp_path / "before", ends_in_time(period, extra))
    fix = found.help.split("`")[1]
    write_policy(tmp_path / "after", ends_in_time(fix, extra))
    _, warnings = api.check(str(tmp_path / "after" / "p"))
    assert [d for d in warnings if d.code in ("RX353", "RX354")] == []


def test_a_mistake_inside_the_number_is_reported_once(tmp_path: Path) -> None:
    # An unknown name is RX340; whether the number is whole is not known until it is fixed, so no RX354 as well.
    found = refused(tmp_path, ends_in_time("(dispensing.supply_dais * 2) days"))
    assert {d.code for d in found} == {"RX340"}


# ------------------------------------------------------------------------------------------------ accepted

@pytest.mark.parametrize(("period", "extra", "days"), [
    ("dispensing.supply_days days", "", 23),                                   # counts whole days
    ("(dispensing.supply_days / 12 rounded up to a whole number) months", "", 61),   # 1 March + 2 months: 1 May
    ("(dispensing.supply_days / 12 rounded down to a whole number) months", "", 31),
    ("(half_supply rounded half up to a whole number) days", HALF, 12),          # 11.5 → 12
    ("quotient(dispensing.supply_days, 7) days", "", 3),
    ("(dispensing.supply_days * 2 - 1) days", "", 45),
    ("max(dispensing.supply_days, 40) days", "", 40),
    ("(insured.age - 50) days", "", 4),                                          # a computed count: 54
    ("course days", PARAMETER.format(value="30"), 30),                           # every value whole
    ("level days", LEVEL.format(n=1, when="", value="dispensing.supply_days + 7"), 30),  # every rule whole
    ("(if dispensing.smallest_pack then 10 else dispensing.supply_days) days", "", 23),
])
def test_a_number_that_is_always_whole_makes_a_duration(tmp_path: Path, period: str, extra: str, days: int) -> None:
    policy = write_policy(tmp_path, ends_in_time(period, extra))
    _, warnings = api.check(str(tmp_path / "p"))
    assert [d for d in warnings if d.code == "RX354"] == []
    # The period from 1 March 2025 is exactly ``days`` long: it ends within an insurance that ends that day, not
    # within one that ends the day before.
    ends = dt.date(2025, 3, 1) + dt.timedelta(days=days)
    for until, inside in ((ends, True), (ends - dt.timedelta(days=1), False)):
        case = make_case("2025-03-01", insured__insured_until=until.isoformat(), dispensing__supply_days=23)
        assert evaluate(policy, case).value("allowed") is inside, until


def test_rounding_up_the_supply_in_months_decides_what_cutting_it_off_decided_wrongly(tmp_path: Path) -> None:
    # 23 days / 12 = 1.92 months from 1 November 2025. Cut off (as before RX354) it was 1 month: 1 December, within
    # an insurance that ends 31 December. Rounded up, as a started month counts, it is 1 January 2026: outside.
    up = write_policy(tmp_path / "up",
                      ends_in_time("(dispensing.supply_days / 12 rounded up to a whole number) months"))
    down = write_policy(tmp_path / "down",
                        ends_in_time("(dispensing.supply_days / 12 rounded down to a whole number) months"))
    case = make_case("2025-11-01", insured__insured_until="2025-12-31", dispensing__supply_days=23)
    assert evaluate(up, case).value("allowed") is False
    assert evaluate(down, case).value("allowed") is True


# ------------------------------------------------------------------------------------------------ the engine

def test_a_count_of_days_is_taken_exactly_never_cut_off() -> None:
    assert whole_count(30) == 30
    whole = whole_count(Decimal("30.000"))
    assert whole == 30 and type(whole) is int
    with pytest.raises(FractionalCount, match="7.5 is not a whole number of days or months"):
        whole_count(Decimal("7.5"))
    with pytest.raises(ArithmeticError):      # evaluation reports an ArithmeticError as RX505
        whole_count(Decimal("-0.5"))


@pytest.mark.parametrize("period", ["(dispensing.supply_days / 2) days", "(dispensing.supply_days / 2) months",
                                    "half_supply days"])
def test_the_engine_refuses_a_fraction_if_the_checker_were_passed_by(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    period: str) -> None:
    # The checker refuses these (above). Were it passed by, evaluation would still not cut the fraction off: it
    # stops with RX505 at the rule, saying why, as a division by zero does.
    from rxpolicy.cache import CACHE_ENV
    from rxpolicy.language import check

    monkeypatch.setenv(CACHE_ENV, "off")
    monkeypatch.setattr(check._PolicyChecker, "check_whole_durations", lambda self: None)
    policy = write_policy(tmp_path, ends_in_time(period, HALF))
    even = make_case("2025-11-01", insured__insured_until="2025-12-31", dispensing__supply_days=22)
    assert evaluate(policy, even).value("allowed") is (not period.endswith(") months"))  # 11 days; 11 months
    with pytest.raises(RxError) as raised:
        evaluate(policy, even.replace({"dispensing.supply_days": 23}))
    (problem,) = raised.value.diagnostics
    assert problem.code == "RX505"
    assert "gives a fraction of a day or month (days and months are counted whole)" in problem.message
