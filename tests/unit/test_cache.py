"""The cache on disk of compiled policies: read back equal, never trusted when damaged or foreign, shared safely."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rxpolicy import PolicyStore, case_from_mapping, evaluate
from rxpolicy.cache import DiskCache
from rxpolicy.explain.json import evaluation_json
from rxpolicy.explain.text import evaluation_text
from rxpolicy.language import grammar
from store_helpers import count_compiles

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "hollandzorg").glob("*.yaml"))


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "policies").glob("*"))


def test_a_policy_read_from_the_cache_decides_and_explains_as_the_compiled_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = count_compiles(monkeypatch)
    built = PolicyStore(tmp_path).load("hollandzorg")
    read = PolicyStore(tmp_path).load("hollandzorg")  # a new store: from disk
    assert len(compiled) == 1 and read is not built
    assert read.fingerprint == built.fingerprint and read.decisions == built.decisions and read.rules == built.rules
    from rxpolicy import load_case

    for path in EXAMPLES:
        a, b = evaluate(built, load_case(path, plans=built.plans)), evaluate(read, load_case(path, plans=read.plans))
        assert (a.values, a.deciders) == (b.values, b.deciders), path.name
        assert evaluation_text(a) == evaluation_text(b), path.name
        assert evaluation_json(a, "nl") == evaluation_json(b, "nl"), path.name


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "empty", "another directory's entry"])
def test_a_damaged_or_foreign_entry_is_rebuilt_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         damage: str) -> None:
    PolicyStore(tmp_path).load("hollandzorg")
    [entry] = _entries(tmp_path)
    data = entry.read_bytes()
    if damage == "flip a byte":
        entry.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    elif damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        entry.write_bytes(b"")
    else:  # an entry made under another key (another user's cache, say) for the same policy
        other = tmp_path / "other"
        PolicyStore(other).load("hollandzorg")
        entry.write_bytes(_entries(other)[0].read_bytes())
    compiled = count_compiles(monkeypatch)
    policy = PolicyStore(tmp_path).load("hollandzorg")
    assert compiled, "the damaged entry was used"
    assert policy.name == "hollandzorg"
    # ... and the entry written in its place is whole again: the next store reads it.
    compiled.clear()
    PolicyStore(tmp_path).load("hollandzorg")
    assert not compiled


def test_an_entry_that_would_run_code_is_never_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    PolicyStore(tmp_path).load("hollandzorg")
    [entry] = _entries(tmp_path)
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (Path.touch, (marker,))

    data = entry.read_bytes()
    header = data.index(b"\n") + 1 + 32  # magic line, then the HMAC
    entry.write_bytes(data[:header] + pickle.dumps(Payload()))
    compiled = count_compiles(monkeypatch)
    PolicyStore(tmp_path).load("hollandzorg")
    assert not marker.exists() and compiled


def test_a_key_others_can_read_or_write_means_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    PolicyStore(tmp_path).load("hollandzorg")
    (tmp_path / "hmac.key").chmod(0o644)
    compiled = count_compiles(monkeypatch)
    PolicyStore(tmp_path).load("hollandzorg")
    assert compiled


@pytest.mark.parametrize("place", ["below a file", "a file"])
def test_a_cache_directory_that_cannot_be_made_means_no_cache_not_an_error(tmp_path: Path, place: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    directory = blocker / "cache" if place == "below a file" else blocker
    store = PolicyStore(directory)
    assert store.load("hollandzorg").name == "hollandzorg"
    assert blocker.read_text() == "not a directory"
    assert DiskCache(directory).write("policies", "x", b"payload") is False


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write any directory")
def test_a_read_only_cache_directory_means_no_cache_not_an_error(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o500)
    try:
        assert PolicyStore(directory).load("hollandzorg").name == "hollandzorg"
        assert not any(directory.iterdir())
    finally:
        directory.chmod(0o700)


def test_turned_off_the_store_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RXPOLICY_CACHE_DIR", "off")
    store = PolicyStore()
    assert store.cache is None and store.load("hollandzorg").name == "hollandzorg"
    assert PolicyStore(disk_cache=False).cache is None


_FILL = """
import sys
from rxpolicy import PolicyStore
policy = PolicyStore(sys.argv[1]).load("hollandzorg")
print(policy.fingerprint)
"""


def test_two_processes_filling_the_cache_at_once_both_succeed_and_leave_one_whole_entry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    processes = [subprocess.Popen([sys.executable, "-c", _FILL, str(tmp_path)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
    assert outputs[0][0] == outputs[1][0]
    assert len(_entries(tmp_path)) == 1
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left behind"
    compiled = count_compiles(monkeypatch)
    assert PolicyStore(tmp_path).load("hollandzorg").fingerprint == outputs[0][0].strip()
    assert not compiled


def test_a_loaded_policy_is_found_again_without_reading_its_files(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    store = PolicyStore(tmp_path / "cache")
    directory = str(tmp_path / "rules" / "hollandzorg")
    first = store.load(directory)
    read: list[Path] = []
    real = Path.read_bytes

    def reading(self: Path) -> bytes:
        read.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", reading)
    assert store.load(directory) is first
    assert not [p for p in read if p.suffix == ".rxp"]
    # An edit shows in the files' size and time: then the policy is compiled again.
    periods = tmp_path / "rules" / "model" / "dispensing_periods.rxp"
    periods.write_text(periods.read_text().replace("at most 15 days", "at most 14 days"))
    assert store.load(directory) is not first


def test_the_parser_read_from_the_cache_parses_as_a_built_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RXPOLICY_CACHE_DIR", str(tmp_path))
    built = grammar.parser.__wrapped__()
    assert list((tmp_path / "parser").iterdir())
    read = grammar.parser.__wrapped__()
    for path in sorted((ROOT / "rules").rglob("*.rxp")):
        text = path.read_text(encoding="utf-8")
        assert built.parse(text) == read.parse(text), path.name


def test_the_case_is_evaluated_alike_by_a_store_without_disk_cache() -> None:
    case = case_from_mapping({
        "dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
        "medicine": {"name": "x", "atc": "C08CA01", "price": "10.00"}, "dispensing": {"supply_days": 30}})
    a = evaluate(PolicyStore(disk_cache=False).load("hollandzorg"), case)
    b = evaluate(PolicyStore().load("hollandzorg"), case)
    assert (a.values, a.deciders) == (b.values, b.deciders)


def test_the_cache_keeps_the_entries_used_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rxpolicy.cache.MAX_ENTRIES", 3)
    cache = DiskCache(tmp_path)
    for number in range(3):
        assert cache.write("policies", f"entry-{number}", b"payload %d" % number)
        os.utime(tmp_path / "policies" / f"entry-{number}", ns=(number * 10**9, number * 10**9))
    assert cache.read("policies", "entry-0") == b"payload 0"  # used: now the most recent
    cache.write("policies", "entry-3", b"payload 3")
    assert sorted(p.name for p in (tmp_path / "policies").iterdir()) == ["entry-0", "entry-2", "entry-3"]


def test_an_edited_engine_source_names_other_entries() -> None:
    # The engine's part of every key comes from its sources' names, sizes and modification times (no file is
    # read at start-up): an edit, which changes the time, selects other entries. The time is put back after.
    from rxpolicy import cache

    source = Path(cache.__file__)
    before = source.stat()
    digest = cache.engine_digest.__wrapped__()
    try:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        assert cache.engine_digest.__wrapped__() != digest
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert cache.engine_digest.__wrapped__() == digest


_BUILDER_FROM_CACHE = """
import sys
from rxpolicy import PolicyStore, case_from_mapping
from rxpolicy.engine import case_build

