"""``rxpolicy policies``: the built-in policies and the periods their rules are in force."""

from __future__ import annotations

import click

from rxpolicy import api
from rxpolicy.cli.common import guarded
from rxpolicy.language.load import builtin_policies

__all__ = ["command"]

@click.command("policies")
@guarded
def command() -> None:
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
