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

from rxpolicy.api import PolicyStore, check, evaluate_case_file, load_policy
from rxpolicy.diagnostics import Diagnostic, RxError, Severity
from rxpolicy.engine.case import Case, case_from_mapping, case_to_yaml, load_case, parse_case
from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.evaluate import DecisionResult, Evaluation, evaluate
from rxpolicy.language.values import Duration, SupplyLimit, Unit

__all__ = [
    "Case", "CompiledPolicy", "DecisionResult", "Diagnostic", "Duration", "Evaluation", "PolicyStore", "RxError",
    "Severity", "SupplyLimit", "Unit", "case_from_mapping", "case_to_yaml", "check", "evaluate",
    "evaluate_case_file", "load_case", "load_policy", "parse_case",
]
__version__ = "0.1.0"
