"""``rxpolicy lsp``: a Language Server Protocol server for rule files, over standard input and output.

Built on pygls. Every change to an open rule file checks the policy it belongs to, with the unsaved
text of every open file, and publishes the problems of all the policy's files (a renamed definition
breaks another file too); saving also explores the policy for shadowed rules, overlaps and gaps, as
``rxpolicy check`` does. Hover, go to definition, references, completion, the outline, formatting and
rename answer from the index of the policy's files (:mod:`rxpolicy.tools.lsp.index`).

A rule file belongs to the policy of its directory; a file of a shared layer (``rules/model``) belongs to
every sibling policy built on it, and its problems are those of any of them.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import attrs
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument

from rxpolicy.diagnostics import Diagnostic, RxError, Severity, read_text
from rxpolicy.explain.links import handbook_url
from rxpolicy.language import ast
from rxpolicy.language.check import CheckedPolicy, check_policy
from rxpolicy.language.load import RULE_SUFFIX, policy_sources, registry_beside
from rxpolicy.language.lower import parse_rule_file
from rxpolicy.language.source import SourceFile, Span
from rxpolicy.language.sources import SourceRegistry
from rxpolicy.tools.fmt import format_text
from rxpolicy.tools.lsp.complete import complete
from rxpolicy.tools.lsp.hover import hover_markdown
from rxpolicy.tools.lsp.index import Occurrence, PolicyIndex, SymbolKind

__all__ = ["RuleFileServer", "create_server", "serve"]

_COMPLETION_KINDS = {
    "keyword": lsp.CompletionItemKind.Keyword, "field": lsp.CompletionItemKind.Field,
    "definition": lsp.CompletionItemKind.Function, "parameter": lsp.CompletionItemKind.Constant,
    "decision": lsp.CompletionItemKind.Variable, "rule": lsp.CompletionItemKind.Reference,
    "value": lsp.CompletionItemKind.EnumMember, "source": lsp.CompletionItemKind.Text,
    "type": lsp.CompletionItemKind.TypeParameter,
}
_RENAMEABLE = (SymbolKind.RULE, SymbolKind.DEFINITION, SymbolKind.PARAMETER, SymbolKind.DECISION)
#: Seconds of quiet after a change before the policy is checked again: typing is not held up by a check per key.
CHECK_DELAY = 0.15


@attrs.define
class _PolicyState:
    """The latest view of one policy: its index (kept from the last time every file parsed) and problems."""

    index: PolicyIndex | None = None
    problems: tuple[Diagnostic, ...] = ()
    #: What exploring the policy found at the last save (RX370-RX374); dropped on the next change.
    findings: tuple[Diagnostic, ...] = ()


class RuleFileServer(LanguageServer):
    """The language server; holds the latest check of each policy whose files are open."""

    def __init__(self, handbook: str | None = None) -> None:
        super().__init__("rxpolicy", version("rxpolicy"))
        self.handbook = handbook
        self.policies: dict[Path, _PolicyState] = {}
        self.published: dict[Path, set[str]] = {}
        self.lock = threading.RLock()
        #: The parsed files by (path, text), or the problem that stopped the parse: only what changed is parsed
        #: again (parsing is most of the time a check takes). Old texts are dropped as new ones come.
        self.parsed: dict[str, tuple[str, ast.RuleFile | RxError]] = {}
        #: Documents changed since their policy was last checked, with the timer that will check it.
        self.pending: dict[str, asyncio.TimerHandle] = {}

    # ------------------------------------------------------------------ reading and checking
    def text_of(self, path: Path) -> str:
        """The text of a rule file: the editor's buffer when it is open, else the file on disk."""
        uri = from_fs_path(str(path))
        document = self.workspace.text_documents.get(uri) if uri else None
        if document is not None:
            return str(document.source)
        return read_text(path, str(path), kind="rule file")

    def read(self, path: Path) -> tuple[str, str]:
        """A :data:`rxpolicy.language.load.RuleFileReader` over open buffers; paths are absolute, so problems map to files."""
        resolved = path.resolve()
        return str(resolved), self.text_of(resolved)

    def parse(self, source: SourceFile) -> ast.RuleFile:
        """A :data:`rxpolicy.language.load.RuleFileParser` that parses a file again only when its text changed."""
        cached = self.parsed.get(source.path)
        if cached is None or cached[0] != source.text:
            try:
                result: ast.RuleFile | RxError = parse_rule_file(source)
            except RxError as error:
                result = error
            cached = self.parsed[source.path] = (source.text, result)
        if isinstance(cached[1], RxError):
            raise cached[1]
        return cached[1]

    def policy_dirs(self, path: Path) -> list[Path]:
        """The policy directories a rule file is checked in (see the module's docstring)."""
        directory = path.resolve().parent
        if self._declares_policy(directory):
            return [directory]
        users = [d for d in sorted(directory.parent.iterdir()) if d.is_dir() and d != directory
                 and self._declares_policy(d) and self._built_on(d, directory.name)]
        return users or [directory]

    def _declares_policy(self, directory: Path) -> bool:
        return any("\npolicy " in "\n" + self._safe_text(f) for f in directory.glob(f"*{RULE_SUFFIX}"))

    def _built_on(self, directory: Path, layer: str) -> bool:
        pattern = re.compile(r"\bbuilt\s+on\s+" + re.escape(layer) + r"\b")
        return any(pattern.search(self._safe_text(f)) for f in directory.glob(f"*{RULE_SUFFIX}"))

    def _safe_text(self, path: Path) -> str:
        try:
            return self.text_of(path)
        except RxError:
            return ""

    def check(self, directory: Path) -> _PolicyState:
        """Parse and check a policy with the open buffers; keeps the last index when a file does not parse."""
        state = self.policies.setdefault(directory, _PolicyState())
        state.findings = ()
        try:
            sources = policy_sources(directory, self.read, self.parse)
        except RxError as error:
            state.problems = error.diagnostics
            return state
        checked: CheckedPolicy | None = None
        try:
            checked, warnings = check_policy(sources)
            state.problems = warnings
        except RxError as error:
            state.problems = error.diagnostics
        state.index = PolicyIndex.build(sources, checked)
        return state

    def explore(self, directory: Path) -> None:
        """Explore a policy that checks clean for RX370-RX374 (what ``rxpolicy check`` reports), as on save."""
        from rxpolicy.tools.analysis import analyse
        from rxpolicy.engine.compile import compile_policy
        state = self.policies.get(directory)
        if state is None or state.index is None or state.index.checked is None:
            return
        state.findings = tuple(analyse(compile_policy(state.index.checked)).diagnostics)

    def registry(self, path: Path | None) -> SourceRegistry | None:
        """The source registry the rules of the policy holding a file cite (None: plain-text citations only,
        or a registry that does not read: the file's diagnostics say why)."""
        dirs = self.policy_dirs(path) if path is not None else []
        if not dirs:
            return None
        try:
            return registry_beside(dirs[0])
        except RxError:
            return None

    def handbook_link(self, rule_id: str) -> str | None:
        """The address of a rule in the handbook, when the server was given the handbook's address."""
        return handbook_url(self.handbook, rule_id) if self.handbook else None

    def schedule(self, uri: str) -> None:
        """Check a changed document's policy once the editor has been quiet for :data:`CHECK_DELAY` seconds."""
        waiting = self.pending.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        self.pending[uri] = asyncio.get_running_loop().call_later(CHECK_DELAY, self.refresh, uri)

    def flush(self) -> None:
        """Check now what changed and is waiting, so that an answer never comes from text that is gone."""
        for uri in list(self.pending):
            self.refresh(uri)

    def index_for(self, uri: str) -> PolicyIndex | None:
        """The index of the (first) policy a document belongs to, checking it if it was not yet."""
        self.flush()
        path = _path(uri)
        if path is None:
            return None
        directory = self.policy_dirs(path)[0]
        with self.lock:  # a save may be checking the same policy in a worker thread
            state = self.policies.get(directory) or self.check(directory)
            return state.index

    # ------------------------------------------------------------------ diagnostics
    def refresh(self, uri: str, *, explore: bool = False) -> None:
        """Check the policies of a document and publish the problems of all their files."""
        waiting = self.pending.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        path = _path(uri)
        if path is None or path.suffix != RULE_SUFFIX:
            return
        with self.lock:
            by_file: dict[str, list[lsp.Diagnostic]] = {}
            for directory in self.policy_dirs(path):
                state = self.check(directory)
                if explore:
                    self.explore(directory)
                files = self._files_of(directory, state)
                for name in files:
                    by_file.setdefault(name, [])
                for problem in (*state.problems, *state.findings):
                    where = problem.span.path if problem.span is not None else str(path.resolve())
                    converted = self.diagnostic(problem)
                    if converted not in by_file.setdefault(where, []):
                        by_file[where].append(converted)
                previous = self.published.get(directory, set())
                for stale in previous - set(by_file):
                    by_file[stale] = []
                self.published[directory] = {f for f, found in by_file.items() if found}
            edited = str(path.resolve())
            document = self.workspace.text_documents.get(uri)
            # The edited file last, with its version: when it arrives, the other files' problems are there too.
            for name in sorted(by_file, key=lambda n: n == edited):
                file_uri = from_fs_path(name)
                if file_uri:
                    version = document.version if document is not None and name == edited else None
                    self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
                        uri=file_uri, diagnostics=by_file[name], version=version))

    def _files_of(self, directory: Path, state: _PolicyState) -> list[str]:
        if state.index is not None:
            return list(state.index.files)
        return [str(p.resolve()) for p in sorted(directory.glob(f"*{RULE_SUFFIX}"))]

    def diagnostic(self, problem: Diagnostic) -> lsp.Diagnostic:
        """A problem as the protocol has it: the range, the message with its fix, related places."""
        span = problem.span
        rng = self.range(span) if span is not None else lsp.Range(start=lsp.Position(line=0, character=0),
                                                                    end=lsp.Position(line=0, character=0))
        message = problem.message
        if problem.notes:
            message += "\n" + "\n".join(problem.notes)
        if problem.help:
            message += f"\nhelp: {problem.help}"
        related = [lsp.DiagnosticRelatedInformation(location=self.location(where), message=label)
                   for label, where in problem.related]
        severity = lsp.DiagnosticSeverity.Warning if problem.severity is Severity.WARNING \
            else lsp.DiagnosticSeverity.Error
        return lsp.Diagnostic(range=rng, message=message, severity=severity, code=problem.code, source="rxpolicy",
                              related_information=related or None)

    # ------------------------------------------------------------------ places
    def document(self, path: str) -> TextDocument:
        """The document of a path (open or read from disk), for position conversions."""
        uri = from_fs_path(path) or path
        return self.workspace.get_text_document(uri)

    def range(self, span: Span) -> lsp.Range:
        """A span (lines and columns from 1, in characters) as a protocol range (in the client's units)."""
        lines = self._lines(span.path)
        return lsp.Range(start=self.position_at(lines, span.line, span.column),
                         end=self.position_at(lines, span.end_line, span.end_column))

    def _lines(self, path: str) -> Sequence[str]:
        try:
            return self.document(path).lines
        except (OSError, UnicodeDecodeError):
            return []

    def position_at(self, lines: Sequence[str], line: int, column: int) -> lsp.Position:
        """A place (line and column from 1, in characters) as a protocol position in the client's units."""
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        units = self.workspace.position_codec.client_num_units(text[: column - 1])
        return lsp.Position(line=line - 1, character=units)

    def location(self, span: Span) -> lsp.Location:
        """A span as a protocol location."""
        return lsp.Location(uri=from_fs_path(span.path) or span.path, range=self.range(span))

    def place(self, uri: str, position: lsp.Position) -> tuple[str, int, int, int]:
        """A protocol position → (path, line from 1, column from 1, character offset in the text)."""
        document = self.workspace.get_text_document(uri)
        server = self.workspace.position_codec.position_from_client_units(document.lines, position)
        path = str(Path(to_fs_path(uri) or uri).resolve())
        offset = sum(len(line) for line in document.lines[: server.line]) + server.character
        return path, server.line + 1, server.character + 1, offset

    def occurrence(self, uri: str, position: lsp.Position) -> tuple[PolicyIndex, Occurrence] | None:
        """The symbol at a position, with the index it was found in."""
        index = self.index_for(uri)
        if index is None:
            return None
        path, line, column, _ = self.place(uri, position)
        found = index.at(path, line, column)
        return (index, found) if found is not None else None


