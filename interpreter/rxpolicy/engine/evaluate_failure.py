"""Where a computation that failed for one case is written (RX505 at evaluation, RX374 in ``rxpolicy check``).

A division by zero, say, stops the generated function with no word of which rule it was in. Only
after that has happened, so the fast path pays nothing, :func:`locate_failure` finds it: the
decisions worked out before the failure are read from the failed function's frame, then the trace's
explainers (each computes one rule's condition or values, or one definition, on its own) recompute
the rules of the decision it stopped at until one fails. :func:`failure_words` says it for a person.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from types import FrameType
from typing import TypeVar

import attrs

from rxpolicy.engine import runtime
from rxpolicy.engine.codegen import decisions_computed
from rxpolicy.engine.compile import CompiledPolicy, Epoch
from rxpolicy.engine.trace import Trace
from rxpolicy.language import ast
from rxpolicy.language.check import SymbolKind
from rxpolicy.language.source import Span
from rxpolicy.language.values import MONEY_CONTEXT, FractionalCount

__all__ = ["Failure", "failure_words", "locate_failure"]

_T = TypeVar("_T")
_A = TypeVar("_A")


@attrs.frozen(kw_only=True)
class Failure:
    """A computation that fails for one case (a division by zero, a number too large), and where it is written."""

    #: The decision being worked out when it failed, an index into ``policy.decisions``.
    decision: int
    #: The rule whose condition (``part`` 'condition') or values (``part`` 'value') fail, when one does.
    rule: int | None
    part: str | None
    #: The definition (`define`) that fails, when it is one (``rule`` then uses it).
    definition: str | None
    #: The division by zero, when it is known which one.
    division: ast.Arith | None = attrs.field(eq=False)
    #: The case field divided by, when it is one.
    field: str | None = attrs.field(eq=False)
    #: What went wrong, when it is not a division by zero ("gives a number too large").
    reason: str = attrs.field(eq=False)

    @property
    def key(self) -> tuple[object, ...]:
        """Which computation failed: cases with the same key fail in the same place."""
        return ("fails", self.decision, self.rule, self.definition)


def locate_failure(policy: CompiledPolicy, epoch: Epoch, values: tuple[object, ...],
                   error: ArithmeticError) -> Failure:
    """Where the computation that made ``epoch.fast(values)`` raise ``error`` is written.

    The decisions worked out before it failed are read from the failed function's frame. Then the
    trace's explainers (each computes one rule's condition or values, or one definition, on its
    own) recompute the rules of the decision it stopped at, in the order evaluation reaches them,
    and the definitions the failing one uses, until one fails: the innermost is named.
    """
    fast = _innermost(error, {getattr(epoch.fast, "__code__", None): None})
    known = decisions_computed(fast[0].f_locals if fast is not None else {}, len(policy.decisions))
    index = {d.name: i for i, d in enumerate(policy.decisions)}
    pending = [index[name] for kind, name in policy.checked.order
               if kind is SymbolKind.DECISION and name in index and index[name] not in known]
    decision = pending[0] if pending else 0
    trace = Trace(policy=policy, epoch=epoch, case_values=values,
                  decision_values=tuple(known.get(i) for i in range(len(policy.decisions))))
    with decimal.localcontext(MONEY_CONTEXT):
        part, rule = _failing_rule(policy, trace, policy.decisions[decision].name) or (None, None)
        own = _computes(policy.rules[rule].rule, part) if rule is not None else []
        names = _definitions_read(policy, own) if rule is not None else \
            [n for kind, n in policy.checked.order if kind is SymbolKind.DEFINITION]
        definition = next((n for n in names if _failing(epoch, trace.facts_of, ("definition", n)) is not None), None)
    if definition is not None:
        own = [policy.checked.definitions[definition].expr]
        if rule is None:  # worked out ahead of the decisions that use it: name the first of them
            decision, part, rule = next(((d, p, r.index) for d in pending for r in policy.rules
                                         if policy.decisions[d].name in r.decides and r.index in epoch.rules_in_force
                                         for p in ("condition", "value")
                                         if definition in _definitions_read(policy, _computes(r.rule, p))),
                                        (decision, None, None))
    division, field = _division(policy, own, values) if isinstance(error, ZeroDivisionError) else (None, None)
    return Failure(decision=decision, rule=rule, part=part, definition=definition, division=division, field=field,
                   reason=_reason(error))


def _failing_rule(policy: CompiledPolicy, trace: Trace, decision: str) -> tuple[str, int] | None:
    """The rule of a decision whose condition (('condition', i)), or else whose values (('value', i)), fail.

    Working out whether a rule holds works out first whether the rules it depends on (those it is an
    exception to, the rows above it) do: the explainer that failed says whose condition it was.
    """
    rules = [r for r in policy.rules if decision in r.decides]
    for rule in rules:
        owner = _failing(trace.epoch, trace.outcome, rule)
        if owner is not None and isinstance(owner[1], int):
            return "condition", owner[1]
    for rule in rules:
        if trace.outcome(rule) and _failing(trace.epoch, trace.facts_of, ("value", rule.index)) is not None:
            return ("value", rule.index)
    return None


def _computes(rule: ast.Rule, part: str | None) -> list[ast.Expr]:
    """What a rule computes: its condition ('condition') or its values ('value')."""
    if part == "condition":
        return [rule.when] if rule.when is not None else []
    return [a.value for a in rule.assignments]


def _failing(epoch: Epoch, call: Callable[[_A], object], argument: _A) -> tuple[str, object] | None:
    """The explainer of the period that fails (raises an ArithmeticError) when ``call(argument)`` runs, if one does."""
    try:
        call(argument)
    except ArithmeticError as error:
        found = _innermost(error, {getattr(f, "__code__", None): owner for owner, f in epoch.explainers.items()})
        return found[1] if found is not None else None
    except (runtime.Conflict, runtime.Gap, runtime.NotInForce):
        pass  # not a computation that fails: evaluation would have stopped here for another reason
    return None


def _innermost(error: BaseException, codes: Mapping[object, _T]) -> tuple[FrameType, _T] | None:
    """The innermost frame of an error's traceback that runs one of these code objects, and what it stands for."""
    found = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code in codes:
            found = trace.tb_frame, codes[trace.tb_frame.f_code]
        trace = trace.tb_next
    return found


