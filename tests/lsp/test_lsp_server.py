"""`rxpolicy lsp`, driven as an editor drives it: the real command in a subprocess, an LSP client on its pipes.

The rule files are a copy of the built-in ones in a temporary directory; edits are sent as unsaved buffer
changes, as an editor sends them while the expert types.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_asyncio = pytest.importorskip("pytest_asyncio")

from lsprotocol import types as lsp  # noqa: E402
from pygls.lsp.client import LanguageClient as BaseClient  # noqa: E402
from pygls.uris import from_fs_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RXPOLICY = str(Path(sys.executable).with_name("rxpolicy"))
HANDBOOK = "https://handbook.example/hollandzorg"
pytestmark = pytest.mark.asyncio(loop_scope="module")

#: What the editor says it can do: Markdown hovers, hierarchical outlines, related places, prepared renames.
CAPABILITIES = lsp.ClientCapabilities(
    general=lsp.GeneralClientCapabilities(position_encodings=[lsp.PositionEncodingKind.Utf16]),
    text_document=lsp.TextDocumentClientCapabilities(
        hover=lsp.HoverClientCapabilities(content_format=[lsp.MarkupKind.Markdown, lsp.MarkupKind.PlainText]),
        completion=lsp.CompletionClientCapabilities(completion_item=lsp.ClientCompletionItemOptions(
            snippet_support=False, documentation_format=[lsp.MarkupKind.Markdown])),
        publish_diagnostics=lsp.PublishDiagnosticsClientCapabilities(related_information=True),
        document_symbol=lsp.DocumentSymbolClientCapabilities(hierarchical_document_symbol_support=True),
        rename=lsp.RenameClientCapabilities(prepare_support=True),
        synchronization=lsp.TextDocumentSyncClientCapabilities(did_save=True)))


class LanguageClient(BaseClient):
    """An editor as the server sees it: pygls' client, keeping the diagnostics published for each file."""

    def __init__(self) -> None:
        super().__init__("rxpolicy-tests", "1")
        self.diagnostics: dict[str, list[lsp.Diagnostic]] = {}

        @self.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(client: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
            client.diagnostics[params.uri] = list(params.diagnostics)

        @self.feature(lsp.WINDOW_LOG_MESSAGE)
        def logged(client: LanguageClient, params: lsp.LogMessageParams) -> None:
            print(params.message, file=sys.stderr)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built-in rule files the tests may open and change."""
    target = tmp_path_factory.mktemp("policies") / "rules"
    shutil.copytree(ROOT / "rules", target, ignore=shutil.ignore_patterns("tests"))
    return target


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(rules: Path) -> AsyncIterator[LanguageClient]:
    """`rxpolicy lsp` started as an editor starts it, initialised with the copy of the rules as workspace."""
    editor = LanguageClient()
    await editor.start_io(RXPOLICY, "lsp", "--handbook-url", HANDBOOK)
    await editor.initialize_async(lsp.InitializeParams(capabilities=CAPABILITIES, process_id=os.getpid(),
                                                       root_uri=from_fs_path(str(rules))))
    editor.initialized(lsp.InitializedParams())
    yield editor
    await editor.shutdown_async(None)
    editor.exit(None)
    await editor.stop()


def uri(rules: Path, name: str) -> str:
    found = from_fs_path(str(rules / name))
    assert found is not None
    return found


def open_file(client: LanguageClient, rules: Path, name: str, text: str | None = None) -> tuple[str, str]:
    """Open a rule file in the editor (with ``text`` as its unsaved content); returns its URI and text."""
    content = text if text is not None else (rules / name).read_text(encoding="utf-8")
    address = uri(rules, name)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
        uri=address, language_id="rxpolicy", version=1, text=content)))
    return address, content


def change(client: LanguageClient, address: str, text: str, version: int) -> None:
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=address, version=version),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)]))


def close(client: LanguageClient, address: str) -> None:
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(
        text_document=lsp.TextDocumentIdentifier(uri=address)))


async def settled(client: LanguageClient, address: str) -> None:
    """Wait until the server has handled what was sent before: it answers requests in order."""
    await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        text_document=lsp.TextDocumentIdentifier(uri=address)))


def position_of(text: str, needle: str, nth: int = 0, within: int = 1) -> lsp.Position:
    """The position ``within`` characters into the ``nth`` occurrence of ``needle``."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    offset += within
    line = text.count("\n", 0, offset)
    return lsp.Position(line=line, character=offset - (text.rfind("\n", 0, offset) + 1))


async def hover(client: LanguageClient, address: str, position: lsp.Position) -> str:
    found = await client.text_document_hover_async(lsp.HoverParams(
        text_document=lsp.TextDocumentIdentifier(uri=address), position=position))
    assert found is not None
    assert isinstance(found.contents, lsp.MarkupContent)
    return found.contents.value


async def completions(client: LanguageClient, address: str, position: lsp.Position) -> dict[str, lsp.CompletionItem]:
    found = await client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=address), position=position))
    assert isinstance(found, lsp.CompletionList)
    return {item.label: item for item in found.items}


