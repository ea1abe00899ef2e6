"""How quickly `rxpolicy lsp` answers an editor, driven as an editor drives it (pygls' client over a pipe).

Prints, for a file of a shared layer (checked in every policy built on it) and for a policy's own file:
the time from a change to its problems being published, and the time of a hover, a completion and a
rename. Run: `.venv/bin/python benchmarks/bench_lsp.py [--rounds N]`. No test asserts these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

ROOT = Path(__file__).resolve().parents[1]
RXPOLICY = str(Path(sys.executable).with_name("rxpolicy"))


class Editor(LanguageClient):
    """A client that notes when each file's problems arrive."""

    def __init__(self) -> None:
        super().__init__("rxpolicy-bench", "1")
        self.arrived: dict[str, asyncio.Event] = {}

        @self.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(client: Editor, params: lsp.PublishDiagnosticsParams) -> None:
            if params.version is not None:
                client.arrived.setdefault(params.uri, asyncio.Event()).set()


async def timed(label: str, rounds: int, action: Callable[[int], Awaitable[object]]) -> None:
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        await action(i)
        times.append(time.perf_counter() - start)
    print(f"  {label:<46} median {statistics.median(times) * 1000:7.1f} ms   max {max(times) * 1000:7.1f} ms")


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules"
        shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("tests"))
        editor = Editor()
        start = time.perf_counter()
        await editor.start_io(RXPOLICY, "lsp")
        await editor.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(),
                                                           process_id=os.getpid(), root_uri=from_fs_path(str(rules))))
        editor.initialized(lsp.InitializedParams())
        print(f"start and initialise the server: {(time.perf_counter() - start) * 1000:.0f} ms")
        for name, why in (("model/dispensing_periods.rxp", "a shared layer's file, checked in 2 policies"),
                          ("hollandzorg/excess.rxp", "a policy's own file")):
            uri = from_fs_path(str(rules / name)) or ""
            text = (rules / name).read_text(encoding="utf-8")
            print(f"{name} ({why}):")
            editor.arrived[uri] = asyncio.Event()
            first = time.perf_counter()
            editor.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=lsp.TextDocumentItem(
                uri=uri, language_id="rxpolicy", version=0, text=text)))
            await editor.arrived[uri].wait()
            print(f"  {'open: problems published':<46} {(time.perf_counter() - first) * 1000:7.1f} ms")

            async def change(i: int) -> None:
                editor.arrived[uri] = asyncio.Event()
                edited = text + f"\n# edit {i}\n"
                editor.text_document_did_change(lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=i + 1),
                    content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=edited)]))
                await editor.arrived[uri].wait()

            await timed("change: problems published (incl. 150 ms quiet)", rounds, change)
            line = next(i for i, l in enumerate(text.splitlines()) if l.lstrip().startswith(("when", "then")))
            column = len(text.splitlines()[line]) - 2
            at = lsp.TextDocumentPositionParams(text_document=lsp.TextDocumentIdentifier(uri=uri),
                                                position=lsp.Position(line=line, character=column))
            await timed("hover", rounds, lambda _: editor.text_document_hover_async(
                lsp.HoverParams(text_document=at.text_document, position=at.position)))
            await timed("completion", rounds, lambda _: editor.text_document_completion_async(
                lsp.CompletionParams(text_document=at.text_document, position=at.position)))
            await timed("references", rounds, lambda _: editor.text_document_references_async(
                lsp.ReferenceParams(text_document=at.text_document, position=at.position,
                                    context=lsp.ReferenceContext(include_declaration=True))))
        await editor.shutdown_async(None)
        editor.exit(None)
        await editor.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    asyncio.run(main(parser.parse_args().rounds))
