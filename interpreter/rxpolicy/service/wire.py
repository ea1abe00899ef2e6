"""What travels over HTTP: cases in, decisions and diagnostics out, as plain JSON-ready data.

A case arrives as JSON in the case-file shape. Numbers are read as :class:`~decimal.Decimal` straight
from the text, so money never passes through a float; the case loader then checks it as it checks a
case file (every problem at once, each naming its field). A YAML body is read by the case-file loader
itself, so its problems carry line and column. Diagnostics leave as data (code, place, message, fix)
and as the text the command line prints, caret included.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from rxpolicy.diagnostics import Diagnostic, RxError, Severity
from rxpolicy.engine.case import Case, case_from_mapping, parse_case
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.evaluate import Evaluation
from rxpolicy.explain.diagnostics import render_diagnostic
from rxpolicy.explain.json import SCHEMA_VERSION, evaluation_dict
from rxpolicy.explain.whatif import WhatIf
from rxpolicy.explain.words import json_value
from rxpolicy.language import ast
from rxpolicy.language.check import CheckedPolicy, LayerKind, LayerSources, PolicySources, check_policy
from rxpolicy.language.lower import parse_rule_file
from rxpolicy.language.source import SourceFile, Span

__all__ = ["BODY", "EditedCheck", "bad_request", "case_from_body", "case_from_data", "decision_data",
           "diagnostic_data", "edited_sources", "has_errors", "json_document", "receipt_data", "rule_references", "standalone_sources"]

#: How the service names the request body in messages (the place a case problem is in).
BODY = "request body"


def bad_request(code: str, message: str, fix: str, *, field: str | None = None) -> RxError:
    """A located, plain-language refusal of a request (RX8xx), raised as the CLI raises bad input."""
    return RxError(Diagnostic(code=code, message=message, help=fix, field=field))


def json_document(raw: bytes, what: str) -> Any:
    """Parse a JSON body (``what``: "the request body", "line 3"), numbers as Decimal; RX902 when it is not JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad_request("RX902", f"{what} is not UTF-8 text (byte {error.start + 1})",
                          "send the JSON as UTF-8") from None
    place = what.removeprefix("the ")
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise RxError(Diagnostic(
            code="RX902", message=f"{what} is not valid JSON: {error.msg.lower()}",
            help="send one JSON object in the case-file shape, e.g. "
                 '{"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, …}',
            span=_point(place, error.lineno, error.colno)),
            sources={place: SourceFile(path=place, text=text)}) from None


def _point(path: str, line: int, column: int) -> Span:
    return Span(path=path, line=line, column=column, end_line=line, end_column=column + 1)


def case_from_body(raw: bytes, content_type: str, policy: CompiledPolicy) -> Case:
    """The case a request sends: JSON (the default) or YAML (``application/yaml``), read with the policy's facts."""
    if "yaml" in content_type:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise bad_request("RX401", f"the {BODY} is not UTF-8 text (byte {error.start + 1})",
                              "send the case YAML as UTF-8") from None
        return parse_case(text, path=BODY, policy=policy)
    return case_from_data(json_document(raw, f"the {BODY}"), policy)


def case_from_data(data: Any, policy: CompiledPolicy, where: str = f"the {BODY}") -> Case:
    """A case from parsed JSON data, read with the policy's facts; RX902 when it is not an object."""
    if not isinstance(data, dict):
        raise bad_request("RX902", f"{where} is a JSON {_json_kind(data)}, not an object holding a case",
                          "send one JSON object in the case-file shape: dispensed_on, insured, prescription, "
                          "medicine, dispensing")
    return case_from_mapping(data, source=where.removeprefix("the "), policy=policy)


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "true/false", type(None): "null"}.get(type(value), "number")


def receipt_data(evaluation: Evaluation) -> dict[str, Any]:
    """The receipt of one evaluation: engine, grammar, rule files and case fingerprints."""
    r = evaluation.receipt
    return {"engine_version": r.engine_version, "policy_fingerprint": r.policy_fingerprint,
            "grammar_sha256": r.grammar_sha256, "rule_files": dict(r.rule_files), "case_sha256": r.case_sha256}


def rule_references(policy: CompiledPolicy) -> tuple[Mapping[str, Any], ...]:
    """Every rule's reference in a lean decision (rule, source, layer, line), by rule index: made once per policy."""
    return tuple(MappingProxyType(_rule_ref(rule)) for rule in policy.rules)


def _rule_ref(rule: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"rule": rule.id, "source": rule.source, "layer": rule.layer,
                           "line": f"{rule.span.path}:{rule.span.line}"}
    if rule.rejection_code:
        ref["rejection_code"] = rule.rejection_code
    return ref