# ------------------------------------------------------------------------------------------- diagnostics

async def test_a_misspelt_name_is_reported_as_you_type_with_its_fix_and_cleared_when_fixed(
        client: LanguageClient, rules: Path) -> None:
    address, text = open_file(client, rules, "model/dispensing_periods.rxp")
    await settled(client, address)
    assert list(client.diagnostics.get(address, [])) == []
    broken = text.replace("when oral_contraceptive\n", "when oral_contraceptiv\n")
    change(client, address, broken, 2)
    await settled(client, address)
    [problem] = client.diagnostics[address]
    assert problem.code == "RX340"
    assert problem.severity == lsp.DiagnosticSeverity.Error
    assert "oral_contraceptiv" in problem.message and "help: did you mean `oral_contraceptive`?" in problem.message
    assert problem.range.start == position_of(broken, "oral_contraceptiv\n", within=0)
    assert problem.range.end.character - problem.range.start.character == len("oral_contraceptiv")
    change(client, address, text, 3)
    await settled(client, address)
    assert list(client.diagnostics[address]) == []
    close(client, address)


async def test_a_syntax_error_gets_its_code_place_and_fix(client: LanguageClient, rules: Path) -> None:
    address, text = open_file(client, rules, "model/excess.rxp")
    broken = text.replace("rule excess-exempt/contraceptive\n", "rule excess-exempt/contraceptive\n  untill\n", 1)
    change(client, address, broken, 2)
    await settled(client, address)
    [problem] = client.diagnostics[address]
    assert problem.code in {"RX103", "RX104"}
    assert problem.range.start == position_of(broken, "untill", within=0)
    assert "help:" in problem.message
    change(client, address, text, 3)
    await settled(client, address)
    assert list(client.diagnostics[address]) == []
    close(client, address)


async def test_a_duration_of_a_number_that_may_have_a_fraction_is_reported_as_you_type(
        client: LanguageClient, rules: Path) -> None:
    # RX354 comes from the checker like every RX3xx: it reaches the editor with its place and fix.
    address, text = open_file(client, rules, "model/dispensing_periods.rxp")
    halved = text.replace("dispensing.supply_days days fits within", "(dispensing.supply_days / 2) days fits within")
    assert halved != text
    change(client, address, halved, 2)
    await settled(client, address)
    [problem] = client.diagnostics[address]
    assert problem.code == "RX354" and problem.severity == lsp.DiagnosticSeverity.Error
    assert "`dispensing.supply_days / 2` may not be a whole number" in problem.message
    assert "help: round it first: `(dispensing.supply_days / 2 rounded down to a whole number) days`" in problem.message
    assert problem.range.start == position_of(halved, "(dispensing.supply_days / 2) days", within=0)
    assert problem.range.end.character - problem.range.start.character == len("(dispensing.supply_days / 2) days")
    change(client, address, text, 3)
    await settled(client, address)
    assert list(client.diagnostics[address]) == []
    close(client, address)


