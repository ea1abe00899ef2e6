"""Hypothesis strategies for hostile input: case mappings, case YAML texts and rule-file mutations.

Each strategy mixes inputs close to real ones (an example case with a few fields changed, a built-in
rule file with a few edits) with the shapes that broke rxpolicy before (aliases, deep nesting, long
texts, control characters, other scripts' digits, huge numbers), so that most examples reach far into
the pipeline instead of being refused on the first line.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from rxpolicy import CompiledPolicy, PolicyStore, load_case

ROOT = Path(__file__).resolve().parents[2]


def examples(in_make_test: int) -> int:
    """How many examples a property tries: as many as `make test` can afford, ``FUZZ_SCALE`` times more in `make fuzz`."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz":
        return in_make_test * int(os.environ.get("FUZZ_SCALE", "25"))
    return in_make_test


EXAMPLE_CASES = tuple(sorted((ROOT / "examples" / "hollandzorg").glob("*.yaml")))

#: Characters that have broken text tools: line breaks, escapes, bidi overrides, a lone surrogate, zero-width
#: and no-break spaces, a byte order mark, other scripts' digits.
HOSTILE_CHARACTERS = ("\n", "\r", "\r\n", "\x00", "\x1b[2J", "\x1b[31m", "\x07", "\x7f", "\x85", "\u2028",
                      "\u2029", "\u202e", "\u200b", "\u00a0", "\ufeff", "\udcff", "\t", "\\", "\"", "'", "#", ":",
                      "|", "*", "`", "<script>", "١٢", "１２", "٣", "€", "ß", "😀")
OUTCOME_FORGERIES = ("x\nOutcome: COVERED\n", "x\r\nOutcome: COVERED", "\x1b[1A\x1b[2KOutcome: COVERED",
                     "x\u2028Outcome: COVERED", "x\n\n**Outcome: covered**\n", "<br>**Outcome: covered**",
                     "x\x1b[8m", "x\u202eDEREVOC")

hostile_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(HOSTILE_CHARACTERS + ("a", " ", "1", "0")), max_size=12).map("".join),
    st.sampled_from(OUTCOME_FORGERIES),
    st.integers(0, 3000).map(lambda n: "x" * n),
)

scalars: st.SearchStrategy[object] = st.one_of(
    st.none(), st.booleans(),
    st.integers(-10**6, 10**6), st.integers(),
    st.sampled_from([10**30, -1, 0, 1, 3_000_000]),
    st.just(4000).map(lambda digits: 10**digits),  # (built when drawn: its repr would fill the statistics)
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("12.40"), Decimal("0.001"), Decimal("1E+30"), Decimal("-0"), Decimal("NaN")]),
    st.floats(), st.dates(), st.datetimes(),
    st.sampled_from([dt.date.min, dt.date.max, "2025-02-29", "2025-03-14", "١٩٦١-٠٧-٠٢", "12.40", "１２.40", ""]),
    hostile_text,
    st.builds(object), st.binary(max_size=8), st.just(b"\xff"),
)


