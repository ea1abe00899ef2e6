"""The handbook as Markdown pages for a documentation site (MkDocs, Sphinx with MyST): the same content as
the HTML pages, with ```` ```rxpolicy ```` blocks that the rxpolicy Pygments lexer colours there."""

from __future__ import annotations

from collections.abc import Mapping

from rxpolicy.engine.trace import RuleStatus
from rxpolicy.explain.links import rule_anchor, rule_page
from rxpolicy.tools.citations import published
from rxpolicy.tools.handbook.model import Handbook, Page, RuleEntry

__all__ = ["handbook_markdown"]

_STATUS_WORDS = ((RuleStatus.DECIDED, "decided"), (RuleStatus.OVERRIDDEN, "overridden by an exception"),
                 (RuleStatus.NOT_APPLICABLE, "did not apply"), (RuleStatus.NOT_REACHED, "not reached"),
                 (RuleStatus.NOT_IN_FORCE, "not in force"))


def handbook_markdown(handbook: Handbook) -> dict[str, str]:
    """The pages of the handbook: file name → Markdown text (``index.md`` and one page per family)."""
    pages = {"index.md": _index(handbook)}
    for page in handbook.pages:
        pages[f"{page.page}.md"] = _page(handbook, page)
    return pages


def _link(rule_id: str) -> str:
    return f"[`{rule_id}`]({rule_page(rule_id)}.md#{rule_anchor(rule_id)})"


def _index(handbook: Handbook) -> str:
    rules = sum(len(p.rules) for p in handbook.pages)
    out = [f"# {handbook.title}", "",
           f"Policy `{handbook.policy}`" + (f", in force {handbook.validity}" if handbook.validity else "") + ". "
           f"{rules} rules in {len(handbook.pages)} families; {handbook.decided} of them decide in at least one of "
           f"the policy's {handbook.tests} rule tests.", "", "## Layers", ""]
    out += [f"- `{name}` ({kind}): {title}" for name, kind, title in handbook.layers]
    out += ["", "## Rule families", "", "| family | rules | decided in a test |", "|---|---|---|"]
    out += [f"| [{p.family}]({p.page}.md) | {len(p.rules)} | "
            f"{sum(1 for r in p.rules if r.coverage.get(RuleStatus.DECIDED))} |" for p in handbook.pages]
    return "\n".join(out) + "\n"


def _page(handbook: Handbook, page: Page) -> str:
    out = [f"# {page.family}", "", f"[Contents](index.md) · policy `{handbook.policy}`", ""]
    for table_id, head in page.tables:
        out += [f'<a id="{rule_anchor(table_id)}"></a>', "", f"## table `{table_id}`", "",
                "Its rows are tried in order; the first that applies decides.", "", "```rxpolicy", head, "```", ""]
    for entry in page.rules:
        out += _rule(entry)
    out += ["## What changed per year", ""]
    if not page.changes:
        out += ["The policy covers one year.", ""]
    for change in page.changes:
        out += [f"### {change.old_year} → {change.new_year}", ""]
        out += [f"- {line}" for line in change.lines] or [
            f"These rules decide every case alike in {change.old_year} and {change.new_year}."]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _rule(entry: RuleEntry) -> list[str]:
    out = [f'<a id="{entry.anchor}"></a>', "", f"## `{entry.id}`", "",
           f"Layer {entry.layer} ({entry.layer_kind}), `{entry.where}`"
           + (f", in force {entry.validity}" if entry.validity else "") + ".", "",
           "```rxpolicy", entry.text, "```", ""]
    if entry.table:
        out.append(f"- row of the table {_link(entry.table)}")
    if entry.exception_to:
        out.append("- exception to " + ", ".join(_link(r) for r in entry.exception_to))
    if entry.exceptions:
        out.append("- exceptions: " + ", ".join(_link(r) for r in entry.exceptions))
    out += ["", "**Source**", ""]
    for text, cited in entry.citations:
        for c in cited:
            title = f"[{c.source.title}]({c.source.address})" if c.source.address else c.source.title
            out.append(f"- {title}" + (f", {c.source.section}" if c.source.section else "")
                       + (f" — {published(c.source)}" if c.source.publisher else "")
                       + ("" if c.source.known or c.source.plain else " (not a known source)"))
            if c.passage:
                out += ["", *(f"  > {line}" if line else "  >" for line in c.passage.split("\n")), ""]
    out += ["", "**For the patient**", ""]
    out += [f"- {entry.explains[lang]} ({lang})" for lang in ("en", "nl") if lang in entry.explains]
    if entry.interpretation:
        out += ["", f"**Interpretation:** {entry.interpretation}"]
    out += ["", f"**Tests:** {_coverage_words(entry.coverage)}", ""]
    out += [f"- {t.name} ({t.where}{'' if t.passed else ', fails'})" for t in entry.tests]
    return out + [""]


def _coverage_words(counts: Mapping[RuleStatus, int]) -> str:
    said = [f"{what} in {counts[status]} test{'s' if counts[status] != 1 else ''}" for status, what in _STATUS_WORDS
            if counts.get(status)]
    if not counts.get(RuleStatus.DECIDED):
        return "no test makes this rule decide" + (f" ({', '.join(said)})." if said else ".")
    return "it " + ", ".join(said) + "."
