"""Test helper shared by the tests of the policy store and its caches."""

from __future__ import annotations

import pytest

from rxpolicy import api
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.language.check import CheckedPolicy


def count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the policies the store compiles from here on (instead of finding them in memory or on disk):
    the list grows as the store compiles."""
    compiled: list[str] = []
    real = api.compile_policy

    def counting(checked: CheckedPolicy) -> CompiledPolicy:
        compiled.append(checked.name)
        return real(checked)

    monkeypatch.setattr(api, "compile_policy", counting)
    return compiled
