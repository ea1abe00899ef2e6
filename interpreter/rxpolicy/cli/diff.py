"""``rxpolicy diff OLD NEW``: which cases two policies, or one policy on two dates, decide differently (docs/tools/diff.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rxpolicy.api import PolicyStore
from rxpolicy.cli.common import guarded
from rxpolicy.explain.diff import diff_json, diff_markdown, diff_text
from rxpolicy.tools.diff import diff
from rxpolicy.tools.diff_sides import parse_side, read_case_files

__all__ = ["command"]

def _run(old_spec: str, new_spec: str, cases: Path | None, output_format: str, calendar: bool,
         exit_code: bool) -> None:
    store = PolicyStore()
    old, new = parse_side(old_spec, store), parse_side(new_spec, store)
    report = diff(old, new, read_case_files(cases) if cases is not None else None, calendar=calendar)
    render = {"text": diff_text, "markdown": diff_markdown, "json": diff_json}[output_format]
    click.echo(render(report), nl=False)
    if exit_code and report.shown:
        sys.exit(1)


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--cases", "cases", type=click.Path(path_type=Path), default=None, metavar="DIR|FILE",
              help="Compare the case files (*.yaml) in DIR, or one case FILE, instead of the cases the rules "
                   "define. A case file one side cannot load (a plan its policy does not declare) is listed, "
                   "not compared.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True)
@click.option("--calendar", is_flag=True,
              help="Also show differences the calendar alone makes (the same rules and amounts on both sides).")
@click.option("--exit-code", is_flag=True, help="Exit 1 when some case is decided differently (as `git diff`).")
def command(old: str, new: str, cases: Path | None, output_format: str, calendar: bool,
                 exit_code: bool) -> None:
    """Show which cases two policies, or one policy on two dates, decide differently, and why.

    OLD and NEW are policies (a built-in name or a directory of rule files), each optionally on a date:
    `hollandzorg@2023-06-01 hollandzorg@2025-06-01`. Without a date, the middle of the policy's in-force
    period is used (for `name-YYYY`, 1 July of that year).
    """
    guarded(_run)(old, new, cases, output_format, calendar, exit_code)
