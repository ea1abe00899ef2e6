"""Hypothesis profiles for the fuzz tests: `ci` (the default, in `make test`) and `fuzz` (`make fuzz`, a long run).

``ci`` is derandomized, so that `make test` tries the same inputs every time and a failure is reproducible;
``fuzz`` draws new inputs on every run, ``FUZZ_SCALE`` (default 25) times as many per test, and `make fuzz`
prints the statistics (inputs tried and passed, per test) with ``--hypothesis-show-statistics``. Choose the
profile with ``HYPOTHESIS_PROFILE=fuzz``; each test says how many examples it takes in `ci`
(:func:`hostile_strategies.examples`).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=_SLOW, database=None)
settings.register_profile("fuzz", deadline=None, suppress_health_check=_SLOW)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
