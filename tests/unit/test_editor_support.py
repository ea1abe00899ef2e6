"""The editor files in editors/: the VS Code TextMate grammar knows exactly the grammar's keywords (as the
Pygments lexer does), the extension's manifest points at files that exist, and the Neovim and Helix
configurations docs/tools/editor.md shows are the files in editors/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rxpolicy.language.parse import keywords

ROOT = Path(__file__).resolve().parents[2]
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "rxpolicy.tmLanguage.json").read_text(encoding="utf-8"))
MANIFEST = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
EDITOR_DOC = (ROOT / "docs" / "tools" / "editor.md").read_text(encoding="utf-8")


def patterns(node: Any) -> Iterator[dict[str, Any]]:
    """Every pattern of the grammar, nested ones included."""
    if isinstance(node, dict):
        if "match" in node or "begin" in node:
            yield node
        for value in node.values():
            yield from patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from patterns(value)


def words_of(scope_prefix: str) -> set[str]:
    """The words of the `\\b(?:a|b|c)\\b` patterns whose scope starts with ``scope_prefix``."""
    found: set[str] = set()
    for pattern in patterns(GRAMMAR["repository"]):
        if str(pattern.get("name", "")).startswith(scope_prefix):
            for group in re.findall(r"\\b\(\?:([a-z|A-Z?]+)\)\\b", pattern.get("match", "")):
                found.update(w for w in group.split("|") if w.isalpha())
    return found


def test_the_textmate_grammar_colours_exactly_the_grammar_keywords() -> None:
    keyword_words = words_of("keyword.declaration") | words_of("keyword.other.rxpolicy")
    operators = words_of("keyword.operator.word")
    constants = words_of("constant.language")
    units = words_of("keyword.other.unit")
    assert operators == {"and", "or", "not"} and constants == {"yes", "no"} and "EUR" in units
    assert keyword_words | operators | constants | {"EUR"} == keywords()


def test_the_textmate_grammar_and_the_pygments_lexer_agree() -> None:
    pytest.importorskip("pygments")
    from rxpolicy.tools.pygments_lexer import KEYWORDS

    textmate = (words_of("keyword.declaration") | words_of("keyword.other.rxpolicy") | words_of("keyword.operator")
                | words_of("constant.language"))
    assert textmate == set(KEYWORDS)


def test_every_pattern_of_the_textmate_grammar_is_a_valid_regular_expression() -> None:
    found = list(patterns(GRAMMAR))
    assert len(found) > 20
    for pattern in found:
        for key in ("match", "begin", "end"):
            if key in pattern:
                re.compile(pattern[key])
    included = {p["include"].lstrip("#") for p in GRAMMAR["patterns"]}
    assert included == set(GRAMMAR["repository"])


def test_rule_ids_and_fields_are_matched_whole() -> None:
    rule_id = next(p for p in patterns(GRAMMAR["repository"]["declaration"]))
    found = re.search(rule_id["match"], "rule dispensing-period/benzodiazepines")
    assert found is not None and found.group(2) == "dispensing-period/benzodiazepines"
    field = re.search(GRAMMAR["repository"]["field"]["match"], "when dispensing.fees.dispensing > 0")
    assert found is not None and field is not None and field.group(0) == "dispensing.fees.dispensing"


def test_the_vscode_manifest_points_at_its_files_and_starts_the_server() -> None:
    contributes = MANIFEST["contributes"]
    [language] = contributes["languages"]
    [grammar] = contributes["grammars"]
    assert language["id"] == grammar["language"] == "rxpolicy" and language["extensions"] == [".rxp"]
    assert grammar["scopeName"] == GRAMMAR["scopeName"]
    for path in (grammar["path"], language["configuration"], MANIFEST["main"]):
        assert (VSCODE / path).is_file(), path
    settings = contributes["configuration"]["properties"]
    assert settings["rxpolicy.server.args"]["default"] == ["lsp"]
    assert "vscode-languageclient" in MANIFEST["dependencies"]
    extension = (VSCODE / MANIFEST["main"]).read_text(encoding="utf-8")
    assert '"--handbook-url"' in extension and "server.command" in extension


@pytest.mark.parametrize("path", ["editors/nvim/rxpolicy.lua", "editors/helix/languages.toml"])
def test_the_editor_guide_shows_the_configuration_files_as_they_are(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:lua|toml)\n(.*?)```", EDITOR_DOC, re.DOTALL)
    assert text in blocks, f"docs/tools/editor.md should show {path} as it is"
