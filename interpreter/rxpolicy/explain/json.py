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

How the text is written (issue 9: JSON of an evaluation should cost a small multiple of the evaluation):
:func:`evaluation_json` encodes with orjson when it is installed (a core dependency; about five times faster
than Python's encoder for an evaluation's 15 KB, indented or not, and byte for byte the same text for this
data, which ``tests/unit/test_json_text.py`` checks against ``json.dumps``), else with ``json.dumps``. What
does not depend on the case, a rule's reference (id, citation, sentence, line, sources) and the cited
sources' descriptions, is made once per policy and language and kept in the policy's memo for the text; the
dicts :func:`evaluation_dict` returns are made afresh, since a caller may change them.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from rxpolicy.engine.evaluate import Evaluation
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.explain.links import handbook_url
from rxpolicy.explain.views import Reason, views_and_refusals
from rxpolicy.explain.words import json_value
from rxpolicy.language.values import SupplyLimit

try:  # the fast encoder; without it (a platform without its wheels) Python's own writes the same text
    import orjson
except ImportError:  # pragma: no cover - installed with rxpolicy
    orjson = None  # type: ignore[assignment]

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


def _document(evaluation: Evaluation, lang: str, receipt: bool, what_if: WhatIf | None, handbook: str | None,
              *, fresh: bool) -> dict[str, Any]:
    """The evaluation as JSON-ready data. ``fresh``: every dict and list made for this call (what a caller
    gets); otherwise the parts that do not depend on the case are the policy's kept ones, only to be encoded."""
    policy = evaluation.policy
    if fresh:
        def rule_ref(rule: RuleMeta) -> dict[str, Any]:
            return _rule_ref(rule, lang, handbook)
    else:
        memo = policy.memo

        def rule_ref(rule: RuleMeta) -> dict[str, Any]:
            found: dict[str, Any] = memo.get(("rule reference", rule.index, lang, handbook),
                                             lambda: _rule_ref(rule, lang, handbook))
            return found
    views, refusals = views_and_refusals(evaluation, lang)
    decisions: dict[str, Any] = {}
    used: set[str] = set()  # the registry ids cited by the rules and warnings the document names
    for view in views:
        first = view.rules[0]
        typ = policy.checked.decisions[view.name].type
        entry: dict[str, Any] = {"value": json_value(view.value, typ), **rule_ref(first),
                                 "because": list(view.because)}
        used.update(s.id for s in first.sources)
        if any(r.inputs for r in view.reasons):
            entry["computation"] = [_computation(r) for r in view.reasons]
        if len(view.rules) > 1:
            entry["rules"] = [rule_ref(r) for r in view.rules]
            used.update(s.id for r in view.rules for s in r.sources)
        if isinstance(view.value, SupplyLimit) and (view.value.or_smallest_pack or view.value.or_one_course):
            entry["alternatives"] = [alt for alt, on in (("the smallest pack", view.value.or_smallest_pack),
                                                         ("one course", view.value.or_one_course)) if on]
        if view.overridden:
            entry["overridden"] = [{"rule": o.rule.id, "by": [b.id for b in o.beaten_by]} for o in view.overridden]
        decisions[view.name] = entry
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "policy": policy.name,
                            "dispensed_on": evaluation.case.dispensed_on.isoformat()}
    if evaluation.outcome is not None:
        data["outcome"] = evaluation.outcome
    if evaluation.reasons:
        data["reasons"] = [{**rule_ref(r), "because": list(because)} for r, because in zip(evaluation.reasons, refusals)]
        used.update(s.id for r in evaluation.reasons for s in r.sources)
    data["decisions"] = decisions
    if evaluation.warnings:
        data["warnings"] = [{"warning": w.id, "message": w.explains.get(lang) or w.explains.get("en"),
                             "source": w.source, "cites": [s.id for s in w.sources], "layer": w.layer,
                             "line": f"{w.span.path}:{w.span.line}"} for w in evaluation.warnings]
        used.update(s.id for w in evaluation.warnings for s in w.sources)
    if used:  # each cited source described once: title, publisher, year, address
        cited = tuple(sorted(used))
        data["sources"] = (_sources(evaluation, cited) if fresh
                           else policy.memo.get(("sources", cited), lambda: _sources(evaluation, cited)))
    if what_if is not None:
        from rxpolicy.explain.whatif import what_if_json
        data["what_would_change"] = what_if_json(what_if, lang)
        if not what_if.complete:
            data["what_would_change_complete"] = False  # the search stopped at its limit; more may exist
    if receipt:
        r = evaluation.receipt
        data["receipt"] = {"engine_version": r.engine_version, "policy_fingerprint": r.policy_fingerprint,
                           "grammar_sha256": r.grammar_sha256, "rule_files": dict(r.rule_files),
                           "case_sha256": r.case_sha256}
    return data


def _sources(evaluation: Evaluation, cited: tuple[str, ...]) -> dict[str, Any]:
    """The registry's description of each cited source, by id (rules first, then warnings, cite them)."""
    described = {s.id: s for rule in evaluation.policy.rules for s in rule.sources}
    for warning in evaluation.policy.warnings:
        for source in warning.sources:
            described.setdefault(source.id, source)
    return {i: described[i].as_json() for i in cited}


def evaluation_dict(evaluation: Evaluation, lang: str = "en", receipt: bool = True,
                    what_if: WhatIf | None = None, handbook: str | None = None) -> dict[str, Any]:
    """The evaluation as plain JSON-ready data; ``handbook``: where the policy handbook is published."""
    return _document(evaluation, lang, receipt, what_if, handbook, fresh=True)


def evaluation_json(evaluation: Evaluation, lang: str = "en", receipt: bool = True,
                    what_if: WhatIf | None = None, *, indent: int | None = 2, handbook: str | None = None) -> str:
    """The evaluation as JSON text: indented for people, or with ``indent=None`` on one line.

    The text is ``json.dumps(evaluation_dict(…), ensure_ascii=False)`` with ``indent``, or with the separators
    ``(",", ":")`` on one line, and a newline.
    """
    data = _document(evaluation, lang, receipt, what_if, handbook, fresh=False)
    return _encode(data, indent)


def _encode(data: object, indent: int | None) -> str:
    if orjson is not None and indent in (None, 2):
        try:
            return orjson.dumps(data, option=orjson.OPT_INDENT_2 if indent == 2 else 0).decode() + "\n"
        except orjson.JSONEncodeError:
            pass  # a lone surrogate from a case text (orjson writes only valid UTF-8), a huge integer
    if indent is None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
    else:
        text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
    return utf8_safe(text)


def utf8_safe(text: str) -> str:
    """JSON text that can be written as UTF-8: a lone surrogate (from a case text) becomes a JSON escape."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
