"""Completion in rule files: what may be written at the cursor, asked of the parser itself.

The text before the cursor is fed to the LALR parser, which says which terminals it would accept next:
the keywords among them are offered as they are; where a name may follow, the case fields, definitions,
parameters and decisions; after ``exception to``, rule ids; after ``is`` on a choice field, its values;
after ``source`` (and after ``,`` in a list of citations), the ids of the source registry; inside the
quoted section of a citation, the sections the registry lists for its source.
"""

from __future__ import annotations

import re

import attrs
from lark.exceptions import LarkError

from rxpolicy.language.grammar import parser
from rxpolicy.language.parse import keywords
from rxpolicy.language.facts import CaseSchema, statutory_facts
from rxpolicy.language.sources import SourceRegistry
from rxpolicy.tools.lsp.index import PolicyIndex, SymbolKind

__all__ = ["Completion", "complete"]


@attrs.frozen(kw_only=True)
class Completion:
    """One thing that may be written at the cursor."""

    label: str
    #: ``keyword``, ``field``, ``definition``, ``parameter``, ``decision``, ``rule``, ``value``, ``source``, ``type``.
    kind: str
    detail: str = ""
    #: The text inserted (default: the label); replaces the word before the cursor.
    insert: str = ""


# Keywords that are only ever written followed by the same words: offered as the whole phrase.
_PHRASES = {"exception": "exception to", "rejection": "rejection code", "built": "built on",
            "according": "according to", "leap": "leap day birthday on"}
#: Words of the terminals written as one of a few phrases (the rounding after `rounded`, a 29 February birthday's
#: day): offered as those phrases where the parser accepts the terminal.
_TERMINAL_PHRASES = {"ROUNDING_MODE": ("half up", "half even", "down", "up"),
                     "ROUNDING_UNIT": ("whole euros", "cents", "a whole number"),
                     "LEAP_DAY_BIRTHDAY": ("1 March", "28 February")}
_ITEM_START = re.compile(r"^(policy|layer|decision|define|parameter|rule|table)\b", re.MULTILINE)
_WORD_BEFORE = re.compile(r"[A-Za-z0-9_.\-/]*$")
_CHOICE_TEST = re.compile(r"([a-z_][a-z0-9_.]*)\s+is\s+(?:not\s+)?(?:one\s+of\s+(?:[a-z0-9_]+\s*,\s*)*)?$")
# `source ` or `according to `, then any citations already written (`zvw "art. 11", `): a source id comes next.
_CITATION_START = r'\b(?:source|according\s+to)\s+(?:[a-z0-9][a-z0-9\-]*\s+"[^"]*"\s*,\s*)*'
_SOURCE_ID_NEXT = re.compile(_CITATION_START + r"$")
_SECTION_NEXT = re.compile(_CITATION_START + r'([a-z0-9][a-z0-9\-]*)\s+"[^"]*$')
_TYPE_WORDS = ("yes or no", "money", "duration", "supply limit", "number", "date", "text", "percentage")


def _terminal_keywords() -> dict[str, str]:
    words = keywords()
    return {t.name: str(t.pattern.value) for t in parser().terminals
            if t.pattern.type == "str" and str(t.pattern.value) in words}


def _accepted(text: str) -> set[str] | None:
    """The terminals the parser accepts after ``text``; None when the text does not parse up to there."""
    try:
        interactive = parser().parse_interactive(text)
        interactive.exhaust_lexer()
        accepted: set[str] = interactive.accepts()  # type: ignore[no-untyped-call]
        return accepted
    except LarkError:
        return None


def complete(index: PolicyIndex | None, text: str, offset: int,
             registry: SourceRegistry | None) -> tuple[int, list[Completion]]:
    """What may be written at character ``offset`` of ``text``, and where the text it replaces starts (the
    word before the cursor, a dotted field path whole); ``registry`` is the policy's source registry."""
    before = text[:offset]
    line = before.rsplit("\n", 1)[-1]
    in_string = line.count('"') % 2 == 1
    if in_string:
        return offset - (len(line) - line.rindex('"') - 1), _sections(line, registry)
    word = _WORD_BEFORE.search(before)
    start = word.start() if word else offset
    if registry is not None and _SOURCE_ID_NEXT.search(before[:start].rsplit("\n", 1)[-1]):
        return start, [Completion(label=s.id, kind="source", detail=s.title) for s in registry.sources.values()]
    return start, _complete(index, before, start)


def _complete(index: PolicyIndex | None, before: str, start: int) -> list[Completion]:
    prefix = before[start:]
    head = before[:start]
    accepted = _accepted(head)
    if accepted is None:
        # An earlier part of the file does not parse: ask about the item the cursor is in alone.
        items = list(_ITEM_START.finditer(head))
        accepted = _accepted(head[items[-1].start():]) if items else None
    if accepted is None:
        return []
    found: list[Completion] = []
    by_terminal = _terminal_keywords()
    for terminal in sorted(accepted):
        word_ = by_terminal.get(terminal)
        if word_ is not None:
            found.append(Completion(label=_PHRASES.get(word_, word_), kind="keyword"))
    if "TYPE_WORD" in accepted:
        found += [Completion(label=w, kind="type") for w in _TYPE_WORDS]
    for terminal, phrases in _TERMINAL_PHRASES.items():
        if terminal in accepted:
            found += [Completion(label=p, kind="keyword") for p in phrases]
    if "RULE_ID" in accepted and index is not None and re.search(r"\bexception\s+to\s+(?:[a-z0-9/\-]+\s*,\s*)*$",
                                                                  head):
        for rule_id in index.names(SymbolKind.RULE):
            found.append(Completion(label=rule_id, kind="rule", detail=_rule_detail(index, rule_id)))
    if "NAME" in accepted:
        found += _names(index, head, prefix)
    return found


def _rule_detail(index: PolicyIndex, rule_id: str) -> str:
    declared = index.declarations(SymbolKind.RULE, rule_id)
    return f"rule (layer {index.layer_of(declared[0].span.path)})" if declared else "rule"


def _names(index: PolicyIndex | None, head: str, prefix: str) -> list[Completion]:
    choice = _CHOICE_TEST.search(head)
    if choice is not None and index is not None:
        values = index.choices_of(choice.group(1))
        if values:
            return [Completion(label=v, kind="value", detail=f"a value of {choice.group(1)}") for v in values]
    found: list[Completion] = []
    section = prefix.rsplit(".", 1)[0] + "." if "." in prefix else ""
    schema: CaseSchema = index.schema if index is not None else statutory_facts()
    for path, spec in schema.fields.items():
        if path.startswith(section):
            found.append(Completion(label=path, kind="field", detail=f"case field: {spec.type}"))
    if index is not None and not section:
        for kind, what in ((SymbolKind.DEFINITION, "definition"), (SymbolKind.PARAMETER, "parameter"),
                           (SymbolKind.DECISION, "decision")):
            found += [Completion(label=n, kind=what, detail=what) for n in index.names(kind)]
    return found


def _sections(line: str, registry: SourceRegistry | None) -> list[Completion]:
    """The sections of the cited source, written as its citations write them (an insurer's heading quoted)."""
    cited = _SECTION_NEXT.search(line)
    source = registry.get(cited.group(1)) if registry is not None and cited is not None else None
    if source is None:
        return []
    quote = "'" if source.kind == "document" else ""
    return [Completion(label=f"{quote}{s.heading}{quote}", kind="source", detail=source.cite_as)
            for s in source.sections]
