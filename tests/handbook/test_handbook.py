"""`rxpolicy doc`: the handbook of both built-in policies, built by the command, checked page by page.

Every rule has its anchor on its family's page, every citation names a known source, every link between
pages lands on a page and an anchor that exist, and no page loads anything from elsewhere.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rxpolicy.api import check
from rxpolicy.explain.links import handbook_url, rule_anchor, rule_page
from rxpolicy.language.load import builtin_rules_dir, registry_beside
from rxpolicy.language import ast
from rxpolicy.language.source import Span
from rxpolicy.tools.citations import resolve_citation, source_text

ROOT = Path(__file__).resolve().parents[2]
RXPOLICY = str(Path(sys.executable).with_name("rxpolicy"))
SEEDS = ROOT.parent / "shared" / "seeds"
POLICIES = ("hollandzorg", "asr")


class _Page(HTMLParser):
    """The ids, links and anything loaded from elsewhere of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag in ("script", "link", "img", "iframe") or found.get("src"):
            self.loads.append(f"<{tag} {found}>")


def build(policy: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RXPOLICY, "doc", policy, "--out", str(out), *extra], capture_output=True, text=True,
                          check=False)


@pytest.fixture(scope="module", params=POLICIES)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    policy = str(request.param)
    out = tmp_path_factory.mktemp(f"handbook-{policy}")
    # With the source texts when they are beside the repository (as in CI): then passages are quoted too.
    done = build(policy, out, *(("--sources", str(SEEDS)) if SEEDS.is_dir() else ()))
    assert done.returncode == 0, done.stderr
    assert f"written to {out}" in done.stdout
    return policy, out


def parsed(out: Path) -> dict[str, _Page]:
    pages = {}
    for path in sorted(out.glob("*.html")):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path.name] = page
    return pages


def test_every_rule_has_its_anchor_on_its_family_page(site: tuple[str, Path]) -> None:
    policy, out = site
    checked, _ = check(policy)
    pages = parsed(out)
    assert "index.html" in pages
    for rule in checked.rules:
        page = f"{rule_page(rule.id)}.html"
        assert page in pages, rule.id
        assert rule_anchor(rule.id) in pages[page].ids, rule.id
        markdown = (out / f"{rule_page(rule.id)}.md").read_text(encoding="utf-8")
        assert f'<a id="{rule_anchor(rule.id)}"></a>' in markdown
    for table in checked.tables:
        assert rule_anchor(table) in pages[f"{rule_page(table)}.html"].ids


