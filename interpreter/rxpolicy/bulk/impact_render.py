"""Rendering an :class:`~rxpolicy.bulk.impact.ImpactReport`: JSON, Markdown, and a self-contained HTML page.

The JSON is the data (money as two-decimal strings, as ``rxpolicy batch`` writes it); Markdown and HTML are
drawn from the same dictionary. The HTML page loads nothing: its style is inline and its charts are SVG written
here (horizontal bars), so it opens from a file, offline, in any browser.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.explain.words import json_value

from .impact import ImpactReport, changes_in_order

__all__ = ["FORMATS", "impact_dict", "impact_html", "impact_json", "impact_markdown", "report_format"]

#: Report formats by the suffix of ``--out``.
FORMATS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


def report_format(path: Path) -> str:
    """The report format named by the suffix of ``path`` (RX811 when it names none)."""
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise RxError(Diagnostic(code="RX811", message=f"cannot tell the report format from the name {path}",
                                 help="name the report .html, .md or .json, e.g. `--out impact.html`"))
    return found


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _value(value: object) -> object:
    return None if value is None else json_value(value)


def impact_dict(report: ImpactReport) -> dict[str, Any]:
    """The report as JSON-ready data."""
    def group(g: Any) -> dict[str, Any]:
        return {"key": g.key, "claims": g.claims, "changed": g.changed,
                "delta": {n: _money(g.delta.get(n, Decimal(0))) for n in report.money}}

    return {
        "old": {"spec": report.old.spec, "policy": report.old.policy.name, "date": str(report.old.day)},
        "new": {"spec": report.new.spec, "policy": report.new.policy.name, "date": str(report.new.day)},
        "claims": report.claims,
        "dates": report.dates,
        "decisions": list(report.decisions),
        "money_decisions": list(report.money),
        "not_compared": list(report.not_compared),
        "counts": {"read": report.read, "compared": report.compared, "changed": report.changed,
                   "unchanged": report.compared - report.changed,
                   "error_old_only": report.old_errors_only, "error_new_only": report.new_errors_only,
                   "error_both": report.errors_on_both,
                   "errors_old_only_by_code": dict(sorted(report.old_errors.items())),
                   "errors_new_only_by_code": dict(sorted(report.new_errors.items())),
                   "errors_both_by_code": dict(sorted(report.both_errors.items())),
                   "error_witnesses": dict(sorted(report.error_witnesses.items()))},
        "money": {n: {"old": _money(d.old_total), "new": _money(d.new_total), "delta": _money(d.delta),
                      "changed": d.changed}
                  for n, d in ((n, report.per_decision[n]) for n in report.money)},
        "per_decision": {n: {"changed": d.changed} for n, d in report.per_decision.items()},
        "changes": [{"decision": c.decision, "kind": c.kind, "count": c.count,
                     "delta": _money(c.delta) if report.per_decision[c.decision].money else None,
                     "witnesses": [{"record": w.record, "old": _value(w.old), "new": _value(w.new),
                                    "old_rule": w.old_rule, "new_rule": w.new_rule} for w in c.witnesses]}
                    for c in changes_in_order(report)],
        "atc_digits": report.atc_digits,
        "per_atc": [group(g) for g in sorted(report.per_atc.values(), key=lambda g: g.key)],
        "per_rule": [group(g) for g in sorted(report.per_rule.values(), key=lambda g: (-g.changed, g.key))],
    }


def impact_json(report: ImpactReport) -> str:
    """The report as JSON text."""
    return json.dumps(impact_dict(report), indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------ Markdown

def _dates_sentence(data: dict[str, Any]) -> str:
    old, new = data["old"], data["new"]
    return {
        "year": f"each claim moved by whole years into the year of the side's date ({old['date'][:4]} on the old "
                f"side, {new['date'][:4]} on the new), keeping its day of the year",
        "own": "each claim on its own dispensing date on both sides",
        "side": f"each claim moved to the side's date ({old['date']} on the old side, {new['date']} on the new)",
    }[data["dates"]]


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|")

    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows), ""]


def impact_markdown(report: ImpactReport) -> str:
    """The report as Markdown."""
    data = impact_dict(report)
    counts = data["counts"]
    lines = [f"# Impact of `{data['old']['spec']}` → `{data['new']['spec']}` on {data['claims']}", "",
             f"Claims evaluated with {_dates_sentence(data)}.", "",
             f"**{counts['read']} records read**: {counts['compared']} evaluated on both sides "
             f"({counts['changed']} with a changed decision, {counts['unchanged']} unchanged), "
             f"{counts['error_old_only']} refused by the old side only, {counts['error_new_only']} by the new side "
             f"only, {counts['error_both']} by both.", ""]
    if data["not_compared"]:
        lines += [f"Decisions only one side declares (not compared): {', '.join(data['not_compared'])}.", ""]
    lines += ["## Money", "", "Totals over the claims evaluated on both sides.", ""]
    lines += _table(["decision", "old", "new", "change", "claims changed"],
                    [[n, m["old"], m["new"], m["delta"], m["changed"]] for n, m in data["money"].items()])
    lines += ["## Decisions that change", ""]
    lines += _table(["decision", "change", "claims", "money moved", "witnesses (record: old → new)"],
                    [[c["decision"], c["kind"], c["count"], c["delta"] or "",
                      "; ".join(f"{w['record']}: {_w(w['old'])} → {_w(w['new'])}" for w in c["witnesses"])]
                     for c in data["changes"]])
    errors = [("old side only", data["counts"]["errors_old_only_by_code"]),
              ("new side only", data["counts"]["errors_new_only_by_code"]),
              ("both sides", data["counts"]["errors_both_by_code"])]
    lines += ["## Records refused", ""]
    lines += _table(["refused by", "code", "records"],
                    [[where, code, count] for where, codes in errors for code, count in codes.items()])
    if data["counts"]["error_witnesses"]:
        lines += ["Witness records: " + "; ".join(f"{k}: {', '.join(map(str, v))}"
                                                for k, v in data["counts"]["error_witnesses"].items()), ""]
    money = data["money_decisions"]
    lines += [f"## Per ATC group (first {data['atc_digits']} characters)", ""]
    lines += _table(["ATC", "claims", "changed", *money],
                    [[g["key"], g["claims"], g["changed"], *(g["delta"][n] for n in money)] for g in data["per_atc"]])
    lines += ["## Per deciding rule (old → new)", ""]
    lines += _table(["decision: old rule → new rule", "claims", *money],
                    [[g["key"], g["changed"], *(g["delta"][n] for n in money)] for g in data["per_rule"]])
    return "\n".join(lines)


def _w(value: object) -> str:
    if value is None:
        return "not applicable"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ------------------------------------------------------------------------------------------ HTML

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2430}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dae1}
table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{padding:.25rem .6rem;border-bottom:1px solid #e5e8ec;
text-align:left;vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #d5dae1;border-radius:6px;padding:.6rem 1rem}
.card b{display:block;font-size:1.3rem}svg text{font:12px system-ui,sans-serif}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _bars(title: str, items: Sequence[tuple[str, Decimal | int]], unit: str = "") -> str:
    """A horizontal bar chart as inline SVG; negative values go left of the axis (red), positive right (blue)."""
    if not items:
        return ""
    label_w, bar_w, row_h = 230, 420, 22
    largest = max(abs(Decimal(v)) for _, v in items) or Decimal(1)
    negative = any(Decimal(v) < 0 for _, v in items)
    zero = label_w + (bar_w // 2 if negative else 0)
    span = bar_w // 2 if negative else bar_w
    height = row_h * len(items) + 30
    parts = [f'<figure><svg role="img" width="{label_w + bar_w + 120}" '
             f'height="{height}" aria-label="{_e(title)}"><title>{_e(title)}</title>']
    for index, (label, value) in enumerate(items):
        y = 20 + index * row_h
        length = int(abs(Decimal(value)) / largest * span)
        x = zero - length if Decimal(value) < 0 else zero
        colour = "#c0392b" if Decimal(value) < 0 else "#2e6fba"
        parts.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{_e(label[:34])}</text>'
                     f'<rect x="{x}" y="{y + 3}" width="{max(length, 1)}" height="{row_h - 6}" fill="{colour}">'
                     f'<title>{_e(label)}: {_e(value)}{unit}</title></rect>'
                     f'<text x="{max(x + length, zero) + 6}" y="{y + 14}">{_e(value)}{unit}</text>')
    parts.append(f'<line x1="{zero}" x2="{zero}" y1="16" y2="{height - 8}" stroke="#6b7480"/>')
    parts.append(f"</svg><figcaption>{_e(title)}</figcaption></figure>")
    return "".join(parts)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[object]], numeric_from: int = 1,
                numeric_to: int | None = None) -> str:
    """A table; columns ``numeric_from`` up to (not including) ``numeric_to`` are numbers, aligned right."""
    def align(i: int) -> str:
        return "n" if i >= numeric_from and (numeric_to is None or i < numeric_to) else ""

    head = "".join(f'<th class="{align(i)}">{_e(h)}</th>' for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td class="{align(i)}">{_e(v)}</td>'
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def impact_html(report: ImpactReport) -> str:
    """The report as one self-contained HTML page (inline style, inline SVG charts, no scripts)."""
    data = impact_dict(report)
    counts = data["counts"]
    money = data["money_decisions"]
    title = f"Impact of {data['old']['spec']} → {data['new']['spec']}"
    cards = [("records read", counts["read"]), ("compared", counts["compared"]), ("changed", counts["changed"]),
             ("refused by old only", counts["error_old_only"]), ("refused by new only", counts["error_new_only"]),
             ("refused by both", counts["error_both"])]
    out = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
           f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
           f"<p>Claims: <code>{_e(data['claims'])}</code>, evaluated with {_e(_dates_sentence(data))}.</p>",
           '<div class="cards">' + "".join(f'<div class="card"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in cards)
           + "</div>"]
    if data["not_compared"]:
        out.append(f"<p>Decisions only one side declares (not compared): {_e(', '.join(data['not_compared']))}.</p>")
    out.append("<h2>Money</h2><p>Totals over the claims evaluated on both sides.</p>")
    out.append(_html_table(["decision", "old", "new", "change", "claims changed"],
                           [[n, m["old"], m["new"], m["delta"], m["changed"]] for n, m in data["money"].items()]))
    out.append(_bars("Money moved per decision (new − old, EUR)",
                     [(n, Decimal(m["delta"])) for n, m in data["money"].items()]))
    out.append("<h2>Decisions that change</h2>")
    out.append(_bars("Claims whose decision changes", [(n, d["changed"]) for n, d in data["per_decision"].items()
                                                        if d["changed"]]))
    out.append(_html_table(["decision", "change", "claims", "money moved", "witnesses (record: old → new, rules)"],
                           [[c["decision"], c["kind"], c["count"], c["delta"] or "",
                             "; ".join(f"{w['record']}: {_w(w['old'])} → {_w(w['new'])} ({w['old_rule']} → "
                                       f"{w['new_rule']})" for w in c["witnesses"])] for c in data["changes"]],
                           numeric_from=2, numeric_to=4))
    errors = [("old side only", counts["errors_old_only_by_code"]), ("new side only", counts["errors_new_only_by_code"]),
              ("both sides", counts["errors_both_by_code"])]
    out.append("<h2>Records refused</h2>")
    out.append(_html_table(["refused by", "code", "records"],
                           [[w, code, n] for w, codes in errors for code, n in codes.items()], numeric_from=2))
    if counts["error_witnesses"]:
        out.append("<p>Witness records: " + _e("; ".join(f"{k}: {', '.join(map(str, v))}"
                                                         for k, v in counts["error_witnesses"].items())) + "</p>")
    headline = money[0] if money else None
    out.append(f"<h2>Per ATC group (first {data['atc_digits']} characters)</h2>")
    if headline:
        moved = [(g["key"], Decimal(g["delta"][headline])) for g in data["per_atc"] if Decimal(g["delta"][headline])]
        out.append(_bars(f"{headline} moved per ATC group (new − old, EUR)",
                         sorted(moved, key=lambda item: item[1])[:40]))
    out.append(_html_table(["ATC", "claims", "changed", *money],
                           [[g["key"], g["claims"], g["changed"], *(g["delta"][n] for n in money)]
                            for g in data["per_atc"]]))
    out.append("<h2>Per deciding rule (old → new)</h2>")
    out.append(_bars("Claims changed per pair of deciding rules",
                     [(g["key"], g["changed"]) for g in data["per_rule"][:20]]))
    out.append(_html_table(["decision: old rule → new rule", "claims", *money],
                           [[g["key"], g["changed"], *(g["delta"][n] for n in money)] for g in data["per_rule"]]))
    out.append("</body></html>\n")
    return "\n".join(out)
