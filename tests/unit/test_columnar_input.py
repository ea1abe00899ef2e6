"""The computed facts of the columnar path (date arithmetic on whole columns) equal their built-in functions.

Each vectorised built-in is compared with the Python function the validator calls, on random dates and on the
dates where calendars are awkward: 29 February, month ends, the turn of a year, a period outside the year.
"""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from rxpolicy.bulk.columnar_input import _VECTORISED
from rxpolicy.language.facts import BUILTINS
from rxpolicy.language.values import LEAP_DAY_BIRTHDAYS

EDGES = [dt.date(2024, 2, 29), dt.date(2023, 2, 28), dt.date(2023, 3, 1), dt.date(2024, 2, 28), dt.date(2024, 3, 1),
         dt.date(2000, 2, 29), dt.date(1900, 3, 1), dt.date(2025, 12, 31), dt.date(2026, 1, 1), dt.date(2025, 1, 1),
         dt.date(1950, 6, 30), dt.date(2006, 2, 28), dt.date(2007, 2, 28)]


def _dates(count: int, seed: int) -> list[dt.date]:
    rng = random.Random(seed)
    start = dt.date(1920, 1, 1).toordinal()
    return [dt.date.fromordinal(start + rng.randrange(110 * 366)) for _ in range(count)] + EDGES


@pytest.mark.parametrize(("name", "reading"), [
    (name, reading) for name in sorted(BUILTINS)
    for reading in (LEAP_DAY_BIRTHDAYS if BUILTINS[name].counts_birthdays else (None,))])
def test_each_vectorised_builtin_equals_its_function(name: str, reading: str | None) -> None:
    assert name in _VECTORISED, f"the built-in `{name}` has no vectorised form: its facts would be called per value"
    arity = len(BUILTINS[name].parameters)
    columns = [_dates(3_000, seed) for seed in range(arity)]
    # Every edge date against every other, too: birthdays on 29 February in leap and other years.
    pairs = [(a, b) for a in EDGES for b in EDGES]
    for position in range(arity):
        columns[position] += [pair[min(position, 1)] for pair in pairs]
    frame = pl.DataFrame({f"a{i}": column for i, column in enumerate(columns)})
    # A built-in that counts birthdays, under each reading of a 29 February birthday (`leap day birthday`).
    keywords = {} if reading is None else {"leap_day": reading}
    got = frame.select(_VECTORISED[name](*(pl.col(f"a{i}") for i in range(arity)), **keywords)).to_series().to_list()
    function = BUILTINS[name].function
    wanted = [function(*row, **keywords) for row in zip(*columns)]
    wrong = [(row, w, g) for row, w, g in zip(zip(*columns), wanted, got) if w != g]
    assert not wrong, f"{name}: (arguments, function, columns) {wrong[:5]}"
