"""The error rows of claims the columns refuse, written from the columns where they are certainly the per-case rows.

A claim the columns may not evaluate (:func:`.columnar_input.prepare` says which) goes to the per-case path, whose
case check writes its error row: the first problem's code, field, message and fix, with "(and N more problems)".
That costs ~100 µs a claim, mostly in checking the claim's sixty valid fields. Here the same row is worked out from
the checks that failed, for a claim whose problems are certain from them:

* a required fact not written: the validator's words for it (:func:`~rxpolicy.engine.case_check.missing_problem`,
  or, at the top level where an empty cell is a field written empty, its conversion);
* a written value the columns doubt: the validator's own conversion and limits of that one value
  (:meth:`~rxpolicy.engine.case_check.CheckRun.convert`, once per distinct value), which says whether it is a
  problem and in which words; a value it accepts leaves the claim to the per-case path;
* two dates in the wrong order: the validator's words (:func:`~rxpolicy.engine.case_check.order_problem`) with the
  dates the columns computed (defaults and computed facts as the validator fills them in).

This is exact because the validator checks each written field on its own, and every field whose checks pass is one
it accepts (the columns are stricter, never more lenient); the checks of dates against each other and of `all or
none` sections read other fields, so a claim with a doubted value among the fields those checks read (a failed
field's default takes its place there), a section written in part, a text or list near the case limits, or problems
in an order that depends on which cells are empty goes per case. The problems come in the validator's order: missing
fields, then written fields as the record lists them, then the dates, sorted by code as the validator's error sorts
them. ``tests/unit/test_columnar_errors.py`` and ``tests/fuzz/test_columnar_errors_fuzz.py`` compare every refused
claim of synthetic and hostile claims with the per-case row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import attrs

from rxpolicy.diagnostics import Diagnostic
from rxpolicy.language.facts import CaseSchema, FactRef
from rxpolicy.engine.case_limits import CASE_LIMITS
from rxpolicy.engine.case_check import CheckRun, example_line, from_python, missing_problem, order_problem

from .columnar import field_column
from .columnar_input import Checks
from .core import Selection, null_column, problem_of, result_schema
from .records import FIELD_ORDER, PER_RECORD, RecordProblem, unflatten

__all__ = ["error_rows", "errors_from_columns"]


def errors_from_columns(checks: Checks, first: int, selection: Selection,
                        per_case: Callable[[list[int]], Any]) -> Callable[[list[int]], Any]:
    """``per_case`` with the error rows of refused claims written from the columns where they are certain: the
    returned function gives the result table of the claims at some positions of the chunk, in record order."""

    def evaluate(positions: list[int]) -> Any:
        import pyarrow as pa

        known = error_rows(checks, positions)
        if not known:
            return per_case(positions)
        rest = [p for p in positions if p not in known]
        ordered = sorted(known)
        tables = [_table([first + p for p in ordered], [known[p] for p in ordered], selection)]
        if rest:
            tables.append(per_case(rest))
            return pa.concat_tables(tables).sort_by("record")
        return tables[0]

    return evaluate


def error_rows(checks: Checks, positions: Sequence[int]) -> dict[int, RecordProblem]:
    """The error rows of the claims at ``positions`` (in the chunk) that are certain from the columns, by position
    (claims the columns may evaluate, and claims whose row is not certain, are left out)."""
    # Per refused claim, the indices of its failing checks: the check bits of those few claims, taken by position
    # (one gather, where reading each check column for the claims failing it was a Polars query per column), read
    # from the few checks some of them fail.
    unclean = set(checks.clean.not_().arg_true().to_list())
    refused = [p for p in positions if p in unclean]  # (the others: claims the columns may evaluate)
    failing: dict[int, list[int]] = {p: [] for p in refused}
    for index, bits in enumerate(checks.passed[refused].get_columns() if refused else ()):
        if not bits.all():
            for position, ok in zip(refused, bits.to_list()):
                if not ok:
                    failing[position].append(index)
    writer = _Writer(checks)
    rows = {}
    for position in refused:
        found = writer.problem(position, failing[position])
        if found is not None:
            rows[position] = found
    return rows


class _Writer:
    """The error row of one refused claim from its failing checks, or None when it is not certain."""

    def __init__(self, checks: Checks) -> None:
        self.checks = checks
        self.schema = checks.schema
        self.table = checks.table
        names = tuple(self.table.column_names)
        self.names = set(names)
        # What depends on the facts, the plans and the columns only is worked out once for the chunks of a file
        # (~0.4 ms a chunk), and so is the validator's reading of each doubted value.
        key = (self.schema.fingerprint, frozenset(checks.plans), names)
        layout = _LAYOUTS.get(key)
        if layout is None:
            if len(_LAYOUTS) >= 32:
                _LAYOUTS.clear()
            layout = _LAYOUTS[key] = _Layout.of(self.schema, checks.plans, names)
        self.cross, self.rank, self.needed = layout.cross, layout.rank, layout.needed
        self.section_facts, self.failable, self.converted = layout.section_facts, layout.failable, layout.converted
        # Records that each list their fields in their own order (JSON Lines): which of several problems comes
        # first is the record's to say, so a claim with several is left per case.
        self.one_problem_only = (self.table.schema.metadata or {}).get(FIELD_ORDER) == PER_RECORD

    def problem(self, position: int, failing: list[int]) -> RecordProblem | None:
        """The claim's error row: its first problem, and how many more there are."""
        meaning = self.checks.checks
        missing: dict[str, Diagnostic] = {}
        converted: list[tuple[int, tuple[Diagnostic, ...]]] = []
        orders: list[int] = []
        failed: set[str] = set()  # written fields the validator cannot read: it compares no dates with them
        for index in failing:
            check = meaning[index]
            path = check.path
            if check.kind == "order":
                orders.append(index)
                continue
            if check.kind == "computed":
                continue  # a computed fact left empty by a problem reported here (else: `return None` below)
            if check.kind == "section":
                # Written in part: the validator asks for each fact of the section not written.
                for fact in self.section_facts[path]:
                    absent = fact not in self.names or self.cell(fact, position) is None
                    if absent and not self.missing(fact, missing):
                        return None
                continue
            if check.kind == "required" and "." in path:
                if not self.missing(path, missing):
                    return None
                continue
            if check.kind not in ("required", "value"):
                return None  # a text or list near the case limits: per case (RX409 comes before all else)
            # A top-level field is written even when its cell is empty (as `dispensed_on: null`).
            value = None if check.kind == "required" else self.cell(path, position)
            if isinstance(value, str) and len(value) > CASE_LIMITS.max_text:
                return None  # the case limits refuse it first (RX409); a choice has no shape check of its own
            found = self.convert(path, value)
            if not found:
                return None  # a value the validator accepts after all: the per-case path decides the claim
            if self.rank is None and converted:
                return None  # two fields with problems, in an order that depends on which cells are empty
            if path in self.cross and path not in self.failable:
                return None  # its default takes its place where dates are compared: not what the columns did
            failed.add(path)
            converted.append((self.rank[path] if self.rank is not None else 0, found))
        if self.schema.period_date in failed:
            orders = []  # without the dispensing date the validator compares no dates
        problems = [missing[p] for p in sorted(missing, key=self.needed.__getitem__)]
        problems += [d for _, found in sorted(converted, key=lambda c: c[0]) for d in found]
        problems += [self.order(position, meaning[i].path, meaning[i].other, meaning[i].after, meaning[i].why)
                     for i in orders if not failed & {meaning[i].path, meaning[i].other}]
        if not problems or (self.one_problem_only and len(problems) > 1):
            return None
        # As the validator raises them (`RxError` sorts problems without a place by code, keeping their order).
        return problem_of(sorted(problems, key=Diagnostic.sort_key)[0], len(problems))

    def missing(self, path: str, missing: dict[str, Diagnostic]) -> bool:
        """Add the problem of a fact not written; False when it is not certain (a default of its own would stand
        in the date checks, where the columns read the fact as empty)."""
        spec = self.schema.fields[path]
        if path in self.cross and spec.default is not None:
            return False
        message, help = missing_problem(path, path.rpartition(".")[0], example_line(spec))
        missing[path] = Diagnostic(code="RX402", message=message, field=path, help=help)
        return True

    def cell(self, path: str, position: int) -> object:
        """A written value as the per-case path reads it (Arrow's Python value; a few claims' cells one by one
        cost less than an Arrow `take`)."""
        return self.table.column(path)[position].as_py()

    def date(self, path: str, position: int) -> object:
        """A fact's prepared value (a default or computed fact filled in)."""
        return self.checks.values.get_column(field_column(path))[position]

    def convert(self, path: str, value: object) -> tuple[Diagnostic, ...]:
        """The problems the validator finds with one written value (none when it accepts it), once per value."""
        key = (path, repr(value))  # repr tells 150 from 150.00 (equal Decimals, different messages)
        found = self.converted.get(key)
        if found is None:
            run = CheckRun(schema=self.schema, source="", from_file=False, plans=self.checks.plans)
            run.convert(path, from_python(value))
            if len(self.converted) >= _CONVERTED_KEPT:
                self.converted.clear()  # (a long-lived process meets ever new values: kept within bounds)
            found = self.converted[key] = tuple(run.problems)
        return found

    def order(self, position: int, path: str, other: str, after: bool, why: str | None) -> Diagnostic:
        """Two dates in the wrong order, in the validator's words, with the dates the columns worked out."""
        values = {p: self.date(p, position) for p in (path, other)}
        written = [p for p in (path, other)
                   if p in self.names and ("." not in p or self.cell(p, position) is not None)]
        blame, message, help = order_problem(path, other, after, why, values, written)
        return Diagnostic(code="RX405", message=message, field=blame, help=help)


