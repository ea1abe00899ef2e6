"""The result table's closed-set text columns: dictionary columns with one fixed dictionary per column.

``outcome``, every ``<decision>.rule`` and a decision whose rules give constant texts (``max_supply``) are
``dictionary<values=string, indices=int16>`` columns whose dictionary is worked out from the compiled policy
(:mod:`rxpolicy.bulk.dictionaries`): the same list on every chunk, on the columnar and the per-case road and after
``--resume`` (the Dask run is compared with the local one in ``test_dask.py``), stored dictionary-encoded in
Parquet, and written as the same texts as before in JSON Lines and CSV. A decision whose values are computed per
claim stays a plain string column.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rxpolicy import load_policy
from rxpolicy.bulk.core import select_decisions
from rxpolicy.bulk.dictionaries import column_dictionaries
from rxpolicy.cli import cli

DICTIONARY = pa.dictionary(pa.int16(), pa.string())


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def claims(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("claims") / "c.parquet"
    assert _invoke("claims", "synth", "--n", "3000", "--seed", "7", "--out", str(path))[0] == 0
    return path


def _closed_columns(policy_name: str) -> dict[str, tuple[str, ...]]:
    policy = load_policy(policy_name)
    return dict(select_decisions(policy).dictionaries)


def test_the_closed_set_columns_are_the_outcome_every_rule_and_the_supply_limits() -> None:
    closed = _closed_columns("hollandzorg")
    policy = load_policy("hollandzorg")
    assert set(closed) == {"outcome", "max_supply", "min_supply", *(f"{d.name}.rule" for d in policy.decisions)}
    assert closed["outcome"] == ("covered", "not_covered")
    assert closed["max_supply"] == ("12 months", "1 month", "15 days")
    assert closed["min_supply"] == ("3 months",)  # the other rules give `not applicable`: a null, not a text
    for decision in policy.decisions:
        texts = closed[f"{decision.name}.rule"]
        assert len(set(texts)) == len(texts)
        # Every rule deciding the decision is a text of its own.
        assert {r.id for r in policy.rules_for[decision.name]} <= set(texts), decision.name


def test_rules_giving_different_values_are_never_listed_together() -> None:
    policy = load_policy("hollandzorg")
    texts = column_dictionaries(policy)["covered.rule"]
    gives = {}
    for rule in policy.rules_for["covered"]:
        assignment = next(a for a in rule.rule.assignments if a.decision == "covered")
        gives[rule.id] = getattr(assignment.value, "value", None)
    yes = {r for r, v in gives.items() if v is True}
    no = {r for r, v in gives.items() if v is False}
    assert yes and no
    for text in texts:
        ids = set(text.split(", "))
        assert ids <= yes or ids <= no, text
    # Rules giving the same value may all apply together: that combination is there, in the evaluator's order.
    assert ", ".join(r.id for r in policy.rules_for["covered"] if r.id in no) in texts


def _parts(directory: Path) -> list[pa.Table]:
    return [pq.read_table(part) for part in sorted(directory.glob("part-*.parquet"))]


def test_parquet_holds_dictionary_columns_with_the_policys_dictionary_on_every_chunk_and_road(
        claims: Path, tmp_path: Path) -> None:
    closed = _closed_columns("hollandzorg")
    tables = {}
    for engine in ("columnar", "per-case"):
        out = tmp_path / engine
        assert _invoke("batch", str(claims), "--out", str(out), "--chunk-size", "700", "--engine", engine,
                       "--quiet")[0] == 1  # a few synthetic claims are invalid on purpose
        parts = _parts(out)
        assert len(parts) == 5
        for part in parts:
            for field in part.schema:
                if field.name in closed:
                    assert field.type == DICTIONARY, field.name
                    for chunk in part.column(field.name).chunks:
                        assert chunk.dictionary.to_pylist() == list(closed[field.name]), field.name
                else:
                    assert not pa.types.is_dictionary(field.type), field.name
        assert parts[0].schema.field("error_code").type == pa.string()
        # The chunks concatenate as they are, without unifying their dictionaries.
        tables[engine] = pa.concat_tables(parts)
    assert tables["columnar"].equals(tables["per-case"])
    # Polars reads them as categoricals.
    frame = pl.read_parquet(tmp_path / "columnar" / "part-000000.parquet")
    assert frame.schema["covered.rule"] == pl.Categorical
    assert frame.schema["error_code"] == pl.String


def test_the_texts_are_those_of_json_lines_and_csv(claims: Path, tmp_path: Path) -> None:
    assert _invoke("batch", str(claims), "--out", str(tmp_path / "p"), "--quiet")[0] == 1
    table = pa.concat_tables(_parts(tmp_path / "p"))
    _, out, _ = _invoke("batch", str(claims), "--quiet")
    rows = [json.loads(line) for line in out.splitlines()]
    _, text, _ = _invoke("batch", str(claims), "--quiet", "--format", "csv")
    cells = list(csv.DictReader(io.StringIO(text)))
    for name in ("outcome", "covered.rule", "authorisation_required.rule", "max_supply", "min_supply"):
        decoded = table.column(name).cast(pa.string()).to_pylist()
        assert decoded == [row[name] for row in rows], name
        assert [d or "" for d in decoded] == [cell[name] for cell in cells], name
        assert pc.count(table.column(name)).as_py() > 0
    # A text of several agreeing rules comes through as such.
    assert any(", " in (text or "") for text in table.column("covered.rule").cast(pa.string()).to_pylist())


def test_resume_continues_with_the_same_dictionaries(claims: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _invoke("batch", str(claims), "--out", str(out), "--chunk-size", "1000", "--quiet")[0] == 1
    first = _parts(out)
    (out / "part-000001.parquet").unlink()
    (out / "_SUCCESS").unlink()
    assert _invoke("batch", str(claims), "--out", str(out), "--chunk-size", "1000", "--resume", "--quiet")[0] == 1
    again = _parts(out)
    assert again[1].schema == first[1].schema
    assert again[1].equals(first[1])
    assert pa.concat_tables(again).column("covered.rule").chunk(1).dictionary.equals(
        first[0].column("covered.rule").chunk(0).dictionary)


LAYER = ('layer statutory\n  title "Dictionary test layer"\n  kind statutory\nend\n\n'
         'decision short: yes or no\n  explain en "short"\n  is the outcome\nend\n\n'
         'decision tier: number\n  explain en "tier"\nend\n\n'
         'decision days: number\n  explain en "days"\nend\n')


def _rule(name: str, then: str, when: str = "") -> str:
    condition = f"  when {when}\n" if when else ""
    return f'rule {name}\n  source "test"\n{condition}  then {then}\n  explain en "x"\nend\n\n'


def _on_both_engines(policy: Path, supply_days: tuple[int, ...], tmp_path: Path) -> pa.Table:
    """The results of one claim per number of supply days under ``policy``, by `rxpolicy batch` on each engine:
    the two tables must be equal, dictionaries included; the columnar one is returned."""
    claims = tmp_path / "claims.jsonl"
    claims.write_text("".join(json.dumps(
        {"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
         "medicine": {"name": "test medicine", "atc": "C08CA01", "price": "10.00"},
         "dispensing": {"supply_days": n}}) + "\n" for n in supply_days), encoding="utf-8")
    tables = []
    for engine in ("columnar", "per-case"):
        out = tmp_path / engine
        code, _, err = _invoke("batch", str(claims), "--policy", str(policy), "--engine", engine,
                               "--out", str(out), "--quiet")
        assert code == 0, err
        tables.append(pa.concat_tables(_parts(out)))
    assert tables[0].equals(tables[1])
    return tables[0]


def test_a_decision_computed_per_claim_stays_plain_text_and_a_constant_one_is_closed(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    (root / "statutory").mkdir(parents=True)
    (root / "statutory" / "layer.rxp").write_text(LAYER, encoding="utf-8")
    (root / "p").mkdir()
    (root / "p" / "policy.rxp").write_text(
        'policy p\n  title "P"\n  built on statutory\n  in force from 2024-01-01 until 2025-12-31\nend\n\n'
        + _rule("short/yes", "short = yes", "dispensing.supply_days <= 10")
        + _rule("short/no", "short = no", "dispensing.supply_days > 10")
        + _rule("tier/low", "tier = 1", "dispensing.supply_days <= 20")
        + _rule("tier/high", "tier = 2.5", "dispensing.supply_days > 20")
        + _rule("days/all", "days = dispensing.supply_days"), encoding="utf-8")
    table = _on_both_engines(root / "p", (5, 30, 10, 21), tmp_path)
    assert table.schema.field("tier").type == DICTIONARY
    assert table.column("tier").chunk(0).dictionary.to_pylist() == ["1", "2.5"]
    assert table.column("tier").to_pylist() == ["1", "2.5", "1", "2.5"]
    assert table.schema.field("days").type == pa.string()
    assert table.column("days").to_pylist() == ["5", "30", "10", "21"]
    assert table.column("outcome").to_pylist() == ["short", "not_short", "short", "not_short"]
    assert table.column("days.rule").chunk(0).dictionary.to_pylist() == ["days/all"]


def test_a_run_written_before_the_dictionary_columns_is_not_resumed(claims: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _invoke("batch", str(claims), "--out", str(out), "--chunk-size", "1000", "--quiet")[0] == 1
    manifest = json.loads((out / "_batch.json").read_text())
    del manifest["result_schema"]  # as a run of an earlier version wrote it, its text columns plain strings
    (out / "_batch.json").write_text(json.dumps(manifest))
    (out / "part-000002.parquet").unlink()
    code, _, err = _invoke("batch", str(claims), "--out", str(out), "--chunk-size", "1000", "--resume", "--quiet")
    assert code == 2 and "RX804" in err and "result_schema" in err
    # Said as what it is (an earlier version's run), with what to do, not as a changed option.
    assert "written by an earlier version of rxpolicy" in err and "--overwrite" in err and "--out" in err
    assert "different" not in err


def test_a_rule_column_of_too_many_combinations_stays_plain_text(tmp_path: Path) -> None:
    """Sixteen rules that may all apply and agree make 65,535 texts, more than 16-bit indices reach: that rule
    column is a plain string column, on both roads alike; the others keep their dictionaries."""
    root = tmp_path / "rules"
    (root / "statutory").mkdir(parents=True)
    (root / "statutory" / "layer.rxp").write_text(LAYER, encoding="utf-8")
    (root / "p").mkdir()
    rules = "".join(_rule(f"short/over-{n}", "short = no", f"dispensing.supply_days > {n}") for n in range(10, 26))
    (root / "p" / "policy.rxp").write_text(
        'policy p\n  title "P"\n  built on statutory\n  in force from 2024-01-01 until 2025-12-31\nend\n\n'
        + _rule("short/yes", "short = yes", "dispensing.supply_days <= 10") + rules
        + _rule("tier/all", "tier = 1") + _rule("days/all", "days = dispensing.supply_days"), encoding="utf-8")
    table = _on_both_engines(root / "p", (5, 12, 30), tmp_path)
    assert table.schema.field("short.rule").type == pa.string()
    assert table.column("short.rule").to_pylist() == [
        "short/yes", "short/over-10, short/over-11",
        ", ".join(f"short/over-{n}" for n in range(10, 26))]
    assert table.schema.field("tier.rule").type == DICTIONARY
    assert table.schema.field("outcome").type == DICTIONARY


def _exceptions_policy(root: Path, tops: int, exceptions: int) -> Path:
    """``tops`` rules deciding ``tier`` that may apply together, each with ``exceptions`` exceptions that may all
    apply together: per rule 2**exceptions ways, the rules together their product."""
    (root / "statutory").mkdir(parents=True)
    (root / "statutory" / "layer.rxp").write_text(LAYER, encoding="utf-8")
    (root / "p").mkdir()
    rules = _rule("short/yes", "short = yes", "dispensing.supply_days <= 10") \
        + _rule("short/no", "short = no", "dispensing.supply_days > 10") + _rule("days/all", "days = 1")
    for t in range(tops):
        rules += _rule(f"tier/top{t}", "tier = 1", f"dispensing.supply_days > {t}")
        for k in range(exceptions):
            rules += _rule(f"tier/top{t}-x{k}", "tier = 2", f"dispensing.supply_days > {t + k + 1}") \
                .replace("  when", f"  exception to tier/top{t}\n  when", 1)
    (root / "p" / "policy.rxp").write_text(
        'policy p\n  title "P"\n  built on statutory\n  in force from 2024-01-01 until 2025-12-31\nend\n\n' + rules,
        encoding="utf-8")
    return root / "p"


def test_the_combinations_stop_at_the_limit_not_at_their_product(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rules of ten exceptions each: 1,024 ways each, about a million together. The pairings are counted as
    they are made, so working out the dictionaries stops soon after the limit (the column then plain text)
    instead of building all the pairings first (with eleven exceptions, seconds and gigabytes)."""
    from rxpolicy.bulk import dictionaries

    compared = 0
    agreed = dictionaries._agreed

    def counting(a: object, b: object) -> object:
        nonlocal compared
        compared += 1
        return agreed(a, b)

    monkeypatch.setattr(dictionaries, "_agreed", counting)
    closed = column_dictionaries(load_policy(str(_exceptions_policy(tmp_path / "rules", 2, 10))))
    assert "tier.rule" not in closed  # too many combinations: plain text
    assert closed["days.rule"] == ("days/all",)
    assert 0 < compared <= 3 * dictionaries.MOST_TEXTS


