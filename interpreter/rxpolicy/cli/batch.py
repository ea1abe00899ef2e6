"""``rxpolicy batch``: a file of claims in, one result row per claim out, counts on stderr.

Exit codes of ``batch``: 0 when every record was evaluated, 1 when some became error rows, 2 when the input
itself cannot be read (or an option is wrong), 130 when interrupted (complete partitions stay; ``--resume``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rxpolicy import api
from rxpolicy.bulk.core import select_decisions
from rxpolicy.bulk.records import input_format
from rxpolicy.bulk.run import BatchRun, run_batch
from rxpolicy.cli.common import guarded
from rxpolicy.diagnostics import Diagnostic, RxError

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["command"]

EXIT_SOME_ERRORS = 1
EXIT_INTERRUPTED = 130


@click.command("batch")
@click.argument("claims", type=click.Path(path_type=Path))
@click.option("--policy", "policy_name", default="hollandzorg", show_default=True,
              help="A built-in policy name or a directory of rule files.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Directory for the result partitions (part-000000.parquet, …; _SUCCESS when complete). "
                   "In Parquet, outcome, the .rule columns and decisions of constant texts are dictionary "
                   "(categorical) columns with the policy's fixed dictionary. "
                   "Without it, JSON Lines or CSV go to stdout.")
@click.option("--format", "output_format", type=click.Choice(["parquet", "jsonl", "csv"]), default=None,
              help="Result format [default: parquet with --out, jsonl on stdout].")
@click.option("--input-format", "input_format_name", type=click.Choice(["jsonl", "csv", "parquet"]), default=None,
              help="Format of CLAIMS when its suffix does not say.")
@click.option("--decisions", default=None, help="Comma-separated decisions to report [default: all].")
@click.option("--explain", is_flag=True, help="Add the full JSON explanation of every row (slower).")
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
              help="Language of the explanations.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=50_000, show_default=True,
              help="Records per chunk (and per output partition).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out, skipping complete partitions.")
@click.option("--overwrite", is_flag=True, help="Replace the results already in --out.")
@click.option("--engine", type=click.Choice(["columnar", "per-case"]), default="columnar", show_default=True,
              help="columnar: a chunk at a time in vectorised columns (Parquet, JSON Lines and CSV input; per "
                   "case where they do not apply); per-case: one claim at a time.")
@click.option("--dask", "dask_address", default=None, metavar="local[:N]|tcp://HOST:PORT",
              help="Evaluate the partitions on Dask: a LocalCluster of N workers (default 2), or the scheduler at "
                   "the address. Needs --out; the claims, rules and --out must be on storage every worker sees.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@guarded
def command(claims: Path, policy_name: str, out: Path | None, output_format: str | None,
                  input_format_name: str | None, decisions: str | None, explain: bool, lang: str, chunk_size: int,
                  resume: bool, overwrite: bool, engine: str, dask_address: str | None, quiet: bool) -> None:
    """Evaluate a file of claims (JSON Lines, CSV or Parquet): one result row per claim, in order.

    Each claim's own dispensed_on picks the rules in force. Claims that are not valid cases, or that the
    policy cannot decide, become error rows (record number, code, field, message); counts go to stderr.
    """
    fmt = output_format or ("parquet" if out is not None else "jsonl")
    if out is None and fmt == "parquet":
        raise RxError(Diagnostic(code="RX804", message="Parquet results need a directory",
                                 help="give `--out DIR`, or `--format jsonl` / `--format csv` for stdout"))
    if resume and out is None:
        raise RxError(Diagnostic(code="RX804", message="--resume needs --out, the directory of the run to resume",
                                 help="give the same `--out DIR` as the interrupted run"))
    kind = input_format(claims, input_format_name)
    policy = api.PolicyStore().load(policy_name)
    names = [n.strip() for n in decisions.split(",") if n.strip()] if decisions else None
    run = BatchRun(claims=claims, input_format=kind, policy=policy, selection=select_decisions(policy, names),
                   out=out, output_format=fmt, explain=explain, lang=lang, chunk_size=chunk_size, resume=resume,
                   overwrite=overwrite, engine=engine).with_columnar()
    if run.columnar is not None:
        for line in run.columnar.unsupported():  # a period the columns cannot evaluate: said once, not hidden
            click.echo(f"rxpolicy batch: {line}", err=True)
    bar = _progress_bar(claims, kind, quiet)
    try:
        update = (lambda n: bar.update(n)) if bar else None
        if dask_address:
            from rxpolicy.bulk.distributed import run_dask

            counts = run_dask(run, dask_address, policy_name, progress=update)
        else:
            counts = run_batch(run, stdout=sys.stdout.buffer, progress=update)
    except KeyboardInterrupt:
        if bar:
            bar.close()
        where = f"; complete partitions stay in {out}: run again with --resume to continue" if out else ""
        click.echo(f"rxpolicy batch: interrupted{where}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if bar:
        bar.close()
    *samples, summary = counts.text().splitlines()
    click.echo("".join(f"{line}\n" for line in samples) + f"rxpolicy batch: {summary}", err=True)
    if counts.errors:
        sys.exit(EXIT_SOME_ERRORS)


def _progress_bar(claims: Path, kind: str, quiet: bool) -> tqdm[Any] | None:
    """A tqdm bar on stderr, only for a person watching a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    total: int | None = None
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            total = int(pq.ParquetFile(claims).metadata.num_rows)
        except Exception:  # noqa: BLE001 - the reader reports an unreadable file properly
            total = None
    bar: tqdm[Any] = tqdm(total=total, unit=" records", unit_scale=True, file=sys.stderr, leave=False)
    return bar
