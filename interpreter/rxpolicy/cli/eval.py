"""``rxpolicy eval CASE...``: evaluate cases and explain every decision.

One case file: its explanation, and exit code 0 (covered or not) or 2 (bad input, nothing on stdout).

Several case files, or ``-`` for standard input (YAML documents separated by ``---``, or JSON Lines, one
case object per line): the policy is loaded once and every case is evaluated in this one process, so a
script pays the start-up once. Each case's result is printed in input order (``--format json``: one JSON
object per line, with ``"case"`` naming the file or ``<stdin> #N``); a case with bad input gets its message
on stderr (and, in JSON, a line with ``"errors"`` in its place) and the others are still evaluated. Exit
code 0 when every case was evaluated, 2 when any had bad input (or the policy itself is bad), 3 on an
internal error.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import click

from rxpolicy import api
from rxpolicy.cli.common import EXIT_BAD_INPUT, collector_paused, guarded, report
from rxpolicy.diagnostics import Diagnostic, RxError, read_text
from rxpolicy.engine.case import parse_case
from rxpolicy.engine.case_limits import CASE_LIMITS, check_file_size
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.evaluate import Evaluation, evaluate
from rxpolicy.language.load import builtin_policies, split_policy_year
from rxpolicy.language.source import SourceFile

__all__ = ["command"]

STDIN = "-"
#: A line that starts a YAML document (``---``, alone or before content) or ends one (``...``).
_MARKER = re.compile(r"^(---|\.\.\.)(?=\s|$)")


@click.command("eval")
@click.argument("cases", nargs=-1, required=True, metavar="CASE...")
@click.option("--policy", "policy_name", default="hollandzorg", show_default=True,
              help="A built-in policy name or a directory of rule files.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
              help="Language of the explanations.")
@click.option("--why-not/--no-why-not", "why_not", default=None,
              help="For a case that is not covered, also search for the smallest changes of facts that would make "
                   "it covered. Default: on for one case shown as text on a terminal, off otherwise.")
@click.option("--handbook-url", envvar="RXPOLICY_HANDBOOK_URL", default=None, metavar="URL",
              help="Where the policy handbook (`rxpolicy doc`) is published: JSON and Markdown link each rule to "
                   "its place there. Also read from RXPOLICY_HANDBOOK_URL.")
@guarded
def command(cases: tuple[str, ...], policy_name: str, output_format: str, lang: str, why_not: bool | None,
            handbook_url: str | None) -> None:
    """Evaluate case files (or `-`: YAML documents or JSON Lines on standard input) and explain every decision."""
    single = len(cases) == 1 and cases[0] != STDIN
    # A directory, a pipe or a dangling link is named for what it is by _read_case.
    if single and not Path(cases[0]).exists() and not Path(cases[0]).is_symlink():
        raise RxError(Diagnostic(code="RX001", message=f"the case file {cases[0]} does not exist",
                                 help="give the path of a case YAML file, e.g. examples/hollandzorg/benzodiazepine-chronic.yaml"))
    with collector_paused():  # the policy from the cache is some 15,000 objects, none of them garbage
        policy = api.PolicyStore().load(policy_name)
    if why_not is None:
        # The search re-evaluates the case many times: worth it for a person reading one case, not for a program.
        why_not = single and output_format == "text" and sys.stdout.isatty()
    if single:
        path = Path(cases[0])
        text = _read_case(path, str(path))
        click.echo(_render(_evaluate(policy, policy_name, text, str(path)), output_format, lang, why_not,
                           handbook_url), nl=False)
        return
    bad = 0
    for name, content, source in _records(cases):
        try:
            if isinstance(content, RxError):
                raise content
            evaluation = _evaluate(policy, policy_name, content, name)
        except RxError as error:
            bad += 1
            report(error.diagnostics, {**error.sources, **({name: source} if source else {})})
            if output_format == "json":
                click.echo(json.dumps({"case": name, "errors": [_error_json(d) for d in error.diagnostics]},
                                      ensure_ascii=False, separators=(",", ":")))
            continue
        if output_format == "json":
            from rxpolicy.explain.json import evaluation_dict, utf8_safe

            data = {"case": name, **evaluation_dict(evaluation, lang, what_if=_what_if(evaluation, why_not),
                                                    handbook=handbook_url)}
            click.echo(utf8_safe(json.dumps(data, ensure_ascii=False, separators=(",", ":"))))
        else:
            heading = f"## {name}\n\n" if output_format == "markdown" else f"=== {name} ===\n"
            click.echo(heading + _render(evaluation, output_format, lang, why_not, handbook_url))
    if bad:
        sys.exit(EXIT_BAD_INPUT)


def _evaluate(policy: CompiledPolicy, policy_name: str, text: str, name: str) -> Evaluation:
    """Validate one case's text and evaluate it; :class:`RxError` for bad input."""
    case = parse_case(text, path=name, policy=policy)
    try:
        evaluation = evaluate(policy, case)
    except RxError as error:
        raise _naming_policies_in_force(error, case.dispensed_on) from None
    _, year = split_policy_year(policy_name)
    if year is not None and evaluation.case.dispensed_on.year != year:
        raise RxError(Diagnostic(
            code="RX602", field="dispensed_on",
            message=f"the case is dispensed on {evaluation.case.dispensed_on}, but `{policy_name}` asks for the "
                    f"rules of {year}",
            help=f"use `--policy {policy.name}` (the dispensing date picks the year), or check the case's date"))
    return evaluation


