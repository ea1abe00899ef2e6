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
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

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


def evaluation_dict(evaluation: Evaluation, lang: str = "en", receipt: bool = True,
                    what_if: WhatIf | None = None, handbook: str | None = None) -> dict[str, Any]:
    """The evaluation as plain JSON-ready data; ``handbook``: where the policy handbook is published."""
    decisions: dict[str, Any] = {}
    for view in decision_views(evaluation, lang):
        first = view.rules[0]
        typ = evaluation.policy.checked.decisions[view.name].type
        entry: dict[str, Any] = {"value": json_value(view.value, typ), **_rule_ref(first, lang, handbook),
                                 "because": list(view.because)}
        if any(r.inputs for r in view.reasons):
            entry["computation"] = [_computation(r) for r in view.reasons]
        if len(view.rules) > 1:
            entry["rules"] = [_rule_ref(r, lang, handbook) for r in view.rules]
        if isinstance(view.value, SupplyLimit) and (view.value.or_smallest_pack or view.value.or_one_course):
            entry["alternatives"] = [alt for alt, on in (("the smallest pack", view.value.or_smallest_pack),
                                                         ("one course", view.value.or_one_course)) if on]
        if view.overridden:
            entry["overridden"] = [{"rule": o.rule.id, "by": [b.id for b in o.beaten_by]} for o in view.overridden]
        decisions[view.name] = entry
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "policy": evaluation.policy.name,
                            "dispensed_on": evaluation.case.dispensed_on.isoformat()}
    if evaluation.outcome is not None:
        data["outcome"] = evaluation.outcome
    if evaluation.reasons:
        data["reasons"] = [{**_rule_ref(r, lang, handbook), "because": list(rule_because(evaluation, r, lang))}
                           for r in evaluation.reasons]
    data["decisions"] = decisions
    if evaluation.warnings:
        data["warnings"] = [{"warning": w.id, "message": w.explains.get(lang) or w.explains.get("en"),
                             "source": w.source, "cites": [s.id for s in w.sources], "layer": w.layer,
                             "line": f"{w.span.path}:{w.span.line}"} for w in evaluation.warnings]
    cited = {s.id: s for rule in evaluation.policy.rules for s in rule.sources}
    refs = [*decisions.values(), *(r for e in decisions.values() for r in e.get("rules", ())), *data.get("reasons", []),
            *data.get("warnings", [])]
    used = {i for ref in refs for i in ref.get("cites", ())}
    if used:  # each cited source described once: title, publisher, year, address
        data["sources"] = {i: cited[i].as_json() for i in sorted(used)}
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


def evaluation_json(evaluation: Evaluation, lang: str = "en", receipt: bool = True,
                    what_if: WhatIf | None = None, *, indent: int | None = 2, handbook: str | None = None) -> str:
    """The evaluation as JSON text: indented for people, or with ``indent=None`` on one line.

    One line is about three times faster to write (Python's C encoder does not indent): what JSON Lines and
    programs reading many evaluations want.
    """
    data = evaluation_dict(evaluation, lang, receipt, what_if, handbook)
    if indent is None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
    else:
        text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
    return utf8_safe(text)


def utf8_safe(text: str) -> str:
    """JSON text that can be written as UTF-8: a lone surrogate (from a case text) becomes a JSON escape."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
