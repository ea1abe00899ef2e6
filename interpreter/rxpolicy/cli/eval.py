"""``rxpolicy eval CASE``: evaluate one case and explain every decision."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import attrs
import click

from rxpolicy import api
from rxpolicy.cli.common import guarded
from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.explain.json import evaluation_json
from rxpolicy.explain.markdown import evaluation_markdown
from rxpolicy.explain.text import evaluation_text
from rxpolicy.language.load import builtin_policies, split_policy_year

__all__ = ["command"]

@click.command("eval")
@click.argument("case_file", type=click.Path(path_type=Path))
@click.option("--policy", "policy_name", default="hollandzorg", show_default=True,
              help="A built-in policy name or a directory of rule files.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
              help="Language of the explanations.")
@click.option("--why-not/--no-why-not", "why_not", default=None,
              help="For a case that is not covered, also search for the smallest changes of facts that would make "
                   "it covered. Default: on for text on a terminal, off otherwise.")
@guarded
def command(case_file: Path, policy_name: str, output_format: str, lang: str, why_not: bool | None) -> None:
    """Evaluate one case and explain every decision."""
    if not case_file.exists() and not case_file.is_symlink():  # a directory, a pipe, a dangling link: load_case says
        raise RxError(Diagnostic(code="RX001", message=f"the case file {case_file} does not exist",
                                 help="give the path of a case YAML file, e.g. examples/hollandzorg/benzodiazepine-chronic.yaml"))
    store = api.PolicyStore()
    policy = store.load(policy_name)
    case = api.load_case(case_file, policy=policy)  # the facts the policy declares, and its plans
    try:
        evaluation = api.evaluate(policy, case)
    except RxError as error:
        raise _naming_policies_in_force(error, store, case.dispensed_on) from None
    _, year = split_policy_year(policy_name)
    if year is not None and evaluation.case.dispensed_on.year != year:
        raise RxError(Diagnostic(
            code="RX602", field="dispensed_on",
            message=f"the case is dispensed on {evaluation.case.dispensed_on}, but `{policy_name}` asks for the "
                    f"rules of {year}",
            help=f"use `--policy {policy.name}` (the dispensing date picks the year), or check the case's date"))
    if why_not is None:
        # The search re-evaluates the case many times: worth it for a person reading, not for a program.
        why_not = output_format == "text" and sys.stdout.isatty()
    what_if = None
    if why_not and evaluation.outcome == "not_covered":
        from rxpolicy.tools.whatif import what_if as search  # only when asked: the search is the costly part

        what_if = search(evaluation)
    if output_format == "json":
        click.echo(evaluation_json(evaluation, lang, what_if=what_if), nl=False)
    elif output_format == "markdown":
        click.echo(evaluation_markdown(evaluation, lang, what_if=what_if), nl=False)
    else:
        click.echo(evaluation_text(evaluation, lang, what_if=what_if), nl=False)


def _naming_policies_in_force(error: RxError, store: api.PolicyStore, day: dt.date) -> RxError:
    """RX501 with the built-in policies that are in force on the dispensing date named in its help."""
    if not any(d.code == "RX501" for d in error.diagnostics):
        return error
    in_force = [p.name for p in builtin_policies() if (v := store.load(p.name).validity) is None or v.contains(day)]
    if not in_force:
        return error
    named = " or ".join(f"`--policy {name}`" for name in in_force)
    which = "is" if len(in_force) == 1 else "are"
    help = (f"{', '.join(f'`{n}`' for n in in_force)} {which} in force on {day}: use {named}; or check the "
            "dispensing date")
    return RxError([attrs.evolve(d, help=help) if d.code == "RX501" else d for d in error.diagnostics],
                   sources=error.sources)
