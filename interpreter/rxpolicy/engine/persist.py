"""Compiled policies to and from bytes, for the cache on disk (:mod:`rxpolicy.cache`).

A :class:`CompiledPolicy` is stored with the generated case builder of its facts (compiled code and
constants, :func:`~rxpolicy.engine.case_build.builder_code`), taken up again on load so that a new process
neither writes nor compiles it. It pickles with three adjustments: a period's generated functions travel
as their compiled code (``marshal``) and bound constants and are bound again on load, without
writing or compiling Python; the checker's maps keyed by ``id(node)`` travel as (node, value)
pairs, since ids do not survive a process; read-only mappings travel as dicts. Only bytes that
:class:`rxpolicy.cache.DiskCache` has authenticated are ever given to :func:`policy_from_bytes`.
"""

from __future__ import annotations

import io
import marshal
import pickle
from collections.abc import Iterator, Mapping
from types import CodeType, MappingProxyType
from typing import Any

import attrs

from rxpolicy.language import ast
from rxpolicy.language.check.model import CheckedPolicy
from rxpolicy.engine.case_build import adopt_builder, builder_code
from rxpolicy.engine.compile import CompiledPolicy, Epoch, EpochCode, bind_epoch

__all__ = ["policy_from_bytes", "policy_to_bytes"]


def policy_to_bytes(policy: CompiledPolicy) -> bytes:
    """The policy as bytes :func:`policy_from_bytes` turns back into an equal policy."""
    out = io.BytesIO()
    code, constants = builder_code(policy.facts)
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump((policy, code, constants))
    return out.getvalue()


def policy_from_bytes(data: bytes) -> CompiledPolicy:
    """A policy from :func:`policy_to_bytes` (authenticated bytes only: unpickling runs code)."""
    entry = pickle.loads(data)  # noqa: S301 - the caller verified the bytes' HMAC
    if type(entry) is not tuple or len(entry) != 3:
        raise TypeError(f"a cache entry holds {type(entry).__name__}, not a compiled policy and its case builder")
    policy, code, constants = entry
    if not isinstance(policy, CompiledPolicy) or not isinstance(code, bytes) or not isinstance(constants, dict):
        raise TypeError("a cache entry holds no compiled policy and case builder")
    adopt_builder(policy.facts, code, constants)
    return policy


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is MappingProxyType:
            return _read_only, (dict(obj),)
        if kind is Epoch:
            code = obj.code
            return _bound_epoch, (obj.start, obj.end, obj.python, obj.rules_in_force, marshal.dumps(code.code),
                                  dict(code.constants), dict(code.explainer_names))
        if kind is CheckedPolicy:
            fields = {f.name: getattr(obj, f.name) for f in attrs.fields(CheckedPolicy)}
            nodes = {id(node): node for node in _reachable(obj)}
            names = [(nodes[key], value) for key, value in obj.names.items() if key in nodes]
            types = [(nodes[key], value) for key, value in obj.expr_types.items() if key in nodes]
            del fields["names"], fields["expr_types"]
            return _checked_policy, (fields, names, types)
        return NotImplemented


def _reachable(checked: CheckedPolicy) -> Iterator[object]:
    """Every attrs object reachable from the policy (the expression nodes among them)."""
    return ast.reachable(checked.files_ast, list(checked.definitions.values()), list(checked.parameters.values()),
                         list(checked.decisions.values()), checked.rules)


def _read_only(content: dict[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(content)


def _bound_epoch(start: Any, end: Any, python: str, in_force: frozenset[int], code: bytes,
                 constants: dict[str, object], explainer_names: dict[tuple[str, object], str]) -> Epoch:
    compiled = marshal.loads(code)
    if not isinstance(compiled, CodeType):
        raise TypeError("a cache entry holds no code")
    return bind_epoch(start, end, python, in_force, EpochCode(code=compiled, constants=constants,
                                                               explainer_names=explainer_names))


def _checked_policy(fields: dict[str, Any], names: list[tuple[object, Any]],
                    types: list[tuple[object, Any]]) -> CheckedPolicy:
    return CheckedPolicy(**fields, names=MappingProxyType({id(node): value for node, value in names}),
                         expr_types=MappingProxyType({id(node): value for node, value in types}))
