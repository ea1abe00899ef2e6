"""``rxpolicy doc POLICY --out DIR``: the policy handbook, one page per rule family, in HTML and Markdown.

Each rule is shown as written beside the sources it cites (title, section, public address), its patient
sentences, its tests and what changed per year. ``--sources DIR`` quotes the cited passages from the
source texts in DIR, which stay where they are: nothing of them is copied but the passages shown.
"""

from __future__ import annotations

from pathlib import Path

import click

from rxpolicy.api import PolicyStore
from rxpolicy.cli.common import guarded
from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.tools.handbook.html import handbook_html
from rxpolicy.tools.handbook.markdown import handbook_markdown
from rxpolicy.tools.handbook.model import build_handbook

__all__ = ["command"]


@click.command("doc")
@click.argument("policy")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The directory to write the handbook to (made when missing; its pages are replaced).")
@click.option("--sources", "sources_dir", type=click.Path(path_type=Path), default=None,
              help="The directory of the source texts, to quote the passage each rule cites.")
@click.option("--format", "output_format", type=click.Choice(["both", "html", "markdown"]), default="both",
              show_default=True, help="HTML pages (open index.html in a browser), Markdown pages, or both.")
def command(policy: str, out_dir: Path, sources_dir: Path | None, output_format: str) -> None:
    """Write the policy handbook: every rule beside its source, its tests and what changed per year."""
    guarded(_doc)(policy, out_dir, sources_dir, output_format)


def _doc(policy: str, out_dir: Path, sources_dir: Path | None, output_format: str) -> None:
    if sources_dir is not None and not sources_dir.is_dir():
        raise RxError(Diagnostic(code="RX001", message=f"the source texts' directory {sources_dir} does not exist",
                                 help="give the directory that holds the source texts the rules cite, "
                                      "or leave out --sources"))
    handbook = build_handbook(policy, PolicyStore(), sources_dir)
    pages: dict[str, str] = {}
    if output_format in ("both", "html"):
        pages.update(handbook_html(handbook))
    if output_format in ("both", "markdown"):
        pages.update(handbook_markdown(handbook))
    if out_dir.exists() and not out_dir.is_dir():
        raise RxError(Diagnostic(code="RX001", message=f"{out_dir} is a file, not a directory",
                                 help="give --out a directory to write the handbook to"))
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in pages.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    rules = sum(len(p.rules) for p in handbook.pages)
    start = out_dir / ("index.html" if output_format != "markdown" else "index.md")
    click.echo(f"{handbook.policy}: {rules} rules on {len(handbook.pages)} pages written to {out_dir} "
               f"(open {start})")
