"""Output piped to a command that stops reading (``rxpolicy policies | head -2``) ends the command quietly.

Run as a real process writing into a real pipe whose reading end is already closed, so every write to stdout
fails as it does under ``| head``: the command exits with 1 (as click itself does on EPIPE) and says nothing on
stderr, where it once printed ``internal error: BrokenPipeError`` (or Python's ``Exception ignored`` at exit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASE = next(iter(sorted((ROOT / "examples" / "hollandzorg").glob("*.yaml"))), None)


def _into_closed_pipe(*args: str) -> subprocess.CompletedProcess[bytes]:
    reading, writing = os.pipe()
    os.close(reading)  # nobody reads: the first write to stdout fails with EPIPE
    try:
        return subprocess.run([sys.executable, "-m", "rxpolicy", *args], stdout=writing, stderr=subprocess.PIPE,
                              cwd=ROOT, timeout=120, check=False)
    finally:
        os.close(writing)


@pytest.mark.parametrize("args", [("policies",), ("eval", str(CASE)), ("schema", "case"), ("batch", "{claims}", "--quiet")],
                         ids=["policies", "eval", "schema", "batch"])
def test_a_closed_stdout_pipe_ends_the_command_quietly(args: tuple[str, ...], tmp_path: Path) -> None:
    claims = tmp_path / "claims.jsonl"
    claims.write_text("".join(json.dumps(
        {"dispensed_on": "2025-03-14", "insured": {"born_on": "1970-05-01"}, "prescription": {"prescriber": "gp"},
         "medicine": {"name": "test medicine", "atc": "C08CA01", "price": "10.00"},
         "dispensing": {"supply_days": n}}) + "\n" for n in range(200)), encoding="utf-8")
    done = _into_closed_pipe(*(a.format(claims=claims) for a in args))
    assert done.stderr.decode() == ""
    assert done.returncode == 1
