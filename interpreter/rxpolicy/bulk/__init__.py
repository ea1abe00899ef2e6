"""Claims in bulk: files of dispensing claims evaluated record by record (``rxpolicy batch``), synthetic claims
(``rxpolicy claims synth``), and the same for embedders on claims they hold (:mod:`.evaluator`).

:func:`evaluate_claims` (an Arrow table, a Polars DataFrame or case mappings in, the result table out),
:func:`evaluate_claims_file` and :class:`ClaimsEvaluator` (a policy compiled to columns once, for many tables)
are the public API, importable from here. :func:`rxpolicy.bulk.core.evaluate_records` is the record-level core
(records in, result rows out, no files); :mod:`.records` reads claims files in chunks, :mod:`.output` writes
result partitions atomically, :mod:`.run` ties them together for one run, :mod:`.synth` generates claims. Needs
the ``batch`` extra (pyarrow, tqdm): ``pip install 'rxpolicy[batch]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .evaluator import ClaimsEvaluator, evaluate_claims, evaluate_claims_file

__all__ = ["ClaimsEvaluator", "evaluate_claims", "evaluate_claims_file"]


def __getattr__(name: str) -> Any:
    # Imported when first asked for, not with the package: `rxpolicy claims synth` and the other commands that
    # use a module of this package do not load the evaluator (and the engine it needs).
    if name in __all__:
        from . import evaluator

        return getattr(evaluator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
