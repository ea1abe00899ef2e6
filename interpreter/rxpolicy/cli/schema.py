"""``rxpolicy schema case``: the JSON Schema of a case file, written from the facts the policy declares."""

from __future__ import annotations

import json

import click

from rxpolicy import api
from rxpolicy.cli.common import guarded
from rxpolicy.language.facts_publish import case_json_schema

__all__ = ["command"]


@click.command("schema")
@click.argument("what", type=click.Choice(["case"]))
@click.option("--policy", "policy_name", default="hollandzorg", show_default=True,
              help="Built-in policy name or directory of rule files whose facts (and plans) the schema describes.")
@guarded
def command(what: str, policy_name: str) -> None:
    """Print the JSON Schema (draft 2020-12) of a case file: every fact the policy declares, with its type,
    default, allowed values and meaning."""
    policy = api.PolicyStore().load(policy_name)
    schema = case_json_schema(policy.facts, title=f"rxpolicy case ({policy.name})", plans=policy.plans)
    click.echo(json.dumps(schema, indent=2, ensure_ascii=False))
