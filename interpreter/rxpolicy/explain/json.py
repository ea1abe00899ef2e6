"""The decision contract's JSON form (docs/case-file.md and docs/api.md), plus documented extra keys.

Extra keys: per decision ``layer`` (which layer's rule decided), ``explanation`` (the rule's
patient sentence), ``rules`` (all deciding rules when several agree), ``line`` (file:line of the
rule), ``interpretation`` where the rule is marked as one, ``alternatives`` for a supply limit,
``overridden`` (rules set aside by an exception), ``cites`` (the registry ids of the sources cited),
``rejection_code_verified`` (false until a source confirms the code), ``layer_interpretation`` (why the policy
adopts the shared layer of the rule where its own texts are silent); at the top ``sources`` (each cited source's
title, publisher, year and public address), ``reasons`` when not covered and a
``receipt`` for replay; ``what_would_change`` when the caller passes a what-if result: the smallest
changes of facts that would make it covered (:mod:`rxpolicy.explain.whatif`); ``handbook`` beside each
rule, the address of the rule in the policy handbook (``rxpolicy doc``), when the caller gives the
handbook's address.

How the text is written (issue 9: JSON of an evaluation should cost a small multiple of the evaluation): the
document is built once as a list of members, which :func:`evaluation_dict` turns into dicts and
:func:`evaluation_json` into text. What does not depend on the case (a rule's reference: its id, citation,
sentence, line, sources; the cited sources' descriptions) is a :class:`_Shared` member whose text is written
once per policy, language and indentation and kept in the policy's memo; per case only the values and
reasons are encoded. The text is the one ``json.dumps`` writes for the dict, byte for byte (the snapshot and
contract tests, and ``tests/unit/test_json_text.py``, compare them).
"""

from __future__ import annotations

import json
import re
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import TYPE_CHECKING, Any, Callable, Union

from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.evaluate import Evaluation
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.explain.links import handbook_url
from rxpolicy.explain.views import Reason, decision_views, rule_because
from rxpolicy.explain.words import json_value
from rxpolicy.language.values import SupplyLimit

if TYPE_CHECKING:  # the what-if words are imported when there is a what-if to show
    from rxpolicy.explain.whatif import WhatIf

__all__ = ["evaluation_json", "evaluation_dict", "SCHEMA_VERSION", "utf8_safe"]

SCHEMA_VERSION = 1
_SURROGATE = re.compile("[\ud800-\udfff]")



def _rule_ref(rule: RuleMeta, lang: str, handbook: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"rule": rule.id, "source": rule.source, "layer": rule.layer,
                           "explanation": rule.explains.get(lang) or rule.explains.get("en"),
                           "line": rule.location}
    if rule.sources:
        ref["cites"] = [s.id for s in rule.sources]
    if rule.rejection_code:
        ref["rejection_code"] = rule.rejection_code
        ref["rejection_code_verified"] = bool(rule.rejection_code_verified)
    if rule.interpretation_in(lang):
        ref["interpretation"] = rule.interpretation_in(lang)
    if rule.layer_interpretation:
        ref["layer_interpretation"] = rule.layer_interpretation
    if handbook:
        ref["handbook"] = handbook_url(handbook, rule.id)
    return ref


def _computation(reason: Reason) -> dict[str, Any]:
    node: dict[str, Any] = {"fact": reason.sentence}
    if reason.inputs:
        node["from"] = [_computation(r) for r in reason.inputs]
    return node


class _Object:
    """A JSON object as a list of members: (key, value) pairs and shared runs of members."""

    __slots__ = ("members",)

    def __init__(self, members: list[_Member]) -> None:
        self.members = members


class _Shared:
    """Members that do not depend on the case, written as text once per policy, language and layout.

    ``key`` names them in the policy's memo; ``make`` gives them as a dict (in member order).
    """

    __slots__ = ("key", "make")

    def __init__(self, key: tuple[object, ...], make: Callable[[], dict[str, Any]]) -> None:
        self.key = key
        self.make = make


_Member = Union[tuple[str, Any], _Shared]


def _rule_members(policy: CompiledPolicy, rule: RuleMeta, lang: str, handbook: str | None) -> _Shared:
    return _Shared(("rule reference", rule.index, lang, handbook), lambda: _rule_ref(rule, lang, handbook))