def flat_paths(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested case mapping as dotted paths to its leaves (``{"medicine": {"atc": …}}`` → ``{"medicine.atc": …}``)."""
    found: dict[str, Any] = {}
    for key, value in mapping.items():
        path = f"{prefix}.{key}".lstrip(".")
        found.update(flat_paths(value, path) if isinstance(value, dict) else {path: value})
    return found


@functools.cache
def policy() -> CompiledPolicy:
    """The built-in hollandzorg policy, loaded once per test process."""
    return PolicyStore().load("hollandzorg")


@functools.cache
def base_mapping() -> dict[str, Any]:
    """The first example case's full mapping (defaults included), the base the strategies vary."""
    return load_case(EXAMPLE_CASES[0], policy=policy()).to_mapping(only_changed=False)


@functools.cache
def example_values() -> dict[str, list[Any]]:
    """Per field, every value the example cases give it (each case's full mapping, defaults included)."""
    values: dict[str, list[Any]] = {}
    for path in EXAMPLE_CASES:
        for field, value in flat_paths(load_case(path, policy=policy()).to_mapping(only_changed=False)).items():
            if value not in values.setdefault(field, []):
                values[field].append(value)
    return values


def nested(leaves: st.SearchStrategy[Any], keys: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nested mappings and lists over ``leaves``."""
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner), st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


@st.composite
def case_mappings(draw: st.DrawFn, base: dict[str, Any], plausible: dict[str, list[Any]]) -> dict[str, Any]:
    """A case as Python values: ``base`` (a valid case) with fields set, removed or replaced.

    Most new values are ``plausible`` ones (what the example cases write for that field, so that many cases
    get through to evaluation with unusual combinations); the others are anything at all.
    """
    case = copy.deepcopy(base)
    paths = tuple(plausible)
    keys = st.one_of(st.sampled_from([p.rpartition(".")[2] for p in paths]), st.text(max_size=8), st.integers())
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 2, 3, 4]))):
        path = draw(st.sampled_from(paths)) if draw(st.integers(0, 14)) else draw(st.text(max_size=12))
        choice = draw(st.integers(0, 9))
        if choice < 6 and plausible.get(path):
            value = draw(st.sampled_from(plausible[path]))
        else:
            value = draw(scalars) if choice < 9 else draw(nested(scalars, keys))
        *sections, name = path.split(".")
        target: Any = case
        for section in sections:
            target = target.setdefault(section, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            if draw(st.booleans()) and name in target:
                del target[name]
            else:
                target[name] = value
    if draw(st.integers(0, 19)) == 0:  # now and then: a shape that contains itself
        loop: dict[str, Any] = {}
        loop["x"] = loop
        case[draw(st.sampled_from(list(case)))] = loop
    return case


#: Pieces of YAML that have broken case readers.
YAML_PIECES = ("&a [*a]", "&a {x: *a}", "*undefined", "!!python/object:os.system", "!!binary AAAA", "!!set {a}",
               "[" * 60 + "]" * 60, "{a: " * 40 + "1" + "}" * 40, "? [a]\n: b", "<<: {a: 1}", "---\n", "...\n",
               "%YAML 1.1\n---\n", "\t", "\ufeff", "\x00", "'\\x1b[2J'", '"\\e[2J"', '"\\udcff"', '"\\u202e"',
               '"x\\nOutcome: COVERED"', "|\n  Outcome: COVERED\n", "12.405", "1e3", "0x1F", "0o17", "١٢", "１２",
               ".inf", ".nan", "~", "null", "yes", "no", "on", "2025-02-29", "2025-03-14T10:00:00Z", "-5",
               "9" * 30, "x" * 2000)


def _bomb(levels: int, width: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@st.composite
def case_texts(draw: st.DrawFn) -> str:
    """The YAML text of an example case, edited: characters and YAML pieces inserted, lines cut or repeated."""
    text = draw(st.sampled_from(EXAMPLE_CASES)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.integers(0, 5))
        if edit == 0:
            text = text[:at] + draw(st.sampled_from(YAML_PIECES)) + text[at:]
        elif edit == 1:
            text = text[:at] + draw(st.sampled_from(HOSTILE_CHARACTERS)) + text[at:]
        elif edit == 2:
            text = text[:at] + text[at + draw(st.integers(1, 20)):]
        elif edit == 3:
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, max(0, len(lines) - 1)))
            text = "".join(lines[:i] + lines[i:i + 1] * draw(st.integers(0, 3)) + lines[i + 1:])
        elif edit == 4:  # a value replaced: after a `key: `, up to the end of the line
            key_end = text.find(": ", at)
            if key_end >= 0:
                line_end = text.find("\n", key_end)
                line_end = len(text) if line_end < 0 else line_end
                text = text[:key_end + 2] + draw(st.sampled_from(YAML_PIECES + HOSTILE_CHARACTERS)) + text[line_end:]
        else:
            text = text[:at] + draw(st.text(max_size=10)) + text[at:]
    if draw(st.integers(0, 19)) == 0:
        text += _bomb(draw(st.integers(2, 9)), draw(st.integers(2, 9)))
    return text


#: Pieces of rule text that have broken the parser, the checker or the code writer.
RULE_PIECES = ("or ", "and ", "not ", "(", ")", "+ 1", "* 2", "/ 0", "99999999999 months", "0001-01-01",
               "9999-12-31", "123456789012345678901234567.00 EUR", "0.001 EUR", "-1 EUR", "\ufeff", "\u00a0",
               "\x00", "\t", '"', '"x', "#", "\n", "end\n", "rule r/x\n", "exception to ", "when ", "then ",
               "if yes then 1 else 2", "is known", "matches N05*", "１２", "١", " " * 200, "x" * 300)


@st.composite
def rule_file_mutations(draw: st.DrawFn, files: tuple[str, ...]) -> tuple[int, str]:
    """One of ``files`` (rule-file texts) edited: pieces inserted, characters cut, lines swapped; (its index, text)."""
    index = draw(st.integers(0, len(files) - 1))
    text = files[index]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.integers(0, 3))
        if edit == 0:
            text = text[:at] + draw(st.sampled_from(RULE_PIECES)) + text[at:]
        elif edit == 1:
            text = text[:at] + text[at + draw(st.integers(1, 30)):]
        elif edit == 2:
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, max(0, len(lines) - 1)))
            j = draw(st.integers(0, max(0, len(lines) - 1)))
            lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
        else:
            text = text[:at] + draw(st.text(max_size=6)) + text[at:]
    return index, text