async def test_a_change_in_one_file_shows_the_problems_it_makes_in_other_files(
        client: LanguageClient, rules: Path) -> None:
    # `contraceptive` is defined in the statutory layer and used by the model layer's authorisation rules.
    address, text = open_file(client, rules, "statutory/appendix_2.rxp")
    change(client, address, text.replace("define contraceptive =", "define contraceptives ="), 2)
    await settled(client, address)
    other = uri(rules, "model/authorisation.rxp")
    problems = client.diagnostics.get(other, [])
    assert problems and all(p.code == "RX340" for p in problems)
    assert any("did you mean `contraceptives`?" in p.message for p in problems)
    change(client, address, text, 3)
    await settled(client, address)
    assert list(client.diagnostics[other]) == []
    close(client, address)


async def test_saving_explores_the_policy_as_rxpolicy_check_does(client: LanguageClient, rules: Path) -> None:
    # A row after one that always applies never decides: RX370, found by exploring, reported on save.
    address, text = open_file(client, rules, "model/dispensing_periods.rxp")
    shadowed = text.replace("  row contraceptive-pill\n    when oral_contraceptive\n",
                            "  row contraceptive-pill\n    when oral_contraceptive or medicine.atc matches G03A*\n")
    shadowed = shadowed.replace("  row acute-antibiotic\n    when antibiotic_or_chemotherapeutic and prescription.acute\n",
                                "  row acute-antibiotic\n    when medicine.atc matches G03AA*\n")
    path = rules / "model/dispensing_periods.rxp"
    path.write_text(shadowed, encoding="utf-8")
    try:
        change(client, address, shadowed, 2)
        client.text_document_did_save(lsp.DidSaveTextDocumentParams(
            text_document=lsp.TextDocumentIdentifier(uri=address)))
        for _ in range(200):
            if any(p.code == "RX370" for p in client.diagnostics.get(address, [])):
                break
            await asyncio.sleep(0.05)
        found = [p for p in client.diagnostics.get(address, []) if p.code == "RX370"]
        assert found and "acute-antibiotic" in found[0].message
    finally:
        path.write_text(text, encoding="utf-8")
        change(client, address, text, 3)
        await settled(client, address)
        close(client, address)


# ------------------------------------------------------------------------------------------- hover

async def test_hover_on_a_rule_id_shows_its_sentences_source_interpretation_and_handbook_link(
        client: LanguageClient, rules: Path) -> None:
    address, text = open_file(client, rules, "model/dispensing_periods.rxp")
    shown = await hover(client, address, position_of(text, "exception to dispensing-period/chronic", within=20))
    assert "**rule** `dispensing-period/chronic` (layer model)" in shown
    assert "For a chronic condition, after at least 6 months of use" in shown  # en
    assert "Bij een chronische aandoening" in shown  # nl
    assert "'How long do we reimburse medicines?'" in shown
    assert "HollandZorg" in shown  # the source text's title from the registry, not just its file name
    assert f"({HANDBOOK}/dispensing-period.html#dispensing-period--chronic)" in shown
    interpreted = await hover(client, address, position_of(text, "row acute-antibiotic", within=6))
    assert "**Interpretation:** 'Chemotherapy' in the English text" in interpreted
    close(client, address)


async def test_hover_on_a_case_field_shows_its_type_allowed_values_and_wording(
        client: LanguageClient, rules: Path) -> None:
    address, text = open_file(client, rules, "model/dispensing_periods.rxp")
    route = await hover(client, address, position_of(text, "medicine.route is oral", within=9))
    assert "**case field** `medicine.route`: route, declared in layer statutory" in route
    assert "Default: oral." in route
    for code, words in (("oral", "oral / oraal"), ("nasal", "nasal / nasaal"), ("topical", "topical / lokaal")):
        assert f"- `{code}`: {words}" in route
    assert "the route of administration / *de toedieningsweg*" in route
    acute = await hover(client, address, position_of(text, "prescription.acute", within=14))
    assert "**case field** `prescription.acute`: yes/no" in acute
    assert "yes: it treats an acute condition" in acute and "no: it does not treat an acute condition" in acute
    close(client, address)


