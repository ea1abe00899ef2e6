"""``rxpolicy impact OLD NEW CLAIMS --out REPORT``: what a policy change does to a file of claims.

Exit codes: 0 when the report is written (claims refused on a side are counted in it, not fatal), 2 when a
side, the claims file or an option is wrong.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from rxpolicy.api import PolicyStore
from rxpolicy.bulk.impact import DATES, claim_impact
from rxpolicy.bulk.impact_render import impact_html, impact_json, impact_markdown, report_format
from rxpolicy.bulk.records import input_format
from rxpolicy.cli.common import guarded
from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.tools.diff_sides import parse_side

__all__ = ["command"]


@click.command("impact")
@click.argument("old")
@click.argument("new")
@click.argument("claims", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The report to write; its suffix picks the format: .html (with charts), .md or .json.")
@click.option("--dates", type=click.Choice(DATES), default="year", show_default=True,
              help="year: on each side a claim is moved by whole years into the year of the side's date "
                   "(a year-change review); own: each claim on its own dispensed_on on both sides; side: each "
                   "claim moved to the side's date, as `rxpolicy diff` moves cases.")
@click.option("--atc-digits", type=click.IntRange(1, 7), default=3, show_default=True,
              help="Group claims by the first N characters of medicine.atc (3: therapeutic subgroup, e.g. N05).")
@click.option("--witnesses", type=click.IntRange(min=0), default=3, show_default=True,
              help="Witness claims kept per kind of change.")
@click.option("--input-format", "input_format_name", type=click.Choice(["jsonl", "csv", "parquet"]), default=None,
              help="Format of CLAIMS when its suffix does not say.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=50_000, show_default=True,
              help="Records read and evaluated at a time.")
@click.option("--engine", type=click.Choice(["columnar", "per-case"]), default="columnar", show_default=True,
              help="As for `rxpolicy batch`.")
@guarded
def command(old: str, new: str, claims: Path, out: Path, dates: Any, atc_digits: int, witnesses: int,
            input_format_name: str | None, chunk_size: int, engine: str) -> None:
    """Evaluate every claim of CLAIMS under OLD and NEW and report which decisions change, how often, and how
    much money moves: in total, per ATC group and per deciding rule, with witness claims.

    OLD and NEW are written as for `rxpolicy diff`: `hollandzorg@2025-06-01`, `asr@2026-06-01`, or a
    directory of rule files. Claims are JSON Lines, CSV or Parquet, as for `rxpolicy batch`.
    """
    fmt = report_format(out)
    if out.exists() and out.is_dir():
        raise RxError(Diagnostic(code="RX811", message=f"--out {out} is a directory",
                                 help="give the path of the report file, e.g. `--out impact.html`"))
    kind = input_format(claims, input_format_name)
    store = PolicyStore()
    old_side, new_side = parse_side(old, store), parse_side(new, store)
    report = claim_impact(old_side, new_side, claims, input_format=kind, dates=dates, atc_digits=atc_digits,
                          witnesses=witnesses, chunk_size=chunk_size, engine=engine)
    render = {"html": impact_html, "markdown": impact_markdown, "json": impact_json}[fmt]
    try:
        out.write_text(render(report), encoding="utf-8")
    except OSError as error:
        raise RxError(Diagnostic(code="RX811", message=f"cannot write the report {out}: {error.strerror}",
                                 help="give a path in a directory that exists and you may write to")) from error
    money = ", ".join(f"{d.name} {d.old_total} → {d.new_total}" for d in report.per_decision.values()
                      if d.money and d.name in ("insurer_pays", "patient_pays"))
    click.echo(f"rxpolicy impact: read {report.read} records: {report.compared} compared ({report.changed} "
               f"changed), errors on the old side only {report.old_errors_only}, on the new side only "
               f"{report.new_errors_only}, on both {report.errors_on_both}"
               + (f"; {money}" if money else "") + f"; wrote {out}", err=True)
    sys.stderr.flush()
