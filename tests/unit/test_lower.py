"""Stage 2, structure: parse tree → AST, or every RX2xx problem of the file at once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import pytest

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.language import ast
from rxpolicy.language.lower import parse_rule_file
from rxpolicy.language.source import SourceFile, Span
from rxpolicy.language.values import Duration, Rounding, Unit

T = TypeVar("T")
NOWHERE = Span(path="<test>", line=1, column=1, end_line=1, end_column=1)


def node(cls: type[T], **fields: Any) -> T:
    """An AST node built by hand; its spans are placeholders (spans take no part in equality)."""
    for field in attrs.fields(cls):  # type: ignore[misc]
        if field.name.endswith("span"):
            fields.setdefault(field.name, NOWHERE)
    return cls(**fields)


def lower(text: str, path: str = "t.rxp") -> ast.RuleFile:
    return parse_rule_file(SourceFile(path=path, text=text))


def problems(text: str) -> list[Diagnostic]:
    with pytest.raises(RxError) as caught:
        lower(text)
    return list(caught.value.diagnostics)


def only(text: str) -> Diagnostic:
    found = problems(text)
    assert len(found) == 1, [(d.code, d.message) for d in found]
    assert found[0].span is not None and found[0].span.path == "t.rxp"
    assert found[0].help
    return found[0]


def at(d: Diagnostic) -> tuple[str, int, int]:
    assert d.span is not None
    return d.code, d.span.line, d.span.column


def money(amount: str) -> ast.Literal:
    return node(ast.Literal, kind=ast.LiteralKind.MONEY, value=Decimal(amount))


def name(dotted: str) -> ast.Name:
    return node(ast.Name, parts=tuple(dotted.split(".")))


# ----------------------------------------------------------------------------------------------- RX201

def test_rx201_a_validity_date_that_does_not_exist() -> None:
    found = only("rule a\n  in force from 2025-02-30 until 2025-12-31\nend\n")
    assert at(found) == ("RX201", 2, 17)
    assert found.message == "`2025-02-30` is not a date that exists"
    assert found.span.end_column == 27  # type: ignore[union-attr]
    assert "YYYY-MM-DD" in (found.help or "")


def test_rx201_both_dates_of_a_period_are_reported() -> None:
    found = problems("rule a\n  in force from 2023-02-29 until 2024-13-01\nend\n")
    assert [at(d) for d in found] == [("RX201", 2, 17), ("RX201", 2, 34)]
    assert "`2023-02-29`" in found[0].message and "`2024-13-01`" in found[1].message


def test_rx201_a_date_in_a_condition_that_does_not_exist() -> None:
    # Regression: a date in an expression was lexed as NUMBER - NUMBER - NUMBER and never checked.
    found = only("rule a\n  when dispensed_on >= 2025-02-30\nend\n")
    assert at(found) == ("RX201", 2, 24)


# ----------------------------------------------------------------------------------------------- RX202

def test_rx202_two_when_clauses_in_a_rule() -> None:
    found = only("rule a\n  when prescription.chronic\n  when prescription.acute\n  then covered = yes\nend\n")
    assert at(found) == ("RX202", 3, 3)  # the second one is the extra
    assert found.message == "`when` is written twice in this block"
    assert found.help == "keep one `when` and remove the other"


def test_rx202_two_english_explanations() -> None:
    found = only('rule a\n  explain en "one"\n  explain nl "een"\n  explain en "two"\nend\n')
    assert at(found) == ("RX202", 4, 3)
    assert found.message == "the `en` explanation is written twice"


@pytest.mark.parametrize(("clause", "words"), [
    ("in force from 2024-01-01 until 2024-06-30", "`in force`"),
    ('interpretation "x"', "`interpretation`"),
    ('rejection code "R1"', "`rejection code`"),
])
def test_rx202_other_clauses_written_twice(clause: str, words: str) -> None:
    found = only(f"rule a\n  {clause}\n  {clause}\nend\n")
    assert at(found) == ("RX202", 3, 3)
    assert found.message == f"{words} is written twice in this block"


def test_rx202_in_a_table_row() -> None:
    text = ("table t\n  decides covered\n  row a\n    when prescription.chronic\n    when prescription.acute\n"
            "    then covered = yes\nend\n")
    assert at(only(text)) == ("RX202", 5, 5)


def test_rx202_a_decision_explained_twice_in_dutch() -> None:
    found = only('decision covered: yes or no\n  explain nl "a"\n  explain nl "b"\nend\n')
    assert at(found) == ("RX202", 3, 3)
    assert "`nl`" in found.message


def test_one_explanation_per_language_is_fine() -> None:
    (rule,) = lower('rule a\n  explain en "one"\n  explain nl "een"\nend\n').items
    assert isinstance(rule, ast.Rule)
    assert rule.explains == (node(ast.Explain, lang="en", text="one"), node(ast.Explain, lang="nl", text="een"))


# ----------------------------------------------------------------------------------------------- RX203

def test_rx203_period_ends_before_it_starts() -> None:
    found = only("rule a\n  in force from 2025-01-01 until 2024-12-31\nend\n")
    assert at(found) == ("RX203", 2, 3)
    assert found.message == "the period ends (2024-12-31) before it starts (2025-01-01)"


def test_a_one_day_period_is_fine() -> None:
    (rule,) = lower("rule a\n  in force from 2025-01-01 until 2025-01-01\nend\n").items
    one_day = node(ast.Validity, start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 1))
    assert rule.validity == one_day  # type: ignore[union-attr]


# ----------------------------------------------------------------------------------------------- RX204

def test_rx204_type_words_that_are_not_a_type() -> None:
    found = only("decision covered: money money\nend\n")
    assert at(found) == ("RX204", 1, 19)
    assert found.message == "`money money` is not a type"
    assert found.help is not None and "yes or no" in found.help and "supply limit" in found.help


def test_rx204_in_a_parameter() -> None:
    text = 'parameter cap: date money\n  value 1 EUR in force from 2024-01-01 until 2024-12-31 source "s"\nend\n'
    assert at(only(text)) == ("RX204", 1, 16)


@pytest.mark.parametrize(("written", "words", "nullable"), [
    ("yes or no", "yes or no", False),
    ("yes  or\n  no", "yes or no", False),
    ("supply limit", "supply limit", False),
    ("duration, or not applicable", "duration", True),
    ("money, or  not applicable", "money", True),
])
def test_types_are_read_as_words(written: str, words: str, nullable: bool) -> None:
    (decision,) = lower(f"decision d: {written}\nend\n").items
    assert isinstance(decision, ast.Decision)
    assert decision.type == node(ast.TypeRef, words=words, nullable=nullable)


# --------------------------------------------------------------------------------------- RX205 / RX206

def test_rx205_money_with_more_than_two_decimals() -> None:
    found = only("rule a\n  then patient_pays = 1.005 EUR\nend\n")
    assert at(found) == ("RX205", 2, 23)
    assert found.message == "`1.005 EUR` has more than two decimals"


@pytest.mark.parametrize(("written", "value"), [("12 EUR", "12.00"), ("12.4 EUR", "12.40"), ("12.40 EUR", "12.40")])
def test_money_is_kept_with_two_decimals(written: str, value: str) -> None:
    (rule,) = lower(f"rule a\n  then patient_pays = {written}\nend\n").items
    literal = rule.assignments[0].value  # type: ignore[union-attr]
    assert literal == money(value)
    assert str(literal.value) == value  # type: ignore[union-attr]


@pytest.mark.parametrize(("written", "unit"), [("1.5 days", "days"), ("0.5 month", "months"),
                                               ("2.25 months", "months")])
def test_rx206_durations_are_whole(written: str, unit: str) -> None:
    found = only(f"rule a\n  then min_supply = {written}\nend\n")
    assert at(found) == ("RX206", 2, 21)
    assert found.message == f"`{written.split()[0]} {unit}` is not a whole number of {unit}"


def test_rx206_inside_a_supply_limit() -> None:
    assert at(only("rule a\n  then max_supply = at most 1.5 days\nend\n")) == ("RX206", 2, 29)


def test_a_whole_number_written_with_decimals_is_a_whole_duration() -> None:
    (rule,) = lower("rule a\n  then min_supply = 2.0 days\nend\n").items
    assert rule.assignments[0].value == node(ast.Literal, kind=ast.LiteralKind.DURATION,  # type: ignore[union-attr]
                                                    value=Duration(2, Unit.DAYS))


# -------------------------------------------------------------------- collected, not raised one by one

def test_every_structure_problem_of_a_file_is_reported_in_line_order() -> None:
    text = (
        "rule a\n"                                                  # 1
        "  in force from 2025-02-30 until 2025-12-31\n"             # 2  RX201
        "  when prescription.chronic\n"                             # 3
        "  when prescription.acute\n"                               # 4  RX202
        "  then min_supply = 1.5 days\n"                            # 5  RX206
        "end\n"                                                     # 6
        "decision d: money money\n"                                 # 7  RX204
        "end\n"                                                     # 8
        "rule b\n"                                                  # 9
        "  in force from 2025-01-01 until 2024-01-01\n"             # 10 RX203
        "  then patient_pays = 0.001 EUR\n"                         # 11 RX205
        "end\n")
    found = problems(text)
    assert [at(d) for d in found] == [("RX201", 2, 17), ("RX202", 4, 3), ("RX206", 5, 21), ("RX204", 7, 13),
                                      ("RX203", 10, 3), ("RX205", 11, 23)]
    assert all(d.help for d in found)


# -------------------------------------------------------------------------------- the shape of the AST

RULE = '''\
rule dispensing-period/benzodiazepines
  exception to dispensing-period/chronic, dispensing-period/other
  source "002.txt, 'How long?'"
  in force from 2024-01-01 until 2025-12-31
  when medicine.atc matches N05B*, N05C* and not prescription.acute
  then max_supply = at most 1 month
       min_supply = not applicable
       patient_pays = (medicine.price * 10 %) rounded half up to cents
  explain en "One month."
  explain nl "Een maand."
end
'''


def test_a_rule_lowers_to_its_parts() -> None:
    (rule,) = lower(RULE).items
    months = node(ast.Literal, kind=ast.LiteralKind.DURATION, value=Duration(1, Unit.MONTHS))
    ten_percent = node(ast.Literal, kind=ast.LiteralKind.PERCENT, value=Decimal(10))
    assert rule == node(
        ast.Rule,
        id="dispensing-period/benzodiazepines",
        citations=(node(ast.Citation, text="002.txt, 'How long?'"),),
        interpretation=None,
        explains=(node(ast.Explain, lang="en", text="One month."), node(ast.Explain, lang="nl", text="Een maand.")),
        validity=node(ast.Validity, start=dt.date(2024, 1, 1), end=dt.date(2025, 12, 31)),
        exception_to=(node(ast.RuleRef, id="dispensing-period/chronic"),
                      node(ast.RuleRef, id="dispensing-period/other")),
        when=node(ast.BoolOp, op="and",
                  left=node(ast.Matches, operand=name("medicine.atc"), patterns=("N05B*", "N05C*")),
                  right=node(ast.Not, operand=name("prescription.acute"))),
        assignments=(
            node(ast.Assignment, decision="max_supply",
                 value=node(ast.SupplyLimitExpr, duration=months, or_smallest_pack=False, or_one_course=False)),
            node(ast.Assignment, decision="min_supply",
                 value=node(ast.Literal, kind=ast.LiteralKind.NOT_APPLICABLE, value=None)),
            node(ast.Assignment, decision="patient_pays",
                 value=node(ast.Rounded, rounding=Rounding.HALF_UP_CENTS,
                            operand=node(ast.Arith, op="*", left=name("medicine.price"), right=ten_percent))),
        ),
        rejection_code=None,
        table=None,
    )
    # and a change in any part makes the nodes differ
    assert rule != attrs.evolve(rule, exception_to=rule.exception_to[:1])  # type: ignore[misc]


def test_spans_point_into_the_text() -> None:
    source = SourceFile(path="t.rxp", text=RULE)
    (rule,) = parse_rule_file(source).items
    assert isinstance(rule, ast.Rule)
    assert (rule.span.line, rule.span.column, rule.span.end_line) == (1, 1, 11)
    assert (rule.id_span.line, rule.id_span.column) == (1, 6)
    assert [(r.span.line, r.span.column) for r in rule.exception_to] == [(2, 16), (2, 43)]
    assert rule.when is not None and source.slice(rule.when.span) == \
        "medicine.atc matches N05B*, N05C* and not prescription.acute"
    assert [(a.name_span.line, a.name_span.column) for a in rule.assignments] == [(6, 8), (7, 8), (8, 8)]
    assert source.slice(rule.assignments[0].value.span) == "at most 1 month"


def test_span_is_ignored_when_nodes_are_compared() -> None:
    here = Span(path="a.rxp", line=1, column=1, end_line=1, end_column=5)
    there = Span(path="b.rxp", line=9, column=7, end_line=9, end_column=20)
    assert node(ast.Name, parts=("covered",), span=here) == node(ast.Name, parts=("covered",), span=there)
    assert node(ast.Name, parts=("covered",), span=here) != node(ast.Name, parts=("insured",), span=here)
    # The same rule written elsewhere, indented differently, lowers to an equal node.
    moved = "\n\n# a comment\n" + "\n".join("    " + line for line in RULE.splitlines()) + "\n"
    assert lower(RULE, "a.rxp").items == lower(moved, "b.rxp").items
    assert lower(RULE).items[0].span != lower(moved).items[0].span  # type: ignore[union-attr]


TABLE = '''\
table dispensing-period
  decides max_supply, min_supply
  source "002.txt, 'How long?'"
  explain en "Table sentence."
  in force from 2023-01-01 until 2025-12-31

  row chronic
    when prescription.chronic
    then max_supply = at most 12 months
         min_supply = 3 months
    explain en "Chronic."

  row new-medicine
    source "Rzv art. 2.8"
    in force from 2024-01-01 until 2024-12-31
    when dispensing.new_to_patient
    then max_supply = at most 15 days or the smallest pack
         min_supply = not applicable

  row other
    then max_supply = at most 1 month or one course
         min_supply = not applicable
end
'''


def test_table_rows_become_rules_with_table_slash_row_ids() -> None:
    (table,) = lower(TABLE).items
    assert isinstance(table, ast.Table)
    assert table.id == "dispensing-period"
    assert table.decides == ("max_supply", "min_supply")
    assert [row.id for row in table.rows] == ["dispensing-period/chronic", "dispensing-period/new-medicine",
                                              "dispensing-period/other"]
    assert [row.table for row in table.rows] == ["dispensing-period"] * 3
    assert [row.row_index for row in table.rows] == [0, 1, 2]
    assert [(row.id_span.line, row.id_span.column) for row in table.rows] == [(7, 7), (13, 7), (20, 7)]


def test_table_rows_inherit_the_tables_source_explanation_and_validity() -> None:
    chronic, new, other = lower(TABLE).items[0].rows  # type: ignore[union-attr]
    table_source = node(ast.Citation, text="002.txt, 'How long?'")
    whole_period = node(ast.Validity, start=dt.date(2023, 1, 1), end=dt.date(2025, 12, 31))
    # every row carries the table's source; a row's own source is added to it
    assert chronic.citations == (table_source,)
    assert new.citations == (table_source, node(ast.Citation, text="Rzv art. 2.8"))
    assert other.citations == (table_source,)
    # a row's own explanation and validity replace the table's
    assert chronic.explains == (node(ast.Explain, lang="en", text="Chronic."),)
    assert other.explains == (node(ast.Explain, lang="en", text="Table sentence."),)
    assert chronic.validity == whole_period and other.validity == whole_period
    assert new.validity == node(ast.Validity, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))
    # the row's own clauses
    assert other.when is None
    fifteen_days = node(ast.Literal, kind=ast.LiteralKind.DURATION, value=Duration(15, Unit.DAYS))
    assert new.assignments[0].value == node(ast.SupplyLimitExpr, duration=fifteen_days, or_smallest_pack=True,
                                            or_one_course=False)
    assert other.assignments[0].value.or_one_course is True  # type: ignore[union-attr]


def test_declarations() -> None:
    text = '''\
policy hollandzorg
  title "HollandZorg" "basic"
  built on statutory
  in force from 2023-01-01 until 2025-12-31
  plans "Compact", "Extra"
end

layer statutory
  title "Zvw"
end

define benzo = medicine.atc matches N05B*
  explain en "a benzodiazepine"

decision min_supply: duration, or not applicable
  explain en "at least"
end
'''
    policy, layer, define, decision = lower(text).items
    assert isinstance(policy, ast.Policy)
    assert (policy.name, policy.titles, policy.built_on, policy.plans) == (
        "hollandzorg", ("HollandZorg basic",), ("statutory",), ("Compact", "Extra"))
    assert policy.validity == node(ast.Validity, start=dt.date(2023, 1, 1), end=dt.date(2025, 12, 31))
    assert isinstance(layer, ast.Layer) and (layer.name, layer.titles) == ("statutory", ("Zvw",))
    benzo = node(ast.Matches, operand=name("medicine.atc"), patterns=("N05B*",))
    assert define == node(ast.Definition, name="benzo", expr=benzo,
                          explains=(node(ast.Explain, lang="en", text="a benzodiazepine"),))
    assert decision == node(ast.Decision, name="min_supply", type=node(ast.TypeRef, words="duration", nullable=True),
                            explains=(node(ast.Explain, lang="en", text="at least"),))


def test_a_parameter_value_with_period_and_source() -> None:
    text = ('parameter cap: money\n  source "Bzv art. 2.8"\n  interpretation "why"\n'
            '  value 250.00 EUR in force from 2024-01-01 until 2024-12-31 according to "2024 amount"\nend\n')
    (parameter,) = lower(text).items
    value = node(ast.ParameterValue, expr=money("250.00"),
                 validity=node(ast.Validity, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31)),
                 citations=(node(ast.Citation, text="2024 amount"),))
    assert parameter == node(ast.Parameter, name="cap", type=node(ast.TypeRef, words="money", nullable=False),
                             explains=(), citations=(node(ast.Citation, text="Bzv art. 2.8"),),
                             interpretation="why", values=(value,))


# ----------------------------------------------------------------------------- optional parts left out

@pytest.mark.parametrize("until", ["", " until 2024-12-31"])
def test_a_period_with_or_without_an_end(until: str) -> None:
    (rule,) = lower(f"rule a\n  in force from 2024-01-01{until}\nend\n").items
    end = dt.date(2024, 12, 31) if until else None
    assert rule.validity == node(ast.Validity, start=dt.date(2024, 1, 1), end=end)  # type: ignore[union-attr]


@pytest.mark.parametrize(("written", "validity", "citation"), [
    ("250.00 EUR", None, None),
    ('250.00 EUR according to "s"', None, "s"),
    ("250.00 EUR in force from 2024-01-01 until 2024-12-31", (dt.date(2024, 1, 1), dt.date(2024, 12, 31)), None),
    ('250.00 EUR in force from 2024-01-01 according to "s"', (dt.date(2024, 1, 1), None), "s"),
])
def test_parameter_values_with_parts_left_out(written: str, validity: tuple[dt.date, dt.date | None] | None,
                                               citation: str | None) -> None:
    (parameter,) = lower(f"parameter cap: money\n  value {written}\nend\n").items
    (value,) = parameter.values  # type: ignore[union-attr]
    assert value.expr == money("250.00")
    assert value.validity == (node(ast.Validity, start=validity[0], end=validity[1]) if validity else None)
    assert value.citations == ((node(ast.Citation, text=citation),) if citation else ())


def test_a_date_literal_in_a_condition() -> None:
    # Regression: this lowered to Arith(2024 - 1 - 1).
    (rule,) = lower("rule a\n  when dispensed_on >= 2024-01-01\nend\n").items
    date = node(ast.Literal, kind=ast.LiteralKind.DATE, value=dt.date(2024, 1, 1))
    assert rule.when == node(ast.Compare, op=">=", left=name("dispensed_on"), right=date)  # type: ignore[union-attr]
