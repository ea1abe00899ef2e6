"""What would change it, in words: each counterfactual as one sentence, in English and Dutch.

The sentences use the case schema's own wording (the yes/no phrases and nouns of :data:`schema.FIELDS`,
the words for choice values of :data:`schema.CHOICES`); only the authorisation, which changes as one,
has its own words here. Counterfactuals that differ only in the value of one choice are said once
("the indication is endometriosis or menorrhagia").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs

from rxpolicy.engine.case import Case
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.explain.words import json_value, term, value_text
from rxpolicy.language.facts import CaseSchema, FieldSpec
from rxpolicy.language.types import Kind

__all__ = ["MAX_CHANGES", "Changes", "Counterfactual", "WhatIf", "change_unit", "section_dates", "Alternative", "alternatives", "change_phrases", "sentence", "what_if_json", "what_if_markdown",
           "what_if_text"]

#: How many facts a what-if changes at most unless asked otherwise (the explanations say so when none works).
MAX_CHANGES = 2

Changes = Mapping[str, object]


@attrs.frozen(kw_only=True)
class Counterfactual:
    """A smallest change of facts after which ``decision`` would be "yes".

    ``changes`` maps field paths to their new values (an authorisation gives both its dates); ``was``
    holds the values they had. ``bounds`` marks a number moved to its boundary: ``"at most"`` when every
    smaller value works as well, ``"at least"`` for larger ones. ``rule`` is the rule that would then
    decide, ``case`` the changed case and ``values`` every decision's value for it.
    """

    decision: str
    changes: Changes
    was: Changes
    bounds: Mapping[str, str]
    rule: RuleMeta
    case: Case
    values: Mapping[str, object]
    #: Supply fact → the decision it must fit within (``… fits within max_supply``), as the rules write it.
    supplies: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def size(self) -> int:
        """How many facts change (an authorisation counts once)."""
        return len({change_unit(path, self.case.schema) for path in self.changes})


def change_unit(path: str, schema: CaseSchema) -> str:
    """The unit a fact changes in: the facts of an `all or none` section (the authorisation's two dates)
    change as one."""
    section = path.rpartition(".")[0]
    return section if section in schema.all_or_none else path


def section_dates(schema: CaseSchema, section: str) -> tuple[str, str]:
    """The two dates of an `all or none` section, from and until (the authorisation's)."""
    first, second = (p for p in schema.written if p.rpartition(".")[0] == section)
    return first, second



@attrs.frozen(kw_only=True)
class WhatIf:
    """The answer to "what would change it" for one decision: the search's result, handed to the renderers.

    The renderers only show it; the search (:func:`rxpolicy.tools.whatif.what_if`) runs when a caller asks,
    so rendering an explanation never costs a search.
    """

    decision: str
    max_changes: int
    counterfactuals: tuple[Counterfactual, ...]
    #: False when the search stopped at its limit of re-evaluations: other changes may exist.
    complete: bool = True


_WORDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "heading": ("What would change it", "Wat zou het veranderen"),
    "covered if": ("Covered if", "Wel vergoed als:"),
    "yes if": ("would be yes if", "zou ja zijn als:"),
    "and": ("and", "en"), "or": ("or", "of"),
    "at most": ("at most", "ten hoogste"), "at least": ("at least", "ten minste"),
    "not given": ("not given", "niet opgegeven"),
    "supply": ("the supply covers {bound}{days} days", "de voorraad dekt {bound}{days} dagen"),
    "maximum": ("the maximum is {limit}", "het maximum is {limit}"),
    "authorisation": (
        "the insurer's written authorisation was granted on or before {day} and valid on that day",
        "de schriftelijke toestemming van de verzekeraar is op of vóór {day} verleend en gold op die dag"),
    "granted": ("the insurer's written authorisation was granted on or before {day}",
                "de schriftelijke toestemming van de verzekeraar is op of vóór {day} verleend"),
    "valid": ("the insurer's written authorisation was valid until at least {day}",
              "de schriftelijke toestemming van de verzekeraar gold tot ten minste {day}"),
    "none": ("No change of at most {facts} that can still be made would make it {decision} (the dispensing date, "
             "the insured person and period, the medicine itself and what happened before are taken as they are).",
             "Geen wijziging van ten hoogste {facts}, maakt dit {decision} "
             "(de datum, de verzekerde en de verzekerde periode, het geneesmiddel zelf en wat eraan voorafging "
             "blijven zoals ze zijn)."),
    # Dutch puts the relative clause's verb in the number of the facts.
    "stopped": ("The search stopped at its limit of re-evaluations; other changes may work too.",
                "Het zoeken stopte bij de grens van het aantal herberekeningen; andere wijzigingen kunnen ook werken."),
    "fact": ("fact", "gegeven dat nog te veranderen is"), "facts": ("facts", "gegevens die nog te veranderen zijn"),
})