async def test_hover_on_a_definition_and_a_parameter_shows_expression_and_values_per_period(
        client: LanguageClient, rules: Path) -> None:
    address, text = open_file(client, rules, "statutory/money.rxp")
    definition = await hover(client, address, position_of(text, "born_on, excess_age)", within=12))
    assert "**parameter** `excess_age`: number" in definition
    assert "- 18 always" in definition
    cap = await hover(client, address, position_of(text, "define contribution_room", within=10))
    assert "**definition** `contribution_room`: money" in cap
    assert "define contribution_room = max(0.00 EUR, contribution_cap_this_year - insured.contribution_paid)" in cap
    used = await hover(client, address, position_of(text, "define contribution_cap_this_year", within=10))
    assert "- `contribution_cap`: 250.00 EUR in force 2019-01-01–2026-12-31" in used
    close(client, address)
    appendix, appendix_text = open_file(client, rules, "statutory/appendix_2.rxp")
    age = await hover(client, appendix, position_of(appendix_text, "insured.age < 18", within=10))
    assert "**case field** `insured.age`: number (computed by `whole_years_between`" in age
    assert "A 29 February birthday counts on 1 March in a year without 29 February." in age
    close(client, appendix)


# ------------------------------------------------------------------------------------------- navigation

async def test_go_to_definition_of_an_exception_a_definition_a_parameter_and_a_layer(
        client: LanguageClient, rules: Path) -> None:
    address, text = open_file(client, rules, "model/dispensing_periods.rxp")

    async def definition(at: lsp.Position) -> list[lsp.Location]:
        found = await client.text_document_definition_async(lsp.DefinitionParams(
            text_document=lsp.TextDocumentIdentifier(uri=address), position=at))
        assert isinstance(found, list)
        return found

    [row] = await definition(position_of(text, "exception to dispensing-period/chronic", within=20))
    assert row.uri == address and row.range.start == position_of(text, "row chronic", within=4)
    [define] = await definition(position_of(text, "when oral_contraceptive", within=7))
    assert define.range.start == position_of(text, "define oral_contraceptive", within=7)
    money, money_text = open_file(client, rules, "statutory/money.rxp")
    found = await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=lsp.TextDocumentIdentifier(uri=money), position=position_of(money_text, "born_on, excess_age)", within=9)))
    assert isinstance(found, list) and [f.uri for f in found] == [uri(rules, "statutory/amounts.rxp")]
    policy, policy_text = open_file(client, rules, "hollandzorg/policy.rxp")
    found = await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=lsp.TextDocumentIdentifier(uri=policy), position=position_of(policy_text, "built on model", within=10)))
    assert isinstance(found, list) and [f.uri for f in found] == [uri(rules, "model/layer.rxp")]
    # A case field is declared by a `fact` of the statutory layer.
    found = await client.text_document_definition_async(lsp.DefinitionParams(
        text_document=lsp.TextDocumentIdentifier(uri=address), position=position_of(text, "medicine.route is oral", within=9)))
    facts = (rules / "statutory/facts.rxp").read_text(encoding="utf-8")
    assert isinstance(found, list) and [(f.uri, f.range.start) for f in found] == [
        (uri(rules, "statutory/facts.rxp"), position_of(facts, "fact medicine.route:", within=5))]
    for opened in (address, money, policy):
        close(client, opened)


async def test_find_references_of_a_definition_across_layers(client: LanguageClient, rules: Path) -> None:
    address, text = open_file(client, rules, "statutory/appendix_2.rxp")
    found = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=lsp.TextDocumentIdentifier(uri=address), position=position_of(text, "define contraceptive", within=8),
        context=lsp.ReferenceContext(include_declaration=True)))
    assert found is not None
    files = {f.uri.rsplit("/", 2)[-2] + "/" + f.uri.rsplit("/", 1)[-1] for f in found}
    assert {"statutory/appendix_2.rxp", "model/authorisation.rxp"} <= files
    # Every place the word is written as a name (not inside a text or a comment, not part of a rule id).
    word = re.compile(r"(?<![\w/-])contraceptive(?![\w/-])")
    expected = sum(len(word.findall(re.sub(r'"[^"]*"|#.*', "", p.read_text(encoding="utf-8"))))
                   for layer in ("statutory", "model") for p in (rules / layer).glob("*.rxp"))
    assert len(found) == expected
    without = await client.text_document_references_async(lsp.ReferenceParams(
        text_document=lsp.TextDocumentIdentifier(uri=address), position=position_of(text, "define contraceptive", within=8),
        context=lsp.ReferenceContext(include_declaration=False)))
    assert without is not None and len(without) == len(found) - 1
    close(client, address)


