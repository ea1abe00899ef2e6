"""Stage "case YAML → Case": read one dispensing case, check it against the schema, apply defaults.

A case is checked as a whole: every problem (YAML syntax, a missing or unknown field, a wrong type, an
impossible value) becomes a :class:`Diagnostic`, and all of them are raised together in one
:class:`RxError`. The YAML is only *composed*, never constructed, so every scalar is read from the text
its author wrote: money never passes through a float, and ``name: yes`` stays the text "yes".
The Python API (:func:`case_from_mapping`, :meth:`Case.replace`) turns Python values into the same
scalars, so both roads share one validator. This module holds the :class:`Case` and its entry points;
the field-by-field conversion and validation is :mod:`rxpolicy.engine.case_check`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

import attrs
import yaml

from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean, read_text
from rxpolicy.engine.case_build import builder_for, read_text_fast
from rxpolicy.engine.case_check import CheckRun, Item, compose_yaml, from_python, mark_span
from rxpolicy.engine.case_limits import CASE_LIMITS, check_file_size, check_python_shape, check_text_size
from rxpolicy.language.facts import CaseSchema, FieldSpec, statutory_facts
from rxpolicy.language.source import SourceFile
from rxpolicy.language.types import Kind
from rxpolicy.language.values import format_money

__all__ = ["Case", "load_case", "parse_case", "case_from_mapping", "case_to_yaml", "put_path"]



@attrs.frozen(kw_only=True)
class Case:
    """One dispensing case, validated; values are in the order of its schema's facts (``schema.field_index``).

    ``values`` holds one value per declared fact, computed facts included: dates as
    ``datetime.date``, money as ``Decimal`` with two places, numbers as ``int`` (``Decimal`` when not whole),
    choices and text as ``str``, lists as tuples of ``str``, unknown as ``None``. Two cases are equal when
    their values are; where they came from (``source``, ``lines``) does not count.
    """

    values: tuple[object, ...]
    #: The declared facts the case was read with (the statutory layer's unless a policy was named).
    schema: CaseSchema = attrs.field(factory=statutory_facts, eq=False, repr=False)
    source: str = attrs.field(default="<case>", eq=False)
    #: Field path → line of the case file it was written on (only fields present in the file).
    lines: Mapping[str, int] = attrs.field(default=MappingProxyType({}), eq=False)  # read-only: one for all

    def __reduce__(self) -> tuple[object, ...]:
        # A case pickles as its values (for worker processes) when it holds the statutory layer's facts, which
        # every process reads again; the declarations of other policies do not travel yet.
        if self.schema.fingerprint != statutory_facts().fingerprint:
            raise TypeError("only a case with the statutory layer's facts can be pickled; send its mapping "
                            "(case.to_mapping()) and read it again with the policy there")
        return (_unpickled, (self.values, self.source, dict(self.lines)))

    def get(self, path: str) -> object:
        """The value of a field by dotted path, e.g. ``case.get("medicine.atc")``."""
        index = self.schema.index.get(path)
        if index is None:
            hint = did_you_mean(path, self.schema.fields)
            raise KeyError(f"no case field `{path}`" + (f"; did you mean `{hint}`?" if hint else ""))
        return self.values[index]

    @property
    def day(self) -> dt.date:
        """The date that decides the rules in force (as the facts declare it: the dispensing date)."""
        value = self.values[self.schema.period_index]
        assert isinstance(value, dt.date)
        return value

    #: The dispensing date, under the contract's name.
    dispensed_on = day

    def to_mapping(self, *, only_changed: bool = True) -> dict[str, object]:
        """The case as a plain nested dict in the case-file shape (dates ISO, money ``"12.40"``).

        Derived fields are never included; with ``only_changed`` fields equal to their default are left
        out (required ones always stay), and so is an absent authorisation.
        """
        out: dict[str, object] = {}
        fields, whole = self.schema.fields, self.schema.all_or_none
        for path in self.schema.written:
            spec, value = fields[path], self.get(path)
            if path.rpartition(".")[0] not in whole and not (
                    only_changed and not spec.required and value == spec.default_in(self.get)):
                put_path(out, path, _plain(spec, value))
        for section in whole:
            # All or none: a section with some of its facts would not load again.
            paths = [p for p in self.schema.written if p.rpartition(".")[0] == section]
            values = {p[len(section) + 1:]: _plain(fields[p], self.get(p)) for p in paths}
            if any(value is not None for value in values.values()):
                put_path(out, section, values)
            elif not only_changed:
                put_path(out, section, None)
        return out

    def replace(self, changes: Mapping[str, object]) -> Case:
        """A new validated case with some fields (dotted paths → Python values) changed.

        Fields at their default follow a changed ``dispensed_on`` (the insured period moves with it);
        derived fields are recomputed. Raises :class:`RxError` on invalid values, as loading does.
        """
        data = self.to_mapping(only_changed=True)
        for path, value in changes.items():
            put_path(data, path, value)
        case = _from_mapping(data, self.schema, self.source, None)
        kept = {path: line for path, line in self.lines.items() if path not in changes}
        return attrs.evolve(case, lines=MappingProxyType(kept))


def _unpickled(values: tuple[object, ...], source: str, lines: dict[str, int]) -> Case:
    return Case(values=values, source=source, lines=MappingProxyType(lines))


def put_path(data: dict[str, object], path: str, value: object) -> None:
    """Set a dotted path (``medicine.atc``) in a nested dict, making the sections on the way."""
    *sections, name = path.split(".")
    for section in sections:
        child = data.get(section)
        if not isinstance(child, dict):
            child = data[section] = {}
        data = child
    data[name] = value


def _plain(spec: FieldSpec, value: object) -> object:
    """A value as the case file writes it, in plain Python types."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format_money(value) if spec.type.kind is Kind.MONEY else format(value, "f")
    return list(value) if isinstance(value, tuple) else value


