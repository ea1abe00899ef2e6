"""The error rows the columns write for refused claims are the per-case path's, word for word.

A differential test: every claim the columns refuse, from synthetic claims files (three seeds, both built-in
policies) and from claims with one, two or three faults of every kind a typed claims file can hold (values out of
their choices, limits and dates, missing facts, dates in the wrong order, empty or over-long texts, sections written
in part), is given its error row by :func:`rxpolicy.bulk.columnar_errors.error_rows` and by the per-case path
(:func:`rxpolicy.bulk.core.evaluate_records`, what `rxpolicy batch` runs per case): the rows the columns write
must equal the per-case ones (record, code, field, message and fix). The columns must write most of them
(asserted), so the test cannot pass by leaving every claim per case; and every claim the columns call certainly
valid must be one the per-case validator accepts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from columnar_helpers import typed_chunks
from rxpolicy import load_policy
from rxpolicy.bulk.columnar_errors import error_rows
from rxpolicy.bulk.columnar_input import prepare
from rxpolicy.bulk.core import evaluate_records, select_decisions
from rxpolicy.bulk.records import Chunk
from rxpolicy.bulk.synth import synth_claims
from rxpolicy.bulk.synth_files import flatten
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.language.types import Kind

CLAIMS = 6_000
ROOT = Path(__file__).resolve().parents[2]
CHUNK = 4_000


def _faults(policy: CompiledPolicy) -> dict[str, list[object]]:
    """Per written fact, values a typed claims file can hold that the validator (or the columns) may refuse."""
    faults: dict[str, list[object]] = {}
    for path, spec in policy.facts.fields.items():
        if spec.derived:
            continue
        kind = spec.type.kind
        values: list[object] = [None]
        if kind is Kind.MONEY:
            values += [Decimal("-0.01"), Decimal("-12.40"), Decimal("150.00"), Decimal("99999999.99"),
                       Decimal("0.00")]
        elif kind is Kind.NUMBER:
            values += [-1, 0, 36_600, 36_601, 10 ** 12, 10 ** 13]
        elif kind is Kind.DATE:
            values += ["1850-01-01", "1899-12-31", "1900-01-01", "2199-12-31", "2200-01-01", "2030-06-01",
                       "1990-02-28"]
        elif kind is Kind.ENUM:
            values += ["doctor", "", "   ", "GP", "\x1f", "unknown", *spec.type.choices[:1]]
        elif kind is Kind.LIST:
            values += [["nobody"], ["gp", "dentst"], [None], ["gp"] * 20_000, []]
        elif kind is Kind.BOOL:
            values += [True, False]
        elif kind is Kind.ATC:
            values += ["n05ba04", "N05BA4", "", " N05BA04", "N05BA04\n", "J01"]
        else:
            values += ["", " ", "\u2003", "\x1c", "x" * 1_001, "x" * 1_000, "Gold", *policy.plans[:1]]
        faults[path] = values
    return faults


def _claims(policy: CompiledPolicy, seed: int) -> list[dict[str, Any]]:
    """Synthetic claims (about 1 % refused), then claims with one to three faults."""
    years = (policy.epochs[0].start.year, policy.epochs[-1].start.year)
    synthetic = [flatten(c) for c in synth_claims(CLAIMS, seed, years=years, plans=policy.plans)]
    faults = _faults(policy)
    paths = sorted(faults)
    rng = random.Random(seed)
    broken = []
    for path in paths:
        for value in faults[path]:
            claim = dict(rng.choice(synthetic))
            claim[path] = value
            broken.append(claim)
    for _ in range(1_500):
        claim = dict(rng.choice(synthetic))
        for path in rng.sample(paths, rng.choice([2, 2, 3])):
            claim[path] = rng.choice(faults[path])
        broken.append(claim)
    return synthetic + broken


def _chunks(records: list[dict[str, Any]]) -> Iterator[Chunk]:
    return typed_chunks(records, CHUNK)


@pytest.mark.parametrize("name", ["hollandzorg", "asr"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_columns_write_the_per_case_error_row_of_every_refused_claim(name: str, seed: int) -> None:
    policy = load_policy(name)
    selection = select_decisions(policy)
    refused = written = 0
    codes: set[str] = set()
    for chunk in _chunks(_claims(policy, seed)):
        prepared = prepare(chunk.table, policy.facts, policy.plans)
        assert prepared is not None
        _, clean, checks = prepared
        positions = (~clean).arg_true().to_list()
        rows = error_rows(checks, positions)
        expected = evaluate_records(policy, chunk.subset(positions), numbers=[chunk.first + p for p in positions],
                                    selection=selection)
        for position, want in zip(positions, expected):
            if position in rows:
                assert want.error is not None, f"record {want.record}: the per-case path accepts it"
                assert rows[position] == want.error, f"record {want.record}: {rows[position]} != {want.error}"
                codes.add(want.error.code)
        refused += len(positions)
        written += len(rows)
        # The claims the columns call certainly valid: the per-case validator accepts every one.
        valid = clean.arg_true().to_list()
        sample = valid[:: max(1, len(valid) // 300)]
        accepted = evaluate_records(policy, chunk.subset(sample), selection=selection)
        assert not [(p, r.error) for p, r in zip(sample, accepted) if r.error and r.error.code.startswith("RX4")]
    # Most refused claims get their row from the columns, of every kind the faults make.
    assert written > 0.9 * refused, (written, refused)
    assert {"RX402", "RX405", "RX406"} <= codes, codes


def test_a_section_written_in_part_when_the_file_has_no_column_for_its_other_fact() -> None:
    policy = load_policy("hollandzorg")
    claims = [flatten(c) for c in synth_claims(20, 4, years=(2025, 2025), plans=policy.plans)]
    claims[0]["authorisation.granted_on"] = "2025-01-01"
    claims[1].update({"authorisation.granted_on": "2025-01-01", "medicine.price": Decimal("-1.00")})
    table = next(_chunks(claims)).table.drop_columns(["authorisation.valid_until"])
    prepared = prepare(table, policy.facts, policy.plans)
    assert prepared is not None
    rows = error_rows(prepared[2], [0, 1, 2])
    chunk = Chunk(index=0, first=1, count=table.num_rows, table=table)
    expected = evaluate_records(policy, chunk.subset([0, 1]), selection=select_decisions(policy))
    assert rows == {0: expected[0].error, 1: expected[1].error}
    assert rows[1] is not None and rows[1].message.endswith("(and 1 more problem)")


def test_two_policies_that_differ_only_in_a_section_rule_share_no_prepared_checks(tmp_path: Path) -> None:
    """The columns' plans are cached per case schema fingerprint: a schema without `all or none` on the
    authorisation must not lend its plan (no section check) to the built-in one. Before the fingerprint took
    in the sections' rules, a claim with only `authorisation.granted_on` came out clean here."""
    import shutil

    from rxpolicy import PolicyStore

    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    facts = tmp_path / "rules" / "statutory" / "facts.rxp"
    text = facts.read_text(encoding="utf-8")
    assert "de schriftelijke machtiging van de verzekeraar\"\n  all or none\n" in text
    facts.write_text(text.replace("de schriftelijke machtiging van de verzekeraar\"\n  all or none\n",
                                  "de schriftelijke machtiging van de verzekeraar\"\n", 1), encoding="utf-8")
    loose = PolicyStore().load(str(tmp_path / "rules" / "hollandzorg"))
    strict = load_policy("hollandzorg")
    assert loose.facts.all_or_none != strict.facts.all_or_none
    assert loose.facts.fingerprint != strict.facts.fingerprint
    claim = flatten(next(iter(synth_claims(1, 3, years=(2025, 2025), plans=strict.plans))))
    claim = {k: v for k, v in claim.items() if not k.startswith("authorisation.")}
    claim["authorisation.granted_on"] = "2025-01-02"
    table = next(_chunks([claim])).table
    for policy, clean in ((loose, True), (strict, False)):  # the loose one first: its plan is cached first
        prepared = prepare(table, policy.facts, policy.plans)
        assert prepared is not None
        assert prepared[1].to_list() == [clean]