def _w(key: str, lang: str) -> str:
    en, nl = _WORDS[key]
    return nl if lang == "nl" else en


def _noun(spec: FieldSpec, lang: str) -> str:
    return spec.noun.get(lang) or spec.noun["en"]


def _phrase(cf: Counterfactual, path: str, values: Sequence[object], lang: str) -> str:
    """One changed fact as a clause; ``values`` holds several choices when alternatives are merged."""
    spec, value = cf.case.schema.fields[path], values[0]
    bound = cf.bounds.get(path)
    bound_words = f"{_w(bound, lang)} " if bound else ""
    if path in cf.supplies:
        text = _w("supply", lang).format(bound=bound_words, days=value)
        limit = cf.values.get(cf.supplies[path])
        return text + (f" ({_w('maximum', lang).format(limit=value_text(limit, lang))})" if limit else "")
    if isinstance(value, bool) and (spec.yes or spec.no):
        phrases = spec.yes if value else spec.no
        return phrases.get(lang) or phrases["en"]
    if value is None:
        return f"{_noun(spec, lang)} {term('is', lang)} {_w('not given', lang)}"
    if spec.type.kind in (Kind.ENUM, Kind.TEXT):
        shown = f" {_w('or', lang)} ".join(value_text(v, lang, spec.type) for v in values)
    else:
        shown = value_text(value, lang, spec.type)  # by the fact's type: a number of 1.50 is no amount
    return f"{_noun(spec, lang)} {term('is', lang)} {bound_words}{shown}"


def _authorisation_phrase(cf: Counterfactual, section: str, lang: str) -> str:
    dates = section_dates(cf.case.schema, section)
    granted, until = (cf.changes.get(p) for p in dates)
    was_granted = cf.was.get(dates[0])
    if was_granted is None or (granted != was_granted and until != cf.was.get(dates[1])):
        return _w("authorisation", lang).format(day=_day(granted))
    if granted != was_granted:
        return _w("granted", lang).format(day=_day(granted))
    return _w("valid", lang).format(day=_day(until))


