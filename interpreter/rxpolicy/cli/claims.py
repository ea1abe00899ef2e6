"""``rxpolicy claims synth``: realistic synthetic claims, the same for the same seed (see :mod:`rxpolicy.bulk.synth`)."""

from __future__ import annotations

from pathlib import Path

import click

from rxpolicy import api
from rxpolicy.bulk.records import input_format
from rxpolicy.cli.common import guarded
from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.engine.compile import CompiledPolicy

__all__ = ["command"]


@click.group("claims")
def command() -> None:
    """Claims files: generate synthetic ones."""


@command.command("synth")
@click.option("--n", "count", type=click.IntRange(min=0), required=True, help="How many claims.")
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed gives the same claims.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The file to write: .parquet, .jsonl or .csv.")
@click.option("--policy", "policy_name", default="hollandzorg", show_default=True,
              help="Whose plan names (and, without --years, whose years in force) the claims use.")
@click.option("--years", default=None, help="First and last dispensing year, e.g. 2023-2026.")
@guarded
def synth_command(count: int, seed: int, out: Path, policy_name: str, years: str | None) -> None:
    """Write N realistic synthetic claims (with about 1 % invalid on purpose), the same for the same seed."""
    from rxpolicy.bulk.synth_files import write_claims

    policy = api.PolicyStore().load(policy_name)
    span = _years(years, policy)
    fmt = input_format(out)
    write_claims(out, fmt, count, seed, years=span, plans=policy.plans)
    click.echo(f"wrote {count} claims ({span[0]}–{span[1]}, seed {seed}) to {out}", err=True)


def _years(text: str | None, policy: CompiledPolicy) -> tuple[int, int]:
    if text is None:
        validity = policy.validity
        if validity is None:
            return (2023, 2026)
        return (validity.start.year, validity.end.year if validity.end else validity.start.year)
    first, _, last = text.partition("-")
    try:
        span = (int(first), int(last or first))
    except ValueError:
        span = (0, -1)
    if not 1900 < span[0] <= span[1] < 2200:
        raise RxError(Diagnostic(code="RX804", message=f"--years {text} is not a range of years",
                                 help="write the first and last year, e.g. `--years 2023-2026`"))
    return span
