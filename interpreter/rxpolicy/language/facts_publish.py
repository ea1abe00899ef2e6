"""The declared facts published for others: the JSON Schema of a case file and the field tables of the docs.

Both are written from a :class:`CaseSchema` (the facts a policy's layers declare), so they cannot drift
from what the case loader accepts: ``rxpolicy schema case`` prints the first, and a test regenerates the
second in ``docs/case-file.md``. The JSON Schema (draft 2020-12) describes a case in its JSON form (dates
as ``YYYY-MM-DD`` strings); what it cannot say (a date's order against another, an amount's cents) the
loader still checks, and the descriptions say so.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from rxpolicy.language.facts import CaseSchema, FactRef, FieldSpec
from rxpolicy.language.types import Kind

__all__ = ["case_json_schema", "field_tables", "JSON_SCHEMA_DIALECT"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_ATC = "^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"
_DATE = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_AMOUNT = r"^[0-9]+(\.[0-9]{1,2})?$"


def _plain(value: object) -> object:
    """A declared value in its JSON form."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _value_schema(spec: FieldSpec, plans: Collection[str] | None) -> dict[str, Any]:
    kind = spec.type.kind
    schema: dict[str, Any]
    if kind is Kind.BOOL:
        schema = {"type": "boolean"}
    elif kind is Kind.MONEY:
        number: dict[str, Any] = {"type": "number", "minimum": 0}
        text: dict[str, Any] = {"type": "string", "pattern": _AMOUNT}
        if spec.allowed:
            number = {"enum": [_plain(a) for a in spec.allowed]}
            text = {"type": "string", "pattern": "^(" + "|".join(str(_plain(a)) for a in spec.allowed)
                    + r")(\.0{1,2})?$"}
        schema = {"anyOf": [number, text]}
    elif kind is Kind.NUMBER:
        schema = {"type": "integer" if spec.whole else "number",
                  "minimum": _plain(spec.at_least) if spec.at_least is not None else 0}
        if spec.at_most is not None:
            schema["maximum"] = _plain(spec.at_most)
    elif kind is Kind.DATE:
        schema = {"type": "string", "format": "date", "pattern": _DATE}
    elif kind is Kind.ATC:
        schema = {"type": "string", "pattern": _ATC}
    elif kind is Kind.ENUM:
        schema = {"type": "string", "examples": list(spec.type.choices)} if spec.open_choice else {
            "enum": list(spec.type.choices)}
    elif kind is Kind.LIST:
        schema = {"type": "array", "items": {"enum": list(spec.type.choices)}}
    else:
        schema = {"enum": sorted(plans)} if spec.one_of_plans and plans else {"type": "string"}
    return {"anyOf": [schema, {"type": "null"}]} if spec.type.nullable else schema


def _describe(spec: FieldSpec) -> str:
    text = spec.meaning or spec.noun.get("en") or spec.yes.get("en", "")
    limits = []
    if spec.whole:
        limits.append(f"counts whole {spec.whole}")
    if spec.type.kind is Kind.MONEY:
        limits.append("an amount in euros with at most two decimals")
    for other, after, why in spec.orders:
        limits.append(f"not {'after' if after else 'before'} `{other}`" + (f": {why}" if why else ""))
    if spec.one_of_plans:
        limits.append("one of the policy's plans")
    return text + (f" ({'; '.join(limits)})" if limits else "")


def _field_schema(spec: FieldSpec, plans: Collection[str] | None) -> dict[str, Any]:
    schema = {"title": spec.noun.get("en") or spec.path, "description": _describe(spec),
              **_value_schema(spec, plans)}
    if isinstance(spec.default, FactRef):
        schema["description"] += f" (default: `{spec.default.path}`)"
    elif not spec.required:
        schema["default"] = _plain(spec.default)
    return schema


def case_json_schema(schema: CaseSchema, *, title: str = "rxpolicy case",
                     plans: Collection[str] | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a case file with these facts; ``plans`` lists the policy's plans."""

    def section(prefix: str) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for path in schema.written:
            parent, _, name = path.rpartition(".")
            if parent == prefix:
                properties[name] = _field_schema(schema.fields[path], plans)
                if schema.fields[path].required or prefix in schema.all_or_none:
                    required.append(name)
        for child, words in schema.sections.items():
            parent, _, name = child.rpartition(".")
            if parent == prefix:
                nested = {"title": words.get("en", name), **section(child)}
                if nested.get("required") and child not in schema.all_or_none:
                    properties[name] = nested  # it holds required facts, so it is written
                    required.append(name)
                else:  # left out, or written as null (an `all or none` section holds all or none)
                    properties[name] = {"title": nested["title"], "anyOf": [nested, {"type": "null"}]}
        out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            out["required"] = required
        return out

    body = section("")
    return {"$schema": JSON_SCHEMA_DIALECT, "title": title,
            "description": "One dispensing of one medicine to one insured person (a case file of rxpolicy).",
            **body}


# ----------------------------------------------------------------------------- the docs' tables

_KIND_WORDS = {Kind.BOOL: "yes/no", Kind.MONEY: "money", Kind.NUMBER: "number", Kind.DATE: "date",
               Kind.TEXT: "text", Kind.ATC: "ATC code", Kind.ENUM: "choice"}


def _type_words(spec: FieldSpec) -> str:
    kind = spec.type.kind
    if kind is Kind.LIST:
        words = f"list of {spec.type.name}s"
    elif kind is Kind.ENUM and spec.open_choice:
        words = "open choice"
    else:
        words = _KIND_WORDS[kind]
    return f"{words} or `null`" if spec.type.nullable else words


def _default_words(spec: FieldSpec) -> str:
    if spec.required:
        return "*required*"
    if spec.derived:
        return "*derived*"
    default = spec.default
    if isinstance(default, FactRef):
        return f"`{default.path}`"  # the computed fact it names has its own row
    if default is None:
        return "`null`"
    if isinstance(default, bool):
        return "`true`" if default else "`false`"
    if isinstance(default, tuple):
        return "`[]`" if not default else f"`[{', '.join(default)}]`"
    return f"`{_plain(default)}`"


def field_tables(schema: CaseSchema) -> str:
    """The docs' tables of every fact, one per section, then the computed facts (Markdown)."""
    out: list[str] = []
    header = ["| field | type | default | meaning | Dutch term |", "|---|---|---|---|---|"]

    def rows(paths: list[str]) -> list[str]:
        fields = schema.fields
        return [f"| `{p}` | {_type_words(fields[p])} | {_default_words(fields[p])} | "
                f"{fields[p].meaning or fields[p].noun.get('en', '')} | {fields[p].terms.get('nl', '')} |"
                for p in paths]

    top = [p for p in schema.written if "." not in p]
    if top:
        out += ["### Top level", "", *header, *rows(top), ""]
    for section, words in schema.sections.items():
        paths = [p for p in schema.written if p.rpartition(".")[0] == section]
        if not paths:
            continue
        title = f"### `{section}`" + (f": {words['en']}" if words.get("en") else "")
        out += [title, "", *header, *rows(paths), ""]
    if schema.derived:
        out += ["### Computed facts", "", *header, *rows(list(schema.derived)), ""]
    return "\n".join(out).rstrip() + "\n"