def _what_if(evaluation: Evaluation, why_not: bool) -> Any:
    if not why_not or evaluation.outcome is None or evaluation.positive:
        return None
    from rxpolicy.tools.whatif import what_if  # only when asked: the search is the costly part

    return what_if(evaluation)


def _render(evaluation: Evaluation, output_format: str, lang: str, why_not: bool, handbook: str | None = None) -> str:
    # Renderers are imported for the format asked: each brings only what it needs.
    what_if = _what_if(evaluation, why_not)
    if output_format == "json":
        from rxpolicy.explain.json import evaluation_json

        return evaluation_json(evaluation, lang, what_if=what_if, handbook=handbook)
    if output_format == "markdown":
        from rxpolicy.explain.markdown import evaluation_markdown

        return evaluation_markdown(evaluation, lang, what_if=what_if, handbook=handbook)
    from rxpolicy.explain.text import evaluation_text

    return evaluation_text(evaluation, lang, what_if=what_if)


def _error_json(diagnostic: Diagnostic) -> dict[str, Any]:
    """A case's problem as a JSON Lines record shows it (the full message with its caret is on stderr)."""
    out: dict[str, Any] = {"code": diagnostic.code, "message": diagnostic.message}
    if diagnostic.span is not None:
        out["line"], out["column"] = diagnostic.span.line, diagnostic.span.column
    if diagnostic.field:
        out["field"] = diagnostic.field
    if diagnostic.help:
        out["help"] = diagnostic.help
    return out


def _records(arguments: tuple[str, ...]) -> Iterator[tuple[str, str | RxError, SourceFile | None]]:
    """(name shown, text or why it cannot be read, source for messages) of every case, files whole, stdin split."""
    for argument in arguments:
        if argument != STDIN:
            try:
                yield argument, _read_case(Path(argument), argument), None
            except RxError as error:
                yield argument, error, None
            continue
        text = sys.stdin.read()
        source = SourceFile(path="<stdin>", text=text)
        for number, document in enumerate(_documents(text), start=1):
            yield f"<stdin> #{number}", document, source


def _documents(text: str) -> Iterator[str]:
    """The documents of a YAML stream or the lines of JSON Lines, each padded so its lines keep their numbers.

    Split on the lines themselves (not by a YAML parser), so a syntax error in one case leaves the others
    readable; a document's text starts with as many empty lines as precede it in the stream.
    """
    lines = text.splitlines(keepends=True)
    nonblank = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if nonblank and all(line.lstrip().startswith("{") for line in nonblank):
        for number, line in enumerate(lines):
            if line.strip() and not line.lstrip().startswith("#"):
                yield "\n" * number + line
        return
    start, current = 0, []
    for number, line in enumerate(lines):
        marker = _MARKER.match(line)
        if marker is None:
            current.append(line)
            continue
        if any(part.strip() and not part.lstrip().startswith("#") for part in current):
            yield "\n" * start + "".join(current)
        start = number
        # Content after `---` on the same line belongs to the new document; the marker becomes spaces.
        current = [" " * len(marker.group(1)) + line[len(marker.group(1)):]] if marker.group(1) == "---" else ["\n"]
    if any(part.strip() and not part.lstrip().startswith("#") for part in current):
        yield "\n" * start + "".join(current)


def _read_case(path: Path, shown: str) -> str:
    """A case file's text; a file over the size limit is refused from its size, unread (RX409)."""
    check_file_size(path, shown, CASE_LIMITS)
    return read_text(path, shown, kind="case file", encoding_code="RX401")


def _naming_policies_in_force(error: RxError, day: dt.date) -> RxError:
    """RX501 with the built-in policies that are in force on the dispensing date named in its help."""
    if not any(d.code == "RX501" for d in error.diagnostics):
        return error
    store = api.PolicyStore()
    in_force = [p.name for p in builtin_policies() if (v := store.load(p.name).validity) is None or v.contains(day)]
    if not in_force:
        return error
    named = " or ".join(f"`--policy {name}`" for name in in_force)
    which = "is" if len(in_force) == 1 else "are"
    help = (f"{', '.join(f'`{n}`' for n in in_force)} {which} in force on {day}: use {named}; or check the "
            "dispensing date")
    return RxError([attrs.evolve(d, help=help) if d.code == "RX501" else d for d in error.diagnostics],
                   sources=error.sources)
