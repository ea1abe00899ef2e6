"""Which rules and which source sections the rule tests exercise, and the ``rxpolicy test`` command.

Per policy and per rule: how many tests it decided in, was overridden by an exception in, was evaluated
in without applying, was not reached in, or was not in force in. A rule that decided in no test is
uncovered; coverage is the share of rules that decided at least once. Rules are also grouped by the text
they cite, and matched to the sections of the source texts listed in ``rules/sources.yaml`` (beside the
policy directories): a section is covered when every rule citing it decided in some test, and a section
no rule cites is listed unless the registry says it needs no rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import attrs
import yaml

from rxpolicy.diagnostics import Diagnostic, RxError, did_you_mean, read_text
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.engine.trace import RuleStatus
from rxpolicy.language.load import resolve_policy_dir
from rxpolicy.tools.ruletest import TestResult, display_path

__all__ = ["CitationCoverage", "PolicyCoverage", "RuleCoverage", "SectionCoverage", "SourceRegistry",
           "SourceSection", "SOURCES_FILE", "cited_sections", "coverage", "coverage_json", "coverage_text",
           "load_sources", "sources_beside"]

SOURCES_FILE = "sources.yaml"
_SEED = re.compile(r"\d{3}_[0-9a-f]{16}\.txt")
_SECTION_KEYS = ("seed", "heading", "rules_expected", "reason", "cited_as")
_COLUMNS = ((RuleStatus.DECIDED, "decided"), (RuleStatus.OVERRIDDEN, "overridden"),
            (RuleStatus.NOT_APPLICABLE, "did not apply"), (RuleStatus.NOT_REACHED, "not reached"),
            (RuleStatus.NOT_IN_FORCE, "not in force"))


# ----------------------------------------------------------------------------- the source registry

@attrs.frozen(kw_only=True)
class SourceSection:
    """A section of a source text (seed): its heading and whether rules are expected to cite it."""

    seed: str
    heading: str
    rules_expected: bool
    #: Why no rules are expected (required when ``rules_expected`` is false).
    reason: str | None = None
    #: Passages of the section that rules quote instead of its heading.
    cited_as: tuple[str, ...] = ()

    @property
    def texts(self) -> tuple[str, ...]:
        """Every text that, written after the seed's name in a citation, cites this section."""
        return (self.heading, *self.cited_as)


@attrs.frozen(kw_only=True)
class SourceRegistry:
    """The sections of the source texts (``rules/sources.yaml``)."""

    path: str
    #: Seed file → the policies it is a source of.
    seeds: Mapping[str, tuple[str, ...]]
    sections: tuple[SourceSection, ...]

    def for_policy(self, name: str) -> tuple[SourceSection, ...]:
        """The sections of the seeds that are a source of this policy."""
        return tuple(s for s in self.sections if name in self.seeds.get(s.seed, ()))


def _registry_problem(path: str, message: str, help: str) -> RxError:
    return RxError(Diagnostic(code="RX709", message=f"{path}: {message}", help=help))


def _section(raw: object, number: int, path: str, seeds: Mapping[str, object]) -> SourceSection:
    where = f"section {number}"
    if not isinstance(raw, dict):
        raise _registry_problem(path, f"{where} is not a mapping", "write `- seed: ...` and `heading: ...`")
    for key in raw:
        if key not in _SECTION_KEYS:
            hint = did_you_mean(str(key), _SECTION_KEYS)
            raise _registry_problem(path, f"{where} has no key `{key}`" + (f"; did you mean `{hint}`?" if hint else ""),
                                    f"keys are: {', '.join(_SECTION_KEYS)}")
    seed, heading, expected = raw.get("seed"), raw.get("heading"), raw.get("rules_expected")
    if seed not in seeds or not isinstance(heading, str) or not isinstance(expected, bool):
        raise _registry_problem(path, f"{where} needs a `seed` listed under `seeds`, a `heading` and "
                                      "`rules_expected: true` or `false`", "complete the section")
    reason, cited_as = raw.get("reason"), raw.get("cited_as") or []
    if not expected and not isinstance(reason, str):
        raise _registry_problem(path, f"{where} ('{heading}') needs no rules but does not say why",
                                "add `reason: ...`")
    if not isinstance(cited_as, list) or not all(isinstance(c, str) for c in cited_as):
        raise _registry_problem(path, f"{where} ('{heading}'): `cited_as` must be a list of texts",
                                "write `cited_as: [words of the section that rules quote]`")
    return SourceSection(seed=str(seed), heading=heading, rules_expected=expected,
                         reason=reason if isinstance(reason, str) else None, cited_as=tuple(cited_as))


def load_sources(path: Path) -> SourceRegistry:
    """Read a source registry; raises :class:`RxError` (RX709) when it is not well formed."""
    shown = display_path(path)
    text = read_text(path, shown, kind="source registry")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "it cannot be read"
        raise _registry_problem(shown, f"is not valid YAML{where}: {problem}", "fix the YAML, or remove the file") \
            from None
    seeds = data.get("seeds") if isinstance(data, dict) else None
    sections = data.get("sections") if isinstance(data, dict) else None
    if not isinstance(seeds, dict) or not isinstance(sections, list):
        raise _registry_problem(shown, "needs a `seeds:` mapping and a `sections:` list", "see rules/sources.yaml")
    policies = {str(seed): tuple(str(p) for p in (info or {}).get("policies", [])) for seed, info in seeds.items()}
    return SourceRegistry(path=shown, seeds=MappingProxyType(policies),
                          sections=tuple(_section(raw, i + 1, shown, seeds) for i, raw in enumerate(sections)))


def sources_beside(policy_dir: Path) -> SourceRegistry | None:
    """The registry beside a policy directory (``rules/sources.yaml`` for a built-in policy), if any."""
    path = policy_dir.parent / SOURCES_FILE
    return load_sources(path) if path.is_file() else None


def cited_sections(citation: str, sections: Sequence[SourceSection]) -> list[SourceSection]:
    """The sections a citation names: after each seed's name, up to the next seed's, its heading or a
    passage of it; longer texts first, each match blanked, so a heading inside a longer one is not counted."""
    found: list[SourceSection] = []
    marks = list(_SEED.finditer(citation))
    for mark, after in zip(marks, [*marks[1:], None]):
        segment = citation[mark.end():after.start() if after else len(citation)].casefold()
        candidates = sorted(((text.casefold(), s) for s in sections if s.seed == mark.group() for text in s.texts),
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
    registry = sources_beside(resolve_policy_dir(results[0].file.policy))
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
    sections = registry.for_policy(policy)
    citing: dict[SourceSection, list[RuleCoverage]] = {s: [] for s in sections}
    for rule in rules:
        for section in {s for c in rule.rule.citations for s in cited_sections(c, sections)}:
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
        for seed in dict.fromkeys(s.section.seed for s in report.sections):
            lines.append(f"  {seed}")
            for s in (s for s in report.sections if s.section.seed == seed):
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
        "sections": [{"seed": s.section.seed, "heading": s.section.heading, "status": s.status,
                      "rules_expected": s.section.rules_expected, "reason": s.section.reason,
                      "rules": list(s.rules), "uncovered": list(s.uncovered)} for s in report.sections],
    }
