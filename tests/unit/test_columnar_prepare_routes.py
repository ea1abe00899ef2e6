"""The columnar prepare step plans each chunk for its columns; every such plan gives what the general plan gives.

A chunk's plan leaves out the checks that its columns settle as a whole: by their Arrow counts of empty cells (a
column without an empty cell is written in every claim; one of only empty cells is its facts' defaults, with no
value to doubt) and by their least and greatest values (all within the fact's range and limits). So the same
claims are prepared by different plans in different chunks: a chunk where every claim is clean, the same with one
bad claim, a column with empty cells or without, a column with only empty cells (a required one too), a value just
inside or outside a fact's range. For each, the prepared values, the verdicts and the error rows must equal those
of the general plan (every check tested claim by claim), and the error rows the per-case ones.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from columnar_helpers import typed_chunks
from rxpolicy import load_policy
from rxpolicy.bulk import columnar_input
from rxpolicy.bulk.columnar_errors import error_rows
from rxpolicy.bulk.columnar_input import prepare
from rxpolicy.bulk.core import evaluate_records, select_decisions
from rxpolicy.bulk.records import Chunk
from rxpolicy.bulk.synth import synth_claims
from rxpolicy.bulk.synth_files import flatten
from rxpolicy.engine.compile import CompiledPolicy


def _general(table: Any) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(), frozenset()


def _unbounded(frame: Any, schema: Any) -> frozenset[str]:
    return frozenset()


def _variants(policy: CompiledPolicy, seed: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Small chunks of claims whose columns are full, empty or mixed in many ways."""
    years = (policy.epochs[-1].start.year, policy.epochs[-1].start.year)
    claims = [flatten(c) for c in synth_claims(60, seed, years=years, plans=policy.plans)]
    rng = random.Random(seed)
    paths = [p for p in policy.facts.written if not policy.facts.fields[p].derived]
    clean = claims[:12]
    yield "as made", clean
    yield "one claim", clean[:1]
    bad = dict(clean[0], **{"medicine.price": Decimal("-1.00")})
    yield "one bad claim", [*clean, bad]
    # Values beyond a fact's range or limits (its column then tested claim by claim), and at its edges.
    for path, values in (("dispensing.supply_days", [10 ** 13, 10 ** 12 - 1, 0, -1]),
                         ("insured.born_on", ["1850-01-01", "1900-01-01", "2199-12-31", "2200-01-01"]),
                         ("insured.excess_used", [Decimal("999999999.99"), Decimal("1000000000.00"),
                                                  Decimal("0.00"), Decimal("-0.01")]),
                         ("medicine.price", [Decimal("0.00"), Decimal("0.01")]),
                         # As long as a text may be in characters, longer in bytes; and one character longer.
                         ("prescription.indication", ["é" * 1_000, "é" * 1_001, "e" * 1_000, "e" * 1_001])):
        for value in values:
            yield f"{path} {value}", [*clean, {**clean[1], path: value}]
    for path in rng.sample(paths, 12) + [policy.facts.period_date, "medicine.price", "insured.born_on"]:
        # The column with only empty cells, with one empty cell, and with one written cell among empty ones.
        yield f"{path} empty", [{**c, path: None} for c in clean]
        yield f"{path} one empty", [*clean[1:], {**clean[0], path: None}]
        donor = next((c for c in claims if c.get(path) is not None), None)
        if donor is not None:
            yield f"{path} one written", [{**c, path: None} for c in clean[1:]] + [{**clean[0], path: donor[path]}]
    yield "mixed", claims


@pytest.mark.parametrize("name", ["hollandzorg", "asr"])
def test_every_plan_of_a_chunk_prepares_what_the_general_plan_does(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = load_policy(name)
    selection = select_decisions(policy)
    specialised = 0
    for label, claims in _variants(policy, 5):
        table = next(typed_chunks(claims, len(claims))).table
        empty, full = columnar_input._empty_and_full(table)
        specialised += bool(empty or full)
        found = prepare(table, policy.facts, policy.plans)
        with monkeypatch.context() as patched:
            patched.setattr(columnar_input, "_empty_and_full", _general)
            patched.setattr(columnar_input, "_within", _unbounded)
            general = prepare(table, policy.facts, policy.plans)
        assert found is not None and general is not None, label
        assert found[0].height == general[0].height == table.num_rows, label
        try:
            assert_frame_equal(found[0], general[0])
            assert_series_equal(found[1], general[1])
        except AssertionError as error:
            raise AssertionError(f"{label}: {error}") from None
        refused = (~found[1]).arg_true().to_list()
        rows = error_rows(found[2], range(table.num_rows))
        assert rows == error_rows(general[2], range(table.num_rows)), label
        assert set(rows) <= set(refused), label
        chunk = Chunk(index=0, first=1, count=table.num_rows, table=table)
        expected = evaluate_records(policy, chunk.subset(refused), selection=selection) if refused else []
        # (The columns may refuse a claim the validator accepts, never write it a row of their own.)
        for position, want in zip(refused, expected):
            if position in rows:
                assert rows[position] == want.error, label
        # And every claim they call clean is one the validator accepts.
        passed = found[1].arg_true().to_list()
        accepted = evaluate_records(policy, chunk.subset(passed), selection=selection) if passed else []
        assert not [(p, r.error) for p, r in zip(passed, accepted) if r.error], label
        if label.split()[1:] == ["empty"] and policy.facts.fields[label.split()[0]].required:
            assert refused == list(range(table.num_rows)) and len(rows) == table.num_rows, label
    assert specialised > 30
