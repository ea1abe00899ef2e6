"""What a rule's ``source <id> "section"`` cites, resolved through the source registry: title, section,
publisher and public address.

The registry (``sources.yaml`` beside the policy directories, :mod:`rxpolicy.language.sources`) is the one
place that describes a source (bron); :func:`resolve_citation` reads a citation against it, and the handbook
(``rxpolicy doc``) and the editor's hover show what it returns. A policy without a registry cites in plain
text (``source "…"``): such a citation is shown as written. :func:`source_text` finds a document's text in a
directory of source texts (``rxpolicy doc --sources DIR``) by the section headings the registry lists, so the
registry never needs to name a file.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from rxpolicy.language import ast
from rxpolicy.language.sources import Source, SourceRegistry

__all__ = ["CitedSource", "published", "resolve_citation", "source_text"]

#: The kind of a plain-text citation (a policy without a registry): shown as written.
PLAIN = "text"


@attrs.frozen(kw_only=True)
class CitedSource:
    """One source a citation names, as the registry describes it."""

    #: The citation as an explanation shows it (``Zvw art. 19 lid 1``), or the plain text as written.
    text: str
    #: Whether the registry lists the cited id (False for an unknown id and for a plain-text citation).
    known: bool
    #: The registry's kind (``law``, ``document``, ``reading``), or ``text`` for a plain-text citation.
    kind: str
    title: str
    #: The section, article or passage cited (may be empty).
    section: str = ""
    publisher: str = ""
    year: int | None = None
    #: The public address where a reader finds the source (empty when the registry names none).
    address: str = ""
    #: The registry id cited (None for a plain-text citation).
    source_id: str | None = None
    #: Words of the source the citation quotes (``'…'`` in the section), to find the passage by.
    quoted: tuple[str, ...] = ()
    #: The section headings the registry lists for the source, where a quoted passage ends.
    headings: tuple[str, ...] = ()

    @property
    def plain(self) -> bool:
        """Whether this is a plain-text citation (no registry id), shown as written."""
        return self.kind == PLAIN


def published(cited: CitedSource) -> str:
    """Who published the source and when: ``HollandZorg, 2025``."""
    return ", ".join(p for p in (cited.publisher, str(cited.year) if cited.year else "") if p)


_QUOTED = re.compile(r"'((?:[^']|'(?=[a-z]))+)'")


def _address(source: Source) -> str:
    address = source.address or ""
    # The registry writes public addresses as the source text does (``www.…``): a link needs the scheme. A path
    # in this repository (the readings, ``docs/readings.md``) is no address a published page can link to; the
    # title names it.
    if address.startswith("www."):
        return f"https://{address}"
    return address if address.startswith("https://") else ""


def resolve_citation(citation: ast.Citation, registry: SourceRegistry | None) -> CitedSource:
    """The source a citation names, with the registry's title, section, publisher and address.

    A plain-text citation (``source`` None) comes back as written; an id the registry does not list comes back
    with ``known`` False (the checker reports it, RX3xx; the editor may still hover over it)."""
    if citation.source is None:
        return CitedSource(text=citation.text, known=False, kind=PLAIN, title=citation.text)
    source = registry.get(citation.source) if registry is not None else None
    if source is None:
        return CitedSource(text=f"{citation.source} {citation.text}".strip(), known=False, kind="unknown",
                           title=citation.source, section=citation.text, source_id=citation.source)
    return CitedSource(text=source.cite(citation.text), known=True, kind=source.kind, title=source.title,
                       section=citation.text, publisher=source.publisher, year=source.year, address=_address(source),
                       source_id=source.id, quoted=tuple(_QUOTED.findall(citation.text)),
                       headings=tuple(s.heading for s in source.sections))


def _heading_line(text: str, heading: str) -> bool:
    return re.search(r"(?m)^\s*" + re.escape(heading) + r"\s*$", text) is not None


def source_text(cited: CitedSource, directory: Path) -> str | None:
    """The text of a cited document in a directory of source texts: the file holding most of the section
    headings the registry lists for it, as lines of their own (None when no file holds any)."""
    if not cited.headings:
        return None
    best, best_count = None, 0
    for path in sorted(directory.glob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        count = sum(_heading_line(text, h) for h in cited.headings)
        if count > best_count:
            best, best_count = text, count
    return best