def _path(uri: str) -> Path | None:
    path = to_fs_path(uri)
    return Path(path) if path else None


def create_server(handbook: str | None = None) -> RuleFileServer:
    """The server with every feature registered."""
    server = RuleFileServer(handbook)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: RuleFileServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: RuleFileServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    @server.thread()
    def did_save(ls: RuleFileServer, params: lsp.DidSaveTextDocumentParams) -> None:
        # Exploring takes up to a second: on save only, and in a worker thread so typing is never held up.
        ls.refresh(params.text_document.uri, explore=True)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: RuleFileServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: RuleFileServer, params: lsp.HoverParams) -> lsp.Hover | None:
        found = ls.occurrence(params.text_document.uri, params.position)
        if found is None:
            return None
        index, occurrence = found
        path = _path(params.text_document.uri)
        text = hover_markdown(index, occurrence, ls.registry(path), ls.handbook_link)
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
                         range=ls.range(occurrence.span))

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: RuleFileServer, params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        found = ls.occurrence(params.text_document.uri, params.position)
        if found is None:
            return None
        index, occurrence = found
        declared = index.declarations(occurrence.kind, occurrence.name)
        if not declared and occurrence.kind is SymbolKind.RULE:
            # A table's rows are what `exception to <table>` derogates from; the table is declared by its id.
            declared = index.declarations(SymbolKind.RULE, occurrence.name)
        return [ls.location(o.span) for o in declared] or None

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    def references(ls: RuleFileServer, params: lsp.ReferenceParams) -> list[lsp.Location] | None:
        found = ls.occurrence(params.text_document.uri, params.position)
        if found is None:
            return None
        index, occurrence = found
        places = index.references(occurrence.kind, occurrence.name,
                                  include_declaration=params.context.include_declaration)
        return [ls.location(o.span) for o in places]

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                    lsp.CompletionOptions(trigger_characters=[".", " ", '"', ","]))
    def completion(ls: RuleFileServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        index = ls.index_for(params.text_document.uri)
        document = ls.workspace.get_text_document(params.text_document.uri)
        _, _, _, offset = ls.place(params.text_document.uri, params.position)
        path = _path(params.text_document.uri)
        start, items = complete(index, document.source, offset, ls.registry(path))
        # The text replaced is given as a range, so that `medicine.a` becomes `medicine.atc` in every client,
        # whatever it takes for a word.
        before = document.source[:start]
        start_line = before.count("\n")
        lines = document.lines
        replaced = lsp.Range(start=ls.position_at(lines, start_line + 1, len(before) - (before.rfind("\n") + 1) + 1),
                             end=params.position)
        return lsp.CompletionList(is_incomplete=False, items=[
            lsp.CompletionItem(label=i.label, kind=_COMPLETION_KINDS.get(i.kind), detail=i.detail or None,
                               text_edit=lsp.TextEdit(range=replaced, new_text=i.insert or i.label))
            for i in items])

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbols(ls: RuleFileServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        index = ls.index_for(params.text_document.uri)
        if index is None:
            return []
        path, _, _, _ = ls.place(params.text_document.uri, lsp.Position(line=0, character=0))
        return [_symbol(ls, index, item) for item, _ in index.symbols_of(path)]

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: RuleFileServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        document = ls.workspace.get_text_document(params.text_document.uri)
        try:
            formatted = format_text(document.source, document.path)
        except RxError:
            return None  # a file that does not parse is left as it is; its problem is already shown
        if formatted == document.source:
            return []
        end = lsp.Position(line=len(document.lines), character=0)
        return [lsp.TextEdit(range=lsp.Range(start=lsp.Position(line=0, character=0), end=end), new_text=formatted)]

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    def prepare_rename(ls: RuleFileServer, params: lsp.PrepareRenameParams) -> lsp.Range | None:
        found = ls.occurrence(params.text_document.uri, params.position)
        if found is None or found[1].kind not in _RENAMEABLE:
            return None
        return ls.range(found[1].span)

    @server.feature(lsp.TEXT_DOCUMENT_RENAME)
    def rename(ls: RuleFileServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
        found = ls.occurrence(params.text_document.uri, params.position)
        if found is None or found[1].kind not in _RENAMEABLE:
            return None
        index, occurrence = found
        return _rename(ls, index, occurrence, params.new_name)

    return server


def _rename(ls: RuleFileServer, index: PolicyIndex, occurrence: Occurrence, new_name: str) -> lsp.WorkspaceEdit:
    pattern = r"[a-z][a-z0-9]*(-[a-z0-9]+)*(/[a-z0-9]+(-[a-z0-9]+)*)*" if occurrence.kind is SymbolKind.RULE \
        else r"[a-z_][a-z0-9_]*"
    if not re.fullmatch(pattern, new_name):
        what = "a rule id (lower-case words joined by - and /)" if occurrence.kind is SymbolKind.RULE \
            else "a name (lower-case letters, digits and _)"
        raise JsonRpcInvalidParams(f"`{new_name}` is not {what}")
    taken = index.declarations(occurrence.kind, new_name)
    if taken:
        raise JsonRpcInvalidParams(f"`{new_name}` is already declared at {taken[0].span}")
    changes: dict[str, list[lsp.TextEdit]] = {}
    for place in index.references(occurrence.kind, occurrence.name):
        text = new_name
        if place.declares and place.written and place.written != place.name:
            # A table row is written by its own id inside its table: only that part changes.
            table = place.name.rsplit("/", 1)[0]
            if not new_name.startswith(table + "/") or "/" in new_name[len(table) + 1:]:
                raise JsonRpcInvalidParams(f"a row of the table `{table}` keeps its table's id: write `{table}/…`")
            text = new_name[len(table) + 1:]
        uri = from_fs_path(place.span.path) or place.span.path
        changes.setdefault(uri, []).append(lsp.TextEdit(range=ls.range(place.span), new_text=text))
    return lsp.WorkspaceEdit(changes=changes)


def _symbol(ls: RuleFileServer, index: PolicyIndex, item: object) -> lsp.DocumentSymbol:
    assert isinstance(item, (ast.Policy, ast.Layer, ast.Decision, ast.Definition, ast.Parameter, ast.Rule,
                             ast.Table))
    whole = ls.range(item.span)
    if isinstance(item, ast.Rule):
        return lsp.DocumentSymbol(name=item.id, kind=lsp.SymbolKind.Function, range=whole,
                                  selection_range=ls.range(item.id_span), detail="rule")
    if isinstance(item, ast.Table):
        rows = [lsp.DocumentSymbol(name=row.id, kind=lsp.SymbolKind.EnumMember, range=ls.range(row.span),
                                   selection_range=ls.range(row.id_span), detail="row") for row in item.rows]
        return lsp.DocumentSymbol(name=item.id, kind=lsp.SymbolKind.Enum, range=whole, selection_range=whole,
                                  detail="table: decides " + ", ".join(item.decides), children=rows)
    kinds = {ast.Policy: (lsp.SymbolKind.Module, "policy"), ast.Layer: (lsp.SymbolKind.Module, "layer"),
             ast.Decision: (lsp.SymbolKind.Variable, "decision"), ast.Definition: (lsp.SymbolKind.Function,
                                                                                   "definition"),
             ast.Parameter: (lsp.SymbolKind.Constant, "parameter")}
    kind, detail = kinds[type(item)]
    name_kind = {ast.Policy: SymbolKind.LAYER, ast.Layer: SymbolKind.LAYER, ast.Decision: SymbolKind.DECISION,
                 ast.Definition: SymbolKind.DEFINITION, ast.Parameter: SymbolKind.PARAMETER}[type(item)]
    declared = [o for o in index.declarations(name_kind, item.name) if o.span.path == item.span.path
                and o.span.line >= item.span.line]
    selection = ls.range(declared[0].span) if declared else whole
    return lsp.DocumentSymbol(name=item.name, kind=kind, range=whole, selection_range=selection, detail=detail)


def serve(handbook: str | None = None) -> None:
    """Run the server on standard input and output until the editor ends the session."""
    create_server(handbook).start_io()

