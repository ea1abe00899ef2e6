"""``rxpolicy test [PATH...]``: run YAML rule tests, with coverage per rule and per source section (docs/tools/test.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from rxpolicy.api import PolicyStore
from rxpolicy.cli.common import guarded
from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.tools.ruletest import TestResult, discover, run
from rxpolicy.tools.ruletest_coverage import coverage, coverage_json, coverage_text

__all__ = ["command"]

def _run_all(paths: Sequence[Path]) -> list[TestResult]:
    """Every result; a problem in any file stops everything (exit 2), reported with all the others."""
    store, results, problems = PolicyStore(), list[TestResult](), list[Diagnostic]()
    for test_file in discover(paths):
        try:
            results.extend(run(test_file, store))
        except RxError as error:
            problems.extend(error.diagnostics)
    if problems:
        raise RxError(dict.fromkeys(problems))
    return results


def _test(paths: tuple[Path, ...], show_coverage: bool, output_format: str, fail_under: float | None) -> None:
    results = _run_all(paths)
    failed = [r for r in results if not r.passed]
    summary = f"{len(results) - len(failed)} passed, {len(failed)} failed"
    reports = coverage(results) if show_coverage or fail_under is not None else ()
    under = [r for r in reports if fail_under is not None and r.under(fail_under)]
    if output_format == "json":
        data: dict[str, object] = {
            "passed": len(results) - len(failed), "failed": len(failed), "summary": summary,
            "failures": [{"test": r.test.name, "at": r.where, "message": r.message,
                          "failures": [{"summary": f.summary, "details": list(f.details)} for f in r.failures]}
                         for r in failed]}
        if show_coverage:
            data["coverage"] = [coverage_json(r) for r in reports]
        if fail_under is not None:
            data["fail_under"] = {"percent": fail_under, "under": [r.policy for r in under]}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for result in failed:
            click.echo(result.message)
        if show_coverage:
            click.echo("\n".join(coverage_text(r) for r in reports))
        for report in under:
            click.echo(f"coverage of {report.policy} is {report.percent:.1f} %, under --fail-under {fail_under:g}")
        click.echo(summary)
    if failed or under:
        sys.exit(1)


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Also report, per policy, how often each rule decided and which source sections are covered.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--fail-under", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Exit 1 when a policy's rule coverage is under PCT percent.")
def command(paths: tuple[Path, ...], show_coverage: bool, output_format: str, fail_under: float | None) -> None:
    """Run rule tests (*.test.yaml; default: every built-in policy's tests/)."""
    guarded(_test)(paths, show_coverage, output_format, fail_under)
