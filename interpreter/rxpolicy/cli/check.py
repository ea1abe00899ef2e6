"""``rxpolicy check [PATH...]``: parse and check rule files, then explore them for problems (docs/tools/check.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rxpolicy import api
from rxpolicy.cli.common import EXIT_BAD_INPUT, guarded, report
from rxpolicy.diagnostics import Diagnostic, RxError, Severity
from rxpolicy.language.load import builtin_policies

__all__ = ["command"]

@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--no-analysis", is_flag=True,
              help="Only parse and check; skip exploring the rules for shadowed rules, overlaps, gaps and holes.")
@guarded
def command(paths: tuple[Path, ...], no_analysis: bool) -> None:
    """Check rule files (default: every built-in policy) and explore them for problems.

    Once a policy checks clean, cases drawn from its own rules show rules that never decide,
    overlaps, gaps, holes in validity and computations that fail (RX370-RX374), each with a case that proves it.
    """
    # Imported here: the analysis is only needed by this command.
    from rxpolicy.engine.compile import compile_policy
    from rxpolicy.tools.analysis import analyse

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
