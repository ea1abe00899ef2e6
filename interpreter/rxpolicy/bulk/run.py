"""One batch run: a claims file in, a directory of result partitions (or a stream on stdout) out, with counts.

The file is read in chunks of ``chunk_size`` records; each chunk is evaluated and written as one partition
before the next is read, so memory stays flat as the input grows. The counts (:class:`Counts`) are what the
command prints at the end; they always add up: every record read is either evaluated (covered or not) or an
error row.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Self

import attrs

from rxpolicy.engine.compile import CompiledPolicy

from .core import Selection, evaluate_records, rows_table
from .output import OutputDir, encode_text
from .records import Chunk, check_readable, read_chunks

__all__ = ["BatchRun", "ChunkSettings", "Counts", "SAMPLES", "evaluate_chunk", "run_batch"]

#: How many error rows are shown on stderr as examples.
SAMPLES = 5


@attrs.define
class Counts:
    """What a run did: records read, evaluated (the outcome decision yes or not: covered, not covered), errors by
    code."""

    #: The decision the policy declares its outcome (``is the outcome``; ``covered`` in the built-in policies),
    #: whose name the counts and their text use; ``None`` when the policy declares none.
    outcome: str | None = None
    read: int = 0
    evaluated: int = 0
    #: Records whose outcome decision is yes (outcome ``covered``) and not (``not_covered``).
    covered: int = 0
    not_covered: int = 0
    errors: collections.Counter[str] = attrs.field(factory=collections.Counter)
    #: The first error rows (record, code, field, message, help), shown on stderr as examples.
    samples: list[tuple[int, str, str | None, str, str | None]] = attrs.field(factory=list)

    def add(self, table: Any) -> None:
        """Count the rows of a result table (and keep the first error rows as examples)."""
        import pyarrow.compute as pc

        # Counted in Arrow: the outcome is a dictionary column, whose rows Python reads ~15 times slower than text.
        outcomes = {found["values"]: found["counts"] for found in pc.value_counts(table.column("outcome")).to_pylist()}
        error_codes = table.column("error_code").to_pylist()
        codes = collections.Counter(c for c in error_codes if c is not None)
        if codes and len(self.samples) < SAMPLES and "error_message" in table.column_names:
            for position, code in enumerate(error_codes):
                if code is not None and len(self.samples) < SAMPLES:
                    row = table.slice(position, 1).to_pylist()[0]
                    self.samples.append((row["record"], code, row["error_field"], row["error_message"],
                                         row["error_help"]))
        self.read += table.num_rows
        if self.outcome is not None:
            self.covered += outcomes.get(self.outcome, 0)
            self.not_covered += outcomes.get(f"not_{self.outcome}", 0)
        self.errors.update(codes)
        self.evaluated += table.num_rows - sum(codes.values())

    def merge(self, other: Counts) -> None:
        """Add the counts of another part of the run (a partition evaluated elsewhere)."""
        self.read += other.read
        self.evaluated += other.evaluated
        self.covered += other.covered
        self.not_covered += other.not_covered
        self.errors.update(other.errors)
        self.samples = sorted(self.samples + other.samples)[:SAMPLES]

    def as_dict(self) -> dict[str, object]:
        """The counts as JSON-ready data."""
        said = {self.outcome: self.covered, f"not_{self.outcome}": self.not_covered} if self.outcome else {}
        return {"read": self.read, "evaluated": self.evaluated, **said, "errors": sum(self.errors.values()),
                "errors_by_code": dict(sorted(self.errors.items()))}

    def text(self) -> str:
        """The lines printed at the end of a run: the first error rows as examples, then the counts."""
        lines = []
        for record, code, field, message, help in self.samples:
            named = field is None or f"`{field}`" in message
            lines.append(f"record {record}: {code}: {message}" + ("" if named else f" (field `{field}`)"))
            if help:
                lines.append(f"  help: {help}")
        errors = sum(self.errors.values())
        if errors > len(self.samples) and self.samples:
            lines.append(f"… and {errors - len(self.samples)} more error rows (their error_code column says which)")
        by_code = ", ".join(f"{code}: {count}" for code, count in sorted(self.errors.items()))
        said = f" ({self.covered} {self.outcome}, {self.not_covered} not {self.outcome})" if self.outcome else ""
        lines.append(f"read {_count(self.read, 'record')}: {self.evaluated} evaluated{said}, "
                     f"{_count(errors, 'error row')}"
                     + (f" ({by_code})" if by_code else ""))
        return "".join(line + "\n" for line in lines)


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@attrs.frozen(kw_only=True)
class ChunkSettings:
    """How claims are evaluated, wherever they come from: the policy, the decisions reported, the explanations and
    the engine (with the policy compiled to columns, once). What :func:`evaluate_chunk` needs, and all it needs:
    a file's run (:class:`BatchRun`) and an embedder's tables (:class:`rxpolicy.bulk.evaluator.ClaimsEvaluator`)
    are evaluated by the same settings. Immutable, so one may serve many threads."""

    policy: CompiledPolicy
    selection: Selection
    explain: bool = False
    lang: str = "en"
    #: 'columnar' (the fast path where it applies, per case elsewhere) or 'per-case'.
    engine: str = "columnar"
    columnar: Any = attrs.field(default=None, eq=False, repr=False)

    def with_columnar(self) -> Self:
        """These settings with the policy compiled to columns (once), when the columnar engine is asked for."""
        if self.engine != "columnar" or self.explain or self.columnar is not None:
            return self
        from .columnar import compile_columnar

        return attrs.evolve(self, columnar=compile_columnar(self.policy))


@attrs.frozen(kw_only=True)
class BatchRun(ChunkSettings):
    """What to run: the claims file, how they are evaluated (:class:`ChunkSettings`) and where the results go."""

    claims: Path
    input_format: str
    out: Path | None
    output_format: str
    chunk_size: int = 50_000
    resume: bool = False
    overwrite: bool = False

    def manifest(self) -> dict[str, object]:
        """What makes two runs the same run (``--resume`` checks it)."""
        stat = self.claims.stat()
        return {"input": str(self.claims.resolve()), "input_size": stat.st_size,
                "input_mtime_ns": stat.st_mtime_ns, "input_format": self.input_format,
                "chunk_size": self.chunk_size, "policy": self.policy.name,
                "policy_fingerprint": self.policy.fingerprint, "decisions": list(self.selection.names),
                "explain": self.explain, "lang": self.lang, "format": self.output_format,
                "result_schema": RESULT_SCHEMA}


#: The version of the result table's layout, in the manifest: a run written with another (before 2: the closed-set
#: text columns as plain strings, not dictionaries) is not resumed, since its partitions and the new ones would not
#: read as one dataset.
RESULT_SCHEMA = 2


def evaluate_chunk(run: ChunkSettings, chunk: Chunk, timings: dict[str, float] | None = None,
                   counts: dict[str, int] | None = None) -> Any:
    """The result table of one chunk: on the columns where they apply (see :mod:`.columnar`), else per case.

    ``timings`` gets the seconds of the columnar path's steps added (``prepare``, ``columns``, ``output``: see
    :func:`.columnar.evaluate_columnar`), with ``error_rows`` (the error rows written from the columns' checks,
    :mod:`.columnar_errors`) and ``per_case`` (the claims evaluated per case) told apart; ``counts`` gets how many
    claims went which way: ``columnar`` (decided on the columns), ``error_rows`` (refused, their error row written
    from the columns' checks) and ``per_case`` (evaluated or refused per case). Both are added to what they hold.
    """
    roads = _Roads(timings, counts)

    def per_case(positions: list[int]) -> Any:
        started = time.perf_counter()
        rows = evaluate_records(run.policy, chunk.subset(positions), numbers=[chunk.first + i for i in positions],
                                selection=run.selection, explain=run.explain, lang=run.lang)
        table = rows_table(rows, run.selection, run.explain)
        roads.per_case(len(positions), time.perf_counter() - started)
        return table

    if run.columnar is None:
        return per_case(list(range(len(chunk))))
    facts = run.columnar.policy.facts
    if chunk.lines is not None:
        from .jsonl_columns import jsonl_table

        # (The table says its lines list their keys in their own order: the error rows of claims with several
        # problems are left per case, which names the first as the line lists them.)
        table, doubtful = jsonl_table(chunk.lines, facts)
    elif chunk.texts is not None:
        from .csv_columns import csv_table

        read = csv_table(chunk.texts, facts)
        if read is None:
            return per_case(list(range(len(chunk))))
        table, doubtful = read
    elif chunk.table is not None:
        table, doubtful = chunk.table, []  # Parquet: typed already; the columns' own checks refuse what they must
    else:
        return per_case(list(range(len(chunk))))
    return _on_columns(run, chunk, table, doubtful, per_case, roads)


@attrs.define
class _Roads:
    """Which way a chunk's claims went and the seconds of each step, added to a caller's counts and timings."""

    timings: dict[str, float] | None
    counts: dict[str, int] | None
    #: Claims evaluated per case so far, and their seconds.
    claims: int = 0
    seconds: float = 0.0

    def per_case(self, claims: int, seconds: float) -> None:
        """Claims evaluated per case (wherever: on the columns' behalf or left by the reading)."""
        self.claims += claims
        self.seconds += seconds
        self._add(self.counts, "per_case", claims)
        self._add(self.timings, "per_case", seconds)

    def columnar(self, run: ChunkSettings, chunk: Chunk, per_case: Callable[[list[int]], Any]) -> Any:
        """:func:`.columnar.evaluate_columnar` of the chunk, with what it counts and times as "per case" (all it
        leaves to its ``per_case``) told apart: the error rows it writes from the columns' checks, and the claims
        that reach ``per_case``."""
        from .columnar import evaluate_columnar

        assert run.columnar is not None
        claims, seconds = self.claims, self.seconds
        counts: dict[str, int] = {}
        steps: dict[str, float] | None = None if self.timings is None else {}
        result = evaluate_columnar(run.columnar, chunk, run.selection, per_case, counts=counts, timings=steps)
        decided = counts.get("columnar", 0)
        self._add(self.counts, "columnar", decided)
        self._add(self.counts, "error_rows", len(chunk) - decided - (self.claims - claims))
        if steps is not None:
            left = steps.pop("per_case", 0.0)  # (its per-case seconds are added by `per_case`)
            steps["error_rows"] = max(0.0, left - (self.seconds - seconds))
            for step, spent in steps.items():
                self._add(self.timings, step, spent)
        return result

    @staticmethod
    def _add(into: dict[str, Any] | None, key: str, value: float) -> None:
        if into is not None:
            into[key] = into.get(key, 0) + value


def _on_columns(run: ChunkSettings, chunk: Chunk, table: Any, doubtful: list[int],
                per_case: Callable[[list[int]], Any], roads: _Roads) -> Any:
    """The chunk on the columns (``table``: its claims as typed columns), but the claims at ``doubtful`` positions,
    which the columns never see: they go per case, and the rows are put together in record order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not doubtful:
        return roads.columnar(run, attrs.evolve(chunk, table=table), per_case)
    left = set(doubtful)
    kept = [position for position in range(len(chunk)) if position not in left]
    if not kept:
        return per_case(list(range(len(chunk))))
    # The columns evaluate a chunk of the kept claims, numbered 0, 1, … (positions in `kept`); its rows are then
    # given their record numbers.
    part = Chunk(index=chunk.index, first=0, count=len(kept), table=table.take(kept))

    def part_per_case(positions: list[int]) -> Any:
        rows = per_case([kept[p] for p in positions])
        return rows.set_column(rows.schema.get_field_index("record"), rows.schema.field("record"),
                               pa.array(positions, pa.int64()))

    result = roads.columnar(run, part, part_per_case)
    numbers = pa.array([chunk.first + position for position in kept], pa.int64())
    index = result.schema.get_field_index("record")
    result = result.set_column(index, result.schema.field("record"), pc.take(numbers, result.column("record")))
    rest = per_case(doubtful)
    return pa.concat_tables([result, rest.select(result.schema.names).cast(result.schema)]).sort_by("record")


def run_batch(run: BatchRun, *, stdout: IO[bytes] | None = None,
              progress: Callable[[int], object] | None = None,
              evaluate: Callable[[BatchRun, Chunk], Any] = evaluate_chunk) -> Counts:
    """Run a batch; results go to ``run.out`` (partitions) or, without it, to ``stdout`` as a stream."""
    check_readable(run.claims)
    run = run.with_columnar()
    counts = Counts(outcome=run.policy.outcome)
    if run.out is None:
        assert stdout is not None
        for position, chunk in enumerate(read_chunks(run.claims, run.input_format, run.chunk_size)):
            table = evaluate(run, chunk)
            stdout.write(encode_text(table, run.output_format, header=position == 0))
            stdout.flush()
            counts.add(table)
            if progress:
                progress(table.num_rows)
        return counts
    output = OutputDir(run.out, run.output_format, run.manifest(), resume=run.resume, overwrite=run.overwrite)
    done = output.done() if run.resume else set()
    for chunk in _chunks(run, done):
        if chunk.index in done:
            table = _read_partition(output.path(chunk.index), run.output_format)
        else:
            table = evaluate(run, chunk)
            output.write(chunk.index, table)
        counts.add(table)
        if progress:
            progress(table.num_rows)
    output.finish(counts.as_dict())
    return counts


def _chunks(run: BatchRun, done: set[int]) -> Iterator[Chunk]:
    # Chunks already complete are read past (their records are not converted), so numbering stays right.
    skip = 0
    while skip in done:
        skip += 1
    index = 0
    for chunk in read_chunks(run.claims, run.input_format, run.chunk_size, skip=skip):
        while index < chunk.index:
            yield Chunk(index=index, first=0, count=0, given=[])  # counted from its partition on disk
            index += 1
        yield chunk
        index += 1


def _read_partition(path: Path, fmt: str) -> Any:
    """A complete partition of an earlier run, for its counts."""
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path, columns=["outcome", "error_code"])
    if fmt == "csv":
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=["outcome", "error_code"], strings_can_be_null=True,
            column_types={"outcome": pa.string(), "error_code": pa.string()}))
        return table
    import json

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return pa.table({"outcome": pa.array([r.get("outcome") for r in rows], pa.string()),
                     "error_code": pa.array([r.get("error_code") for r in rows], pa.string())})
