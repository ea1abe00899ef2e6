"""The explanation as plain text: the outcome, then each decision with its rule, source and reasons."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rxpolicy.engine.evaluate import Evaluation
from rxpolicy.explain.escape import escape_controls
from rxpolicy.explain.views import decision_views
from rxpolicy.explain.words import declared_type, interpretations, layer_text, rejection_text, term, value_text

if TYPE_CHECKING:  # the what-if words are imported when there is a what-if to show
    from rxpolicy.explain.whatif import WhatIf

__all__ = ["evaluation_text"]


def evaluation_text(evaluation: Evaluation, lang: str = "en", what_if: WhatIf | None = None) -> str:
    """A readable explanation of every decision."""
    case = evaluation.case
    lines = [f"{evaluation.policy.title} ({evaluation.policy.name})",
             f"{case.get('medicine.name')} — {term('dispensed on', lang)} {case.dispensed_on.isoformat()}"]
    if evaluation.outcome is not None:
        lines.append(f"{term('outcome', lang).capitalize()}: {term(evaluation.outcome, lang).upper()}")
        for rule in evaluation.reasons:
            code = f" [{rejection_text(rule, lang)}]" if rule.rejection_code else ""
            lines.append(f"  - {rule.explains.get(lang) or rule.explains.get('en')} ({rule.id}){code}")
    if evaluation.warnings:
        lines.append(f"{term('warnings', lang).capitalize()}:")
        for warning in evaluation.warnings:
            lines.append(f"  ! {warning.explains.get(lang) or warning.explains.get('en')} ({warning.id})")
            lines.append(f"    {term('source', lang)}: {warning.source}")
    # The values of `rule:`, `source:` and `meaning:` line up, in whichever language their labels are.
    width = max(len(term(label, lang)) for label in ("rule", "source", "meaning")) + 2
    rule_label, source_label, meaning_label = (f"{term(label, lang) + ':':<{width}}" for label in
                                               ("rule", "source", "meaning"))
    for view in decision_views(evaluation, lang):
        lines.append("")
        lines.append(f"{view.name} = {value_text(view.value, lang, declared_type(evaluation.policy, view.name))}")
        for rule in view.rules:
            parents = f", {term('exception to', lang)} {', '.join(rule.parents)}" if rule.parents else ""
            layer = f"{term('layer', lang)} {layer_text(rule, lang)}"
            lines.append(f"  {rule_label}{rule.id} ({layer}{parents})")
            lines.append(f"  {source_label}{rule.source}")
            lines.append(f"  {meaning_label}{rule.explains.get(lang) or rule.explains.get('en')}")
            for label, text in interpretations(rule, evaluation.policy.name, lang):
                lines.append(f"  {label}: {text}")
        if view.reasons:
            lines.append(f"  {term('because', lang)}:")
            for reason in view.reasons:
                lines.append(f"    - {reason.sentence}")
                # One level of inputs keeps a computed amount checkable without burying the reasons.
                lines.extend(f"        · {inner.sentence}" for inner in reason.inputs)
        for beaten in view.overridden:
            by = ", ".join(b.id for b in beaten.beaten_by)
            lines.append(f"  {beaten.rule.id}: {term('overridden', lang)} {by}")
    if what_if is not None:
        from rxpolicy.explain.whatif import what_if_text
        lines += what_if_text(what_if, lang)
    # Case texts are printed as they were written, so a line break or an escape in one could forge a line.
    return "\n".join(escape_controls(line) for line in lines) + "\n"