def _day(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


@attrs.frozen(kw_only=True)
class Alternative:
    """What one or more counterfactuals say together: the changes, as clauses, and the rules then deciding."""

    clauses: tuple[str, ...]
    rules: tuple[RuleMeta, ...]
    counterfactuals: tuple[Counterfactual, ...]


def change_phrases(cf: Counterfactual, lang: str = "en", merged: Mapping[str, Sequence[object]] | None = None,
                   ) -> tuple[str, ...]:
    """The changed facts of one counterfactual as clauses, in schema order (``merged``: alternative choices)."""
    clauses = []
    schema = cf.case.schema
    for path in schema.fields:
        unit = change_unit(path, schema)
        if unit != path and path == section_dates(schema, unit)[0] and path in cf.changes:
            clauses.append(_authorisation_phrase(cf, unit, lang))
        elif path in cf.changes and unit == path:
            clauses.append(_phrase(cf, path, (merged or {}).get(path, (cf.changes[path],)), lang))
    return tuple(clauses)


def _merge_key(cf: Counterfactual, path: str) -> tuple[str, tuple[tuple[str, str], ...], str]:
    others = tuple((p, repr(v)) for p, v in cf.changes.items() if p != path)
    return path, others, cf.rule.id


def alternatives(counterfactuals: Sequence[Counterfactual], lang: str = "en") -> tuple[Alternative, ...]:
    """The counterfactuals as clauses, those differing only in one choice's value said together."""
    groups: dict[object, list[Counterfactual]] = {}
    for cf in counterfactuals:
        choices = [p for p in cf.changes if cf.case.schema.fields[p].type.kind in (Kind.ENUM, Kind.TEXT)]
        key: object = _merge_key(cf, choices[0]) if len(choices) == 1 else id(cf)
        groups.setdefault(key, []).append(cf)
    result = []
    for members in groups.values():
        first = members[0]
        choices = [p for p in first.changes if first.case.schema.fields[p].type.kind in (Kind.ENUM, Kind.TEXT)]
        merged = {choices[0]: tuple(m.changes[choices[0]] for m in members)} if len(members) > 1 else None
        result.append(Alternative(clauses=change_phrases(first, lang, merged),
                                  rules=tuple({m.rule.index: m.rule for m in members}.values()),
                                  counterfactuals=tuple(members)))
    return tuple(result)


def sentence(alternative: Alternative, decision: str, lang: str = "en") -> str:
    """``Covered if the prescriber is a medical specialist.`` (or ``<decision> would be yes if …``)."""
    joined = f", {_w('and', lang)} "
    head = _w("covered if", lang) if decision == "covered" else f"{decision} {_w('yes if', lang)}"
    return f"{head} {joined.join(alternative.clauses)}."


def _none(decision: str, lang: str, max_changes: int) -> str:
    shown = term("covered", lang) if decision == "covered" else f"{decision} = {term('yes', lang)}"
    facts = f"{max_changes} {_w('fact' if max_changes == 1 else 'facts', lang)}"
    return _w("none", lang).format(facts=facts, decision=shown)


def what_if_text(what_if: WhatIf, lang: str = "en") -> list[str]:
    """Lines for the text explanation: a blank line, the heading, one line per alternative."""
    decision, max_changes = what_if.decision, what_if.max_changes
    found = alternatives(what_if.counterfactuals, lang)
    lines = ["", f"{_w('heading', lang)}:"]
    lines += [f"  - {sentence(a, decision, lang)} ({', '.join(r.id for r in a.rules)})" for a in found]
    if not what_if.complete:
        return [*lines, f"  - {_w('stopped', lang)}"]
    return lines if found else [*lines, f"  - {_none(decision, lang, max_changes)}"]


def what_if_markdown(what_if: WhatIf, lang: str = "en") -> list[str]:
    """Lines for the Markdown explanation: a section with one bullet per alternative."""
    decision, max_changes = what_if.decision, what_if.max_changes
    found = alternatives(what_if.counterfactuals, lang)
    lines = ["", f"## {_w('heading', lang)}", ""]
    lines += [f"- {sentence(a, decision, lang)} (" + ", ".join(f"`{r.id}`" for r in a.rules) + ")" for a in found]
    if not what_if.complete:
        return [*lines, f"- {_w('stopped', lang)}"]
    return lines if found else [*lines, f"- {_none(decision, lang, max_changes)}"]


def what_if_json(what_if: WhatIf, lang: str = "en") -> list[dict[str, Any]]:
    """The counterfactuals as JSON data: changes (field path → value), bounds, deciding rule, sentence."""
    out = []
    for cf in what_if.counterfactuals:
        alternative = Alternative(clauses=change_phrases(cf, lang), rules=(cf.rule,), counterfactuals=(cf,))
        fields = cf.case.schema.fields
        entry: dict[str, Any] = {"decision": cf.decision,
                                 "changes": {p: json_value(v, fields[p].type) for p, v in cf.changes.items()},
                                 "was": {p: json_value(v, fields[p].type) for p, v in cf.was.items()}}
        if cf.bounds:
            entry["bounds"] = dict(cf.bounds)
        entry.update(rule=cf.rule.id, layer=cf.rule.layer, sentence=sentence(alternative, what_if.decision, lang))
        out.append(entry)
    return out