def test_every_link_between_pages_lands_on_a_page_and_an_anchor(site: tuple[str, Path]) -> None:
    _, out = site
    pages = parsed(out)
    internal = 0
    for name, page in pages.items():
        for link in page.links:
            if link.startswith("https://"):
                continue  # a public address of a cited source: not followed, no network here
            assert not link.startswith(("http:", "//", "/", "file:")), (name, link)
            target, _, anchor = link.partition("#")
            target = target or name
            assert target in pages, (name, link)
            assert not anchor or anchor in pages[target].ids, (name, link)
            internal += 1
    assert internal > 100
    for path in out.glob("*.md"):
        text = path.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([a-z0-9-]+\.md)(?:#([a-z0-9-]+))?\)", text):
            assert (out / target).is_file(), (path.name, target)
            assert not anchor or f'<a id="{anchor}"></a>' in (out / target).read_text(encoding="utf-8")


def test_the_pages_load_nothing_from_elsewhere(site: tuple[str, Path]) -> None:
    _, out = site
    for name, page in parsed(out).items():
        assert page.loads == [], name


def test_the_pages_name_no_path_outside_the_repository(site: tuple[str, Path]) -> None:
    _, out = site
    for path in out.iterdir():
        assert "shared/" not in path.read_text(encoding="utf-8"), path.name


def test_every_citation_resolves_to_a_known_source(site: tuple[str, Path]) -> None:
    policy, out = site
    checked, _ = check(policy)
    registry = registry_beside(builtin_rules_dir() / policy)
    unknown = [(rule.id, citation.text) for rule in checked.rules for citation in rule.rule.citations
               if not resolve_citation(citation, registry).known]
    assert unknown == []
    for path in out.glob("*.html"):
        assert "not a known source" not in path.read_text(encoding="utf-8")


def _cite(source: str | None, text: str) -> ast.Citation:
    span = Span(path="policy/rules.rxp", line=2, column=3, end_line=2, end_column=30)
    return ast.Citation(source=source, text=text, span=span, source_span=span)


def test_a_citation_resolves_to_the_registry_description_and_plain_text_stays_as_written() -> None:
    registry = registry_beside(builtin_rules_dir() / "hollandzorg")
    cited = resolve_citation(_cite("hollandzorg-2025", "'Consent', eighth bullet"), registry)
    assert cited.known and cited.title.startswith("Medicinal care") and cited.publisher == "HollandZorg"
    assert cited.address == "https://www.hollandzorg.com/conditions" and cited.section == "'Consent', eighth bullet"
    assert cited.text == "HollandZorg, Medicinal care 2025, 'Consent', eighth bullet" and cited.quoted == ("Consent",)
    law = resolve_citation(_cite("zvw", "art. 19 lid 1"), registry)
    assert (law.text, law.kind, law.address, law.known) == ("Zvw art. 19 lid 1", "law", "", True)
    plain = resolve_citation(_cite(None, "Bzv art. 2.8"), None)
    assert plain.plain and plain.title == "Bzv art. 2.8" and plain.section == "" and not plain.known
    unknown = resolve_citation(_cite("zwv", "art. 1"), registry)
    assert not unknown.known and not unknown.plain


def test_the_text_of_a_cited_document_is_found_by_the_headings_the_registry_lists(tmp_path: Path) -> None:
    registry = registry_beside(builtin_rules_dir() / "hollandzorg")
    (tmp_path / "a.txt").write_text("Another insurer\nConsent\nWe decide.\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Medicinal care\nConsent\nAsk us first.\nHow long do we reimburse medicines?\n",
                                    encoding="utf-8")
    cited = resolve_citation(_cite("hollandzorg-2025", "'Consent'"), registry)
    assert source_text(cited, tmp_path) == (tmp_path / "b.txt").read_text(encoding="utf-8")
    assert source_text(resolve_citation(_cite("zvw", "art. 1"), registry), tmp_path) is None


def test_a_rule_is_shown_beside_its_source_sentences_tests_and_changes(site: tuple[str, Path]) -> None:
    policy, out = site
    if policy != "hollandzorg":
        pytest.skip("the rules and years looked at here are HollandZorg's")
    page = (out / "dispensing-period.md").read_text(encoding="utf-8")
    rule = page[page.index('<a id="dispensing-period--chronic"></a>'):]
    rule = rule[:rule.index("<a id=", 10)]
    assert "```rxpolicy\nrow chronic\n  when prescription.chronic and dispensing.months_in_use >= 6" in rule
    assert "'How long do we reimburse medicines?'" in rule
    assert "(en)" in rule and "Bij een chronische aandoening" in rule
    assert "exceptions: [`dispensing-period/benzodiazepines`](dispensing-period.md#dispensing-period--benzodiazepines)" \
        in rule
    tests = re.search(r"\*\*Tests:\*\* it decided in (\d+) tests?", rule)
    assert tests is not None and int(tests.group(1)) >= 1
    assert "rules/model/tests/dispensing_periods.test.yaml:" in rule
    changes = (out / "authorisation.md").read_text(encoding="utf-8").split("## What changed per year")[1]
    assert "### 2023 → 2024" in changes and "### 2024 → 2025" in changes
    assert "`authorisation/esketamine-nasal-spray` is in force until 2023-12-31." in changes
    assert "`authorisation_required` can be yes in 2023 and no in 2024" in changes


def test_with_the_source_texts_the_cited_passage_is_quoted(site: tuple[str, Path]) -> None:
    policy, out = site
    if not SEEDS.is_dir():
        pytest.skip(f"the source texts are not beside the repository ({SEEDS} is absent)")
    if policy != "hollandzorg":
        pytest.skip("the passage looked at here is HollandZorg's")
    page = (out / "dispensing-period.html").read_text(encoding="utf-8")
    chronic = page[page.index('id="dispensing-period--chronic"'):]
    quote = chronic[chronic.index("<blockquote>"):chronic.index("</blockquote>")]
    assert "a minimum of 3 and a maximum of 12 months, if you have a chronic condition" in quote


def test_only_the_format_asked_for_is_written(tmp_path: Path) -> None:
    done = build("asr", tmp_path / "site", "--format", "markdown")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "index.md").is_file() and not list((tmp_path / "site").glob("*.html"))


def test_a_missing_sources_directory_is_bad_input(tmp_path: Path) -> None:
    done = build("hollandzorg", tmp_path / "site", "--sources", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "RX001" in done.stderr and "--sources" in done.stderr and "Traceback" not in done.stderr


def test_eval_links_each_rule_to_its_place_in_the_handbook() -> None:
    case = ROOT / "examples" / "hollandzorg" / "benzodiazepine-chronic.yaml"
    base = "https://handbook.example/hollandzorg"
    done = subprocess.run([RXPOLICY, "eval", str(case), "--format", "json", "--handbook-url", base],
                          capture_output=True, text=True, check=True)
    decision = json.loads(done.stdout)["decisions"]["max_supply"]
    assert decision["rule"] == "dispensing-period/benzodiazepines"  # the contract's fields stay
    assert decision["handbook"] == f"{base}/dispensing-period.html#dispensing-period--benzodiazepines"
    assert decision["handbook"] == handbook_url(base, decision["rule"])
    plain = subprocess.run([RXPOLICY, "eval", str(case), "--format", "json"], capture_output=True, text=True,
                           check=True)
    assert "handbook" not in json.loads(plain.stdout)["decisions"]["max_supply"]
    markdown = subprocess.run([RXPOLICY, "eval", str(case), "--format", "markdown"], capture_output=True, text=True,
                              check=True, env={"RXPOLICY_HANDBOOK_URL": base, "PATH": ""})
    assert f"[`dispensing-period/benzodiazepines`]({base}/dispensing-period.html#dispensing-period--benzodiazepines)" \
        in markdown.stdout
