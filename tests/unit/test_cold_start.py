"""A fresh `rxpolicy eval` imports only what evaluating and explaining a case needs (issue 9, cold start).

Speed itself is measured by benchmarks/bench_cold.py; these tests keep the imports that made it slow from
coming back unnoticed: Lark and the rule-file parser, the checker's expression rules, the code writer, the
tools, and the modules of other output formats.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "examples" / "hollandzorg" / "benzodiazepine-chronic.yaml"

#: Runs the console script's entry point with the given arguments, then prints the modules it imported and
#: whether the garbage collector is on, as JSON on stderr (stdout is the command's).
_PROBE = """
import gc, json, sys
from rxpolicy.__main__ import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
sys.stdout.flush()
print(json.dumps({"code": code, "modules": sorted(sys.modules), "gc": gc.isenabled()}), file=sys.stderr)
"""

#: Never needed to evaluate a case with a policy read from the cache, whatever the output format.
NEVER = ("lark", "interegular", "rxpolicy.language.lower", "rxpolicy.language.parse",
         "rxpolicy.language.check.expressions", "rxpolicy.engine.codegen", "rxpolicy.engine.codegen_expr",
         "rxpolicy.tools", "rxpolicy.bulk", "rxpolicy.service", "importlib.resources", "difflib")


def _probe(*arguments: str, prelude: str = "") -> tuple[dict[str, object], str]:
    done = subprocess.run([sys.executable, "-c", prelude + _PROBE, *arguments], capture_output=True, text=True,
                          check=False, stdin=subprocess.DEVNULL, cwd=ROOT)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report, done.stdout


def _imported(report: dict[str, object], prefixes: tuple[str, ...]) -> list[str]:
    modules = report["modules"]
    assert isinstance(modules, list)
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.fixture(scope="module")
def _cache_filled() -> None:
    """The policy in the test run's cache, as for every `rxpolicy eval` after a user's first."""
    report, _ = _probe("eval", str(CASE))
    assert report["code"] in (0, None)


@pytest.mark.parametrize("output", ["text", "json"])
def test_eval_with_a_cached_policy_imports_no_parser_checker_code_writer_or_tool(
        _cache_filled: None, output: str) -> None:
    report, stdout = _probe("eval", str(CASE), "--format", output)
    assert report["code"] in (0, None) and "max_supply" in stdout
    assert _imported(report, NEVER) == []
    other = {"text": ("rxpolicy.explain.json", "rxpolicy.explain.markdown"),
             "json": ("rxpolicy.explain.text", "rxpolicy.explain.markdown")}[output]
    assert _imported(report, other) == [], "a renderer of another format was imported"


def test_eval_imports_no_other_command(_cache_filled: None) -> None:
    report, _ = _probe("eval", str(CASE))
    commands = [m for m in _imported(report, ("rxpolicy.cli",)) if m.count(".") == 2]
    assert sorted(commands) == ["rxpolicy.cli.common", "rxpolicy.cli.eval"]


@pytest.mark.parametrize("command", [["policies"], ["eval", str(CASE)]])
def test_the_garbage_collector_runs_again_when_the_command_runs(command: list[str]) -> None:
    # Paused while the command line is imported (rxpolicy.__main__) and while `eval` reads its policy, not for
    # the commands' work: `serve` and `batch` run for hours, `eval -` reads any number of cases.
    report, _ = _probe(*command)
    assert report["code"] in (0, None) and report["gc"] is True


def test_a_collector_the_caller_turned_off_stays_off() -> None:
    report, _ = _probe("policies", prelude="import gc; gc.disable()\n")
    assert report["code"] in (0, None) and report["gc"] is False


def test_a_checked_policy_compares_hashes_and_shows_itself_as_attrs_would() -> None:
    # Syntax nodes, the checker's model and the source registry inherit __eq__, __hash__ and __repr__ from
    # rxpolicy.language.fieldwise.Fieldwise instead of the ones attrs generates per class: every such object of
    # the checked built-in policy is compared and shown as a twin class with attrs' own methods does.
    import attrs

    from rxpolicy import api
    from rxpolicy.language.fieldwise import Fieldwise
    from rxpolicy.language.source import Span

    checked, _ = api.check("hollandzorg")
    twins: dict[type, type] = {}
    shown = set()
    seen: set[int] = set()
    stack: list[object] = [checked]
    elsewhere = Span(path="elsewhere.rxp", line=99, column=9, end_line=99, end_column=19)
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (tuple, list)):
            stack.extend(item)
            continue
        if isinstance(item, Mapping):
            stack.extend(item.values())
            continue
        kind = type(item)
        if not attrs.has(kind):
            continue
        fields = attrs.fields(kind)
        values = {f.name: getattr(item, f.name) for f in fields}
        stack.extend(values.values())
        if not isinstance(item, Fieldwise):
            continue
        twin = twins.setdefault(kind, attrs.make_class(kind.__name__, {
            f.name: attrs.field(repr=f.repr, eq=f.eq) for f in fields}, kw_only=True, frozen=True))
        assert repr(item) == repr(twin(**values))
        copy = attrs.evolve(item)
        assert copy == item and not copy != item
        if _hashable(values):
            assert hash(copy) == hash(item)
        if "span" in values:  # where a syntax node was written does not count (declared so; elsewhere it may)
            moved = attrs.evolve(item, span=elsewhere)
            assert (moved == item) is (twin(**{**values, "span": elsewhere}) == twin(**values))
            assert (moved == item) is (not attrs.fields_dict(kind)["span"].eq)
        for f in fields:
            if f.eq and isinstance(values[f.name], (str, bool, tuple)):  # what the object says does
                other = not values[f.name] if isinstance(values[f.name], bool) else values[f.name] + values[f.name][:1]
                if other != values[f.name]:
                    assert attrs.evolve(item, **{f.name: other}) != item, (kind.__name__, f.name)
        assert item != twin(**values) and (item == object()) is False  # another class is never equal
        shown.add(kind)
    assert len(shown) >= 35, sorted(k.__name__ for k in shown)


def _hashable(values: Mapping[str, object]) -> bool:
    try:
        hash(tuple(values.values()))
    except TypeError:  # a read-only mapping inside: attrs' own hash fails alike
        return False
    return True