def _members(evaluation: Evaluation, lang: str, receipt: bool, what_if: WhatIf | None,
             handbook: str | None) -> list[_Member]:
    """The document's top-level members, in the order the contract writes them."""
    policy = evaluation.policy
    decisions: list[_Member] = []
    used: set[str] = set()  # the registry ids cited by the rules the document names
    for view in decision_views(evaluation, lang):
        first = view.rules[0]
        entry: list[_Member] = [("value", json_value(view.value)), _rule_members(policy, first, lang, handbook),
                                ("because", list(view.because))]
        used.update(s.id for s in first.sources)
        if any(r.inputs for r in view.reasons):
            entry.append(("computation", [_computation(r) for r in view.reasons]))
        if len(view.rules) > 1:
            entry.append(("rules", [_Object([_rule_members(policy, r, lang, handbook)]) for r in view.rules]))
            used.update(s.id for r in view.rules for s in r.sources)
        if isinstance(view.value, SupplyLimit) and (view.value.or_smallest_pack or view.value.or_one_course):
            entry.append(("alternatives", [alt for alt, on in (("the smallest pack", view.value.or_smallest_pack),
                                                               ("one course", view.value.or_one_course)) if on]))
        if view.overridden:
            entry.append(("overridden", [{"rule": o.rule.id, "by": [b.id for b in o.beaten_by]}
                                         for o in view.overridden]))
        decisions.append((view.name, _Object(entry)))
    data: list[_Member] = [("schema_version", SCHEMA_VERSION), ("policy", policy.name),
                           ("dispensed_on", evaluation.case.dispensed_on.isoformat())]
    if evaluation.outcome is not None:
        data.append(("outcome", evaluation.outcome))
    if evaluation.reasons:
        data.append(("reasons", [_Object([_rule_members(policy, r, lang, handbook),
                                          ("because", list(rule_because(evaluation, r, lang)))])
                                 for r in evaluation.reasons]))
        used.update(s.id for r in evaluation.reasons for s in r.sources)
    data.append(("decisions", _Object(decisions)))
    if evaluation.warnings:
        data.append(("warnings", [{"warning": w.id, "message": w.explains.get(lang) or w.explains.get("en"),
                                   "source": w.source, "cites": [s.id for s in w.sources], "layer": w.layer,
                                   "line": f"{w.span.path}:{w.span.line}"} for w in evaluation.warnings]))
        used.update(s.id for w in evaluation.warnings for s in w.sources)
    if used:  # each cited source described once: title, publisher, year, address
        cited = sorted(used)
        data.append(("sources", _Object([_Shared(("sources", *cited), lambda: _sources(policy, cited))])))
    if what_if is not None:
        from rxpolicy.explain.whatif import what_if_json
        data.append(("what_would_change", what_if_json(what_if, lang)))
        if not what_if.complete:
            data.append(("what_would_change_complete", False))  # the search stopped at its limit; more may exist
    if receipt:
        r = evaluation.receipt
        data.append(("receipt", _Object([
            _Shared(("receipt",), lambda: {"engine_version": r.engine_version,
                                           "policy_fingerprint": r.policy_fingerprint,
                                           "grammar_sha256": r.grammar_sha256, "rule_files": dict(r.rule_files)}),
            ("case_sha256", r.case_sha256)])))
    return data


def _sources(policy: CompiledPolicy, cited: list[str]) -> dict[str, Any]:
    described = {s.id: s for rule in policy.rules for s in rule.sources}
    for warning in policy.warnings:
        for source in warning.sources:
            described.setdefault(source.id, source)
    return {i: described[i].as_json() for i in cited}


def evaluation_dict(evaluation: Evaluation, lang: str = "en", receipt: bool = True,
                    what_if: WhatIf | None = None, handbook: str | None = None) -> dict[str, Any]:
    """The evaluation as plain JSON-ready data; ``handbook``: where the policy handbook is published."""
    return _as_dict(_members(evaluation, lang, receipt, what_if, handbook), evaluation.policy)


def _as_dict(members: list[_Member], policy: CompiledPolicy) -> dict[str, Any]:
    """The members as a dict, shared members included."""
    out: dict[str, Any] = {}
    for member in members:
        if isinstance(member, _Shared):
            out.update(member.make())  # made again: a caller may change the dicts and lists it is given
        else:
            out[member[0]] = _as_data(member[1], policy)
    return out


def _as_data(value: Any, policy: CompiledPolicy) -> Any:
    if isinstance(value, _Object):
        return _as_dict(value.members, policy)
    if isinstance(value, list) and value and isinstance(value[0], _Object):
        return [_as_data(v, policy) for v in value]
    return value


def evaluation_json(evaluation: Evaluation, lang: str = "en", receipt: bool = True,
                    what_if: WhatIf | None = None, *, indent: int | None = 2, handbook: str | None = None) -> str:
    """The evaluation as JSON text: indented for people, or with ``indent=None`` on one line.

    One line is faster to write (Python's C encoder does not indent): what JSON Lines and programs reading
    many evaluations want.
    """
    members = _members(evaluation, lang, receipt, what_if, handbook)
    writer = _Writer(evaluation.policy, indent)
    return _utf8_safe_fast(writer.object(members, 0) + "\n")