# ------------------------------------------------------------------------------------------- completion

async def test_completion_offers_the_keywords_the_grammar_accepts_there(client: LanguageClient, rules: Path) -> None:
    text = "rule coverage/new-rule\n  \n"
    address, _ = open_file(client, rules, "model/scratch.rxp", text)
    offered = await completions(client, address, lsp.Position(line=1, character=2))
    assert {"when", "then", "source", "explain", "exception to", "rejection code", "interpretation", "end"} <= set(offered)
    assert "policy" not in offered and "row" not in offered  # not valid inside a rule
    assert offered["when"].kind == lsp.CompletionItemKind.Keyword
    close(client, address)


async def test_completion_offers_case_fields_enum_values_rule_ids_and_sources(
        client: LanguageClient, rules: Path) -> None:
    rule = ('rule coverage/new-rule\n  source "Zvw art. 11"\n{line}\n  then covered = no\n'
            '  explain en "…"\nend\n')
    address, _ = open_file(client, rules, "model/scratch.rxp", rule.format(line="  when yes"))

    async def offered_after(line: str, version: int) -> dict[str, lsp.CompletionItem]:
        change(client, address, rule.format(line=line), version)
        return await completions(client, address, lsp.Position(line=2, character=len(line)))

    rule_ids = await offered_after("  exception to ", 2)
    assert {"dispensing-period/chronic", "coverage/conditions-met", "dispensing-period"} <= set(rule_ids)
    assert rule_ids["dispensing-period/chronic"].kind == lsp.CompletionItemKind.Reference
    names = await offered_after("  when ", 3)
    assert {"medicine.atc", "insured.age", "oral_contraceptive", "contribution_cap", "covered", "not"} <= set(names)
    assert names["medicine.atc"].detail == "case field: ATC code"
    fields = await offered_after("  when medicine.", 4)
    assert {"medicine.atc", "medicine.route", "medicine.price"} <= set(fields)
    assert not any(label.startswith("insured.") for label in fields)
    edit = fields["medicine.atc"].text_edit
    assert isinstance(edit, lsp.TextEdit) and edit.new_text == "medicine.atc"
    assert (edit.range.start.character, edit.range.end.character) == (len("  when "), len("  when medicine."))
    routes = await offered_after("  when medicine.route is ", 5)
    values = {label for label, item in routes.items() if item.kind == lsp.CompletionItemKind.EnumMember}
    assert values == {"oral", "inhalation", "intravenous", "subcutaneous", "nasal", "rectal", "topical", "other"}
    assert "medicine.atc" not in routes  # a route is compared with a route, not with another field
    kinds = await offered_after("  when prescription.prescriber is one of gp, ", 6)
    assert {"specialist", "midwife", "dentist"} <= set(kinds) and "oral" not in kinds
    ids = await offered_after("  source ", 7)
    assert {"zvw", "hollandzorg-2025", "readings"} <= set(ids) and "medicine.atc" not in ids
    assert ids["hollandzorg-2025"].detail is not None and "HollandZorg" in ids["hollandzorg-2025"].detail
    assert {"zvw", "bzv"} <= set(await offered_after('  source zvw "art. 11", ', 8))
    sections = await offered_after('  source hollandzorg-2025 "', 9)
    assert "'How long do we reimburse medicines?'" in sections and "'Consent'" in sections
    assert await offered_after('  source zvw "', 10) == {}  # a law is cited by article: no sections listed
    close(client, address)


# ------------------------------------------------------------------------------------------- outline, format, rename