def decision_data(evaluation: Evaluation, lang: str, explain: bool, what_if: WhatIf | None = None,
                  references: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The decision JSON: with ``explain`` exactly ``rxpolicy eval --format json``; without, its lean subset.

    The lean form keeps every decision's value and deciding rule, the outcome, the reasons and the
    receipt, and leaves out the sentences, the trace and "what would change it" (the costly parts).
    """
    if explain:
        return evaluation_dict(evaluation, lang, what_if=what_if)
    policy = evaluation.policy
    refs = references if references is not None else rule_references(policy)
    decisions = {}
    for index, decision in enumerate(policy.decisions):
        entry: dict[str, Any] = {"value": json_value(evaluation.values[index], decision.type)}
        deciders = evaluation.deciders[index]
        if deciders:
            entry.update(refs[deciders[0]])
        decisions[decision.name] = entry
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "policy": policy.name,
                            "dispensed_on": evaluation.case.dispensed_on.isoformat()}
    if evaluation.outcome is not None:
        data["outcome"] = evaluation.outcome
    if evaluation.reasons:
        data["reasons"] = [dict(refs[r.index]) for r in evaluation.reasons]
    data["decisions"] = decisions
    data["receipt"] = receipt_data(evaluation)
    return data


def diagnostic_data(diagnostic: Diagnostic, sources: Mapping[str, SourceFile] | None = None) -> dict[str, Any]:
    """A diagnostic as data: code, severity, place, message, fix, and the CLI's text with its caret."""
    def line_of(path: str, number: int) -> str | None:
        source = (sources or {}).get(path)
        return source.line_text(number) if source is not None else None

    data: dict[str, Any] = {"code": diagnostic.code, "severity": diagnostic.severity.value,
                            "message": diagnostic.message}
    if diagnostic.span is not None:
        s = diagnostic.span
        data.update(file=s.path, line=s.line, column=s.column, end_line=s.end_line, end_column=s.end_column)
    if diagnostic.field:
        data["field"] = diagnostic.field
    if diagnostic.help:
        data["fix"] = diagnostic.help
    if diagnostic.related:
        data["related"] = [{"note": note, "file": span.path, "line": span.line, "column": span.column}
                           for note, span in diagnostic.related]
    if diagnostic.notes:
        data["notes"] = list(diagnostic.notes)
    data["text"] = render_diagnostic(diagnostic, line_of).rstrip("\n")
    return data


@attrs.frozen(kw_only=True)
class EditedCheck:
    """The outcome of checking an edited copy of a policy: the compiled copy when it checks, and every finding."""

    checked: CheckedPolicy | None
    diagnostics: tuple[Diagnostic, ...]
    sources: Mapping[str, SourceFile]


def edited_sources(base: PolicySources, edits: Mapping[str, str]) -> EditedCheck:
    """Check a policy with some of its rule files replaced by edited texts (display path → text).

    Nothing is written anywhere: the edited texts are parsed in memory next to the served files.
    A path that is not a rule file of the policy is refused (RX903) rather than silently ignored.
    """
    known = {f.source.path for layer in base.layers for f in layer.files}
    unknown = [path for path in edits if path not in known]
    if unknown:
        raise bad_request("RX903", f"`{unknown[0]}` is not a rule file of the policy `{base.name}`",
                          "send edited copies of the policy's own files, named as GET /v1/policies/"
                          f"{base.name}/files names them")
    problems: list[Diagnostic] = []
    texts: dict[str, SourceFile] = {}
    layers = []
    for layer in base.layers:
        files = []
        for rule_file in layer.files:
            path = rule_file.source.path
            if path in edits:
                source = SourceFile(path=path, text=edits[path])
                texts[path] = source
                try:
                    rule_file = parse_rule_file(source)
                except RxError as error:
                    problems.extend(error.diagnostics)
                    continue
            else:
                texts[path] = rule_file.source
            files.append(rule_file)
        layers.append(attrs.evolve(layer, files=tuple(files)))
    if problems:
        return EditedCheck(checked=None, diagnostics=tuple(sorted(problems, key=Diagnostic.sort_key)), sources=texts)
    try:
        checked, warnings = check_policy(attrs.evolve(base, layers=tuple(layers)))
    except RxError as error:
        return EditedCheck(checked=None, diagnostics=error.diagnostics, sources=texts)
    return EditedCheck(checked=checked, diagnostics=warnings, sources=texts)


def standalone_sources(files: Mapping[str, str]) -> EditedCheck:
    """Rule files checked on their own, as one layer (as a directory without a policy declaration is)."""
    parsed: list[ast.RuleFile] = []
    problems: list[Diagnostic] = []
    sources: dict[str, SourceFile] = {}
    for path, text in files.items():
        source = SourceFile(path=path, text=text)
        sources[path] = source
        try:
            parsed.append(parse_rule_file(source))
        except RxError as error:
            problems.extend(error.diagnostics)
    if problems:
        return EditedCheck(checked=None, diagnostics=tuple(sorted(problems, key=Diagnostic.sort_key)),
                           sources=sources)
    layer = LayerSources(name="request", kind=LayerKind.STATUTORY, title="request", files=tuple(parsed))
    try:
        checked, warnings = check_policy(PolicySources(name="request", declaration=None, layers=(layer,)))
    except RxError as error:
        return EditedCheck(checked=None, diagnostics=error.diagnostics, sources=sources)
    return EditedCheck(checked=checked, diagnostics=warnings, sources=sources)


def has_errors(diagnostics: Sequence[Diagnostic]) -> bool:
    """Whether any diagnostic stops evaluation."""
    return any(d.severity is Severity.ERROR for d in diagnostics)