class _HasFacts(Protocol):
    """A compiled policy, as far as reading a case goes: its declared facts and its plans."""

    @property
    def facts(self) -> CaseSchema: ...

    @property
    def plans(self) -> tuple[str, ...]: ...


def _schema_and_plans(policy: _HasFacts | None, schema: CaseSchema | None, plans: Collection[str] | None,
                      ) -> tuple[CaseSchema, Collection[str] | None]:
    if policy is not None:
        return policy.facts, policy.plans if plans is None else plans
    return schema or statutory_facts(), plans


def load_case(path: Path | str, *, display: str | None = None, plans: Collection[str] | None = None,
              policy: _HasFacts | None = None, schema: CaseSchema | None = None) -> Case:
    """Read and validate a case file; ``display`` is the path shown in messages (default: as given).

    The case is read with the facts ``policy`` declares (and its plans), or with ``schema``; without
    either, with the facts of the built-in statutory layer (the contract's case).
    """
    path = Path(path)
    shown = display or str(path)
    check_file_size(path, shown, CASE_LIMITS)  # before reading: a huge file is refused without reading it
    text = read_text(path, shown, kind="case file", encoding_code="RX401")
    return parse_case(text, path=shown, plans=plans, policy=policy, schema=schema)


def parse_case(text: str, *, path: str = "<case>", plans: Collection[str] | None = None,
               policy: _HasFacts | None = None, schema: CaseSchema | None = None) -> Case:
    """Validate the YAML text of a case; raises :class:`RxError` with every problem found.

    A JSON text is YAML too; one on a single line (a JSON Lines record) is decoded with :mod:`json`. The
    common, valid case takes the fast road (:func:`~rxpolicy.engine.case_build.read_text_fast`); any other
    text the full road, which reports every problem with its place in the text.
    """
    check_text_size(path, text, CASE_LIMITS, "the case")  # before the text is indexed into a SourceFile
    facts, plans = _schema_and_plans(policy, schema, plans)
    fast = read_text_fast(text, facts, plans, CASE_LIMITS)
    if fast is not None:
        lines = fast[1]
        return Case(values=fast[0], schema=facts, source=path,
                    lines=MappingProxyType(lines) if type(lines) is dict else lines)
    return read_case_text(text, path, facts, plans)


