"""The policy handbook (beleidshandboek) as data: one page per rule family, each rule beside what it cites.

:func:`build_handbook` gathers, for every rule of a policy, its text as written, its layer and place, the
sources it cites (resolved by :func:`rxpolicy.tools.citations.resolve_citation`; with the source texts'
directory, the passage quoted), its patient sentences in English and Dutch, its interpretation, the rule
tests about it and what happened to it in all of the policy's tests, and, per year the policy covers,
what changed (``rxpolicy diff`` between the middle of one year and the next). The renderers
(:mod:`.html`, :mod:`.markdown`) only lay this out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from rxpolicy.api import PolicyStore
from rxpolicy.diagnostics import RxError
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.engine.trace import RuleStatus
from rxpolicy.explain.links import rule_anchor, rule_family, rule_page
from rxpolicy.explain.words import value_text
from rxpolicy.language import ast
from rxpolicy.language.load import registry_beside, resolve_policy_dir
from rxpolicy.language.source import Span
from rxpolicy.language.sources import SourceRegistry
from rxpolicy.tools.citations import CitedSource, resolve_citation, source_text
from rxpolicy.tools.diff import diff
from rxpolicy.tools.diff_sides import parse_side
from rxpolicy.tools.ruletest import TestResult, run
from rxpolicy.tools.ruletest_coverage import coverage
from rxpolicy.tools.ruletest_format import TEST_SUFFIX, discover

__all__ = ["Citation", "Handbook", "Page", "RuleEntry", "RuleTestEntry", "YearChange", "build_handbook"]


@attrs.frozen(kw_only=True)
class Citation:
    """One source a rule cites, and the passage quoted from the source texts when they were given."""

    source: CitedSource
    passage: str | None = None


@attrs.frozen(kw_only=True)
class RuleTestEntry:
    """A rule test that says it is about a rule."""

    name: str
    where: str
    passed: bool


@attrs.frozen(kw_only=True)
class RuleEntry:
    """One rule (or table row) as the handbook shows it."""

    id: str
    anchor: str
    layer: str
    layer_kind: str
    #: The rule as written in its file (a table row: the row).
    text: str
    where: str
    validity: str | None
    decides: tuple[str, ...]
    exception_to: tuple[str, ...]
    #: Rules that are exceptions to this one.
    exceptions: tuple[str, ...]
    table: str | None
    citations: tuple[tuple[str, tuple[Citation, ...]], ...]
    interpretation: str | None
    explains: Mapping[str, str]
    tests: tuple[RuleTestEntry, ...]
    #: What happened to the rule in the policy's tests: status → number of tests.
    coverage: Mapping[RuleStatus, int]


@attrs.frozen(kw_only=True)
class YearChange:
    """What decides differently from one year to the next, for one family's rules."""

    old_year: int
    new_year: int
    #: Sentences: a decision that differs, with the rules on each side; rules that start or stop.
    lines: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Page:
    """The rules of one family (``dispensing-period``, ``coverage``, …)."""

    family: str
    page: str
    #: The table heads (the table's clauses above its rows) of the family, as written.
    tables: tuple[tuple[str, str], ...]
    rules: tuple[RuleEntry, ...]
    changes: tuple[YearChange, ...]


@attrs.frozen(kw_only=True)
class Handbook:
    """The handbook of one policy."""

    policy: str
    title: str
    validity: str | None
    layers: tuple[tuple[str, str, str], ...]
    pages: tuple[Page, ...]
    tests: int
    #: Rules that decided in at least one test, of all rules.
    decided: int
    sources_quoted: bool
    #: The years compared for "what changed" (none for a policy of one year).
    years: tuple[int, ...]


