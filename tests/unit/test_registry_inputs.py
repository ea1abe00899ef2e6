"""The source registry (`sources.yaml`) is an input of a policy like its rule files: a change to it alone is seen
by the policy store, the cache on disk, the fingerprint and the service's watcher."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from rxpolicy import PolicyStore, api, evaluate, load_case, load_policy
from rxpolicy.cli import cli
from rxpolicy.diagnostics import RxError, decode_text, read_text
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.explain.json import evaluation_json
from rxpolicy.language.check import PolicySources
from rxpolicy.language.load import policy_input_files
from rxpolicy.service.catalogue import CatalogueHolder, load_catalogue, rules_stamp
from store_helpers import count_compiles

ROOT = Path(__file__).resolve().parents[2]
BENZO = ROOT / "examples" / "hollandzorg" / "benzodiazepine-chronic.yaml"
CITED = "cite_as: HollandZorg, Medicinal care 2025\n"
REVISED = "cite_as: HollandZorg, Medicinal care 2025 (revised)\n"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A writable copy of the built-in rules (without their rule tests)."""
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", target, ignore=shutil.ignore_patterns("tests", "*.test.yaml"))
    assert (target / "sources.yaml").read_text().count(CITED) == 1
    return target


def _cited(policy: CompiledPolicy) -> str:
    """How the benzodiazepine case's supply decision names its source (the registry's `cite_as`)."""
    decision = json.loads(evaluation_json(evaluate(policy, load_case(BENZO, policy=policy))))["decisions"]
    return str(decision["max_supply"]["source"])


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_store_and_the_cache_on_disk_see_an_edit_of_the_registry_alone(rules: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cache, directory, registry = tmp_path / "cache", str(rules / "hollandzorg"), rules / "sources.yaml"
    compiled = count_compiles(monkeypatch)
    store = PolicyStore(cache)
    first = store.load(directory)
    assert "HollandZorg, Medicinal care 2025, " in _cited(first) and "(revised)" not in _cited(first)

    _edit(registry, CITED, REVISED)
    second = store.load(directory)  # the same store: the registry's size and time changed
    assert second is not first and len(compiled) == 2
    assert "HollandZorg, Medicinal care 2025 (revised), " in _cited(second)
    assert second.fingerprint != first.fingerprint

    # A new store (a fresh process) finds each version on disk by the registry's content: no compile.
    assert PolicyStore(cache).load(directory).fingerprint == second.fingerprint and len(compiled) == 2
    _edit(registry, REVISED, CITED)
    back = PolicyStore(cache).load(directory)
    assert back.fingerprint == first.fingerprint and "(revised)" not in _cited(back) and len(compiled) == 2


def test_only_the_registry_the_policy_uses_counts_and_its_absence_too(rules: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`sources.yaml` beside the policy's directory wins over one in it (language/load.py): the one in it is then
    not an input; once the one beside is gone, the one in it is."""
    directory, registry = rules / "hollandzorg", rules / "sources.yaml"
    compiled = count_compiles(monkeypatch)
    store = PolicyStore(tmp_path / "cache")
    first = store.load(str(directory))
    (directory / "sources.yaml").write_text(registry.read_text().replace(CITED, REVISED))
    assert store.load(str(directory)) is first and len(compiled) == 1  # not the one the policy uses

    registry.unlink()  # now the one in the policy's directory is used
    moved = store.load(str(directory))
    assert len(compiled) == 2 and "(revised)" in _cited(moved) and moved.fingerprint != first.fingerprint


def test_the_fingerprint_names_the_registry_content(rules: Path, tmp_path: Path) -> None:
    before = load_policy(str(rules / "hollandzorg"))
    assert before.fingerprint == load_policy(str(shutil.copytree(rules, tmp_path / "elsewhere") / "hollandzorg")
                                             ).fingerprint  # by content, not by the place it was read from
    _edit(rules / "sources.yaml", CITED, REVISED)
    after = load_policy(str(rules / "hollandzorg"))
    assert after.fingerprint != before.fingerprint and after.file_hashes == before.file_hashes


def test_the_services_watcher_sees_an_edit_of_a_registry(rules: Path) -> None:
    before = rules_stamp(rules)
    assert str(rules / "sources.yaml") in {path for path, _, _ in before}
    _edit(rules / "sources.yaml", CITED, REVISED)
    assert rules_stamp(rules) != before


def test_a_batch_run_is_not_resumed_after_an_edit_of_the_registry(rules: Path, tmp_path: Path) -> None:
    """The run's manifest names the policy's fingerprint: citations that changed make another run."""
    claims, out = tmp_path / "claims.jsonl", tmp_path / "run"
    claims.write_text(json.dumps(yaml.safe_load(BENZO.read_text()), default=str) + "\n")
    command = ["batch", str(claims), "--policy", str(rules / "hollandzorg"), "--out", str(out), "--format", "jsonl"]
    assert CliRunner().invoke(cli, command).exit_code == 0
    _edit(rules / "sources.yaml", CITED, REVISED)
    resumed = CliRunner().invoke(cli, [*command, "--resume"])
    assert resumed.exit_code == 2 and "RX804" in resumed.stderr and "policy_fingerprint" in resumed.stderr


def _replace_keeping_time(path: Path, old: str, new: str) -> None:
    """An edit of the same size renamed into place with the old modification time: as an editor that saves within
    the file system's clock tick, or a sync tool that keeps times, leaves it."""
    text, info = path.read_text(), path.stat()
    edited = text.replace(old, new)
    assert old in text and len(edited) == len(text)
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(edited)
    os.utime(temporary, ns=(info.st_atime_ns, info.st_mtime_ns))
    os.replace(temporary, path)


def test_a_registry_edit_of_the_same_size_and_time_is_compiled_and_filed_by_its_text(rules: Path,
                                                                                    tmp_path: Path) -> None:
    """Failed before: the registry was cached by path, time and size, so the store hashed the new text but compiled
    the old one, filed it under the new key on disk, and a new process found that stale policy there."""
    cache, directory, registry = tmp_path / "cache", str(rules / "hollandzorg"), rules / "sources.yaml"
    store = PolicyStore(cache)
    first = store.load(directory)
    _replace_keeping_time(registry, "cite_as: Zvw\n", "cite_as: ZVW\n")
    second = store.load(directory)
    fresh = PolicyStore(disk_cache=False).load(directory)
    assert second.fingerprint == fresh.fingerprint != first.fingerprint
    assert PolicyStore(cache).load(directory).fingerprint == fresh.fingerprint  # what the cache on disk holds


def test_a_one_process_service_reload_sees_a_registry_edit_of_the_same_size_and_time(rules: Path) -> None:
    """Failed before: `POST /v1/reload` in one process said `changed=False` (the registry read before was reused)."""
    holder = CatalogueHolder(load_catalogue(rules))
    _replace_keeping_time(rules / "sources.yaml", "cite_as: Zvw\n", "cite_as: ZVW\n")
    assert holder.reload().changed


def test_the_store_compiles_the_text_it_hashed(rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry edited after the store hashed it and before it compiled: the policy compiled, and filed under
    the key, is the one of the text hashed. Failed before: the compile read the file again and took the edit."""
    cache, directory, registry = tmp_path / "cache", str(rules / "hollandzorg"), rules / "sources.yaml"
    before = PolicyStore(disk_cache=False).load(directory)
    real = api.policy_sources

    def edited_meanwhile(*args: Any, **kwargs: Any) -> PolicySources:
        _edit(registry, CITED, REVISED)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "policy_sources", edited_meanwhile)
    compiled = PolicyStore(cache).load(directory)
    monkeypatch.setattr(api, "policy_sources", real)
    assert compiled.fingerprint == before.fingerprint and "(revised)" not in _cited(compiled)
    _edit(registry, REVISED, CITED)
    assert PolicyStore(cache).load(directory).fingerprint == before.fingerprint


def test_a_rule_file_added_between_the_listing_and_the_compile_is_not_filed_under_the_key(
        rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key names the files listed; a compile that read another is served, but not kept in the cache on disk."""
    cache, directory = tmp_path / "cache", rules / "hollandzorg"
    real = api.policy_sources

    def added_meanwhile(*args: Any, **kwargs: Any) -> PolicySources:
        (directory / "zz-extra.rxp").write_text("# nothing but a comment\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "policy_sources", added_meanwhile)
    served = PolicyStore(cache).load(str(directory))
    monkeypatch.setattr(api, "policy_sources", real)
    (directory / "zz-extra.rxp").unlink()  # the files as listed again: their key must not find that compile
    listed = PolicyStore(cache).load(str(directory))
    assert listed.fingerprint == PolicyStore(disk_cache=False).load(str(directory)).fingerprint != served.fingerprint


def test_the_watchers_stamp_lists_each_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What every poll of --watch stats: the inputs of every policy, each listed once. Failed before: each folder
    listed all its siblings again (40 folders: 1,640 directory listings a poll instead of 41)."""
    root = tmp_path / "many"
    for number in range(40):
        (root / f"layer{number}").mkdir(parents=True)
        (root / f"layer{number}" / "a.rxp").write_text("# a rule file\n")
    (root / "sources.yaml").write_text("sources: {}\n")
    every = sorted({name for folder in root.iterdir() if folder.is_dir() for name in policy_input_files(folder)})
    listings: list[str] = []
    real = os.scandir

    def counting(path: str) -> Any:
        listings.append(path)
        return real(path)

    monkeypatch.setattr(os, "scandir", counting)
    stamp = rules_stamp(root)
    assert [name for name, _, _ in stamp] == every and len(every) == 41
    assert len(listings) == 41  # the root once, each folder once


def test_the_watchers_stamp_follows_a_linked_folder_as_the_store_does(tmp_path: Path) -> None:
    """A policy folder that is a link to a folder elsewhere has its layers beside its target (policy_input_files):
    the watcher stats those, and the registry there, as the store does."""
    root, elsewhere = tmp_path / "rules", tmp_path / "elsewhere"
    for folder in (root / "statutory", elsewhere / "policy", elsewhere / "layer"):
        folder.mkdir(parents=True)
        (folder / "a.rxp").write_text("# a rule file\n")
    (elsewhere / "sources.yaml").write_text("sources: {}\n")
    (root / "linked").symlink_to(elsewhere / "policy")
    every = sorted({name for folder in root.iterdir() if folder.is_dir() for name in policy_input_files(folder)})
    assert str(elsewhere / "layer" / "a.rxp") in every and str(elsewhere / "sources.yaml") in every
    assert [name for name, _, _ in rules_stamp(root)] == every


@pytest.mark.parametrize("data", [b"a\r\nb\rc\n", "\ufeffs\u00e9\r\n".encode(), b"ok\n\xff here", b""])
def test_bytes_read_once_give_the_text_and_the_message_reading_the_file_gives(tmp_path: Path, data: bytes) -> None:
    """The store hashes bytes and compiles their text (decode_text): the same text, or the same RX001, as read_text."""
    path = tmp_path / "file.rxp"
    path.write_bytes(data)
    try:
        expected: object = read_text(path, "file.rxp", kind="rule file")
    except RxError as error:
        expected = str(error)
    try:
        got: object = decode_text(data, "file.rxp", kind="rule file")
    except RxError as error:
        got = str(error)
    assert got == expected
