"""Finding the grammar file and building the Lark parser, once per process.

The grammar ships inside the wheel (``rxpolicy/grammar``) and lives at ``grammar/`` in a checkout;
both are tried, the packaged copy first.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from lark import Lark, Token

__all__ = ["GRAMMAR_FILE", "WholeWords", "grammar_text", "grammar_sha256", "parser", "package_data_dir"]

GRAMMAR_FILE = "rxpolicy.lark"


def package_data_dir(name: str) -> Path:
    """The directory of packaged data (``grammar`` or ``rules``): in the wheel, else in the checkout."""
    packaged = resources.files("rxpolicy").joinpath(name)
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / name
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


class WholeWords:
    """A stateless post-lexer whose only job is to make NAME known to the lexer in every parser state.

    Lark's contextual lexer matches a keyword as a plain string where no name is expected, so
    `untill` would lex as `until` + `l`. With NAME always accepted, every word is lexed whole and a
    keyword is recognised only when the whole word is one.
    """

    always_accept = ("NAME",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


@functools.cache
def parser() -> Lark:
    """The LALR parser. Built once; Lark's LALR parser keeps no state between parses, so threads share it."""
    return Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True, postlex=WholeWords())
