"""Writing batch results: a directory of partitions, each written under a hidden temporary name and renamed
when complete, and a ``_SUCCESS`` file with the counts written last.

A run that is interrupted (Ctrl-C, killed, a machine that stops) leaves only complete partitions under their
real names, and no ``_SUCCESS``: nothing looks complete that is not. Readers of the directory as a dataset
(``pyarrow.dataset``, Polars, Spark, Dask) skip names starting with ``_`` or ``.``, so they see the complete
partitions only. ``_batch.json``, written first, records what the run was (input, its size and time, chunk
size, policy fingerprint, decisions, format): ``--resume`` continues only the same run, skipping the
partitions already complete.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rxpolicy.diagnostics import Diagnostic, RxError

__all__ = ["MANIFEST", "SUCCESS", "OutputDir", "partition_name", "write_table"]

MANIFEST = "_batch.json"
SUCCESS = "_SUCCESS"
_SUFFIX = {"parquet": "parquet", "jsonl": "jsonl", "csv": "csv"}


def partition_name(index: int, fmt: str) -> str:
    """The file name of a partition: ``part-000012.parquet``."""
    return f"part-{index:06d}.{_SUFFIX[fmt]}"


class OutputDir:
    """The result directory of one batch run."""

    def __init__(self, directory: Path, fmt: str, manifest: Mapping[str, object], *, resume: bool,
                 overwrite: bool) -> None:
        """Prepare ``directory``: new, or the same run resumed (RX804 when it holds anything else)."""
        self.directory, self.fmt = directory, fmt
        existing = directory / MANIFEST
        if directory.exists() and not directory.is_dir():
            raise RxError(Diagnostic(code="RX804", message=f"--out {directory} is a file, not a directory",
                                     help="give a directory for the partitions, e.g. `--out results/`"))
        if resume:
            if not existing.is_file():
                raise RxError(Diagnostic(code="RX804", message=f"--resume: {directory} holds no earlier run "
                                         f"({MANIFEST} is missing)", help="run without --resume to start the run"))
            earlier = json.loads(existing.read_text(encoding="utf-8"))
            changed = [k for k in manifest if earlier.get(k) != manifest[k]]
            unknown = [k for k in manifest if k not in earlier]
            if unknown:
                # A manifest without a key this version writes (`result_schema`) is an earlier rxpolicy's, whose
                # partitions may differ in type from this version's (Parquet): refused, and said so plainly.
                raise RxError(Diagnostic(
                    code="RX804", message=f"--resume: the partitions in {directory} were written by an earlier "
                    f"version of rxpolicy ({MANIFEST} has no {', '.join(unknown)}), which this version does not "
                    "continue", help="run again with --overwrite to start over in that directory, or give a new "
                    "--out directory"))
            if changed:
                raise RxError(Diagnostic(
                    code="RX804", message=f"--resume: the run in {directory} was made with a different "
                    f"{', '.join(changed)}", help="resume with the same input and options, or start a new run "
                    "in another directory (or with --overwrite)"))
            for stale in directory.glob(".part-*"):  # left by a run that was killed mid-write
                stale.unlink()
            (directory / SUCCESS).unlink(missing_ok=True)
            return
        if directory.is_dir() and any(directory.iterdir()):
            if not overwrite:
                raise RxError(Diagnostic(
                    code="RX804", message=f"--out {directory} already holds files",
                    help="give --resume to continue the run in it, --overwrite to replace its results, or "
                         "another directory"))
            for old in directory.iterdir():
                if old.is_file() and (old.name.startswith(("part-", ".part-")) or old.name in (MANIFEST, SUCCESS)):
                    old.unlink()
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(directory / MANIFEST, json.dumps(dict(manifest), indent=2).encode())

    def done(self) -> set[int]:
        """The partitions complete on disk."""
        suffix = "." + _SUFFIX[self.fmt]
        return {int(p.name[5:-len(suffix)]) for p in self.directory.glob(f"part-*{suffix}")}

    def path(self, index: int) -> Path:
        """Where partition ``index`` goes."""
        return self.directory / partition_name(index, self.fmt)

    def write(self, index: int, table: Any) -> None:
        """Write one partition atomically."""
        write_table(table, self.path(index), self.fmt)

    def finish(self, summary: Mapping[str, object]) -> None:
        """Mark the run complete, with its counts (and remove what a killed writer left half-written)."""
        for stale in self.directory.glob(".part-*"):
            stale.unlink(missing_ok=True)
        _atomic_write(self.directory / SUCCESS, json.dumps(dict(summary), indent=2).encode())


def write_table(table: Any, path: Path, fmt: str) -> None:
    """Write an Arrow table of results to ``path`` under a temporary name first, then rename it."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, temporary, compression="zstd")
        else:
            _atomic_write(temporary, encode_text(table, fmt), rename=False)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def encode_text(table: Any, fmt: str, *, header: bool = True) -> bytes:
    """Result rows as JSON Lines or CSV: money as two-decimal strings, empty cells for what does not apply."""
    import pyarrow as pa

    # Money as text with two decimals: decimal128(12, 2) casts to exactly that ("12.40"); a closed-set text
    # column (dictionary-encoded, see .dictionaries) as its texts.
    text = pa.table({f.name: (table[f.name].cast(pa.string()) if pa.types.is_decimal(f.type)
                              or pa.types.is_dictionary(f.type) else table[f.name]) for f in table.schema})
    if fmt == "csv":
        import pyarrow.csv as pacsv

        sink = io.BytesIO()
        pacsv.write_csv(text, sink, pacsv.WriteOptions(include_header=header, quoting_style="needed"))
        return sink.getvalue()
    lines = []
    for row in text.to_pylist():
        if row.get("explanation") is not None:
            row["explanation"] = json.loads(row["explanation"])
        lines.append(json.dumps(row, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _atomic_write(path: Path, data: bytes, rename: bool = True) -> None:
    if not rename:
        path.write_bytes(data)
        return
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)