def test_a_policy_of_astronomically_many_combinations_runs_with_the_rule_column_plain(tmp_path: Path) -> None:
    """Two rules of thirty exceptions each (2**60 pairings): the batch runs, ``tier.rule`` plain text."""
    policy = _exceptions_policy(tmp_path / "rules", 2, 30)
    claims = tmp_path / "claims.jsonl"
    claims.write_text("".join(json.dumps(
        {"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
         "medicine": {"name": "test medicine", "atc": "C08CA01", "price": "10.00"},
         "dispensing": {"supply_days": n}}) + "\n" for n in (1, 3)), encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = _invoke("batch", str(claims), "--policy", str(policy), "--out", str(out), "--quiet")
    assert code == 0, err
    table = pa.concat_tables(_parts(out))
    assert table.schema.field("tier.rule").type == pa.string()
    assert table.column("tier.rule").to_pylist() == ["tier/top0", "tier/top0-x0, tier/top0-x1, tier/top1-x0"]
    assert table.schema.field("outcome").type == DICTIONARY


@pytest.mark.parametrize("rest_empty", [False, True])
def test_per_case_rows_put_in_place_keep_the_fixed_dictionary(rest_empty: bool) -> None:
    """The columnar road's dictionary columns (in chunks, with nulls) with some rows replaced by per-case rows
    (texts, or none: an error row's) and, the other way, put in record order: the texts row by row, one
    dictionary."""
    import random

    from rxpolicy.bulk.columnar import _in_order, _replaced

    rng = random.Random(5)
    n = 600
    outcomes = pa.array(["covered", "not_covered"])
    rules = pa.array(["R1", "R2", "R1, R2", "R3"])
    schema = pa.schema([pa.field("record", pa.int64(), nullable=False), ("outcome", DICTIONARY),
                        ("v.rule", DICTIONARY), ("error_code", pa.string())])
    outcome = [rng.randrange(2) for _ in range(n)]
    codes = [rng.choice([0, 1, 2, 3, None]) for _ in range(n)]
    pieces = [pa.array(range(1, n + 1), pa.int64()),
              pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array(outcome[:200], pa.int16()), outcomes),
                                pa.DictionaryArray.from_arrays(pa.array(outcome[200:], pa.int16()), outcomes)]),
              pa.DictionaryArray.from_arrays(pa.array(codes, pa.int16()), rules),
              pa.nulls(n, pa.string())]
    replaced = sorted(rng.sample(range(n), 50))
    mask = pa.array([i in set(replaced) for i in range(n)])
    rows = [{"record": i + 1, "outcome": rng.choice([0, 1, None]), "v.rule": rng.choice([3, None]),
             "error_code": rng.choice(["RX405", None])} for i in replaced]
    if rest_empty:
        rows = [{k: (v if k == "record" else None) for k, v in row.items()} for row in rows]
    rest = pa.Table.from_arrays(
        [pa.array([r["record"] for r in rows], pa.int64()),
         pa.DictionaryArray.from_arrays(pa.array([r["outcome"] for r in rows], pa.int16()), outcomes),
         pa.DictionaryArray.from_arrays(pa.array([r["v.rule"] for r in rows], pa.int16()), rules),
         pa.array([r["error_code"] for r in rows], pa.string())], schema=schema)
    theirs = iter(rest.to_pylist())
    want = [next(theirs) if i in set(replaced) else
            {"record": i + 1, "outcome": ["covered", "not_covered"][outcome[i]],
             "v.rule": None if codes[i] is None else rules[codes[i]].as_py(), "error_code": None} for i in range(n)]
    got = _replaced(pieces, rest, mask, schema)
    assert got.schema == schema
    assert got.to_pylist() == want
    for name, texts in (("outcome", outcomes), ("v.rule", rules)):
        assert all(chunk.dictionary.equals(texts) for chunk in got.column(name).chunks)
    # The same rows from the kept part and the per-case rows put in record order by `order`.
    kept = [i for i in range(n) if i not in set(replaced)]
    part = [pieces[0].take(kept), pieces[1].take(pa.array(kept)), pieces[2].take(pa.array(kept)),
            pa.nulls(len(kept), pa.string())]
    order = pa.array(sorted(range(n), key=lambda p: (kept + replaced)[p]))
    ordered = _in_order([part], rest, order, schema)
    assert ordered.to_pylist() == want
    assert all(chunk.dictionary.equals(rules) for chunk in ordered.column("v.rule").chunks)
