"""Equality, hash and ``repr`` of frozen attrs classes, written once instead of generated per class.

attrs writes the source of ``__eq__``, ``__hash__`` and ``__repr__`` for every class it builds and
compiles it, as the module is imported: about 0.2 ms a class. The classes whose instances make up a
compiled policy (syntax nodes, the checker's model, the source registry) are imported by every fresh
``rxpolicy eval``, which reads its policy from the cache, so their modules build them with ``eq=False,
repr=False`` and inherit these methods, which read the fields when called and answer exactly as attrs'
own would: equal when of the same class with equal compared fields (fields declared ``eq=False`` left
out), hashed alike, shown as ``Name(parts=('medicine', 'atc'))`` (tested against attrs in
tests/unit/test_cold_start.py).
"""

from __future__ import annotations

import attrs

__all__ = ["Fieldwise"]


class Fieldwise:
    """Base of a frozen attrs class built with ``eq=False, repr=False``: attrs' equality, hash and repr."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _compared(self) == _compared(other)

    def __hash__(self) -> int:
        return hash((self.__class__, *_compared(self)))

    def __repr__(self) -> str:
        shown = ", ".join(f"{field.name}={getattr(self, field.name)!r}"
                          for field in attrs.fields(type(self)) if field.repr)  # type: ignore[arg-type]
        return f"{type(self).__qualname__.rsplit('>.', 1)[-1]}({shown})"


def _compared(instance: Fieldwise) -> tuple[object, ...]:
    kind = instance.__class__
    names = _COMPARED_FIELDS.get(kind)
    if names is None:  # once per class; two threads at once compute the same tuple
        names = _COMPARED_FIELDS[kind] = tuple(f.name for f in attrs.fields(kind) if f.eq)  # type: ignore[arg-type]
    return tuple(getattr(instance, name) for name in names)


#: Class → the names of the fields its equality and hash compare.
_COMPARED_FIELDS: dict[type, tuple[str, ...]] = {}
