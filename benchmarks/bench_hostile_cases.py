"""How long rxpolicy takes to refuse the hostile cases of issue 14 (and to read a normal one, for scale).

Run with ``.venv/bin/python benchmarks/bench_hostile_cases.py``. Each input goes in as a user gives it: a
file to ``load_case`` (what ``rxpolicy eval`` and ``diff --cases`` call), a text to ``parse_case``, a mapping
to ``case_from_mapping``. Before the limits of docs/errors.md (RX409), the alias bomb ran for minutes and
grew to gigabytes, the self-referencing alias and deep nesting crashed with a RecursionError, and the 50 MB
case took 86 s. Prints the best of ``--repeat`` runs per input and the code it was refused with; asserts
nothing about time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rxpolicy import RxError, case_from_mapping, load_case, parse_case

ROOT = Path(__file__).resolve().parents[1]
CASE = (ROOT / "examples" / "hollandzorg" / "benzodiazepine-chronic.yaml").read_text(encoding="utf-8")


def alias_bomb() -> str:
    lines = ["l0: &l0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


def self_containing() -> dict[str, Any]:
    data: dict[str, Any] = {"dispensed_on": "2025-03-14", "medicine": {}}
    data["medicine"]["fees"] = data
    return data


def deep_list() -> dict[str, Any]:
    value: list[Any] = [1]
    for _ in range(100_000):
        value = [value]
    return {"dispensed_on": "2025-03-14", "medicine": {"doctors_note_prescribers": value}}


def timed(run: Callable[[], object], repeat: int) -> tuple[float, str]:
    best, outcome = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            run()
            outcome = "read"
        except RxError as error:
            outcome = ", ".join(sorted({d.code for d in error.diagnostics}))
        best = min(best, time.perf_counter() - start)
    return best, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "big.yaml"
        with big.open("w", encoding="utf-8") as out:
            out.write(CASE)
            out.write(("# " + "x" * 97 + "\n") * 500_000)
        inputs: list[tuple[str, Callable[[], object]]] = [
            ("a normal case (file)", lambda: load_case(ROOT / "examples/hollandzorg/benzodiazepine-chronic.yaml")),
            ("50 MB case (file)", lambda: load_case(big)),
            ("50 MB case (text)", lambda: parse_case(big.read_text(encoding="utf-8"))),
            ("alias bomb, 9**9 values (text)", lambda: parse_case(alias_bomb())),
            ("self-referencing alias (text)", lambda: parse_case("x: &a [*a]\n")),
            ("10,000 nested brackets (text)", lambda: parse_case("x: " + "[" * 10_000 + "]" * 10_000)),
            ("mapping that contains itself", lambda: case_from_mapping(self_containing())),
            ("list nested 100,000 deep", lambda: case_from_mapping(deep_list())),
            ("5,000-digit integer", lambda: case_from_mapping({"dispensing": {"supply_days": 10**5000}})),
        ]
        print(f"{'input':<34} {'best of ' + str(args.repeat):>12}  outcome")
        for name, run in inputs:
            seconds, outcome = timed(run, args.repeat)
            print(f"{name:<34} {seconds * 1000:>9.1f} ms  {outcome}")


if __name__ == "__main__":
    main()
