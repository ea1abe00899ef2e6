"""The source registry (``sources.yaml`` beside the policy directories): every document a rule may cite.

A rule cites ``source <id> "section"``; the registry gives each id a title, a publisher, a year, where known a
public address, and the words an explanation shows (``cite_as``), so that an explanation names the document a
reader can look up, never a file. The registry also lists the sections of each insurer document for the
coverage report (``rxpolicy test --coverage``), and the claim rejection codes rules attach to a refusal with
whether a source confirms each.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import attrs
import yaml

from rxpolicy.language.fieldwise import Fieldwise
from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean, read_text

__all__ = ["KINDS", "REGISTRY_FILE", "RejectionCode", "Source", "SourceRegistry", "SourceSection", "load_registry"]

#: The file name of a registry, looked for beside a policy directory (then in it).
REGISTRY_FILE = "sources.yaml"
#: How a source is cited: a law by article ("Zvw art. 19"), a document or a reading by section.
KINDS = ("law", "document", "reading")

_SOURCE_KEYS = ("kind", "title", "cite_as", "publisher", "year", "address", "language", "policies", "sections")
_SECTION_KEYS = ("heading", "rules_expected", "reason", "cited_as")


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SourceSection(Fieldwise):
    """A section of a source document: its heading and whether rules are expected to implement it."""

    source: str
    heading: str
    rules_expected: bool
    reason: str | None = None
    #: Passages of the section that rules quote instead of its heading.
    cited_as: tuple[str, ...] = ()

    @property
    def texts(self) -> tuple[str, ...]:
        """Every text that, written in a citation of this section's source, names this section."""
        return (self.heading, *self.cited_as)


@attrs.frozen(kw_only=True, repr=False, eq=False)
class Source(Fieldwise):
    """One document rules cite (bron): a law, an insurer's text, or this project's readings."""

    id: str
    kind: str
    title: str
    #: The words an explanation shows before the section, e.g. ``HollandZorg, Medicinal care 2025``.
    cite_as: str
    publisher: str
    year: int | None
    address: str | None
    language: str | None
    #: The policies this document is a source of (its sections are reported for them).
    policies: tuple[str, ...]
    sections: tuple[SourceSection, ...]

    def cite(self, section: str) -> str:
        """The citation as an explanation shows it: ``Zvw art. 19 lid 1``, ``HollandZorg, …, 'Consent'``."""
        if not section:
            return self.cite_as
        if self.kind == "law":
            return f"{self.cite_as} {section}"
        # A reading is cited by the heading of its section in docs/readings.md: quoted, as insurer headings are.
        return f"{self.cite_as}, '{section}'" if self.kind == "reading" else f"{self.cite_as}, {section}"

    def as_json(self) -> dict[str, object]:
        """The source's description as JSON-ready data."""
        return {"id": self.id, "kind": self.kind, "title": self.title, "cite_as": self.cite_as,
                "publisher": self.publisher, "year": self.year, "address": self.address}


@attrs.frozen(kw_only=True, repr=False, eq=False)
class RejectionCode(Fieldwise):
    """A claim rejection code (afwijzingscode) rules attach to a refusal, and whether a source confirms it."""

    code: str
    meaning: str
    verified: bool
    source: str | None


@attrs.frozen(kw_only=True, repr=False, eq=False)
class SourceRegistry(Fieldwise):
    """The sources of a set of policies, read from ``sources.yaml``."""

    path: str
    sources: Mapping[str, Source]
    rejection_codes: Mapping[str, RejectionCode]
    #: The SHA-256 of the registry's text: part of the fingerprint of a policy that cites it, as its rule files are.
    sha256: str

    def get(self, source_id: str) -> Source | None:
        """The source with this id, or None."""
        return self.sources.get(source_id)

    def suggestion(self, source_id: str) -> str | None:
        """The listed id closest to a misspelt one."""
        return did_you_mean(source_id, list(self.sources))

    def sections_for(self, policy: str) -> tuple[SourceSection, ...]:
        """The sections of the documents that are a source of this policy."""
        return tuple(s for source in self.sources.values() if policy in source.policies for s in source.sections)


def _problem(path: str, message: str, help: str) -> RxError:
    return RxError(Diagnostic(code="RX709", message=f"{path}: {message}", help=help))


