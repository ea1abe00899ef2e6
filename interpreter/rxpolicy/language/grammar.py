"""Finding the grammar file and building the Lark parser, once per process.

The grammar ships inside the wheel (``rxpolicy/grammar``) and lives at ``grammar/`` in a checkout;
both are tried, the packaged copy first.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from pathlib import Path

from typing import TYPE_CHECKING

from rxpolicy.cache import DiskCache, default_cache_dir

if TYPE_CHECKING:  # Lark is imported when a parser is needed: a policy read from the cache needs none
    from lark import Lark, Token

__all__ = ["GRAMMAR_FILE", "WholeWords", "grammar_path", "grammar_text", "grammar_sha256", "parser", "package_data_dir"]

GRAMMAR_FILE = "rxpolicy.lark"


@functools.cache
def package_data_dir(name: str) -> Path:
    """The directory of packaged data (``grammar`` or ``rules``): in the wheel, else in the checkout.

    Found once per process: every path a message shows is made relative to the rules directory. The wheel
    puts the data beside the package's modules (what ``importlib.resources.files`` would answer for a package
    on disk, without importing it at start-up).
    """
    packaged = Path(__file__).parent.parent / name
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"rxpolicy is installed without its {name!r} directory")


@functools.cache
def grammar_path() -> Path:
    """The grammar file."""
    return package_data_dir("grammar") / GRAMMAR_FILE


@functools.cache
def grammar_text() -> str:
    """The grammar's text."""
    return grammar_path().read_text(encoding="utf-8")


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
    """The LALR parser. Built once; Lark's LALR parser keeps no state between parses, so threads share it.

    Building it takes a quarter of a second; the built parser is kept in the cache on disk
    (:mod:`rxpolicy.cache`, the default directory) and read back in a few milliseconds.
    """
    import io

    import lark

    directory = default_cache_dir()
    cache = DiskCache(directory) if directory is not None else None
    key = hashlib.sha256(f"{lark.__version__}:{_PARSER_OPTIONS}:{grammar_sha256()}".encode()).hexdigest()
    payload = cache.read("parser", key) if cache is not None else None
    if payload is not None:
        try:
            loaded = lark.Lark.load(io.BytesIO(payload))  # authenticated by the cache before it is unpickled
        except Exception:  # noqa: BLE001 - an authentic entry another Lark wrote is rebuilt, not an error
            loaded = None
        if isinstance(loaded, lark.Lark):
            return loaded
    built = lark.Lark(grammar_text(), parser="lalr", lexer="contextual", propagate_positions=True,
                      maybe_placeholders=True, postlex=WholeWords())
    if cache is not None:
        out = io.BytesIO()
        built.save(out)
        cache.write("parser", key, out.getvalue())
    return built


#: Changes to the options of :func:`parser` must change this text, so a parser built before is not read back.
_PARSER_OPTIONS = "lalr contextual propagate_positions maybe_placeholders WholeWords"
