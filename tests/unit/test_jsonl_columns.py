"""JSON Lines claims on the columnar path give every record exactly the per-case path's result row.

A differential test: JSON Lines chunks are evaluated by `rxpolicy batch`'s chunk evaluator twice, on the columns
(the chunk's lines read by Arrow, :mod:`rxpolicy.bulk.jsonl_columns`) and per case (each line decoded and
validated), and the two result tables must be equal, error rows included. Synthetic claims of several seeds for
both built-in policies, and lines written to probe each place where Arrow's JSON reader and ``json.loads`` + the
case validator could read a line differently. The probes also assert which road a line takes: the valid ones
must reach the columns (so the test cannot pass by sending everything per case), the doubtful ones must not.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pyarrow.parquet as pq
import pytest

from columnar_helpers import runs as both_runs
from rxpolicy import PolicyStore
from rxpolicy.bulk.core import select_decisions
from rxpolicy.bulk.jsonl_columns import jsonl_table
from rxpolicy.bulk.records import Chunk, read_chunks
from rxpolicy.bulk.run import BatchRun, evaluate_chunk
from rxpolicy.bulk.synth import synth_claims
from rxpolicy.engine.compile import CompiledPolicy

ROOT = Path(__file__).resolve().parents[2]


def runs(name: str) -> tuple[BatchRun, BatchRun]:
    return both_runs(name, "jsonl")


def both_roads(lines: list[bytes], name: str = "hollandzorg", first: int = 1) -> tuple[Any, Any, list[bool]]:
    """The result tables of the lines on the columns and per case, and per line whether the columns may take it."""
    columnar, per_case = runs(name)
    assert columnar.columnar is not None
    on_columns = evaluate_chunk(columnar, Chunk(index=0, first=first, count=len(lines), lines=list(lines)))
    each = evaluate_chunk(per_case, Chunk(index=0, first=first, count=len(lines), lines=list(lines)))
    _, doubtful = jsonl_table(lines, columnar.policy.facts)
    taken = [position not in doubtful for position in range(len(lines))]
    return on_columns, each, taken


def assert_same(lines: list[bytes], name: str = "hollandzorg") -> list[bool]:
    on_columns, each, taken = both_roads(lines, name)
    if not on_columns.equals(each):
        for a, b in zip(on_columns.to_pylist(), each.to_pylist()):
            assert a == b
    assert on_columns.equals(each)
    return taken


def claims(name: str, n: int, seed: int) -> list[dict[str, Any]]:
    policy: CompiledPolicy = runs(name)[0].policy
    return list(synth_claims(n, seed, years=(2023, 2026), plans=policy.plans))


@functools.cache
def base() -> dict[str, Any]:
    """A valid claim the columns decide."""
    return claims("hollandzorg", 1, 3)[0]


def line(claim: dict[str, Any]) -> bytes:
    return json.dumps(claim).encode()


def dotted(claim: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A claim with dotted keys instead of sections (``{"medicine.atc": …}``), as the reader accepts it."""
    found: dict[str, Any] = {}
    for key, value in claim.items():
        found.update(dotted(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return found


@pytest.mark.parametrize(("name", "seed"), [("hollandzorg", 1), ("hollandzorg", 2), ("asr", 3), ("asr", 4)])
def test_synthetic_claims_are_decided_alike_and_mostly_on_the_columns(name: str, seed: int) -> None:
    found = claims(name, 4_000, seed)
    taken = assert_same([line(c) for c in found], name)
    # Every claim reaches the columns but those with a negative amount (an invalid claim's error row quotes it as
    # written); the other invalid claims are refused by the column checks, not by the reading.
    negative = ["-" in str(c["medicine"].get("price")) for c in found]
    assert [not n for n in negative] == taken and 0 < sum(negative) < len(found) // 100


def _with(path: str, value: Any, claim: dict[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(json.dumps(claim or base()))
    *sections, name = path.split(".")
    node = found
    for section in sections:
        node = node.setdefault(section, {})
    node[name] = value
    return found


#: Lines the columns may read (each with the valid claim around it), and lines they must leave per case.
TAKEN = {
    "money as a number": line(_with("medicine.price", 12.4)),
    "money as text": line(_with("medicine.price", "12.40")),
    "money with trailing zeros": line(_with("medicine.price", "12.4000")),
    "money as a whole number": line(_with("medicine.price", 12)),
    "money with a plus sign": line(_with("medicine.price", "+12.40")),
    "money as .5": line(_with("medicine.price", ".5")),
    "a plan left unknown": line(_with("insured.plan", None)),
    "dotted keys": line(dotted(base())),
    "dotted keys and a null one": line({**dotted(base()), "medicine.registered": None}),
    # A point before an `e` in a key is no exponent (every such dotted line went per case before).
    "a dotted key with a point before an e": line(dotted(_with("insured.excess_used", "100.00"))),
    "a text with a point before an e": line(_with("medicine.name", "tab.extra strength")),
    "a null section": line(_with("authorisation", None)),
    "a null section of fees": line(_with("dispensing.fees", None)),
    "spaces and a carriage return after": line(base()) + b"  \r\n",
    "compact separators": json.dumps(base(), separators=(",", ":")).encode(),
    "an accented name": line(_with("medicine.name", "crème")),
    "an escaped accent": json.dumps(_with("medicine.name", "crème"), ensure_ascii=True).encode(),
}
LEFT = {
    "money in text with an exponent": line(_with("medicine.price", "1e1")),
    "money in text with an exponent after a point": line(_with("medicine.price", "1.e1")),
    "money in text with an escaped exponent": line(_with("medicine.price", "1e1")).replace(b"1e1", b"1\\u00651"),
    "an escaped key": line(base()).replace(b'"dispensed_on"', b'"dispensed\\u005fon"'),
    "money as a number with an exponent": line(base()).replace(b'"price": "', b'"price": 1e1, "x": "'),
    "money with three decimals": line(_with("medicine.price", 12.345)),
    "money in text with three decimals": line(_with("medicine.price", "12.345")),
    "money with a comma": line(_with("medicine.price", "12,40")),
    "money with spaces": line(_with("medicine.price", " 12.40 ")),
    "money too large": line(_with("medicine.price", 10 ** 15)),
    "a number as text": line(_with("dispensing.supply_days", "30")),
    "a number with a fraction": line(_with("dispensing.supply_days", 30.0)),
    "a number beyond its most": line(_with("dispensing.supply_days", 40_000)),
    "yes as text": line(_with("medicine.registered", "true")),
    "yes as 1": line(_with("medicine.registered", 1)),
    "a null the validator refuses": line(_with("medicine.registered", None)),
    "a null fee": line(_with("dispensing.fees.delivery", None)),
    "a null in a list": line(_with("medicine.doctors_note_prescribers", ["gp", None])),
    "an empty section": line(_with("authorisation", {})),
    "a date that does not exist": line(_with("insured.born_on", "2001-02-29")),
    "a date written otherwise": line(_with("insured.born_on", "20010228")),
    "a date with spaces": line(_with("insured.born_on", " 2001-02-28")),
    "a date too early": line(_with("insured.born_on", "1899-12-31")),
    "a date as a number": line(_with("insured.born_on", 20010228)),
    "a blank name": line(_with("medicine.name", "   ")),
    "a name of a no-break space": line(_with("medicine.name", "\u00a0")),
    "an empty indication": line(_with("prescription.indication", "")),
    "an unknown field": line(_with("medicine.colour", "red")),
    "a dotted and a nested key for one section": line({**base(), "medicine.route": "oral"}),
    "a dotted key for a section": line({**base(), "dispensing.fees": {"delivery": "1.00"}}),
    "a dotted key that is not a fact": line({**dotted(base()), "medicine.colour": "red"}),
    "a null dotted key that is not a fact (dropped per case)": line({**dotted(base()), "medicine.colour": None}),
    "a dotted key twice": line(dotted(base())).replace(b"{", b'{"medicine.price": "1.00", ', 1),
    "a dotted line with a section null": line({**dotted(base()), "authorisation": None}),
    "a negative amount as a number": line(_with("medicine.price", -14.1)),
    "a negative amount as text": line(_with("medicine.price", "-5")),
    "no dispensing date": line({k: v for k, v in base().items() if k != "dispensed_on"}),
    "a repeated key": line(base()).replace(b"{", b'{"dispensed_on": "2020-01-01", ', 1),
    "two objects on a line": line(base()) + b" " + line(base()),
    "an array": b"[" + line(base()) + b"]",
    "a number": b"42",
    "not JSON": b"{'dispensed_on': '2025-03-14'}",
    "cut short": line(base())[:-5],
    "a byte-order mark": b"\xef\xbb\xbf" + line(base()),
    "invalid UTF-8": line(_with("medicine.name", "x")).replace(b'"x"', b'"\xff"'),
    "an encoded surrogate": line(_with("medicine.name", "x")).replace(b'"x"', b'"\xed\xa0\x80"'),
    "an escaped lone surrogate": line(_with("medicine.name", "\udcff")),
    "a raw tab in a text": line(_with("medicine.name", "x")).replace(b'"x"', b'"a\tb"'),
    "a carriage return inside": line(base()).replace(b", ", b",\r", 1),
    "a carriage return at the end": line(base()) + b"\r",
    "spaces before": b"  " + line(base()),
    "NaN": line(base()).replace(b'"price": "', b'"price": NaN, "x": "'),
    "a nested object for a text": line(_with("medicine.name", {"en": "x"})),
}


@pytest.mark.parametrize("label", sorted(TAKEN))
def test_a_line_the_columns_read_is_decided_as_per_case(label: str) -> None:
    taken = assert_same([line(base()), TAKEN[label], line(base())])
    assert taken == [True, True, True]


@pytest.mark.parametrize("label", sorted(LEFT))
def test_a_doubtful_line_is_left_per_case_and_its_neighbours_are_not(label: str) -> None:
    lines = [line(base())] * 3 + [LEFT[label]] + [line(base())] * 3
    taken = assert_same(lines)
    assert taken[3] is False
    # A line Arrow refuses makes its part of the chunk be read again in groups: a few neighbours may go per case
    # too, but not a chunk of many lines (groups of 64 are the smallest read again).
    many = [line(base())] * 200 + [LEFT[label]] + [line(base())] * 200
    taken = assert_same(many)
    assert taken[200] is False
    assert sum(taken) >= 400 - 64


def test_refused_lines_spread_through_a_chunk_are_per_case_and_lines_are_read_at_most_three_times(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.json as pj

    found = claims("hollandzorg", 3_000, 5)
    lines = [line(c) for c in found]
    # One line in 25 refused by Arrow: those told before reading (an unknown field, three decimals, a value of
    # another shape) and two it finds only by refusing (a repeated key, a line cut short).
    screened = ["an unknown field", "money in text with three decimals", "a number as text", "yes as 1",
                "a date as a number", "a nested object for a text"]
    for n, position in enumerate(range(12, len(lines), 25)):
        lines[position] = LEFT[screened[n % len(screened)]]
    lines[1_000] = LEFT["a repeated key"]
    lines[2_000] = LEFT["cut short"]
    read_lines: list[int] = []
    real = pj.read_json

    def counting(source: Any, **options: Any) -> Any:
        data = source.getvalue()
        read_lines.append(data.count(b"\n") - data.count(b"{}\n"))  # placeholders of lines left out read nothing
        return real(source, **options)

    monkeypatch.setattr(pj, "read_json", counting)
    taken = assert_same(lines)
    refused = set(range(12, len(lines), 25)) | {1_000, 2_000}
    assert not any(taken[p] for p in refused)
    # The told lines cost no neighbour; each line found only by refusing sends at most its group of 64 per case.
    assert sum(taken) >= len(lines) - len(refused) - 2 * 64
    # Halving down to small parts read each line about log2(3000 / 64) ≈ 6 times (or more) here.
    assert sum(read_lines) <= 3 * 2 * len(lines)  # two jsonl_table calls: the chunk's, and both_roads' own
    assert len([n for n in read_lines if n]) <= 2 * 50


def test_refused_dotted_lines_are_told_before_reading_and_cost_no_neighbour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines with dotted keys go through the same screen as nested ones: before, a refused dotted line made the
    dotted lines be read again in groups, and each sent its group of 64 neighbours per case."""
    import pyarrow.json as pj

    lines = [line(dotted(c)) for c in claims("hollandzorg", 2_000, 6)]
    _, left = jsonl_table(lines, runs("hollandzorg")[0].policy.facts)  # (a negative amount, say)
    assert len(left) < 2_000 // 100
    refusals = [("medicine.colour", "red"), ("medicine.price", "12.345"), ("dispensing.supply_days", "30"),
                ("medicine.registered", 1), ("insured.born_on", 20010228), ("medicine.name", {"en": "x"}),
                ("dispensing.fees", {"delivery": "1.00"}), ("insured", {"plan": "Start"})]
    refused = set(range(7, len(lines), 40))
    for n, position in enumerate(sorted(refused)):
        path, value = refusals[n % len(refusals)]
        lines[position] = line({**json.loads(lines[position]), path: value})
    reads: list[int] = []
    real = pj.read_json

    def counting(source: Any, **options: Any) -> Any:
        reads.append(1)
        return real(source, **options)

    monkeypatch.setattr(pj, "read_json", counting)
    taken = assert_same(lines)
    assert not any(taken[p] for p in refused)
    assert taken == [p not in refused and p not in left for p in range(len(lines))]  # no neighbour per case
    assert len(reads) <= 2 * 2  # per jsonl_table call: the dotted lines read, refused, screened, read again


def test_record_numbers_and_problems_stay_in_place() -> None:
    lines = [line(base()), b"not json", b"[1]", line(base()), b"{}", line(_with("medicine.price", "x"))]
    on_columns, each, _ = both_roads(lines, first=41)
    assert on_columns.equals(each)
    rows = on_columns.to_pylist()
    assert [r["record"] for r in rows] == list(range(41, 47))
    assert [r["error_code"] for r in rows][1:3] == ["RX802", "RX802"]
    assert rows[0]["error_code"] is None and rows[3]["error_code"] is None


def test_lines_are_decoded_only_for_the_records_left_per_case() -> None:
    columnar, _ = runs("hollandzorg")
    chunk = Chunk(index=0, first=1, count=3, lines=[line(base()), b"not json", line(base())])
    evaluate_chunk(columnar, chunk)
    assert chunk.given is None  # the two valid lines were never decoded one by one
    assert chunk.subset([1])[0].code == "RX802"  # type: ignore[union-attr]
    assert len(chunk.records) == 3


@pytest.mark.parametrize("text", ["jsonl", "csv"])
def test_a_text_claims_file_gives_the_results_of_the_same_claims_in_parquet(text: str, tmp_path: Path) -> None:
    """JSON Lines and CSV chunks reach the columns as typed tables: their results and counts are Parquet's."""
    rxpolicy = str(Path(sys.executable).with_name("rxpolicy"))
    results, said = {}, {}
    for suffix in (text, "parquet"):
        claims_file = tmp_path / f"claims.{suffix}"
        subprocess.run([rxpolicy, "claims", "synth", "--n", "3000", "--seed", "5", "--out", str(claims_file)],
                       check=True, capture_output=True)
        out = tmp_path / f"out-{suffix}"
        done = subprocess.run([rxpolicy, "batch", str(claims_file), "--out", str(out), "--chunk-size", "1000"],
                              capture_output=True, text=True)
        assert done.returncode == 1, done.stderr  # 1: some claims are error rows (the synthetic ~1 % invalid)
        results[suffix] = pq.read_table(sorted(out.glob("part-*.parquet")))
        said[suffix] = done.stderr
    assert results[text].num_rows == 3000
    assert said[text] == said["parquet"]
    assert results[text].equals(results["parquet"])


def test_chunks_of_a_file_keep_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "claims.jsonl"
    path.write_bytes(b"\n".join([line(base()), b"", b"  ", b"oops", line(base())]) + b"\n")
    chunks = list(read_chunks(path, "jsonl", 2))
    assert [(c.first, c.count) for c in chunks] == [(1, 2), (3, 1)]
    assert chunks[0].lines is not None and chunks[0].lines[1] == b"oops\n"


@pytest.mark.parametrize(("path", "value"), [("dispensing.supply_days", 40_000), ("dispensing.months_in_use", 1_201),
                                             ("insured.born_on", "1899-12-31"), ("medicine.name", "   "),
                                             ("prescription.indication", "\u00a0")])
def test_parquet_claims_beyond_a_declared_limit_get_their_per_case_rows(path: str, value: Any) -> None:
    # Typed Parquet values beyond a declared limit: the columns refuse them as the validator does.
    from rxpolicy.bulk.synth_files import claims_table, flatten

    columnar, per_case = runs("hollandzorg")
    records = [flatten(base()), {**flatten(base()), path: value}]
    rows = [evaluate_chunk(run, Chunk(index=0, first=1, count=2, table=claims_table(records)))
            for run in (columnar, per_case)]
    assert rows[0].equals(rows[1])
    assert rows[1].column("error_code").to_pylist() == [None, "RX405"]


def test_a_claim_refused_for_several_problems_names_the_first_its_line_lists() -> None:
    claim: dict[str, Any] = json.loads(json.dumps(base()))
    claim["dispensing"]["supply_days"] = 0
    claim["insured"]["voluntary_excess"] = "150"
    # The same claim with its sections in the declared order and in another: the per-case row names the first
    # problem in the line's order, so the two rows differ, and the columnar path must say what per case says.
    listed = {key: claim[key] for key in ("dispensed_on", "dispensing", "medicine", "prescription", "insured")}
    on_columns, each, _ = both_roads([line(claim), line(listed)])
    messages = [row["error_message"] for row in each.to_pylist()]
    assert messages[0].startswith("`insured.voluntary_excess`") and messages[1].startswith("`dispensing.supply_days`")
    assert on_columns.equals(each)


def _two_problems() -> dict[str, Any]:
    claim: dict[str, Any] = json.loads(json.dumps(base()))
    claim["dispensing"]["supply_days"] = 0
    claim["insured"]["voluntary_excess"] = "150"
    return claim


def test_the_first_of_several_problems_is_the_lines_whatever_words_say_there_are_more(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The error rows the columns must leave per case are known from the problems, not from the row's words: before,
    they were the rows whose message said " more problem", so a translation or a rewording of "(and 1 more
    problem)" let the columns name the first problem in the declared order instead of the line's."""
    from rxpolicy.bulk import columnar_errors, core

    real = core.problem_of

    def reworded(diagnostic: Any, count: int = 1) -> Any:
        return attrs.evolve(real(diagnostic), message=diagnostic.message + f" [+{count - 1}]" * (count > 1))

    monkeypatch.setattr(core, "problem_of", reworded)
    monkeypatch.setattr(columnar_errors, "problem_of", reworded)
    claim = _two_problems()
    # Its sections in another order than the declared one: the line lists the supply days first.
    listed = {key: claim[key] for key in ("dispensed_on", "dispensing", "medicine", "prescription", "insured")}
    on_columns, each, _ = both_roads([line(listed), line(base())])
    first = each.column("error_message").to_pylist()[0]
    assert first.startswith("`dispensing.supply_days`") and first.endswith(" [+1]")
    assert on_columns.equals(each)


def _per_case_numbers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The record numbers the batch run gives to the per-case evaluator, gathered as it runs."""
    from rxpolicy.bulk import core, run

    evaluated: list[int] = []
    real = core.evaluate_records

    def counting(*args: Any, numbers: list[int], **options: Any) -> Any:
        evaluated.extend(numbers)
        return real(*args, numbers=numbers, **options)

    monkeypatch.setattr(run, "evaluate_records", counting)
    return evaluated


def test_a_claim_is_evaluated_per_case_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim with several problems left per case from the start (a negative amount: the reading leaves it per
    case) was evaluated per case twice before: once for its row, once more because the row said "more problems"."""
    claim = _two_problems()
    claim["medicine"]["price"] = "-1.00"
    evaluated = _per_case_numbers(monkeypatch)
    on_columns, each, taken = both_roads([line(base()), line(claim), line(_two_problems())])
    assert on_columns.equals(each) and taken == [True, False, True]
    assert "(and 2 more problems)" in each.column("error_message").to_pylist()[1]
    # Per case: the second claim (left by the reading) and the third (several problems in the line's order), once
    # each on the columnar road, then all three on the per-case road.
    assert sorted(evaluated) == [1, 2, 2, 3, 3]


@pytest.mark.parametrize("limit", ["100000000000", "12.405", "12.40"])
def test_a_money_limit_of_any_size_a_rule_file_may_write_is_met_as_the_validator_meets_it(
        limit: str, tmp_path: Path) -> None:
    """`at most` on an amount, beyond what the JSON reading's decimal128(12, 2) holds or with more decimals: before,
    making the reading's limit stopped `rxpolicy batch` with an internal error (ArrowInvalid)."""
    import shutil

    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    facts = tmp_path / "rules" / "statutory" / "facts.rxp"
    text = facts.read_text(encoding="utf-8")
    declared = 'fact medicine.price: money\n  required\n'
    assert declared in text
    facts.write_text(text.replace(declared, declared + f'  at most {limit} because "a test of limits"\n', 1),
                     encoding="utf-8")
    policy = PolicyStore().load(str(tmp_path / "rules" / "hollandzorg"))
    run = BatchRun(claims=Path("claims.jsonl"), input_format="jsonl", policy=policy,
                   selection=select_decisions(policy), out=None, output_format="parquet")
    claims = []
    for price in ("12.40", "12.41", "12.4", "9999999999.99"):
        claim = base()
        claim["medicine"]["price"] = price
        claims.append(line(claim))
    chunk = Chunk(index=0, first=1, count=len(claims), lines=claims)
    on_columns = evaluate_chunk(run.with_columnar(), chunk)
    each = evaluate_chunk(attrs.evolve(run, engine="per-case"), chunk)
    assert on_columns.equals(each)
    refused = [code == "RX405" for code in each.column("error_code").to_pylist()]
    assert refused == [Decimal(p) > Decimal(limit) for p in ("12.40", "12.41", "12.4", "9999999999.99")]


def test_the_readings_kept_are_bounded_and_shared_by_threads() -> None:
    """A long-running process (the service, the language server, a Dask worker) meets ever new schemas as rule files
    are edited: the readings of JSON Lines and CSV chunks kept for them must not grow without bound (before, one
    was kept per schema for the life of the process)."""
    import threading

    from rxpolicy.bulk import jsonl_columns

    facts = runs("hollandzorg")[0].policy.facts
    schemas = [attrs.evolve(facts, fingerprint=f"{facts.fingerprint}-edit-{n}") for n in range(3 * jsonl_columns._KEPT)]
    found: dict[int, Any] = {}
    failed: list[BaseException] = []

    def read(start: int) -> None:
        try:
            for n in range(start, len(schemas), 4):
                found[n] = jsonl_columns._reading(schemas[n])
        except BaseException as error:  # reported below: an assertion in a thread does not fail the test
            failed.append(error)

    threads = [threading.Thread(target=read, args=(start,)) for start in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failed
    assert len(jsonl_columns._readings) <= jsonl_columns._KEPT
    assert all(reading.kinds == found[0].kinds for reading in found.values()) and len(found) == len(schemas)
    # The schema used last is kept; a reading dropped is built again, equal to the first.
    assert jsonl_columns._reading(schemas[-1]) is jsonl_columns._reading(schemas[-1])
    again = jsonl_columns._reading(schemas[0])
    assert again.refused == found[0].refused and again.flat_known_key == found[0].flat_known_key


@pytest.mark.parametrize("text", [False, True])
def test_the_counts_say_which_claims_were_decided_written_from_the_columns_or_evaluated_per_case(
        text: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """``evaluate_chunk``'s counts tell the three roads apart: before, the claims refused with an error row written
    from the columns' checks were counted (and timed) as evaluated per case."""
    from rxpolicy.bulk.synth_files import claims_table, flatten

    found = claims("hollandzorg", 3_000, 7)
    if text:  # JSON Lines: the reading leaves some claims per case itself (a negative amount)
        chunk = Chunk(index=0, first=1, count=len(found), lines=[line(c) for c in found])
    else:
        chunk = Chunk(index=0, first=1, count=len(found), table=claims_table([flatten(c) for c in found]))
    evaluated = _per_case_numbers(monkeypatch)
    counts: dict[str, int] = {}
    timings: dict[str, float] = {}
    result = evaluate_chunk(runs("hollandzorg")[0], chunk, timings, counts)
    refused = result.column("error_code").drop_null().to_pylist()
    per_case_errors = sum(1 for row in result.to_pylist() if row["error_code"] and row["record"] in set(evaluated))
    assert counts["per_case"] == len(evaluated) > 0
    assert counts["error_rows"] == len(refused) - per_case_errors > 0
    assert counts["columnar"] == len(found) - counts["error_rows"] - counts["per_case"] > len(found) // 2
    assert set(timings) == {"prepare", "columns", "error_rows", "per_case", "output"}


@pytest.mark.parametrize("surrogate", [b"\\udcff", b"\xed\xb3\xbf"])
def test_a_lone_surrogate_quoted_in_an_error_row_is_written_as_its_escape(surrogate: bytes) -> None:
    """A JSON line with a lone surrogate (escaped, or encoded as UTF-8 bytes, which ``json.loads`` reads alike)
    where a problem quotes it: before, writing the row stopped `rxpolicy batch` with an internal error (Arrow's
    strings are UTF-8)."""
    bad = line(_with("dispensed_on", "x")).replace(b'"x"', b'"' + surrogate + b'"')
    on_columns, each, taken = both_roads([line(base()), bad])
    assert on_columns.equals(each) and not taken[1]
    row = each.to_pylist()[1]
    assert row["error_field"] == "dispensed_on" and "\\udcff" in row["error_message"], row