def _text(raw: Mapping[str, object], key: str, where: str, path: str, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _problem(path, f"{where} needs `{key}`: a text", f"write `{key}: …` under {where}")
    return value.strip()


def _unknown_keys(raw: Mapping[str, object], allowed: Sequence[str], where: str, path: str) -> None:
    for key in raw:
        if key not in allowed:
            hint = did_you_mean(str(key), list(allowed))
            raise _problem(path, f"{where} has an unknown key `{key}`" + (f"; did you mean `{hint}`?" if hint else ""),
                           "the keys are: " + ", ".join(allowed))


def _section(raw: object, source: str, number: int, path: str) -> SourceSection:
    where = f"section {number} of `{source}`"
    if not isinstance(raw, dict):
        raise _problem(path, f"{where} is not a mapping", "write `- heading: …` and `rules_expected: …`")
    _unknown_keys(raw, _SECTION_KEYS, where, path)
    heading, expected = _text(raw, "heading", where, path), raw.get("rules_expected")
    if not isinstance(expected, bool):
        raise _problem(path, f"{where} needs `rules_expected: true` or `false`", "say whether rules should cite it")
    reason = _text(raw, "reason", where, path, required=False)
    if not expected and reason is None:
        raise _problem(path, f"{where} ('{heading}') needs no rules but does not say why",
                       "add `reason: …`: why nothing in it can be decided from a dispensing case")
    cited_as = raw.get("cited_as") or []
    if not isinstance(cited_as, list) or not all(isinstance(c, str) for c in cited_as):
        raise _problem(path, f"{where} ('{heading}'): `cited_as` must be a list of texts", "write one passage a line")
    return SourceSection(source=source, heading=str(heading), rules_expected=expected, reason=reason,
                         cited_as=tuple(cited_as))


def _source(source_id: str, raw: object, path: str) -> Source:
    where = f"source `{source_id}`"
    if not isinstance(raw, dict):
        raise _problem(path, f"{where} is not a mapping", "write its `kind`, `title`, `cite_as`, `publisher`, `year`")
    _unknown_keys(raw, _SOURCE_KEYS, where, path)
    kind = _text(raw, "kind", where, path)
    if kind not in KINDS:
        raise _problem(path, f"{where} has kind `{kind}`", "write `kind:` " + ", ".join(KINDS))
    year = raw.get("year")
    if year is not None and not isinstance(year, int):
        raise _problem(path, f"{where} has a year that is not a whole number", "write `year: 2025`, or `year: null`")
    policies, sections = raw.get("policies") or [], raw.get("sections") or []
    if not isinstance(policies, list) or not isinstance(sections, list):
        raise _problem(path, f"{where}: `policies` and `sections` must be lists", "write one item a line")
    return Source(id=source_id, kind=str(kind), title=str(_text(raw, "title", where, path)),
                  cite_as=str(_text(raw, "cite_as", where, path)), publisher=str(_text(raw, "publisher", where, path)),
                  year=year, address=_text(raw, "address", where, path, required=False),
                  language=_text(raw, "language", where, path, required=False),
                  policies=tuple(str(p) for p in policies),
                  sections=tuple(_section(s, source_id, i + 1, path) for i, s in enumerate(sections)))


def _rejection_codes(raw: object, sources: Mapping[str, Source], path: str) -> dict[str, RejectionCode]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not isinstance(raw.get("codes"), dict):
        raise _problem(path, "has `rejection_codes` without a `codes:` mapping", "write `codes:` with one code a line")
    source = raw.get("source")
    if source is not None and source not in sources:
        raise _problem(path, f"names the unknown source `{source}` for its rejection codes", "list it under `sources`")
    codes = {}
    for code, info in raw["codes"].items():
        if not isinstance(info, dict) or not isinstance(info.get("verified"), bool):
            raise _problem(path, f"rejection code `{code}` needs `meaning` and `verified: true` or `false`",
                           "say whether a source confirms the code")
        codes[str(code)] = RejectionCode(code=str(code), meaning=str(info.get("meaning", "")),
                                         verified=info["verified"], source=source)
    return codes


@functools.lru_cache(maxsize=32)
def _parse(text: str, shown: str) -> SourceRegistry:
    # Keyed by the text itself (its hash, then an equality test): an edited registry is parsed again whatever its
    # size and modification time, and the registry returned is always the one of the text given.
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise _problem(shown, f"is not valid YAML{where}", "fix the YAML") from None
    raw = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        raise _problem(shown, "needs a `sources:` mapping", "list each source under `sources:` by its id")
    sources = {str(k): _source(str(k), v, shown) for k, v in raw.items()}
    codes = _rejection_codes(data.get("rejection_codes"), sources, shown)
    return SourceRegistry(path=shown, sources=MappingProxyType(sources), rejection_codes=MappingProxyType(codes),
                          sha256=hashlib.sha256(text.encode()).hexdigest())


def load_registry(path: Path, shown: str | None = None, *, text: str | None = None) -> SourceRegistry:
    """Read a source registry (``shown``: its path as messages name it); raises :class:`RxError` (RX709) when it
    is not well formed, RX001 when it cannot be read.

    The file is read every time, as rule files are read for every compile: registries are immutable and cached by
    their text, so threads share them, but never by the file's size or modification time (an edit of the same size
    within the file system's clock tick keeps both). ``text``: the registry's text already read, by a caller that
    also hashes it (the policy store), so that the text hashed is the text parsed; the file is then not read.
    """
    shown = shown or str(path)
    if text is None:
        text = read_text(path, shown, kind="source registry")
    return _parse(text, shown)
