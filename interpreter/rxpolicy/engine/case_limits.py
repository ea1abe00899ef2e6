"""Limits on what a case may be, so that a tiny file cannot crash or hang rxpolicy (docs/errors.md, RX409).

A case is a few hundred bytes of YAML three levels deep. YAML can say far more: an alias that refers to
the node it sits in (an endless tree), aliases of aliases that expand a 500-byte text into billions of
values (a "billion laughs"), thousands of nested brackets, megabytes of text. Each of these is refused,
located, before the case is checked field by field: by :class:`LimitedLoader` while the YAML is composed,
and by :func:`check_python_shape` for a case given as Python values (where a mapping can contain itself).
The limits are far above any real case and low enough that reading stays fast.
"""

from __future__ import annotations

import datetime as dt
import re
import stat
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import yaml

from rxpolicy.diagnostics import Diagnostic, RxError
from rxpolicy.language.source import SourceFile, Span

__all__ = ["CASE_LIMITS", "TEST_FILE_LIMITS", "Limits", "LimitedLoader", "check_file_size", "check_python_shape",
           "check_text_size", "compose_limited", "compose_unmeasured", "limit_error"]


@attrs.frozen(kw_only=True)
class Limits:
    """How large a YAML document may be: bytes, nesting depth, values (aliases counted expanded), text length."""

    max_bytes: int
    max_depth: int
    max_values: int
    max_text: int


#: A case: the stated limits of docs/errors.md (RX409).
CASE_LIMITS = Limits(max_bytes=1_000_000, max_depth=20, max_values=10_000, max_text=1_000)
#: A rule-test file holds many cases, and texts that say what each test is about.
TEST_FILE_LIMITS = Limits(max_bytes=10_000_000, max_depth=20, max_values=1_000_000, max_text=10_000)
_CODE = "RX409"
_FLAT = "write the case as sections of `name: value` lines; a case nests three levels deep"


class _Exceeded(Exception):
    """A limit reached while composing: what, where (a YAML mark) and the fix."""

    def __init__(self, what: str, mark: Any, help: str) -> None:  # a yaml Mark (pure or libyaml) or None
        super().__init__(what)
        self.what, self.mark, self.help = what, mark, help


class LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, composing nodes only (never constructing), with :class:`Limits` enforced.

    Every alias is counted with the size of what it stands for, so the expanded tree, not the text, is
    bounded; an alias inside the node its anchor names is refused (the tree would be endless).
    """

    def __init__(self, text: str, limits: Limits, subject: str = "the case") -> None:
        super().__init__(text)
        self.limits, self.subject = limits, subject
        self._depth = 0
        self._values = 0
        self._open: set[str] = set()  # anchors whose node is being composed
        self._sizes: dict[str, int] = {}  # anchor → values its node stands for, expanded

    def _count(self, values: int, mark: Any) -> None:
        self._values += values
        if self._values > self.limits.max_values:
            raise _Exceeded(f"{self.subject} holds more than {self.limits.max_values:,} values (aliases counted as the values they "
                            "repeat)", mark, "write each field once as `name: value`; a case has a few dozen values")

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # Bracket nesting is refused as it is read: the scanner looks ahead over every open bracket for each new
        # one (quadratic), so waiting for the composer to see the depth would take seconds for a deep one.
        if self.flow_level + len(self.indents) >= self.limits.max_depth:  # brackets, and the block sections around
            raise _Exceeded(f"{self.subject} nests values more than {self.limits.max_depth} levels deep",
                            self.get_mark(), _FLAT)
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise _Exceeded(f"the alias `*{event.anchor}` refers to the value it is part of, which would never "
                                "end", event.start_mark, f"write the value itself instead of `*{event.anchor}`")
            self._count(self._sizes.get(str(event.anchor), 0), event.start_mark)
            return super().compose_node(parent, index)  # an undefined alias is YAML's own error
        if isinstance(event, yaml.ScalarEvent) and len(event.value) > self.limits.max_text:
            raise _Exceeded(f"a value of {len(event.value):,} characters; a value may have at most "
                            f"{self.limits.max_text:,}", event.start_mark, "shorten the value")
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise _Exceeded(f"{self.subject} nests values more than {self.limits.max_depth} levels deep",
                            event.start_mark, _FLAT)
        before, anchor = self._values, event.anchor
        self._count(1, event.start_mark)
        if anchor is not None:
            self._open.add(anchor)
        node = super().compose_node(parent, index)
        if anchor is not None:
            self._open.discard(anchor)
            self._sizes[anchor] = self._values - before
        self._depth -= 1
        return node


def limit_error(source: SourceFile, what: str, offset: int | None, help: str) -> RxError:
    """The RX409 error for a case beyond a limit, located at ``offset`` of its text (None: the top)."""
    span = source.span(offset, offset + 1) if offset is not None else source.span(0, 0)
    return RxError(Diagnostic(code=_CODE, message=what, span=span, help=help))


def check_text_size(path: str, text: str, limits: Limits, subject: str) -> None:
    """Refuse a text longer than the limit before any of it is read (even into a :class:`SourceFile`, whose
    line index alone takes seconds for 50 MB)."""
    size = len(text) if len(text) > limits.max_bytes else len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise RxError(Diagnostic(code=_CODE, message=f"{subject} is {'at least ' if size == len(text) else ''}"
                                 f"{size:,} bytes; it may be at most {limits.max_bytes:,}",
                                 span=Span(path=path, line=1, column=1, end_line=1, end_column=2),
                                 help="check that this is the file you meant (a case is a few hundred bytes)"))


def compose_limited(source: SourceFile, limits: Limits, subject: str) -> yaml.Node | None:
    """The node tree of a YAML text within ``limits`` (None when empty); RX409 for a limit, YAMLError otherwise."""
    check_text_size(source.path, source.text, limits, subject)
    loader = LimitedLoader(source.text, limits, subject)
    try:
        return loader.get_single_node()
    except _Exceeded as exceeded:
        raise limit_error(source, exceeded.what, exceeded.mark.index if exceeded.mark else None,
                          exceeded.help) from None
    finally:
        loader.dispose()


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)
#: Brackets open flow collections: a text with few of them (and shallow indentation, no anchors or aliases)
#: cannot repeat values or nest deeply, so libyaml (which enforces no limit) may compose it.
_FLOW = re.compile(r"[\[{]")


def compose_unmeasured(text: str, limits: Limits) -> tuple[yaml.Node | None] | None:
    """The node tree composed by libyaml, for a text that cannot go beyond the limits on its way in (no
    anchors or aliases, few brackets, shallow indentation), not yet measured (its nodes may still be too
    many or their texts too long); None: the text needs the pure-Python reader. Raises YAMLError as libyaml
    does. The caller has checked the text's size."""
    if (_FAST_LOADER is None or "&" in text or "*" in text or len(_FLOW.findall(text)) > limits.max_depth
            or any(len(line) - len(line.lstrip(" ")) > limits.max_depth for line in text.split("\n"))):
        return None
    try:
        return (yaml.compose(text, Loader=_FAST_LOADER),)
    except UnicodeEncodeError:  # a lone surrogate (a text from Python): libyaml cannot take it, the pure reader can
        return None


def compose_fast(source: SourceFile, limits: Limits, subject: str) -> tuple[yaml.Node | None] | None:
    """The node tree composed by libyaml (:func:`compose_unmeasured`), then measured; None: compose it with
    :func:`compose_limited` instead. Raises YAMLError as libyaml does, RX409 for a limit."""
    check_text_size(source.path, source.text, limits, subject)
    composed = compose_unmeasured(source.text, limits)
    if composed is None:
        return None
    node = composed[0]
    try:
        _measure(node, limits, subject)
    except _Exceeded as exceeded:
        raise limit_error(source, exceeded.what, exceeded.mark.index if exceeded.mark else None,
                          exceeded.help) from None
    return (node,)


def _measure(root: yaml.Node | None, limits: Limits, subject: str) -> None:
    """The limits on a composed tree without aliases, walked iteratively: depth, values and text lengths."""
    values, stack = 0, [(root, 1)] if root is not None else []
    while stack:
        node, depth = stack.pop()
        values += 1
        if depth > limits.max_depth:
            raise _located(node, f"{subject} nests values more than {limits.max_depth} levels deep", _FLAT)
        if values > limits.max_values:
            raise _located(node, f"{subject} holds more than {limits.max_values:,} values (aliases counted as the "
                           "values they repeat)", "write each field once as `name: value`; a case has a few "
                           "dozen values")
        if isinstance(node, yaml.ScalarNode) and len(node.value) > limits.max_text:
            raise _located(node, f"a value of {len(node.value):,} characters; a value may have at most "
                           f"{limits.max_text:,}", "shorten the value")
        # Children pushed in reverse, so they are visited in document order, as the pure-Python loader counts
        # (a limit is then reported at the same place by both roads).
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            stack.extend((part, depth + 1) for pair in reversed(node.value) for part in reversed(pair))