def build_handbook(policy_name: str, store: PolicyStore, sources_dir: Path | None = None) -> Handbook:
    """Gather a policy's handbook; ``sources_dir`` holds the source texts to quote cited passages from."""
    directory = resolve_policy_dir(policy_name)
    policy = store.load(str(directory))
    registry = registry_beside(directory)
    results = _test_results(directory, policy, store)
    counts = _coverage(results)
    exceptions: dict[str, list[str]] = {}
    for rule in policy.rules:
        for parent in rule.parents:
            exceptions.setdefault(parent, []).append(rule.id)
            for row in policy.checked.tables.get(parent, ()):
                exceptions.setdefault(row, []).append(rule.id)
    entries = [_entry(policy, rule, registry, sources_dir, results, counts, exceptions) for rule in policy.rules]
    years, changes = _changes(directory, policy, store)
    families = list(dict.fromkeys(rule_family(e.id) for e in entries))
    pages = []
    for family in families:
        members = tuple(e for e in entries if rule_family(e.id) == family)
        tables = tuple((t.id, _table_head(policy, t)) for t in _tables(policy) if rule_family(t.id) == family)
        pages.append(Page(family=family, page=rule_page(family), tables=tables, rules=members,
                          changes=tuple(_family_change(family, pair, lines) for pair, lines in changes)))
    return Handbook(policy=policy.name, title=policy.title, validity=str(policy.validity) if policy.validity else None,
                    layers=tuple((layer.name, layer.kind.value, layer.title) for layer in policy.layers),
                    pages=tuple(pages), tests=len(results),
                    decided=sum(1 for rule in policy.rules if counts.get(rule.index, {}).get(RuleStatus.DECIDED)),
                    sources_quoted=sources_dir is not None, years=years)


# ------------------------------------------------------------------------------------------ rules

def _source_text(policy: CompiledPolicy, node_span: Span) -> str:
    source = policy.checked.source_of(node_span.path)
    if source is None:
        return ""
    text = source.slice(node_span)
    # The first line starts at the item's column; the others keep their indentation relative to it.
    indent = node_span.column - 1
    lines = text.split("\n")
    return "\n".join([lines[0], *(line[indent:] if line[:indent].strip() == "" else line for line in lines[1:])])


def _tables(policy: CompiledPolicy) -> list[ast.Table]:
    return [item for f in policy.checked.files_ast for item in f.items if isinstance(item, ast.Table)]


def _table_head(policy: CompiledPolicy, table: ast.Table) -> str:
    whole = _source_text(policy, table.span)
    head = re.split(r"\n\s*row\s", whole, maxsplit=1)[0]
    return head.rstrip() + "\n  …\nend"


def _entry(policy: CompiledPolicy, rule: RuleMeta, registry: SourceRegistry | None, sources_dir: Path | None,
           results: Sequence[TestResult], counts: Mapping[int, Mapping[RuleStatus, int]],
           exceptions: Mapping[str, list[str]]) -> RuleEntry:
    resolved = [resolve_citation(citation, registry) for citation in rule.rule.citations]
    citations = tuple((cited.text, (Citation(source=cited, passage=_passage(cited, sources_dir)),))
                      for cited in resolved)
    tests = tuple(RuleTestEntry(name=r.test.name, where=r.where, passed=r.passed) for r in results
                  if r.test.rule is not None and r.test.rule.text == rule.id)
    return RuleEntry(id=rule.id, anchor=rule_anchor(rule.id), layer=rule.layer, layer_kind=rule.layer_kind.value,
                     text=_source_text(policy, rule.span), where=f"{rule.span.path}:{rule.span.line}",
                     validity=str(rule.validity) if rule.validity else None, decides=rule.decides,
                     exception_to=rule.parents, exceptions=tuple(dict.fromkeys(exceptions.get(rule.id, ()))),
                     table=rule.table, citations=citations, interpretation=rule.interpretation,
                     explains=rule.explains, tests=tests, coverage=counts.get(rule.index, {}))


# ------------------------------------------------------------------------------------------ tests

def _test_results(directory: Path, policy: CompiledPolicy, store: PolicyStore) -> list[TestResult]:
    """The rule tests of the policy and of the layers it is built on (a layer's tests run for each policy
    built on it: only this policy's runs are kept)."""
    results: list[TestResult] = []
    for layer in policy.layers:
        tests_dir = directory.parent / layer.name / "tests"
        if not tests_dir.is_dir() or not any(tests_dir.rglob(f"*{TEST_SUFFIX}")):
            continue
        for test_file in discover([tests_dir]):
            try:
                results.extend(r for r in run(test_file, store) if r.policy.fingerprint == policy.fingerprint)
            except RxError:
                continue  # a test file that cannot run: `rxpolicy test` reports it
    return results


def _coverage(results: Sequence[TestResult]) -> dict[int, Mapping[RuleStatus, int]]:
    found: dict[int, Mapping[RuleStatus, int]] = {}
    for report in coverage(results):
        for rule in report.rules:
            found[rule.rule.index] = rule.counts
    return found


# ------------------------------------------------------------------------------------------ sources

_HEADING_LIMIT = 1600