async def test_document_symbols_outline_rules_tables_rows_and_definitions(client: LanguageClient, rules: Path) -> None:
    address, _ = open_file(client, rules, "model/dispensing_periods.rxp")
    found = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(
        text_document=lsp.TextDocumentIdentifier(uri=address)))
    assert found is not None
    names = [(s.name, s.detail) for s in found if isinstance(s, lsp.DocumentSymbol)]
    assert names[:3] == [("benzodiazepine_hypnotic_or_anxiolytic", "definition"), ("oral_contraceptive", "definition"),
                         ("antibiotic_or_chemotherapeutic", "definition")]
    table = next(s for s in found if isinstance(s, lsp.DocumentSymbol) and s.name == "dispensing-period")
    assert [c.name for c in table.children or []] == [
        "dispensing-period/contraceptive-pill", "dispensing-period/acute-antibiotic", "dispensing-period/new-medicine",
        "dispensing-period/chronic", "dispensing-period/other"]
    assert ("dispensing-period/benzodiazepines", "rule") in names
    close(client, address)


async def test_formatting_lays_the_file_out_as_rxpolicy_fmt_does(client: LanguageClient, rules: Path) -> None:
    address, text = open_file(client, rules, "model/excess.rxp")
    messy = text.replace("\n  ", "\n        ")
    change(client, address, messy, 2)
    edits = await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=lsp.TextDocumentIdentifier(uri=address), options=lsp.FormattingOptions(tab_size=2,
                                                                                             insert_spaces=True)))
    assert edits is not None and len(edits) == 1
    assert edits[0].new_text == text  # the built-in files are formatted (make test checks)
    change(client, address, text, 3)
    same = await client.text_document_formatting_async(lsp.DocumentFormattingParams(
        text_document=lsp.TextDocumentIdentifier(uri=address), options=lsp.FormattingOptions(tab_size=2,
                                                                                             insert_spaces=True)))
    assert same is not None and list(same) == []
    close(client, address)


async def test_rename_a_definition_and_a_rule_id_across_the_policys_files(client: LanguageClient, rules: Path) -> None:
    address, text = open_file(client, rules, "statutory/appendix_2.rxp")
    prepared = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
        text_document=lsp.TextDocumentIdentifier(uri=address), position=position_of(text, "define contraceptive", 0, 8)))
    assert prepared == lsp.Range(start=position_of(text, "define contraceptive", 0, 7),
                                 end=position_of(text, "define contraceptive", 0, 20))
    keyword = await client.text_document_prepare_rename_async(lsp.PrepareRenameParams(
        text_document=lsp.TextDocumentIdentifier(uri=address), position=position_of(text, "define contraceptive", 0, 2)))
    assert keyword is None  # a keyword is not a name
    edit = await client.text_document_rename_async(lsp.RenameParams(
        text_document=lsp.TextDocumentIdentifier(uri=address), position=position_of(text, "define contraceptive", 0, 8),
        new_name="contraceptive_medicine"))
    assert edit is not None and edit.changes is not None
    assert uri(rules, "model/authorisation.rxp") in edit.changes
    assert all(e.new_text == "contraceptive_medicine" for edits in edit.changes.values() for e in edits)
    # Applied to the texts, the policy still checks: every use was renamed.
    for file_uri, edits in edit.changes.items():
        path = Path(file_uri.removeprefix("file://"))
        lines = path.read_text(encoding="utf-8").split("\n")
        for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
            line = lines[e.range.start.line]
            assert line[e.range.start.character:e.range.end.character] == "contraceptive"
            lines[e.range.start.line] = line[:e.range.start.character] + e.new_text + line[e.range.end.character:]
    model, model_text = open_file(client, rules, "model/dispensing_periods.rxp")
    row = await client.text_document_rename_async(lsp.RenameParams(
        text_document=lsp.TextDocumentIdentifier(uri=model), position=position_of(model_text, "row chronic", 0, 5),
        new_name="dispensing-period/long-term"))
    assert row is not None and row.changes is not None
    texts = sorted(e.new_text for e in row.changes[model])
    assert texts == ["dispensing-period/long-term", "long-term"]  # the `exception to` and the row's own id
    with pytest.raises(Exception, match="already declared"):
        await client.text_document_rename_async(lsp.RenameParams(
            text_document=lsp.TextDocumentIdentifier(uri=model), position=position_of(model_text, "row chronic", 0, 5),
            new_name="dispensing-period/other"))
    close(client, address)
    close(client, model)

