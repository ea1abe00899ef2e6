"""Finding the grammar file and building the Lark parser, once per process.

The grammar ships inside the wheel (``rxpolicy/grammar``) and lives at ``grammar/`` in a checkout;
both are tried, the packaged copy first.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources
from pathlib import Path

from lark import Lark

__all__ = ["GRAMMAR_FILE", "grammar_text", "grammar_sha256", "parser", "package_data_dir"]

GRAMMAR_FILE = "rxpolicy.lark"


def package_data_dir(name: str) -> Path:
    """The directory of packaged data (``grammar`` or ``rules``): in the wheel, else in the checkout."""
    packaged = resources.files("rxpolicy").joinpath(name)
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"rxpolicy is installed without its {name!r} directory")


@functools.cache
def grammar_text() -> str:
    """The grammar's text."""
    return (package_data_dir("grammar") / GRAMMAR_FILE).read_text(encoding="utf-8")


@functools.cache
def grammar_sha256() -> str:
    """Hash of the grammar, recorded in decision receipts."""
    return hashlib.sha256(grammar_text().encode("utf-8")).hexdigest()


@functools.cache
def parser() -> Lark:
    """The LALR parser. Built once; Lark's LALR parser keeps no state between parses, so threads share it."""
    return Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True)
