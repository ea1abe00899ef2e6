"""rxpolicy: the conditions under which Dutch basic health insurance pays for a medicine, as rule files.

Load a policy once and evaluate many cases::

    from pathlib import Path
    from rxpolicy import PolicyStore, evaluate, load_case

    policy = PolicyStore().load("hollandzorg")
    evaluation = evaluate(policy, load_case(Path("examples/hollandzorg/benzodiazepine-chronic.yaml")))
    evaluation["max_supply"].value        # SupplyLimit(1 month)
    evaluation["max_supply"].rule.id      # 'dispensing-period/benzodiazepines'
    evaluation.outcome                    # 'not_covered'

Everything a case or rule file can get wrong raises :class:`RxError`, whose ``diagnostics`` say
where and how to fix it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rxpolicy.api import PolicyStore, check, evaluate_case_file, load_policy
    from rxpolicy.diagnostics import Diagnostic, RxError, Severity
    from rxpolicy.engine.case import Case, case_from_mapping, case_to_yaml, load_case, parse_case
    from rxpolicy.engine.compile import CompiledPolicy
    from rxpolicy.engine.evaluate import DecisionResult, Evaluation, evaluate
    from rxpolicy.language.values import Duration, SupplyLimit, Unit

#: Where each public name lives. They are imported on first use (PEP 562), so that importing one part of
#: rxpolicy (the command line, the cache, a tool) does not import all of it: start-up time is what a
#: shell user running ``rxpolicy eval`` feels.
_HOMES = {
    "PolicyStore": "rxpolicy.api", "check": "rxpolicy.api", "evaluate_case_file": "rxpolicy.api",
    "load_policy": "rxpolicy.api", "Diagnostic": "rxpolicy.diagnostics", "RxError": "rxpolicy.diagnostics",
    "Severity": "rxpolicy.diagnostics", "Case": "rxpolicy.engine.case", "case_from_mapping": "rxpolicy.engine.case",
    "case_to_yaml": "rxpolicy.engine.case", "load_case": "rxpolicy.engine.case", "parse_case": "rxpolicy.engine.case",
    "CompiledPolicy": "rxpolicy.engine.compile", "DecisionResult": "rxpolicy.engine.evaluate",
    "Evaluation": "rxpolicy.engine.evaluate", "evaluate": "rxpolicy.engine.evaluate",
    "Duration": "rxpolicy.language.values", "SupplyLimit": "rxpolicy.language.values",
    "Unit": "rxpolicy.language.values",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'rxpolicy' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__all__ = [
    "Case", "CompiledPolicy", "DecisionResult", "Diagnostic", "Duration", "Evaluation", "PolicyStore", "RxError",
    "Severity", "SupplyLimit", "Unit", "case_from_mapping", "case_to_yaml", "check", "evaluate",
    "evaluate_case_file", "load_case", "load_policy", "parse_case",
]
__version__ = "0.1.0"