@attrs.frozen(eq=False)
class _Layout:
    """What the error rows of a file's chunks read that depends on its facts, plans and columns only."""

    cross: frozenset[str]
    rank: dict[str, int] | None
    needed: dict[str, int]
    section_facts: Mapping[str, tuple[str, ...]]
    failable: frozenset[str]
    #: The validator's problems with a written value, by (fact, `repr` of the value): filled as values are met
    #: (whole entries, the same from any thread).
    converted: dict[tuple[str, str], tuple[Diagnostic, ...]]

    @classmethod
    def of(cls, schema: CaseSchema, plans: Collection[str], names: tuple[str, ...]) -> _Layout:
        """The layout of a file with these columns."""
        tables = CheckRun(schema=schema, source="", from_file=False, plans=plans).tables
        # The facts the checks of dates and `all or none` sections read (closed under defaults and computed
        # facts): a failed field's default takes its value's place there, which the columns did not check.
        cross = frozenset(e[0] for e in tables.check_fill) if tables.check_fill is not None \
            else frozenset(schema.fields)
        # The validator meets written fields in the order the record's sections list them; when each section's
        # columns stand together that is the column order whatever cells are empty.
        listed = list(_paths(unflatten(dict.fromkeys(names, 0))))
        rank = {n: i for i, n in enumerate(names)} if listed == list(names) else None
        return cls(cross=cross, rank=rank,
                   needed={p: i for i, p in enumerate(schema.written)},  # the order missing facts are reported in
                   section_facts=tables.section_facts, failable=_failable(schema, tables.section_facts),
                   converted={})


