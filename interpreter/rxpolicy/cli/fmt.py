"""``rxpolicy fmt PATH...``: which files to lay out, in place, or with ``--check`` / ``--diff`` (docs/tools/fmt.md).

Every file is formatted before any is written, so a file that does not parse leaves all of them as
they were. The layout itself is :func:`rxpolicy.tools.fmt.format_text`.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

import click

from rxpolicy.cli.common import guarded
from rxpolicy.diagnostics import Diagnostic, RxError, read_text
from rxpolicy.language.source import SourceFile
from rxpolicy.tools.fmt import format_text

__all__ = ["command"]

_Target: TypeAlias = "tuple[Path | None, SourceFile]"  # a file, or standard input (None)


def _targets(paths: Sequence[Path]) -> list[_Target]:
    """The files named, directories searched for ``*.rxp``; raises RX001/RX002 for what cannot be read."""
    targets: list[_Target] = []
    problems: list[Diagnostic] = []
    for path in paths:
        if str(path) == "-":
            targets.append((None, SourceFile(path="<stdin>", text=sys.stdin.read())))
            continue
        files = sorted(set(path.rglob("*.rxp"))) if path.is_dir() else [path]
        if not files:
            problems.append(Diagnostic(code="RX002", message=f"{path} holds no rule files (*.rxp)",
                                       help="name rule files, or a directory that holds them"))
        for file in files:
            try:
                targets.append((file, SourceFile(path=str(file), text=read_text(file, str(file), kind="rule file"))))
            except RxError as error:
                problems.extend(error.diagnostics)
    if problems:
        raise RxError(problems)
    return targets


@click.command("fmt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, allow_dash=True))
@click.option("--check", is_flag=True, help="Change nothing; list the files that are not formatted and exit 1 if any.")
@click.option("--diff", is_flag=True, help="Change nothing; show the changes as a unified diff.")
def command(paths: tuple[Path, ...], check: bool, diff: bool) -> None:
    """Lay out rule files the one canonical way, in place (`-`: standard input to standard output)."""
    guarded(_fmt)(paths, check, diff)


def _fmt(paths: tuple[Path, ...], check: bool, diff: bool) -> None:
    if len(paths) > 1 and any(str(p) == "-" for p in paths):
        raise click.UsageError("`-` (standard input) cannot be combined with file names")
    targets = _targets(paths)
    results: list[tuple[_Target, str]] = []
    problems: list[Diagnostic] = []
    for target in targets:  # format everything first: when one file does not parse, none is changed
        try:
            results.append((target, format_text(target[1].text, target[1].path)))
        except RxError as error:
            problems.extend(error.diagnostics)
    if problems:  # shown with the lines of the texts read (standard input is not on disk)
        raise RxError(problems, sources={source.path: source for _, source in targets})
    for (path, source), formatted in results:
        if path is None and not (check or diff):
            click.echo(formatted, nl=False)
        elif formatted != source.text and diff:
            click.echo("".join(difflib.unified_diff(source.text.splitlines(keepends=True),
                                                    formatted.splitlines(keepends=True),
                                                    source.path, f"{source.path} (formatted)")), nl=False)
        elif formatted != source.text and path is not None:
            if not check:
                path.write_text(formatted, encoding="utf-8")
            click.echo(source.path)
    if check and any(formatted != source.text for (_, source), formatted in results):
        sys.exit(1)
