"""The built wheel carries the grammar and the built-in rules and works outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    return next(out.glob("rxpolicy-*.whl"))


def test_the_wheel_contains_grammar_rules_and_py_typed(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "rxpolicy/grammar/rxpolicy.lark" in names
    assert "rxpolicy/py.typed" in names
    assert "rxpolicy/rules/hollandzorg/policy.rxp" in names
    assert "rxpolicy/rules/statutory/money.rxp" in names
    assert any(n.startswith("rxpolicy/rules/asr/") for n in names)


def test_the_installed_wheel_evaluates_a_case_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, text=True)
    case = tmp_path / "case.yaml"
    case.write_text((ROOT / "examples/hollandzorg/benzodiazepine-chronic.yaml").read_text())
    script = ("import rxpolicy, pathlib; from rxpolicy.language.grammar import package_data_dir; "
              "p = rxpolicy.PolicyStore().load('hollandzorg'); "
              "e = rxpolicy.evaluate_case_file(pathlib.Path('case.yaml'), p); "
              "print(rxpolicy.__file__); print(package_data_dir('rules')); print(e['max_supply'].rule.id)")
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            check=True)
    module, rules, rule = result.stdout.split()
    assert module.startswith(str(target)) and rules.startswith(str(target))
    assert rule == "dispensing-period/benzodiazepines"
