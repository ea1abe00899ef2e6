"""The handbook as self-contained HTML pages: styles inline, no script, nothing fetched when a page opens.

Rule text is coloured by the rxpolicy Pygments lexer when Pygments is installed, and shown plain otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape

from rxpolicy.engine.trace import RuleStatus
from rxpolicy.explain.links import rule_anchor, rule_page
from rxpolicy.tools.citations import published
from rxpolicy.tools.handbook.model import Citation, Handbook, Page, RuleEntry

__all__ = ["handbook_html"]

_CSS = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header, main, footer { max-width: 78rem; margin: 0 auto; padding: 0 1.5rem; }
header { border-bottom: 1px solid #ddd; padding-bottom: .5rem; }
nav a { margin-right: .8rem; white-space: nowrap; }
h1 { margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin: 0 0 .4rem; } h3 { font-size: .95rem; margin: .8rem 0 .2rem; }
section.rule, section.table { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: 1.2rem 0; padding: 1rem; }
section.rule:target, section.table:target { border-color: #2b6cb0; box-shadow: 0 0 0 2px #bee3f8; }
.pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1.2rem; }
@media (max-width: 60rem) { .pair { grid-template-columns: 1fr; } }
pre { background: #f6f8fa; padding: .7rem; overflow-x: auto; font-size: 13px; border-radius: 4px; margin: 0; }
.meta { color: #555; font-size: 13px; } .layer { color: #555; font-weight: normal; font-size: .85rem; }
blockquote { margin: .3rem 0 .6rem; padding: .3rem .8rem; border-left: 3px solid #2b6cb0; background: #f0f5fb;
             white-space: pre-wrap; font-size: 14px; }
.unknown { color: #b00020; } .failed { color: #b00020; } .uncovered { color: #975a16; }
table.summary { border-collapse: collapse; } table.summary td, table.summary th { padding: .2rem .8rem .2rem 0;
                                                                                   text-align: left; }
"""

_STATUS_WORDS = ((RuleStatus.DECIDED, "decided"), (RuleStatus.OVERRIDDEN, "overridden by an exception"),
                 (RuleStatus.NOT_APPLICABLE, "did not apply"), (RuleStatus.NOT_REACHED, "not reached"),
                 (RuleStatus.NOT_IN_FORCE, "not in force"))


