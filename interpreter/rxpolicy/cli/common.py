"""What every command shares: diagnostics on stderr, exit codes, and the guard that keeps tracebacks away.

Bad input of any kind (a case, a rule file, a policy name, an option) ends with a short message on
stderr, naming the place and the fix, and exit code 2; nothing is printed on stdout then. An
unexpected failure is reported as an internal error; ``--debug`` shows its traceback. Output piped to a command
that stops reading (``rxpolicy policies | head -2``) ends the command quietly with exit code 1, as click does.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import click

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.explain.diagnostics import render_diagnostics
from rxpolicy.language.load import source_line
from rxpolicy.language.source import SourceFile

__all__ = ["EXIT_BAD_INPUT", "EXIT_CLOSED_PIPE", "EXIT_INTERNAL", "collector_paused", "end_on_closed_pipe", "guarded",
           "report"]

F = TypeVar("F", bound=Callable[..., Any])
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
#: Exit code when stdout is a pipe whose reader has gone (what click's own handling of EPIPE exits with).
EXIT_CLOSED_PIPE = 1


def report(diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile] | None = None) -> None:
    """Write diagnostics to stderr, with the lines they point at (from ``sources`` first, then from disk)."""
    def line(path: str, number: int) -> str | None:
        return sources[path].line_text(number) if sources and path in sources else source_line(path, number)

    click.echo(render_diagnostics(diagnostics, line), err=True, nl=False)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while many long-lived objects are made (a policy read from the cache):
    it would walk them repeatedly and find no garbage. On again afterwards, unless it was off before."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def end_on_closed_pipe() -> NoReturn:
    """End quietly because whoever read stdout stopped (``| head``): nothing more can be said there, and a
    traceback or an internal error about it would be noise. Stdout is pointed at the null device first, so
    the output still buffered is not flushed into the closed pipe again when Python exits."""
    with contextlib.suppress(OSError, ValueError):  # stdout without a file descriptor (a test runner's)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    sys.exit(EXIT_CLOSED_PIPE)


def guarded(command: F) -> F:
    """Turn RxError into exit code 2 and anything unexpected into a short internal-error message."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RxError as error:
            report(error.diagnostics, error.sources)
            sys.exit(EXIT_BAD_INPUT)
        except BrokenPipeError:
            end_on_closed_pipe()
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001 - the one place that must catch everything
            ctx = click.get_current_context(silent=True)
            if ctx is not None and ctx.find_root().params.get("debug"):
                import traceback  # here: only an internal error shown with --debug needs it

                traceback.print_exc()
            click.echo(f"rxpolicy: internal error: {type(error).__name__}: {error}\n"
                       "  help: this is a bug in rxpolicy, not in your input; run again with --debug and "
                       "report the output", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]
