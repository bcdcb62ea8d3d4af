"""The source protocol: what every connector takes and gives back.

A source's ``extract(resource, schema, state)`` returns an ``Extraction`` at
once; nothing is read until its ``batches()`` are iterated.  Every batch
matches the pinned schema exactly.  While iterating, the extraction gathers
the row count, the rows that could not be parsed (``rejects``), the files it
took and skipped, and the new high-water mark; read them after the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol

import pyarrow as pa

from connectors.cast import CastResult, cast_batch, cast_rows
from schemas.resource import Resource

Progress = Callable[[int], None]


def _never_seen(sha256: str) -> bool:
    return False


def _no_progress(rows: int) -> None:
    return None


@dataclass
class SourceState:
    """What the pipeline tells a source about earlier runs, and how to report progress.

    ``watermark`` is the stored high-water mark (the pipeline keeps it as text:
    an ISO timestamp, a date or a number) or None for a first, full load.
    ``seen(sha256)`` says whether a file with this content was already processed.
    ``progress(rows)`` is called with the row count of every batch.
    """

    watermark: Any = None
    seen: Callable[[str], bool] = _never_seen
    progress: Progress = _no_progress


@dataclass(frozen=True)
class FileRef:
    """One file of a drop: where it was, its content hash, its size and rows taken."""

    path: str
    sha256: str
    size: int
    rows: int | None = None


@dataclass(frozen=True)
class QuarantinedFile:
    """A whole file that could not be read, and why; none of its rows were taken."""

    path: str
    sha256: str
    size: int
    reason: str


@dataclass(frozen=True)
class Reject:
    """A row that could not be parsed or cast; it goes to the run's unparsed rows."""

    source: str  # file path or URL
    line: int | None  # line (CSV, JSON lines), sheet row (xlsx), row (parquet) or page (http)
    raw: str
    reason: str


Produce = Callable[["Extraction"], Iterator[pa.RecordBatch]]


class Extraction:
    """A lazy, single-use stream of batches in the pinned schema, plus what it found."""

    def __init__(
        self,
        schema: pa.Schema,
        produce: Produce,
        state: SourceState | None = None,
        *,
        watermark_column: str | None = None,
    ) -> None:
        self.schema = schema
        self.state = state or SourceState()
        self.watermark_column = watermark_column
        self.rows = 0
        self.rejects: list[Reject] = []
        self.files: list[FileRef] = []
        self.skipped: list[FileRef] = []
        self.quarantined: list[QuarantinedFile] = []
        self.extra_columns: dict[str, list[str]] = {}  # file -> headers no field reads
        self.new_watermark: Any = None
        self._produce = produce
        self._started = False

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Read the source; each batch is counted, reported to ``progress`` and checked."""
        if self._started:
            raise RuntimeError("an Extraction can be iterated only once")
        self._started = True
        for batch in self._produce(self):
            if batch.num_rows == 0:
                continue
            if not batch.schema.equals(self.schema):
                raise AssertionError(f"connector produced {batch.schema}, not the pinned schema")
            self.rows += batch.num_rows
            self._track_watermark(batch)
            self.state.progress(batch.num_rows)
            yield batch

    __iter__ = batches

    def cast(
        self,
        batch: pa.RecordBatch,
        resource: str,
        *,
        source: str,
        lines: Callable[[int], int | None] | None = None,
        columns: dict[str, str] | None = None,
        allow_missing: bool = False,
    ) -> pa.RecordBatch:
        """Cast a raw batch to the pinned schema; rows with bad values become rejects.

        ``lines(i)`` gives the source line (or row, or page) of input row ``i``.
        """
        result: CastResult = cast_rows(
            batch, self.schema, resource, columns=columns, allow_missing=allow_missing
        )
        if result.errors:
            import json

            rows = result.bad_rows
            raw = batch.take(pa.array(rows, pa.int64())).to_pylist()
            for row, values in zip(rows, raw, strict=True):
                self.reject(
                    source,
                    lines(row) if lines else row + 1,
                    json.dumps(values, ensure_ascii=False, default=str),
                    result.errors[row],
                )
        return result.batch

    def reject(self, source: str, line: int | None, raw: str, reason: str) -> None:
        """Record one row that could not be read."""
        self.rejects.append(Reject(source, line, raw[:2000], reason))

    def rejects_table(self) -> pa.Table:
        """The rejects as a table (source, line, raw, reason)."""
        schema = pa.schema(
            [
                ("source", pa.string()),
                ("line", pa.int64()),
                ("raw", pa.string()),
                ("reason", pa.string()),
            ]
        )
        return pa.Table.from_pylist([asdict(r) for r in self.rejects], schema=schema)

    def read_all(self) -> pa.Table:
        """Every batch as one table (for tests and small sources)."""
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)

    def _track_watermark(self, batch: pa.RecordBatch) -> None:
        if self.watermark_column is None:
            return
        import pyarrow.compute as pc

        top = pc.max(batch.column(self.watermark_column)).as_py()
        if top is not None and (self.new_watermark is None or top > self.new_watermark):
            self.new_watermark = top


def row_numbers(offset: int) -> Callable[[int], int]:
    """1-based row numbers of a batch that starts after ``offset`` rows."""

    def number(i: int) -> int:
        return offset + i + 1

    return number


class Source(Protocol):
    """A connector: turns a catalog resource into an ``Extraction``."""

    type: ClassVar[str]

    def extract(self, resource: Resource, schema: pa.Schema, state: SourceState) -> Extraction:
        """Start reading ``resource``; nothing is read until the batches are iterated."""
        ...


__all__ = [
    "Extraction",
    "FileRef",
    "QuarantinedFile",
    "Reject",
    "Source",
    "SourceState",
    "cast_batch",
    "cast_rows",
]