def read_case_text(text: str, path: str, facts: CaseSchema, plans: Collection[str] | None) -> Case:
    """The full road of :func:`parse_case`: the YAML composed within the limits, every field checked, every
    problem reported with its place in the text. (The text's size is checked.)"""
    root = compose_yaml(SourceFile(path=path, text=text), code="RX401", what="the case",
                        help="write each field as `name: value` on its own line, indenting the fields of a "
                             "section by two spaces")
    if root is None:
        # The names a case needs at its top level: its required facts there and the sections holding one.
        needed = list(dict.fromkeys(p.split(".")[0] for p in facts.written if facts.fields[p].required)) or [
            facts.period_date]
        listed = ", ".join(f"`{n}`" for n in needed[:-1]) + f" and `{needed[-1]}`" if len(needed) > 1 else \
            "".join(f"`{n}`" for n in needed)
        raise RxError(Diagnostic(code="RX401", message="the case file is empty", span=mark_span(path, None, None),
                                 help=f"write at least {listed}"))
    run = CheckRun(schema=facts, source=path, from_file=True, plans=plans)
    return _validated(run, run.from_node(root, ""))


def case_from_mapping(data: Mapping[str, object], *, source: str = "<python>",
                      plans: Collection[str] | None = None, policy: _HasFacts | None = None,
                      schema: CaseSchema | None = None) -> Case:
    """Validate a case given as a nested mapping of Python values (dates, Decimal or str money, bools...).

    Read with the facts of ``policy`` (or ``schema``, or the statutory layer's), as :func:`load_case` says.
    """
    facts, plans = _schema_and_plans(policy, schema, plans)
    return _from_mapping(data, facts, source, plans)


def _from_mapping(data: Mapping[str, object], schema: CaseSchema, source: str,
                  plans: Collection[str] | None) -> Case:
    """The generated builder's case, or (when it gives up) the full check's, which reports every problem.

    A mapping the builder accepts is within the case limits (it checks what could go beyond them, see
    :mod:`rxpolicy.engine.case_build`); any other is measured against them first, so a limit is reported
    before any field's problem, as it always was."""
    values = builder_for(schema, CASE_LIMITS)(data, plans)
    if values is not None:
        return Case(values=values, schema=schema, source=source)
    check_python_shape(data, CASE_LIMITS)
    return _validated(CheckRun(schema=schema, source=source, from_file=False, plans=plans), from_python(data))


def _validated(run: CheckRun, root: Item) -> Case:
    """The case a check run makes of a tree; raises :class:`RxError` with every problem."""
    values, lines = run.check(root)
    return Case(values=values, schema=run.schema, source=run.source, lines=lines)


def case_to_yaml(case: Case) -> str:
    """The case as readable YAML (only fields that differ from their default), loadable by parse_case."""
    node = _yaml_node(case.to_mapping(only_changed=True), "", case.schema)
    return str(yaml.serialize(node, Dumper=yaml.SafeDumper, allow_unicode=True, width=100))


def _yaml_node(value: object, path: str, schema: CaseSchema) -> yaml.Node:
    """A YAML node for a value of ``to_mapping``: money, numbers and dates plain, not as quoted strings."""
    if isinstance(value, dict):
        return yaml.MappingNode("tag:yaml.org,2002:map", [
            (yaml.ScalarNode("tag:yaml.org,2002:str", k), _yaml_node(v, f"{path}.{k}".lstrip("."), schema))
            for k, v in value.items()], flow_style=False)
    if isinstance(value, list):
        items = [yaml.ScalarNode("tag:yaml.org,2002:str", str(v)) for v in value]
        return yaml.SequenceNode("tag:yaml.org,2002:seq", items, flow_style=True)
    kind, text = schema.fields[path].type.kind, str(value)
    if value is None:
        tag, text = "null", "null"  # YAML's own spelling; str(None) would be read back as the text 'none'
    elif isinstance(value, bool):
        tag, text = "bool", text.lower()
    elif kind in (Kind.MONEY, Kind.NUMBER):
        tag = "float" if "." in text else "int"
    else:
        tag = "timestamp" if kind is Kind.DATE else "str"
    # The serializer leaves a tag out when the resolver would find it from the text, so `12.40` stays plain
    # while a text like `yes` gets quotes.
    return yaml.ScalarNode(f"tag:yaml.org,2002:{tag}", text)