def _located(node: yaml.Node, what: str, help: str) -> _Exceeded:
    return _Exceeded(what, node.start_mark, help)


def check_file_size(path: Path, shown: str, limits: Limits) -> None:
    """Refuse a file larger than the limit without reading it (a file that cannot be read is left to the reader)."""
    try:
        status = path.stat()
    except OSError:
        return
    if stat.S_ISREG(status.st_mode) and status.st_size > limits.max_bytes:
        raise RxError(Diagnostic(code=_CODE, message=f"{shown} is {status.st_size:,} bytes; a case may be at most "
                                 f"{limits.max_bytes:,}", help="check that this is the file you meant (a case is a "
                                 "few hundred bytes)"))


def check_python_shape(data: object, limits: Limits) -> None:
    """Refuse a case of Python values that contains itself, nests too deep, or is too large (RX409).

    Walked iteratively, so that no shape can exhaust Python's stack.
    """
    if _plainly_within(data, limits):
        return
    values = 0
    stack: list[tuple[object, str, int, frozenset[int]]] = [(data, "", 0, frozenset())]
    while stack:
        value, path, depth, inside = stack.pop()
        values += 1
        shown = f"`{path}`" if path else "the case"
        problem: tuple[str, str] | None = None
        if values > limits.max_values:
            problem = (f"the case holds more than {limits.max_values:,} values", "pass each field once")
        elif depth > limits.max_depth:
            problem = (f"{shown} nests values more than {limits.max_depth} levels deep",
                       "pass the case as sections of fields, e.g. {\"medicine\": {\"atc\": \"N05BA04\"}}")
        elif isinstance(value, (Mapping, list, tuple)) and id(value) in inside:
            problem = (f"{shown} contains itself", "pass a copy of the value, not the value itself")
        elif isinstance(value, str) and len(value) > limits.max_text:
            problem = (f"{shown} is a text of {len(value):,} characters; a value may have at most "
                       f"{limits.max_text:,}", "shorten the value")
        if problem is not None:
            raise RxError(Diagnostic(code=_CODE, message=problem[0], field=path or None, help=problem[1]))
        if isinstance(value, (Mapping, list, tuple)) and values + len(value) > limits.max_values:
            raise RxError(Diagnostic(code=_CODE, message=f"the case holds more than {limits.max_values:,} values",
                                     field=path or None, help="pass each field once"))
        if isinstance(value, Mapping):
            children = [(f"{path}.{key}".lstrip("."), child) for key, child in value.items()]
        elif isinstance(value, (list, tuple)):
            children = [(path, child) for child in value]
        else:
            continue
        here = inside | {id(value)}
        stack.extend((child, child_path, depth + 1, here) for child_path, child in reversed(children))



#: Scalars a decoded record holds, which the walk of :func:`check_python_shape` only counts (and measures, for text).
_PLAIN_SCALARS = frozenset({int, float, bool, type(None), Decimal, dt.date, dt.datetime})


def _plainly_within(data: object, limits: Limits) -> bool:
    """True when :func:`check_python_shape` would certainly find nothing: plain dicts, lists and scalars,
    no more values than allowed in all, no deeper than allowed, no text too long. Anything else (other
    types, a shape near a limit, a container inside itself, which goes deeper than any limit) is left to
    the full walk, which says what is wrong. A bounded check of the common shape, so that a refused
    record does not pay the full walk's bookkeeping."""
    count, depth, level = 0, 0, [data]
    while level:  # one level of nesting at a time: every value of a level is as deep as the others
        count += len(level)
        if count > limits.max_values or depth > limits.max_depth:
            return False
        below: list[object] = []
        for value in level:
            kind = type(value)
            if kind is str:
                if len(value) > limits.max_text:  # type: ignore[arg-type]
                    return False
            elif kind is dict:
                below.extend(value.values())  # type: ignore[attr-defined]
            elif kind is list or kind is tuple:
                below.extend(value)  # type: ignore[arg-type]
            elif kind not in _PLAIN_SCALARS:
                return False
        level, depth = below, depth + 1
    return True
