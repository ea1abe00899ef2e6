"""What a rule's ``source "…"`` cites, resolved to known sources: title, section and public address.

A citation names one or more sources, separated by ``;``: a source text of the policy (an insurer's
document, listed in the source registry ``rules/sources.yaml`` beside the policy directories), an article
of a Dutch law or regulation, or an entry of a code list. :func:`resolve_citation` is the one place that
reads a citation; the handbook (``rxpolicy doc``) and the editor's hover show what it returns.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import yaml

__all__ = ["CitedSource", "SourceCatalogue", "load_catalogue", "resolve_citation"]


@attrs.frozen(kw_only=True)
class CitedSource:
    """One source a citation names."""

    #: The part of the citation as written.
    text: str
    #: Whether the source is known (a listed source text, a known law or code list).
    known: bool
    #: ``document`` (a source text of the policy), ``law`` (an article of a law or regulation) or ``code list``.
    kind: str
    title: str
    #: The section, article or entry cited (may be empty).
    section: str = ""
    #: The public address where a reader finds the source (may be empty when it has none).
    address: str = ""
    #: For a source text: its file name in the source texts' directory (``rxpolicy doc --sources DIR``).
    file: str = ""
    #: Words of the source the citation quotes, to find the passage by.
    quoted: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class SourceCatalogue:
    """The source texts a policy's rules may cite: file name → (title, public address)."""

    documents: dict[str, tuple[str, str]] = attrs.field(factory=dict)
    #: The sections of each source text rules cite: (file name, heading).
    sections: tuple[tuple[str, str], ...] = ()

    def citation_texts(self) -> list[tuple[str, str]]:
        """Every citation of a section as a rule writes it, with the title of its source text."""
        return [(f"{name}, '{heading}'", self.documents.get(name, (name, ""))[0]) for name, heading in self.sections]


# Dutch laws and regulations by the abbreviation rules cite them with: (title, public address).
_LAWS: dict[str, tuple[str, str]] = {
    "Zvw": ("Zorgverzekeringswet (Health Insurance Act)", "https://wetten.overheid.nl/BWBR0018450"),
    "Bzv": ("Besluit zorgverzekering (Health Insurance Decree)", "https://wetten.overheid.nl/BWBR0018492"),
    "Rzv": ("Regeling zorgverzekering (Health Insurance Regulation)", "https://wetten.overheid.nl/BWBR0018715"),
    "Wet BIG": ("Wet op de beroepen in de individuele gezondheidszorg", "https://wetten.overheid.nl/BWBR0006251"),
}
_LAW = re.compile(r"^(" + "|".join(re.escape(k) for k in sorted(_LAWS, key=len, reverse=True)) + r")\b\s*(.*)$",
                  re.DOTALL)
_GAZETTE = re.compile(r"^Stcrt\.\s*(\d{4}),\s*(\d+)(.*)$", re.DOTALL)
_VEKTIS = re.compile(r"^Vektis\s+(COD\d+)\s*(.*)$", re.DOTALL)
_DOCUMENT = re.compile(r"(\d{3}_[0-9a-f]{16}\.txt)")
_QUOTED = re.compile(r"'((?:[^']|'(?=[a-z]))+)'")


def load_catalogue(rules_dir: Path) -> SourceCatalogue:
    """The source texts listed in the registry beside the policy directories (``rules/sources.yaml``)."""
    path = rules_dir / "sources.yaml"
    if not path.is_file():
        return SourceCatalogue()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    documents: dict[str, tuple[str, str]] = {}
    for name, info in (data.get("seeds") or {}).items():
        info = info or {}
        documents[str(name)] = (str(info.get("title") or info.get("describes") or name),
                                str(info.get("address") or ""))
    sections = tuple((str(s.get("seed")), str(s.get("heading"))) for s in (data.get("sections") or [])
                     if isinstance(s, dict) and s.get("seed") and s.get("heading"))
    return SourceCatalogue(documents=documents, sections=sections)


def _parts(citation: str) -> list[str]:
    """A citation split into the sources it names (``;`` separates them)."""
    return [p.strip() for p in citation.split(";") if p.strip()]


def resolve_citation(citation: str, catalogue: SourceCatalogue) -> list[CitedSource]:
    """The sources a citation names, each with its title, section and address; unknown ones marked."""
    found: list[CitedSource] = []
    last_document: CitedSource | None = None
    for part in _parts(citation):
        cited = _resolve_part(part, catalogue, last_document)
        if cited.kind == "document" and cited.known:
            last_document = cited
        found.append(cited)
    return found


def _resolve_part(part: str, catalogue: SourceCatalogue, last_document: CitedSource | None) -> CitedSource:
    document = _DOCUMENT.match(part)
    if document is not None:
        name = document.group(1)
        rest = part[document.end():].lstrip(" ,:")
        title, address = catalogue.documents.get(name, ("", ""))
        return CitedSource(text=part, known=name in catalogue.documents, kind="document", title=title or name,
                           section=rest, address=address, file=name, quoted=tuple(_QUOTED.findall(rest)))
    law = _LAW.match(part)
    if law is not None:
        title, address = _LAWS[law.group(1)]
        return CitedSource(text=part, known=True, kind="law", title=title, section=law.group(2).strip(),
                           address=address)
    gazette = _GAZETTE.match(part)
    if gazette is not None:
        year, number = gazette.group(1), gazette.group(2)
        return CitedSource(text=part, known=True, kind="law", title=f"Staatscourant {year}, {number}",
                           section=gazette.group(3).strip(" ,"),
                           address=f"https://zoek.officielebekendmakingen.nl/stcrt-{year}-{number}")
    vektis = _VEKTIS.match(part)
    if vektis is not None:
        return CitedSource(text=part, known=True, kind="code list", title=f"Vektis code list {vektis.group(1)}",
                           section=vektis.group(2).strip(),
                           address=f"https://www.vektis.nl/standaardisatie/codelijsten/{vektis.group(1)}")
    if last_document is not None and part.startswith("'"):
        # `…, 'Consent', eighth bullet; 'What do I need to keep in mind?'`: another section of the same text.
        return attrs.evolve(last_document, text=part, section=part, quoted=tuple(_QUOTED.findall(part)))
    return CitedSource(text=part, known=False, kind="unknown", title=part)