def _unencodable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


#: Python's C encoder made once, as ``json.dumps(…, ensure_ascii=False, separators=(",", ":"))`` makes it per
#: call (building it costs more than encoding a list of sentences). No circular check: the data is a tree.
_C_COMPACT = (c_make_encoder(None, _unencodable, encode_basestring, None, ":", ",", False, False, True)
              if c_make_encoder is not None else None)
_PY_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ENCODE: Callable[[str], str] = encode_basestring


def _compact(value: object) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``."""
    if _C_COMPACT is not None:
        return "".join(_C_COMPACT(value, 0))
    return _PY_COMPACT.encode(value)


class _Writer:
    """Writes members as ``json.dumps(…, ensure_ascii=False)`` writes the same dict: on one line with
    ``(",", ":")`` separators, or indented."""

    __slots__ = ("memo", "indent", "pads")

    def __init__(self, policy: CompiledPolicy, indent: int | None) -> None:
        self.memo = policy.memo
        self.indent = indent
        self.pads = [" " * ((indent or 0) * depth) for depth in range(64)]

    def pad(self, depth: int) -> str:
        """The indentation of a line at a nesting depth."""
        return self.pads[depth] if depth < 64 else " " * ((self.indent or 0) * depth)

    def object(self, members: list[_Member], depth: int) -> str:
        """An object's text at a nesting depth (its members one deeper)."""
        parts = []
        indent = self.indent
        for member in members:
            if type(member) is _Shared:
                key = ("json text", indent, depth, *member.key)
                text = self.memo.get(key, lambda m=member: self._shared(m, depth))  # type: ignore[misc]
                if text:
                    parts.append(text)
            else:
                name, value = member  # type: ignore[misc]
                parts.append(self._member(name, value, depth))
        if not parts:
            return "{}"
        if indent is None:
            return "{" + ",".join(parts) + "}"
        return "{\n" + ",\n".join(parts) + "\n" + self.pad(depth) + "}"

    def _member(self, key: str, value: Any, depth: int) -> str:
        if self.indent is None:
            return _ENCODE(key) + ":" + self.value(value, depth + 1)
        return self.pad(depth + 1) + _ENCODE(key) + ": " + self.value(value, depth + 1)

    def _shared(self, shared: _Shared, depth: int) -> str:
        members = shared.make()
        return (",\n" if self.indent is not None else ",").join(
            self._member(k, v, depth) for k, v in members.items())

    def value(self, value: Any, depth: int) -> str:
        """A value's text at a nesting depth (an indented value's inner lines indented to it)."""
        kind = type(value)
        if kind is _Object:
            return self.object(value.members, depth)
        if kind is str:
            return _ENCODE(value)
        if kind is list and value and type(value[0]) is _Object:
            if self.indent is None:
                return "[" + ",".join(self.value(v, depth + 1) for v in value) + "]"
            pad = self.pad(depth + 1)
            return "[\n" + ",\n".join(pad + self.value(v, depth + 1) for v in value) + "\n" + self.pad(depth) + "]"
        if self.indent is None:
            return _compact(value)
        return self._pretty(value, depth)

    def _pretty(self, value: Any, depth: int) -> str:
        """What ``json.dumps(value, indent=…, ensure_ascii=False)`` writes, its inner lines indented to ``depth``."""
        kind = type(value)
        if kind is str:
            return _ENCODE(value)
        if value is None:
            return "null"
        if kind is bool:
            return "true" if value else "false"
        if kind is int:
            return int.__repr__(value)
        if kind is list or kind is tuple:
            if not value:
                return "[]"
            pad = self.pad(depth + 1)
            return ("[\n" + ",\n".join(pad + self._pretty(v, depth + 1) for v in value) + "\n"
                    + self.pad(depth) + "]")
        if kind is dict and all(type(k) is str for k in value):
            if not value:
                return "{}"
            pad = self.pad(depth + 1)
            return ("{\n" + ",\n".join(pad + _ENCODE(k) + ": " + self._pretty(v, depth + 1)
                                         for k, v in value.items()) + "\n" + self.pad(depth) + "}")
        # Anything else (a float, keys that are not texts): Python's own encoder, re-indented (JSON strings hold
        # no raw newline, so every newline is layout).
        text = json.dumps(value, indent=self.indent, ensure_ascii=False)
        return text.replace("\n", "\n" + self.pad(depth)) if depth else text


def utf8_safe(text: str) -> str:
    """JSON text that can be written as UTF-8: a lone surrogate (from a case text) becomes a JSON escape."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _utf8_safe_fast(text: str) -> str:
    """:func:`utf8_safe`, checking first whether there is any surrogate at all (encoding is quicker than a search)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return utf8_safe(text)
    return text
