"""Which rules and which source sections the rule tests exercise, and the ``rxpolicy test`` command.

Per policy and per rule: how many tests it decided in, was overridden by an exception in, was evaluated
in without applying, was not reached in, or was not in force in. A rule that decided in no test is
uncovered; coverage is the share of rules that decided at least once. Rules are also grouped by the text
they cite, and matched to the sections of the source texts listed in ``rules/sources.yaml`` (beside the
policy directories): a section is covered when every rule citing it decided in some test, and a section
no rule cites is listed unless the registry says it needs no rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import attrs

from rxpolicy.engine.meta import RuleMeta
from rxpolicy.engine.trace import RuleStatus
from rxpolicy.language import ast
from rxpolicy.language.sources import SourceRegistry, SourceSection
from rxpolicy.tools.ruletest import TestResult

__all__ = ["CitationCoverage", "PolicyCoverage", "RuleCoverage", "SectionCoverage", "cited_sections", "coverage",
           "coverage_json", "coverage_text"]
_COLUMNS = ((RuleStatus.DECIDED, "decided"), (RuleStatus.OVERRIDDEN, "overridden"),
            (RuleStatus.NOT_APPLICABLE, "did not apply"), (RuleStatus.NOT_REACHED, "not reached"),
            (RuleStatus.NOT_IN_FORCE, "not in force"))


# ----------------------------------------------------------------------------- the source registry

def cited_sections(citation: ast.Citation, sections: Sequence[SourceSection]) -> list[SourceSection]:
    """The sections of the cited source that a citation names by heading or by a passage of them; longer
    texts first, each match blanked, so a heading inside a longer one is not counted."""
    found: list[SourceSection] = []
    if citation.source is None:
        return found
    segment = citation.text.casefold()
    candidates = sorted(((text.casefold(), s) for s in sections if s.source == citation.source for text in s.texts),
                        key=lambda pair: -len(pair[0]))
    for text, section in candidates:
        if text in segment:
            segment = segment.replace(text, "\0")
            if section not in found:
                found.append(section)
    return found


# ----------------------------------------------------------------------------- coverage

@attrs.frozen(kw_only=True)
class RuleCoverage:
    """How one rule fared over all tests of its policy."""

    rule: RuleMeta = attrs.field(eq=False)
    #: The rule id, with its period when the id has several versions.
    label: str
    counts: Mapping[RuleStatus, int]

    @property
    def covered(self) -> bool:
        """Whether the rule decided in at least one test."""
        return self.counts.get(RuleStatus.DECIDED, 0) > 0

    @property
    def why_uncovered(self) -> str:
        """In words, what happened to a rule that never decided."""
        evaluated = [f"{what} in {self.counts[status]} test{'s' if self.counts[status] != 1 else ''}"
                     for status, what in ((RuleStatus.OVERRIDDEN, "overridden"),
                                          (RuleStatus.NOT_APPLICABLE, "did not apply"))
                     if self.counts.get(status)]
        if evaluated:
            return " and ".join(evaluated)
        if self.counts.get(RuleStatus.NOT_REACHED, 0):
            return "never reached"
        return "not in force on any test's dispensing date" if self.counts else "no test evaluated it"


@attrs.frozen(kw_only=True)
class CitationCoverage:
    """The rules citing one text, and those of them no test decides."""

    citation: str
    rules: tuple[str, ...]
    uncovered: tuple[str, ...]


@attrs.frozen(kw_only=True)
class SectionCoverage:
    """A section of a source text: the rules that cite it and those of them no test decides."""

    section: SourceSection
    rules: tuple[str, ...]
    uncovered: tuple[str, ...]

    @property
    def status(self) -> str:
        """``covered``, ``partly covered``, ``not cited`` (a gap) or ``no rules expected``."""
        if not self.rules:
            return "not cited" if self.section.rules_expected else "no rules expected"
        return "partly covered" if self.uncovered else "covered"


@attrs.frozen(kw_only=True)
class PolicyCoverage:
    """Coverage of one policy by its tests."""

    policy: str
    tests: int
    rules: tuple[RuleCoverage, ...]
    citations: tuple[CitationCoverage, ...]
    sections: tuple[SectionCoverage, ...]
    #: The registry the sections come from (None when the policy has none beside it).
    sources: str | None

    @property
    def decided(self) -> int:
        """How many rules decided in at least one test."""
        return sum(1 for r in self.rules if r.covered)

    @property
    def percent(self) -> float:
        """Rules that decided at least once, as a percentage of all rules."""
        return 100.0 * self.decided / len(self.rules) if self.rules else 100.0

    def under(self, percent: float) -> bool:
        """Whether coverage is under a percentage (compared exactly, not after rounding)."""
        return self.decided * 100 < percent * len(self.rules)


def coverage(results: Sequence[TestResult]) -> tuple[PolicyCoverage, ...]:
    """Coverage per policy of a set of test results (in the order the policies first appear)."""
    groups: dict[str, list[TestResult]] = {}
    for result in results:
        groups.setdefault(result.policy.fingerprint, []).append(result)
    return tuple(_policy_coverage(group) for group in groups.values())


def _policy_coverage(results: list[TestResult]) -> PolicyCoverage:
    policy = results[0].policy
    ids = [r.id for r in policy.rules]
    rules = []
    for rule in policy.rules:
        counts: dict[RuleStatus, int] = {}
        for result in results:
            if rule.index in result.statuses:
                status = result.statuses[rule.index]
                counts[status] = counts.get(status, 0) + 1
        label = rule.id if ids.count(rule.id) == 1 else f"{rule.id} ({rule.validity or 'always'})"
        rules.append(RuleCoverage(rule=rule, label=label, counts=MappingProxyType(counts)))
    registry = policy.checked.registry
    return PolicyCoverage(policy=policy.name, tests=len(results), rules=tuple(rules),
                          citations=_citations(rules), sections=_sections(rules, registry, policy.name),
                          sources=registry.path if registry else None)


def _citations(rules: list[RuleCoverage]) -> tuple[CitationCoverage, ...]:
    groups: dict[str, list[RuleCoverage]] = {}
    for rule in rules:
        for citation in rule.rule.citations:
            groups.setdefault(citation, []).append(rule)
    return tuple(CitationCoverage(citation=c, rules=tuple(r.label for r in rs),
                                  uncovered=tuple(r.label for r in rs if not r.covered))
                 for c, rs in sorted(groups.items()))


def _sections(rules: list[RuleCoverage], registry: SourceRegistry | None, policy: str) -> tuple[SectionCoverage, ...]:
    if registry is None:
        return ()
    sections = registry.sections_for(policy)
    citing: dict[SourceSection, list[RuleCoverage]] = {s: [] for s in sections}
    for rule in rules:
        for section in {s for c in rule.rule.rule.citations for s in cited_sections(c, sections)}:
            citing[section].append(rule)
    return tuple(SectionCoverage(section=s, rules=tuple(r.label for r in rs),
                                 uncovered=tuple(r.label for r in rs if not r.covered)) for s, rs in citing.items())


# ----------------------------------------------------------------------------- reports

def coverage_text(report: PolicyCoverage) -> str:
    """Coverage of one policy as a table and lists, for people."""
    width = max([len("rule"), *(len(r.label) for r in report.rules)])
    lines = [f"coverage of {report.policy}: {report.decided} of {len(report.rules)} rules decided in at least one "
             f"of {report.tests} tests ({report.percent:.1f} %)", "",
             f"  {'rule':<{width}}  " + "  ".join(title for _, title in _COLUMNS)]
    for rule in report.rules:
        cells = "  ".join(f"{rule.counts.get(status, 0):>{len(title)}}" for status, title in _COLUMNS)
        lines.append(f"  {rule.label:<{width}}  {cells}" + ("" if rule.covered else "  <- uncovered"))
    uncovered = [r for r in report.rules if not r.covered]
    lines += ["", f"uncovered rules (never decided in any test): {len(uncovered) or 'none'}"]
    lines += [f"  {r.label} ({r.rule.span}): {r.why_uncovered}" for r in uncovered]
    partial = [c for c in report.citations if c.uncovered]
    lines += ["", f"cited texts with a rule no test decides: {len(partial) or 'none'}"]
    lines += [f"  {c.citation}: {', '.join(c.uncovered)}" for c in partial]
    if report.sources is not None:
        lines += ["", f"source sections ({report.sources}):"]
        for source in dict.fromkeys(s.section.source for s in report.sections):
            lines.append(f"  {source}")
            for s in (s for s in report.sections if s.section.source == source):
                lines.append(f"    {s.status.upper() if s.status == 'not cited' else s.status:<17} "
                             f"'{s.section.heading}'{_section_note(s)}")
    return "\n".join(lines) + "\n"


def _section_note(section: SectionCoverage) -> str:
    if section.status == "not cited":
        return ": no rule cites it"
    if section.status == "no rules expected":
        return f": {section.section.reason}"
    note = f" ({len(section.rules)} rule{'s' if len(section.rules) != 1 else ''})"
    return note + (f"; no test decides {', '.join(section.uncovered)}" if section.uncovered else "")


def coverage_json(report: PolicyCoverage) -> dict[str, object]:
    """Coverage of one policy as plain JSON-ready data."""
    return {
        "policy": report.policy, "tests": report.tests, "rules_total": len(report.rules),
        "rules_decided": report.decided, "percent": round(report.percent, 1),
        "rules": [{"rule": r.label, "at": str(r.rule.span), "source": r.rule.source, "covered": r.covered,
                   **{title.replace(" ", "_"): r.counts.get(status, 0) for status, title in _COLUMNS}}
                  for r in report.rules],
        "uncovered": [{"rule": r.label, "why": r.why_uncovered} for r in report.rules if not r.covered],
        "citations": [{"citation": c.citation, "rules": list(c.rules), "uncovered": list(c.uncovered)}
                      for c in report.citations],
        "sources": report.sources,
        "sections": [{"source": s.section.source, "heading": s.section.heading, "status": s.status,
                      "rules_expected": s.section.rules_expected, "reason": s.section.reason,
                      "rules": list(s.rules), "uncovered": list(s.uncovered)} for s in report.sections],
    }
