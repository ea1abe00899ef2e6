"""Settings every test shares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rxpolicy.cache import CACHE_ENV


@pytest.fixture(scope="session", autouse=True)
def _own_policy_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Compiled policies go to a cache of the test run, not the user's (CLI tests inherit it through the environment)."""
    directory = tmp_path_factory.mktemp("policy-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(directory))
        yield directory
