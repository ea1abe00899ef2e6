"""What a reload shared by worker processes costs (`rxpolicy serve --workers N`, docs/tools/serve.md).

Every request of a service with several workers first asks whether another worker reloaded: one `os.stat` of the
shared stamp (`CatalogueHolder.stale`). This prints that check's cost per request, next to the same check in a
one-process service (no stamp), and what a worker pays once per reload to follow another's: compiling the
snapshot the stamp names. Two holders on one shared directory stand for two workers, on the built-in rules.

    python benchmarks/bench_reload_stamp.py [--calls 200000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rxpolicy.service.catalogue import CatalogueHolder, load_catalogue
from rxpolicy.service.shared import SharedRules


def per_call(function: object, calls: int) -> float:
    """Microseconds per call of a function without arguments (best of three runs)."""
    assert callable(function)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    calls = parser.parse_args().calls
    with tempfile.TemporaryDirectory(prefix="rxpolicy-bench-") as directory:
        shared = SharedRules(Path(directory))
        started = time.perf_counter()
        first = CatalogueHolder.open_shared(None, shared)
        publish = time.perf_counter() - started
        started = time.perf_counter()
        second = CatalogueHolder.open_shared(None, shared)
        join = time.perf_counter() - started
        alone = CatalogueHolder(load_catalogue(None))
        print(f"load average {os.getloadavg()[0]:.1f}; {calls:,} calls, best of 3")
        print(f"stale() per request, one process (no stamp):  {per_call(alone.stale, calls):6.2f} us")
        print(f"stale() per request, workers (os.stat):       {per_call(second.stale, calls):6.2f} us")
        print(f"first worker: copy, check and publish the rules:  {publish:.3f} s")
        print(f"next worker: compile the published snapshot:      {join:.3f} s")
        # A reload that changes nothing publishes nothing; to have something to follow, publish again by hand
        # what the first holder serves as a new generation (the texts are the same: only the stamp is new).
        stamp = shared.read()
        assert stamp is not None
        with shared.locked():
            shared.publish(type(stamp)(generation=stamp.generation + 1, fingerprint=stamp.fingerprint,
                                       snapshot=stamp.snapshot))
        # The same fingerprint at a new generation is still followed (generations must agree across workers).
        started = time.perf_counter()
        followed = second.follow()
        follow = time.perf_counter() - started
        assert followed is not None and followed.generation == stamp.generation + 1 and not second.stale()
        print(f"follow another worker's reload (once per reload): {follow:.3f} s")
        assert first.stale()


if __name__ == "__main__":
    main()
