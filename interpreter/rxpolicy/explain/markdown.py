"""The explanation as Markdown: a summary table of decisions, then one section per decision."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rxpolicy.engine.evaluate import Evaluation
from rxpolicy.explain.escape import escape_markdown, escape_markdown_line
from rxpolicy.explain.links import handbook_url
from rxpolicy.explain.views import Reason, decision_views
from rxpolicy.explain.words import declared_type, interpretations, layer_text, rejection_text, term, value_text

if TYPE_CHECKING:  # the what-if words are imported when there is a what-if to show
    from rxpolicy.explain.whatif import WhatIf

__all__ = ["evaluation_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _reason_lines(reasons: tuple[Reason, ...], depth: int) -> list[str]:
    lines = []
    for reason in reasons:
        lines.append("  " * depth + f"- {reason.sentence}")
        lines.extend(_reason_lines(reason.inputs, depth + 1))
    return lines


def evaluation_markdown(evaluation: Evaluation, lang: str = "en", what_if: WhatIf | None = None,
                        handbook: str | None = None) -> str:
    """Markdown for a reviewer or an auditor; ``handbook``: where the policy handbook is published (rules link there)."""
    case = evaluation.case
    out = [f"# {escape_markdown(str(case.get('medicine.name')))} — {evaluation.policy.title}", "",
           f"{term('dispensed on', lang).capitalize()} {case.dispensed_on.isoformat()}, policy `{evaluation.policy.name}`."]
    if evaluation.outcome is not None:
        out += ["", f"**{term('outcome', lang).capitalize()}: {term(evaluation.outcome, lang)}**"]
        out += [f"- {r.explains.get(lang) or r.explains.get('en')} (`{r.id}`"
                + (f", {rejection_text(r, lang)})" if r.rejection_code else ")")
                for r in evaluation.reasons]
    if evaluation.warnings:
        out += ["", f"**{term('warnings', lang).capitalize()}:**"]
        out += [f"- {w.explains.get(lang) or w.explains.get('en')} (`{w.id}`; {term('source', lang)}: {w.source})"
                for w in evaluation.warnings]
    views = decision_views(evaluation, lang)
    out += ["", f"| {term('decision', lang)} | {term('value', lang)} | {term('rule', lang)} | {term('layer', lang)} |",
            "|---|---|---|---|"]
    out += [f"| `{v.name}` | {_cell(value_text(v.value, lang, declared_type(evaluation.policy, v.name)))} | `{v.rules[0].id}` | {layer_text(v.rules[0], lang)} |"
            for v in views]
    for view in views:
        out += ["", f"## `{view.name}` = {value_text(view.value, lang, declared_type(evaluation.policy, view.name))}",
                ""]
        for rule in view.rules:
            out.append(f"> {rule.explains.get(lang) or rule.explains.get('en')}")
            shown = f"[`{rule.id}`]({handbook_url(handbook, rule.id)})" if handbook else f"`{rule.id}`"
            out += ["", f"- {term('rule', lang)}: {shown} ({rule.location})",
                    f"- {term('source', lang)}: {rule.source}"]
            for label, text in interpretations(rule, evaluation.policy.name, lang):
                out.append(f"- {label}: {text}")
        if view.reasons:
            out += ["", f"{term('because', lang).capitalize()}:", ""]
            out += _reason_lines(view.reasons, 0)
        for beaten in view.overridden:
            out.append(f"- `{beaten.rule.id}`: {term('overridden', lang)} "
                       + ", ".join(f"`{b.id}`" for b in beaten.beaten_by))
    if what_if is not None:
        from rxpolicy.explain.whatif import what_if_markdown
        out += what_if_markdown(what_if, lang)
    # Case texts are shown as they were written: a line break or an escape in one could forge a line, and
    # HTML in one (`<br>`, `<script>`) would be acted on where the Markdown is shown.
    return "\n".join(escape_markdown_line(line) for line in out) + "\n"
