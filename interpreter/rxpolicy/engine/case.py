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

import attrs
import yaml

from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean, read_text
from rxpolicy.engine.case_limits import CASE_LIMITS, check_file_size, check_python_shape, check_text_size
from rxpolicy.engine.case_check import WRITTEN, CheckRun, Item, compose_yaml, from_python, mark_span
from rxpolicy.language import facts as schema
from rxpolicy.language.facts import AUTHORISATION_DATES, FIELDS, FieldSpec
from rxpolicy.language.source import SourceFile
from rxpolicy.language.types import Kind
from rxpolicy.language.values import format_money

__all__ = ["Case", "load_case", "parse_case", "case_from_mapping", "case_to_yaml"]



@attrs.frozen(kw_only=True)
class Case:
    """One dispensing case, validated; values are in schema order (schema.field_index).

    ``values`` holds one value per :data:`schema.FIELDS` entry, derived fields included: dates as
    ``datetime.date``, money as ``Decimal`` with two places, numbers as ``int`` (``Decimal`` when not whole),
    choices and text as ``str``, lists as tuples of ``str``, unknown as ``None``. Two cases are equal when
    their values are; where they came from (``source``, ``lines``) does not count.
    """

    values: tuple[object, ...]
    source: str = attrs.field(default="<case>", eq=False)
    #: Field path → line of the case file it was written on (only fields present in the file).
    lines: Mapping[str, int] = attrs.field(factory=lambda: MappingProxyType({}), eq=False)

    def get(self, path: str) -> object:
        """The value of a field by dotted path, e.g. ``case.get("medicine.atc")``."""
        if path not in FIELDS:
            hint = did_you_mean(path, FIELDS)
            raise KeyError(f"no case field `{path}`" + (f"; did you mean `{hint}`?" if hint else ""))
        return self.values[schema.field_index(path)]

    @property
    def dispensed_on(self) -> dt.date:
        """The dispensing date, which decides the rules, amounts and defaults that apply."""
        value = self.get("dispensed_on")
        assert isinstance(value, dt.date)
        return value

    def to_mapping(self, *, only_changed: bool = True) -> dict[str, object]:
        """The case as a plain nested dict in the case-file shape (dates ISO, money ``"12.40"``).

        Derived fields are never included; with ``only_changed`` fields equal to their default are left
        out (required ones always stay), and so is an absent authorisation.
        """
        out: dict[str, object] = {}
        for path in WRITTEN:
            spec, value = FIELDS[path], self.get(path)
            if path not in AUTHORISATION_DATES and not (
                    only_changed and not spec.required and value == spec.default_for(self.dispensed_on)):
                _put(out, path, _plain(spec, value))
        # Both dates or neither: a section with one date would not load again.
        dates = {path.partition(".")[2]: _plain(FIELDS[path], self.get(path)) for path in AUTHORISATION_DATES}
        if any(date is not None for date in dates.values()):
            out["authorisation"] = dates
        elif not only_changed:
            out["authorisation"] = None
        return out

    def replace(self, changes: Mapping[str, object]) -> Case:
        """A new validated case with some fields (dotted paths → Python values) changed.

        Fields at their default follow a changed ``dispensed_on`` (the insured period moves with it);
        derived fields are recomputed. Raises :class:`RxError` on invalid values, as loading does.
        """
        data = self.to_mapping(only_changed=True)
        for path, value in changes.items():
            _put(data, path, value)
        check_python_shape(data, CASE_LIMITS)
        case = _validated(CheckRun(source=self.source, from_file=False), from_python(data))
        kept = {path: line for path, line in self.lines.items() if path not in changes}
        return attrs.evolve(case, lines=MappingProxyType(kept))


def _put(data: dict[str, object], path: str, value: object) -> None:
    """Set a dotted path in a nested dict, making the sections on the way."""
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


def load_case(path: Path | str, *, display: str | None = None, plans: Collection[str] | None = None) -> Case:
    """Read and validate a case file; ``display`` is the path shown in messages (default: as given)."""
    path = Path(path)
    shown = display or str(path)
    check_file_size(path, shown, CASE_LIMITS)  # before reading: a huge file is refused without reading it
    text = read_text(path, shown, kind="case file", encoding_code="RX401")
    return parse_case(text, path=shown, plans=plans)


def parse_case(text: str, *, path: str = "<case>", plans: Collection[str] | None = None) -> Case:
    """Validate the YAML text of a case; raises :class:`RxError` with every problem found."""
    check_text_size(path, text, CASE_LIMITS, "the case")  # before the text is indexed into a SourceFile
    root = compose_yaml(SourceFile(path=path, text=text), code="RX401", what="the case",
                        help="write each field as `name: value` on its own line, indenting the fields of a "
                             "section by two spaces")
    if root is None:
        raise RxError(Diagnostic(code="RX401", message="the case file is empty", span=mark_span(path, None, None),
                                 help="write at least `dispensed_on`, `insured`, `prescription`, `medicine` "
                                      "and `dispensing`"))
    run = CheckRun(source=path, from_file=True, plans=plans)
    return _validated(run, run.from_node(root, ""))


def case_from_mapping(data: Mapping[str, object], *, source: str = "<python>",
                      plans: Collection[str] | None = None) -> Case:
    """Validate a case given as a nested mapping of Python values (dates, Decimal or str money, bools...)."""
    check_python_shape(data, CASE_LIMITS)
    return _validated(CheckRun(source=source, from_file=False, plans=plans), from_python(data))


def _validated(run: CheckRun, root: Item) -> Case:
    """The case a check run makes of a tree; raises :class:`RxError` with every problem."""
    values, lines = run.check(root)
    return Case(values=values, source=run.source, lines=lines)


def case_to_yaml(case: Case) -> str:
    """The case as readable YAML (only fields that differ from their default), loadable by parse_case."""
    node = _yaml_node(case.to_mapping(only_changed=True), "")
    return str(yaml.serialize(node, Dumper=yaml.SafeDumper, allow_unicode=True, width=100))


def _yaml_node(value: object, path: str) -> yaml.Node:
    """A YAML node for a value of ``to_mapping``: money, numbers and dates plain, not as quoted strings."""
    if isinstance(value, dict):
        return yaml.MappingNode("tag:yaml.org,2002:map", [
            (yaml.ScalarNode("tag:yaml.org,2002:str", k), _yaml_node(v, f"{path}.{k}".lstrip(".")))
            for k, v in value.items()], flow_style=False)
    if isinstance(value, list):
        items = [yaml.ScalarNode("tag:yaml.org,2002:str", str(v)) for v in value]
        return yaml.SequenceNode("tag:yaml.org,2002:seq", items, flow_style=True)
    kind, text = FIELDS[path].type.kind, str(value)
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
