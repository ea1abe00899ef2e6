"""Where a rule is in the policy handbook (``rxpolicy doc``): its page and its anchor.

The handbook has one page per rule family (the first part of a rule id: ``dispensing-period`` of
``dispensing-period/chronic``). Explanations (``eval``) and the editor's hover link to a rule through
:func:`handbook_url`, given the address the handbook is published at.
"""

from __future__ import annotations

import re

__all__ = ["handbook_url", "rule_anchor", "rule_family", "rule_page"]


def rule_family(rule_id: str) -> str:
    """The family a rule belongs to: the part of its id before the first ``/``."""
    return rule_id.split("/", 1)[0]


def rule_page(rule_id: str) -> str:
    """The handbook page of a rule's family, without its extension (``dispensing-period``)."""
    return re.sub(r"[^a-z0-9-]", "-", rule_family(rule_id))


def rule_anchor(rule_id: str) -> str:
    """The anchor of a rule on its page: ``/`` becomes ``--`` (``dispensing-period--chronic``)."""
    return rule_id.replace("/", "--")


def handbook_url(base: str, rule_id: str, suffix: str = ".html") -> str:
    """The address of a rule in a handbook published at ``base`` (a URL or a directory)."""
    return f"{base.rstrip('/')}/{rule_page(rule_id)}{suffix}#{rule_anchor(rule_id)}"
