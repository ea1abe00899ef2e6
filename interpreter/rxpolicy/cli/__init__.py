"""The command line: ``rxpolicy eval | check | policies | test | fmt | diff | schema | serve``, one module per command.

Commands are imported when they run, not when the program starts: ``rxpolicy eval`` does not pay for the
policy experts' tools it never uses. A command module defines one click command named ``command``;
:data:`COMMANDS` maps each command's name to its module. What the commands share (the diagnostics on stderr,
the exit codes, the guard against tracebacks) is in :mod:`rxpolicy.cli.common`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import click

__all__ = ["COMMANDS", "cli", "import_command", "main"]

#: Command name → module under ``rxpolicy.cli`` that defines it (as ``command``), in the order of ``--help``.
COMMANDS: Mapping[str, str] = MappingProxyType({
    "eval": "eval",
    "check": "check",
    "policies": "policies",
    "test": "test",
    "fmt": "fmt",
    "diff": "diff",
    "lsp": "lsp",
    "doc": "doc",
    "batch": "batch",
    "impact": "impact",
    "claims": "claims",
    "schema": "schema",
    "serve": "serve",
})


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = importlib.import_module(f"rxpolicy.cli.{module}").command
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show a traceback on internal errors.")
@click.version_option(package_name="rxpolicy")
def cli(debug: bool) -> None:
    """Evaluate Dutch basic-insurance medicine rules, with explanations."""


def import_command(argv: Sequence[str]) -> None:
    """Import the module of the command ``argv`` names, if any (what :class:`LazyGroup` would import to run it).

    For :mod:`rxpolicy.__main__`, which imports what a command needs before it runs the command.
    """
    name = next((argument for argument in argv if not argument.startswith("-")), None)
    module = COMMANDS.get(name) if name is not None else None
    if module is not None:
        try:
            importlib.import_module(f"rxpolicy.cli.{module}")
        except Exception:  # noqa: BLE001 - reported where it always was: when the command line runs the command
            pass


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    import sys

    try:
        try:
            cli.main(args=list(argv) if argv is not None else None, prog_name="rxpolicy")
        finally:
            # Output still buffered is written here, not at exit, where a closed pipe would print a warning.
            sys.stdout.flush()
    except BrokenPipeError:
        from .common import end_on_closed_pipe

        end_on_closed_pipe()