def _highlighter() -> tuple[Callable[[str], str], str]:
    """A function colouring rule text as HTML, and the styles it needs."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter

        from rxpolicy.tools.pygments_lexer import RxPolicyLexer
    except ImportError:
        return (lambda text: f"<pre>{escape(text)}</pre>"), ""
    formatter = HtmlFormatter(cssclass="rx")
    lexer = RxPolicyLexer()
    styles = formatter.get_style_defs(".rx")  # type: ignore[no-untyped-call]
    return (lambda text: str(highlight(text, lexer, formatter))), str(styles)


def handbook_html(handbook: Handbook) -> dict[str, str]:
    """The pages of the handbook: file name → HTML text (``index.html`` and one page per family)."""
    colour, styles = _highlighter()
    pages = {"index.html": _index(handbook, styles)}
    for page in handbook.pages:
        pages[f"{page.page}.html"] = _page(handbook, page, colour, styles)
    return pages


def _document(handbook: Handbook, title: str, body: str, styles: str) -> str:
    nav = " ".join(f'<a href="{p.page}.html">{escape(p.family)}</a>' for p in handbook.pages)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)} — {escape(handbook.title)}</title>\n<style>{_CSS}{styles}</style>\n</head>\n"
            f'<body>\n<header>\n<p><a href="index.html">{escape(handbook.title)}</a> · policy '
            f"<code>{escape(handbook.policy)}</code></p>\n<nav>{nav}</nav>\n</header>\n<main>\n{body}\n</main>\n"
            f"<footer><p class=\"meta\">Made by <code>rxpolicy doc</code> from the rule files.</p></footer>\n"
            f"</body>\n</html>\n")


def _index(handbook: Handbook, styles: str) -> str:
    rules = sum(len(p.rules) for p in handbook.pages)
    layers = "".join(f"<li><code>{escape(name)}</code> ({escape(kind)}): {escape(title)}</li>"
                     for name, kind, title in handbook.layers)
    rows = "".join(f'<tr><td><a href="{p.page}.html">{escape(p.family)}</a></td><td>{len(p.rules)}</td>'
                   f"<td>{sum(1 for r in p.rules if r.coverage.get(RuleStatus.DECIDED))}</td></tr>"
                   for p in handbook.pages)
    quoted = ("Cited passages are quoted from the source texts." if handbook.sources_quoted else
              "Cited passages are not quoted: build with <code>--sources DIR</code> to quote them from the source "
              "texts.")
    body = (f"<h1>{escape(handbook.title)}</h1>\n"
            f"<p>Policy <code>{escape(handbook.policy)}</code>"
            + (f", in force {escape(handbook.validity)}" if handbook.validity else "") + ". "
            f"{rules} rules in {len(handbook.pages)} families; {handbook.decided} of them decide in at least one of "
            f"the policy's {handbook.tests} rule tests. {quoted}</p>\n"
            f"<h2>Layers</h2>\n<ul>{layers}</ul>\n<h2>Rule families</h2>\n"
            f'<table class="summary"><tr><th>family</th><th>rules</th><th>decided in a test</th></tr>{rows}</table>\n')
    return _document(handbook, "Contents", body, styles)


def _rule_link(rule_id: str) -> str:
    return f'<a href="{rule_page(rule_id)}.html#{rule_anchor(rule_id)}"><code>{escape(rule_id)}</code></a>'


def _page(handbook: Handbook, page: Page, colour: Callable[[str], str], styles: str) -> str:
    parts = [f"<h1>{escape(page.family)}</h1>",
             f"<p>{len(page.rules)} rule{'s' if len(page.rules) != 1 else ''} of the policy "
             f"<code>{escape(handbook.policy)}</code>.</p>"]
    for table_id, head in page.tables:
        parts.append(f'<section class="table" id="{rule_anchor(table_id)}">\n<h2>table '
                     f'<a href="#{rule_anchor(table_id)}"><code>{escape(table_id)}</code></a></h2>\n'
                     f"<p>Its rows are tried in order; the first that applies decides.</p>\n{colour(head)}</section>")
    parts += [_rule(entry, colour) for entry in page.rules]
    parts.append("<h2>What changed per year</h2>")
    if not page.changes:
        parts.append("<p>The policy covers one year.</p>" if not handbook.years else "<p>No earlier year.</p>")
    for change in page.changes:
        parts.append(f"<h3>{change.old_year} → {change.new_year}</h3>")
        if change.lines:
            parts.append("<ul>" + "".join(f"<li>{_inline(line)}</li>" for line in change.lines) + "</ul>")
        else:
            parts.append(f"<p>These rules decide every case alike in {change.old_year} and {change.new_year}.</p>")
    return _document(handbook, page.family, "\n".join(parts), styles)


def _inline(text: str) -> str:
    """Text with `rule ids` as links when they look like rule ids, other `code` as code."""
    pieces = escape(text).split("`")
    out = []
    for i, piece in enumerate(pieces):
        if i % 2 == 0:
            out.append(piece)
        elif "/" in piece or "-" in piece:
            out.append(_rule_link(piece))
        else:
            out.append(f"<code>{piece}</code>")
    return "".join(out)


def _rule(entry: RuleEntry, colour: Callable[[str], str]) -> str:
    meta = [f"<code>{escape(entry.where)}</code>"]
    if entry.validity:
        meta.append(f"in force {escape(entry.validity)}")
    if entry.decides:
        meta.append("decides " + ", ".join(f"<code>{escape(d)}</code>" for d in entry.decides))
    if entry.table:
        meta.append(f"row of the table {_rule_link(entry.table)}")
    if entry.exception_to:
        meta.append("exception to " + ", ".join(_rule_link(r) for r in entry.exception_to))
    if entry.exceptions:
        meta.append("exceptions: " + ", ".join(_rule_link(r) for r in entry.exceptions))
    left = colour(entry.text) + f'<p class="meta">{" · ".join(meta)}</p>'
    right = ["<h3>Source</h3>"]
    for text, cited in entry.citations:
        right.append(f'<p class="meta">as written: “{escape(text)}”</p>')
        right += [_citation(c) for c in cited]
    right.append("<h3>For the patient</h3>")
    for lang in ("en", "nl"):
        if lang in entry.explains:
            right.append(f'<p lang="{lang}">{escape(entry.explains[lang])} <span class="meta">({lang})</span></p>')
    if entry.interpretation:
        right += ["<h3>Interpretation</h3>", f"<p>{escape(entry.interpretation)}</p>"]
    right += ["<h3>Tests</h3>", f"<p>{_coverage_words(entry.coverage)}</p>"]
    if entry.tests:
        items = []
        for test in entry.tests:
            mark = "" if test.passed else ' class="failed"'
            fails = "" if test.passed else ", fails"
            items.append(f'<li{mark}>{escape(test.name)} <span class="meta">({escape(test.where)}{fails})</span></li>')
        right.append("<ul>" + "".join(items) + "</ul>")
    return (f'<section class="rule" id="{entry.anchor}">\n<h2><a href="#{entry.anchor}"><code>{escape(entry.id)}'
            f'</code></a> <span class="layer">layer {escape(entry.layer)} ({escape(entry.layer_kind)})</span></h2>\n'
            f'<div class="pair">\n<div>{left}</div>\n<div>{"".join(right)}</div>\n</div>\n</section>')


def _citation(cited: Citation) -> str:
    source = cited.source
    title = (f'<a href="{escape(source.address)}">{escape(source.title)}</a>' if source.address
             else escape(source.title))
    line = f"<p>{title}" + (f", {escape(source.section)}" if source.section else "")
    if source.publisher:
        line += f' <span class="meta">— {escape(published(source))}</span>'
    if not source.known and not source.plain:
        line += ' <span class="unknown">(not a known source)</span>'
    line += "</p>"
    if cited.passage:
        line += f"<blockquote>{escape(cited.passage)}</blockquote>"
    return line


def _coverage_words(counts: Mapping[RuleStatus, int]) -> str:
    said = [f"{what} in {counts[status]} test{'s' if counts[status] != 1 else ''}" for status, what in _STATUS_WORDS
            if counts.get(status)]
    if not counts.get(RuleStatus.DECIDED):
        return '<span class="uncovered">No test makes this rule decide</span>' + (
            f" ({', '.join(said)})." if said else ".")
    return "It " + ", ".join(said) + "."
