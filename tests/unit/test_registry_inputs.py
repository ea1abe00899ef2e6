"""The source registry (`sources.yaml`) is an input of a policy like its rule files: a change to it alone is seen
by the policy store, the cache on disk, the fingerprint and the service's watcher."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from rxpolicy import PolicyStore, api, evaluate, load_case, load_policy
from rxpolicy.cli import cli
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.explain.json import evaluation_json
from rxpolicy.service.catalogue import rules_stamp

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


def _compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every policy the store compiles (instead of finding it in memory or on disk)."""
    compiled: list[str] = []
    real = api.load_policy

    def counting(name_or_path: str = "hollandzorg") -> CompiledPolicy:
        compiled.append(name_or_path)
        return real(name_or_path)

    monkeypatch.setattr(api, "load_policy", counting)
    return compiled


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
    compiled = _compiles(monkeypatch)
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
    compiled = _compiles(monkeypatch)
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