def _passage(cited: CitedSource, sources_dir: Path | None) -> str | None:
    """The passage of the source text a citation points at: the section under a cited heading (up to the
    next heading the registry lists), or the paragraph holding cited words."""
    if sources_dir is None or cited.kind != "document":
        return None
    text = source_text(cited, sources_dir)
    if text is None:
        return None
    headings = cited.headings
    for quoted in cited.quoted:
        words = quoted.rstrip(" .").replace(" ... ", "…").split("…")[0].strip()
        if not words:
            continue
        at = _find_line(text, words)
        if at is None:
            continue
        if words in headings:
            end = min((i for h in headings if h != words and (i := _heading_at(text, h, at)) is not None),
                      default=len(text))
            return _trim(text[at:end])
        start = text.rfind("\n\n", 0, at) + 2 if text.rfind("\n\n", 0, at) >= 0 else 0
        stop = text.find("\n\n", at + len(words))
        return _trim(text[start:stop if stop >= 0 else len(text)])
    return None


def _find_line(text: str, words: str) -> int | None:
    """Where the words are: a line that is just them (a heading) first, else anywhere."""
    line = re.search(r"(?m)^" + re.escape(words) + r"\s*$", text)
    if line is not None:
        return line.start()
    found = text.find(words)
    return found if found >= 0 else None


def _heading_at(text: str, heading: str, after: int) -> int | None:
    found = re.compile(r"(?m)^" + re.escape(heading) + r"\s*$").search(text, after + 1)
    return found.start() if found else None


def _trim(passage: str) -> str:
    passage = re.sub(r"\n{3,}", "\n\n", passage.strip())
    return passage if len(passage) <= _HEADING_LIMIT else passage[:_HEADING_LIMIT].rsplit(" ", 1)[0] + " …"


# ------------------------------------------------------------------------------------------ changes per year

def _changes(directory: Path, policy: CompiledPolicy, store: PolicyStore,
             ) -> tuple[tuple[int, ...], list[tuple[tuple[int, int], list[tuple[str, tuple[str, ...]]]]]]:
    """Per pair of following years the policy covers: (sentence, families it concerns)."""
    if policy.validity is None or policy.validity.end is None:
        return (), []
    years = tuple(range(policy.validity.start.year, policy.validity.end.year + 1))
    found: list[tuple[tuple[int, int], list[tuple[str, tuple[str, ...]]]]] = []
    for old_year, new_year in zip(years, years[1:]):
        old = parse_side(f"{directory}@{old_year}-07-01", store)
        new = parse_side(f"{directory}@{new_year}-07-01", store)
        lines: list[tuple[str, tuple[str, ...]]] = []
        for rule in policy.rules:
            validity = rule.validity
            if validity is not None and validity.start.year == new_year and validity.start > policy.validity.start:
                lines.append((f"`{rule.id}` is in force from {validity.start}.", (rule_family(rule.id),)))
            if validity is not None and validity.end is not None and validity.end.year == old_year \
                    and validity.end < policy.validity.end:
                lines.append((f"`{rule.id}` is in force until {validity.end}.", (rule_family(rule.id),)))
        report = diff(old, new)
        for finding in report.findings:
            if finding.kind == "error" or finding.calendar_only:
                continue
            before = finding.old.rules.get(finding.decision, ())
            after = finding.new.rules.get(finding.decision, ())
            old_value = value_text(finding.old.values.get(finding.decision), "en",
                                   finding.old.types.get(finding.decision))
            new_value = value_text(finding.new.values.get(finding.decision), "en",
                                   finding.new.types.get(finding.decision))
            sentence = (f"`{finding.decision}` can be {old_value} in {old_year} and {new_value} in {new_year} for "
                        f"the same case: decided by {_ids(before)} then, by {_ids(after)} now")
            if finding.why:
                sentence += f" ({'; '.join(finding.why)})"
            families = tuple(dict.fromkeys(rule_family(r.id) for r in (*before, *after)))
            lines.append((sentence + ".", families))
        found.append(((old_year, new_year), lines))
    return years, found


def _ids(rules: Sequence[RuleMeta]) -> str:
    return ", ".join(f"`{r.id}`" for r in rules) or "no rule"


def _family_change(family: str, pair: tuple[int, int], lines: list[tuple[str, tuple[str, ...]]]) -> YearChange:
    return YearChange(old_year=pair[0], new_year=pair[1],
                      lines=tuple(text for text, families in lines if family in families))