def _definitions_read(policy: CompiledPolicy, expressions: list[ast.Expr]) -> list[str]:
    """The definitions some expressions use, directly or through others, in the order they are worked out."""
    checked = policy.checked
    found: set[str] = set()
    todo = list(expressions)
    while todo:
        for node in ast.walk(todo.pop()):
            resolved = checked.names.get(id(node)) if isinstance(node, ast.Name) else None
            if resolved is not None and resolved.kind is SymbolKind.DEFINITION and resolved.target not in found:
                found.add(resolved.target)
                todo.append(checked.definitions[resolved.target].expr)
    return [name for kind, name in checked.order if kind is SymbolKind.DEFINITION and name in found]


def _division(policy: CompiledPolicy, expressions: list[ast.Expr],
              values: tuple[object, ...]) -> tuple[ast.Arith | None, str | None]:
    """The division by zero among these expressions: the one by a case field that is 0, or the only one."""
    divisions = [n for e in expressions for n in ast.walk(e) if isinstance(n, ast.Arith) and n.op == "/"]
    for node in divisions:
        resolved = policy.checked.names.get(id(node.right)) if isinstance(node.right, ast.Name) else None
        if resolved is not None and resolved.kind is SymbolKind.FIELD and values[policy.checked.facts.field_index(resolved.target)] == 0:
            return node, resolved.target
    return (divisions[0], None) if len(divisions) == 1 else (None, None)


def _reason(error: ArithmeticError) -> str:
    for kind, reason in ((ZeroDivisionError, "divides by zero"), (decimal.Overflow, "gives a number too large"),
                         (OverflowError, "gives a date or number out of range"),
                         (FractionalCount, "gives a fraction of a day or month (days and months are counted whole)")):
        if isinstance(error, kind):
            return reason
    return f"cannot be computed ({type(error).__name__})"


def _written(policy: CompiledPolicy, node: ast.Expr) -> str:
    source = policy.checked.source_of(node.span.path)
    return source.slice(node.span) if source is not None else "…"


def failure_words(policy: CompiledPolicy, failure: Failure,
                  where: str) -> tuple[str, str, Span | None, tuple[tuple[str, Span], ...]]:
    """A failure in words: what fails and why (``where`` the divisor is 0: "in this case"), the fix, and the places.

    Shared by evaluation (RX505) and ``rxpolicy check`` (RX374).
    """
    rule = policy.rules[failure.rule] if failure.rule is not None else None
    named = f"`{rule.id}` ({rule.span.path}:{rule.span.line})" if rule is not None else ""
    decision = policy.decisions[failure.decision].name
    if failure.definition is not None:
        info = policy.checked.definitions[failure.definition]
        what = f"the definition `{info.name}` ({info.span.path}:{info.span.line})" + (
            f", which the rule {named} uses," if rule is not None else "")
        span: Span | None = info.span
    elif rule is not None:
        what = f"the condition of the rule {named}" if failure.part == "condition" else \
            f"the value the rule {named} gives `{decision}`"
        span = rule.rule.id_span
    else:
        what, span = f"working out `{decision}`", policy.decisions[failure.decision].span
    if failure.division is None:
        return f"{what} {failure.reason} {where}", "guard the computation with a condition so that it is only " \
            "worked out where it can be, or correct it", span, ()
    divisor = _written(policy, failure.division.right)
    guard = f"{divisor} > 0" if isinstance(failure.division.right, ast.Name) else f"({divisor}) > 0"
    if failure.definition is not None:
        fix = f": `define {failure.definition} = if {guard} then … else …`"
    elif rule is not None and failure.part == "condition":
        fix = f", written before it: `when {guard} and …`"
    else:
        fix = f" in the `when` of `{rule.id}`, and decide the cases it leaves out with another rule" if rule else ""
    related = ((f"`{rule.id}`", rule.span),) if rule is not None and failure.definition is not None else ()
    return (f"{what} divides by `{divisor}`, which is 0 {where}", f"guard the division with a condition such as "
            f"`{guard}`{fix}", failure.division.span, related)
