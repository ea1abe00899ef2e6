"""The command line: ``rxpolicy eval | check | policies`` (and the policy experts' tools).

Bad input of any kind (a case, a rule file, a policy name, an option) ends with a short message on
stderr, naming the place and the fix, and exit code 2; nothing is printed on stdout then. An
unexpected failure is reported as an internal error; ``--debug`` shows its traceback.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from . import api
from .diagnostics import Diagnostic, RxError, Severity
from .load import builtin_policies, builtin_rules_dir, split_policy_year
from .render.diagnostics import render_diagnostics
from .render.json import evaluation_json
from .render.markdown import evaluation_markdown
from .render.text import evaluation_text
from .source import SourceFile

__all__ = ["main", "cli"]

F = TypeVar("F", bound=Callable[..., Any])
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


def line_of(path: str, line: int) -> str | None:
    """The text of a line of a file named in a diagnostic (built-in rule files are under ``rules/``)."""
    candidates = [Path(path)]
    if path.startswith("rules/"):
        candidates.append(builtin_rules_dir() / path[len("rules/"):])
    for candidate in candidates:
        try:
            lines = candidate.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        return lines[line - 1] if 0 < line <= len(lines) else ""
    return None


def report(diagnostics: Sequence[Diagnostic], sources: Mapping[str, SourceFile] | None = None) -> None:
    """Write diagnostics to stderr, with the lines they point at (from ``sources`` first, then from disk)."""
    def line(path: str, number: int) -> str | None:
        return sources[path].line_text(number) if sources and path in sources else line_of(path, number)

    click.echo(render_diagnostics(diagnostics, line), err=True, nl=False)


def guarded(command: F) -> F:
    """Turn RxError into exit code 2 and anything unexpected into a short internal-error message."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RxError as error:
            report(error.diagnostics, error.sources)
            sys.exit(EXIT_BAD_INPUT)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001 - the one place that must catch everything
            ctx = click.get_current_context(silent=True)
            if ctx is not None and ctx.find_root().params.get("debug"):
                traceback.print_exc()
            click.echo(f"rxpolicy: internal error: {type(error).__name__}: {error}\n"
                       "  help: this is a bug in rxpolicy, not in your input; run again with --debug and "
                       "report the output", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show a traceback on internal errors.")
@click.version_option(package_name="rxpolicy")
def cli(debug: bool) -> None:
    """Evaluate Dutch basic-insurance medicine rules, with explanations."""


@cli.command("eval")
@click.argument("case_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--policy", "policy_name", default="hollandzorg", show_default=True,
              help="A built-in policy name or a directory of rule files.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True)
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
              help="Language of the explanations.")
@guarded
def eval_command(case_file: Path, policy_name: str, output_format: str, lang: str) -> None:
    """Evaluate one case and explain every decision."""
    if not case_file.is_file():
        raise RxError(Diagnostic(code="RX001", message=f"the case file {case_file} does not exist",
                                 help="give the path of a case YAML file, e.g. examples/hollandzorg/benzodiazepine-chronic.yaml"))
    policy = api.PolicyStore().load(policy_name)
    evaluation = api.evaluate_case_file(case_file, policy)
    _, year = split_policy_year(policy_name)
    if year is not None and evaluation.case.dispensed_on.year != year:
        raise RxError(Diagnostic(
            code="RX602", field="dispensed_on",
            message=f"the case is dispensed on {evaluation.case.dispensed_on}, but `{policy_name}` asks for the "
                    f"rules of {year}",
            help=f"use `--policy {policy.name}` (the dispensing date picks the year), or check the case's date"))
    render = {"text": evaluation_text, "json": evaluation_json, "markdown": evaluation_markdown}[output_format]
    click.echo(render(evaluation, lang), nl=False)


@cli.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--no-analysis", is_flag=True,
              help="Only parse and check; skip exploring the rules for shadowed rules, overlaps, gaps and holes.")
@guarded
def check_command(paths: tuple[Path, ...], no_analysis: bool) -> None:
    """Check rule files (default: every built-in policy) and explore them for problems.

    Once a policy checks clean, cases drawn from its own rules show rules that never decide,
    overlaps, gaps, holes in validity and computations that fail (RX370-RX374), each with a case that proves it.
    """
    # Imported here: the analysis is only needed by this command.
    from .analysis import analyse
    from .compile import compile_policy

    targets = [str(p) for p in paths] or [p.name for p in builtin_policies()]
    problems: list[Diagnostic] = []
    summaries = []
    for target in targets:
        if not Path(target).exists() and target not in {p.name for p in builtin_policies()}:
            raise RxError(Diagnostic(code="RX001", message=f"{target} does not exist",
                                     help="give a rule file, a directory of rule files or a built-in policy name"))
        try:
            checked, warnings = api.check(target)
        except RxError as error:
            problems.extend(error.diagnostics)
            continue
        problems.extend(warnings)
        summaries.append(f"ok  {checked.name}: {len(checked.rules)} rules, {len(checked.definitions)} definitions, "
                         f"{len(checked.parameters)} parameters in {len(checked.files)} files")
        if not no_analysis:
            # Only a policy that checks clean compiles; its findings are errors (each would stop evaluation
            # or hide a rule), shown with a case that proves them.
            analysis = analyse(compile_policy(checked))
            problems.extend(analysis.diagnostics)
            found = "no shadowed rules, overlaps, gaps or holes in validity"
            if analysis.unproven:  # rules not proven to decide or not are named, not passed over in silence
                count = len(analysis.unproven)
                found = (f"no overlaps, gaps or holes in validity; {count} rule{'s' if count != 1 else ''} could "
                         f"not be checked for never deciding: {', '.join(analysis.unproven)}")
            summaries.append(f"    explored {analysis.cases} cases in {analysis.periods} "
                             f"period{'s' if analysis.periods != 1 else ''}: {found}")
    unique = list(dict.fromkeys(problems))
    if unique:
        report(unique)
    if any(d.severity is Severity.ERROR for d in unique):
        sys.exit(EXIT_BAD_INPUT)
    for line in summaries:
        click.echo(line)


@cli.command("policies")
@guarded
def policies_command() -> None:
    """List the built-in policies and the periods their rules are in force."""
    store = api.PolicyStore()
    for builtin in builtin_policies():
        policy = store.load(builtin.name)
        period = str(policy.validity) if policy.validity else "always"
        layers = " + ".join(f"{layer.name} ({layer.kind.value})" for layer in policy.layers)
        click.echo(f"{policy.name:<12} {period:<24} {policy.title}")
        click.echo(f"{'':<12} layers: {layers}")
        for epoch in policy.epochs:
            end = epoch.end.isoformat() if epoch.end else "…"
            click.echo(f"{'':<12} {epoch.start.isoformat()} – {end}: {len(epoch.rules_in_force)} rules in force")


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="rxpolicy")




# ---------------------------------------------------------------------------------------------------
# The policy experts' tools, one module each; each module defines a click command added here.
# (tools: add your `from .X import Y_command` and `cli.add_command(Y_command)` lines below this one)
from .ruletest_coverage import test_command  # noqa: E402 - tools are added after `cli` is defined

cli.add_command(test_command)

from .fmt_files import fmt_command  # noqa: E402 - tools are added after `cli` is defined

cli.add_command(fmt_command)

from .diff import diff_command  # noqa: E402 - tools are added after `cli` is defined

cli.add_command(diff_command)