def refuse(*args, **kwargs):
    raise AssertionError("the case builder was written again")

case_build.builder_source = refuse  # a process reading the cache must not write the builder
policy = PolicyStore(sys.argv[1]).load("hollandzorg")
case = case_from_mapping({"dispensed_on": "2025-03-04", "insured": {"born_on": "1961-07-02"},
                          "prescription": {"prescriber": "gp"},
                          "medicine": {"atc": "N05BA04", "name": "oxazepam 10 mg", "price": "12.40"},
                          "dispensing": {"supply_days": 30}}, policy=policy)
print(repr(case.values))
"""


def test_a_policy_from_the_cache_brings_its_case_builder_compiled(tmp_path: Path) -> None:
    # The first process compiles the policy and its builder and fills the cache; a new one reads both back:
    # it builds a case without writing the builder's source (builder_source refuses), with the same values.
    first = subprocess.run([sys.executable, "-c", _BUILDER_FROM_CACHE.replace(
        "case_build.builder_source = refuse", "pass"), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([sys.executable, "-c", _BUILDER_FROM_CACHE, str(tmp_path)], capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout and "Decimal('12.40')" in second.stdout
    # Without the cache the refusing process fails: the check above is not vacuous.
    third = subprocess.run([sys.executable, "-c", _BUILDER_FROM_CACHE, str(tmp_path / "empty")],
                           capture_output=True, text=True, timeout=300)
    assert third.returncode != 0 and "the case builder was written again" in third.stderr
