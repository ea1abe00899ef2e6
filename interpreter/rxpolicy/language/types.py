"""The types of the rule language: what a case field, a definition, a parameter or a decision holds.

A type is a small frozen value. ``nullable`` marks a value that may be unknown (``null`` in a case,
``not applicable`` for a decision); the checker only lets such a value into arithmetic or an
ordering comparison after an ``is known`` test.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

__all__ = ["Kind", "Type", "BOOL", "NUMBER", "MONEY", "PERCENT", "DATE", "DURATION", "SUPPLY", "TEXT", "ATC",
           "NOTHING", "enum_type", "list_type"]


class Kind(enum.Enum):
    """The kinds of value; names are what a policy expert reads in messages."""

    BOOL = "yes/no"
    NUMBER = "number"
    MONEY = "money"
    PERCENT = "percentage"
    DATE = "date"
    DURATION = "duration"
    SUPPLY = "supply limit"
    TEXT = "text"
    ATC = "ATC code"
    ENUM = "choice"
    LIST = "list"
    #: The type of ``not applicable`` before it meets a declared type.
    NOTHING = "not applicable"


@attrs.frozen
class Type:
    """A value type; ``choices`` names the allowed values of an enum (or of a list's items)."""

    kind: Kind
    nullable: bool = False
    choices: tuple[str, ...] = ()
    #: The enum's name, e.g. ``prescriber kind``, used in messages.
    name: str = ""
    #: A declared choice's words per code and language (``{"gp": {"en": "a GP", "nl": "huisarts"}}``).
    words: Mapping[str, Mapping[str, str]] | None = attrs.field(default=None, eq=False, repr=False)

    def __str__(self) -> str:
        base = self.name or self.kind.value
        if self.kind is Kind.LIST:
            base = f"list of {self.name or 'choices'}"
        return f"{base} (may be unknown)" if self.nullable else base

    def known(self) -> Type:
        """The same type without the possibility of being unknown."""
        return attrs.evolve(self, nullable=False)

    def maybe(self) -> Type:
        """The same type, possibly unknown."""
        return attrs.evolve(self, nullable=True)

    def same_values(self, other: Type) -> bool:
        """Whether two types hold the same kind of value, ignoring nullability."""
        if self.kind is not other.kind:
            return False
        if self.kind in (Kind.ENUM, Kind.LIST):
            return self.choices == other.choices
        return True


BOOL = Type(Kind.BOOL)
NUMBER = Type(Kind.NUMBER)
MONEY = Type(Kind.MONEY)
PERCENT = Type(Kind.PERCENT)
DATE = Type(Kind.DATE)
DURATION = Type(Kind.DURATION)
SUPPLY = Type(Kind.SUPPLY)
TEXT = Type(Kind.TEXT)
ATC = Type(Kind.ATC)
NOTHING = Type(Kind.NOTHING, nullable=True)


def enum_type(name: str, choices: tuple[str, ...], nullable: bool = False,
              words: Mapping[str, Mapping[str, str]] | None = None) -> Type:
    """A choice among named values (e.g. the prescriber kinds), with the words of each where declared."""
    return Type(Kind.ENUM, nullable=nullable, choices=choices, name=name, words=words)


def list_type(name: str, choices: tuple[str, ...], words: Mapping[str, Mapping[str, str]] | None = None) -> Type:
    """A list of values taken from a choice (e.g. the prescribers a doctor's note names)."""
    return Type(Kind.LIST, choices=choices, name=name, words=words)
