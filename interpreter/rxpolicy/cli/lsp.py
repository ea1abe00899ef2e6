"""``rxpolicy lsp``: the language server for rule files, spoken to by an editor over standard input and output.

See docs/tools/editor.md for VS Code, Neovim and Helix. The server needs pygls (``pip install 'rxpolicy[lsp]'``);
without it the command says so and exits with code 2.
"""

from __future__ import annotations

import sys

import click

from rxpolicy.cli.common import EXIT_BAD_INPUT, guarded

__all__ = ["command"]


@click.command("lsp")
@click.option("--handbook-url", envvar="RXPOLICY_HANDBOOK_URL", default=None, metavar="URL",
              help="Where the policy handbook (`rxpolicy doc`) is published: a rule's hover links to its place "
                   "there. Also read from RXPOLICY_HANDBOOK_URL.")
@click.option("--stdio", is_flag=True, hidden=True, help="Accepted for editors that pass it; stdio is the only transport.")
def command(handbook_url: str | None, stdio: bool) -> None:
    """Run the language server for rule files on standard input and output (started by an editor)."""
    guarded(_lsp)(handbook_url)


def _lsp(handbook_url: str | None) -> None:
    try:
        from rxpolicy.tools.lsp.server import serve
    except ImportError as error:
        # Not a problem with a rule file, so no RX code: the installation lacks the optional part.
        package = (error.name or "pygls").split(".")[0]
        click.echo(f"rxpolicy lsp: the language server needs the Python package `{package}`, which is not "
                   "installed\n  help: install rxpolicy with its editor support: pip install 'rxpolicy[lsp]'",
                   err=True)
        sys.exit(EXIT_BAD_INPUT)
    serve(handbook_url)
