"""``rxpolicy fmt PATH...``: which files to lay out, in place, or with ``--check`` / ``--diff`` (docs/tools/fmt.md).

Every file is formatted before any is written, so a file that does not parse leaves all of them as
they were. The layout itself is :func:`rxpolicy.tools.fmt.format_text`.
"""

from __future__ import annotations

import difflib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

import click

from rxpolicy.cli.common import guarded
from rxpolicy.diagnostics import Diagnostic, RxError, read_text
from rxpolicy.language.source import SourceFile
from rxpolicy.tools.fmt import format_text

__all__ = ["command", "write_files"]

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
    changed: list[tuple[Path, str]] = []
    for (path, source), formatted in results:
        if path is None and not (check or diff):
            click.echo(formatted, nl=False)
        elif formatted != source.text and diff:
            click.echo("".join(difflib.unified_diff(source.text.splitlines(keepends=True),
                                                    formatted.splitlines(keepends=True),
                                                    source.path, f"{source.path} (formatted)")), nl=False)
        elif formatted != source.text and path is not None:
            changed.append((path, formatted))
    if not check:
        # Every file written, or RX003 with each file either as it was or fully formatted, never cut short.
        write_files(changed)
    for path, _ in changed:
        click.echo(str(path))
    if check and any(formatted != source.text for (_, source), formatted in results):
        sys.exit(1)


def _write_error(path: Path, error: OSError, done: Sequence[Path]) -> RxError:
    """RX003 for a file that could not be written, saying which files were written before it."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free some disk space and run `rxpolicy fmt` again"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"make {path.parent} writable (fmt writes a new file next to the old one), or leave {path} out"
    else:
        fix = "check the disk and the directory, then run `rxpolicy fmt` again"
    if done:
        fix += f"; {', '.join(map(str, done))} {'is' if len(done) == 1 else 'are'} formatted already"
    return RxError(Diagnostic(code="RX003", message=f"cannot write the rule file {path}: {reason}; it is unchanged",
                              help=fix))


def _read_only(path: Path) -> RxError:
    return RxError(Diagnostic(code="RX003", message=f"the rule file {path} is read-only; fmt leaves it unchanged",
                              help=f"make it writable (`chmod u+w {path}`) to format it, or leave it out"))


def write_files(files: Sequence[tuple[Path, str]]) -> None:
    """Replace the text of each file, atomically: each is either untouched or fully written.

    Each new text goes to a temporary file in the same directory (only a rename within one file system is
    atomic), is flushed to the disk and given the old file's permissions; only when every temporary file
    is written are they renamed over the old ones. A failure before the renames (a full disk, a directory
    that cannot be written) leaves every file as it was; a kill at any moment leaves each file old or new,
    never cut short. A read-only file is refused rather than replaced behind its owner's back. Raises
    RX003 naming the file.
    """
    staged: dict[Path, tuple[Path, Path]] = {}  # the real file → (as named, its new text's temporary file)
    try:
        for path, text in files:
            target = path.resolve()  # through a symbolic link: the link stays, the file it points to changes
            if target in staged:
                continue
            try:
                mode = stat.S_IMODE(target.stat().st_mode)
            except OSError as error:
                raise _write_error(path, error, ()) from None
            if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
                raise _read_only(path)
            try:
                # Hidden and not `*.rxp`: a temporary file a kill leaves behind is never read as a rule file.
                handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            except OSError as error:
                raise _write_error(path, error, ()) from None
            staged[target] = (path, Path(name))
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(text.encode("utf-8"))
                    out.flush()
                    os.fchmod(out.fileno(), mode)
                    os.fsync(out.fileno())
            except OSError as error:
                raise _write_error(path, error, ()) from None
        done: list[Path] = []
        for target, (path, temporary) in staged.items():
            try:
                os.replace(temporary, target)
            except OSError as error:
                raise _write_error(path, error, done) from None
            done.append(path)
        for folder in {target.parent for target in staged}:
            _sync_directory(folder)
    finally:
        for _, temporary in staged.values():  # those not renamed, after a failure
            temporary.unlink(missing_ok=True)


def _sync_directory(folder: Path) -> None:
    """Flush a directory's entries (the renames) to the disk; not every system can open a directory."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