_LAYOUTS: dict[tuple[object, ...], _Layout] = {}
#: The doubted values whose problems a layout keeps.
_CONVERTED_KEPT = 50_000


def _failable(schema: CaseSchema, section_facts: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
    """The written facts whose failing leaves the validator's date checks as the columns made them, apart from
    the checks of the fact itself (which the validator skips): the period date (without it no dates are
    compared), and facts outside `all or none` sections that no compared date reads through a default or a
    computation (a failed fact's default takes its place)."""
    reads: dict[str, set[str]] = {}
    for path, spec in schema.fields.items():
        ref = spec.default.path if isinstance(spec.default, FactRef) else None
        for source in (*spec.arguments, *((ref,) if ref else ())):
            reads.setdefault(source, set()).add(path)

    def dependents(path: str) -> set[str]:
        found, todo = set(), [path]
        while todo:
            for reader in reads.get(todo.pop(), ()):
                if reader not in found:
                    found.add(reader)
                    todo.append(reader)
        return found

    compared = {p for path in schema.written for other, _, _ in schema.fields[path].orders for p in (path, other)}
    sectioned = {p for facts in section_facts.values() for p in facts}
    return frozenset([schema.period_date] + [
        p for p in schema.written if p not in sectioned and not dependents(p) & compared])


def _paths(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted paths of a nested mapping, in its order."""
    found = []
    for key, value in tree.items():
        path = f"{prefix}.{key}".lstrip(".")
        found += _paths(value, path) if isinstance(value, dict) else [path]
    return found


def _table(records: list[int], problems: list[RecordProblem], selection: Selection) -> Any:
    """Error rows as a result table (no decisions)."""
    import pyarrow as pa

    schema = result_schema(selection, explain=False)
    count = len(records)
    text = {"error_code": [p.code for p in problems], "error_field": [p.field for p in problems],
            "error_message": [p.message for p in problems], "error_help": [p.help for p in problems]}
    columns = [pa.array(records, pa.int64()) if f.name == "record" else
               pa.array(text[f.name], pa.string()) if f.name in text else null_column(selection, f, count)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)

