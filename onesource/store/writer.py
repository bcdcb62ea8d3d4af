"""Streaming writers into a staging folder: versions, raw landings, quarantine.

A writer holds at most one row group per open Parquet file in memory, so a
10-million-row version streams through in bounded memory.  Nothing a writer
produces is visible until it is published (raw, quarantine) or committed
(versions); leaving the ``with`` block on an exception removes the staging
folder, best-effort.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from onesource.store.errors import StoreError, WriterSchemaError
from onesource.store.warehouse import STAGING, Warehouse, refused_writes

if TYPE_CHECKING:
    from onesource.store.records import VersionInfo

ROW_GROUP_ROWS = 1 << 20
ROW_GROUP_BYTES = 64 << 20
HEARTBEAT_EVERY_S = 30.0


def schema_fingerprint(schema: pa.Schema) -> str:
    """A short, stable hash of column names and types (metadata ignored)."""
    text = schema.remove_metadata().to_string(show_field_metadata=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ParquetSink:
    """One Parquet file written batch by batch, row groups buffered up to a bound."""

    def __init__(self, warehouse: Warehouse, rel: str, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows = 0
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._writer = pq.ParquetWriter(
            warehouse.full(rel), schema, filesystem=warehouse.arrow_fs, compression="zstd"
        )

    def write(self, data: pa.RecordBatch | pa.Table) -> int:
        """Append rows; returns how many."""
        batches = data.to_batches() if isinstance(data, pa.Table) else [data]
        n = 0
        for batch in batches:
            batch = self._conform(batch)
            self._pending.append(batch)
            self._pending_rows += batch.num_rows
            self._pending_bytes += batch.nbytes
            n += batch.num_rows
            if self._pending_rows >= ROW_GROUP_ROWS or self._pending_bytes >= ROW_GROUP_BYTES:
                self._flush()
        self.rows += n
        return n

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.schema.equals(self.schema, check_metadata=False):
            return batch
        if batch.schema.names != self.schema.names:
            raise WriterSchemaError(
                f"batch columns {batch.schema.names} do not match the writer's {self.schema.names}",
                hint="select and order the columns as the catalog declares them",
            )
        try:
            return batch.cast(self.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise WriterSchemaError(
                f"batch types cannot be cast to the writer's schema: {exc}",
                hint="cast the batch to the catalog's Arrow schema before writing",
            ) from exc

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending, schema=self.schema))
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def abort(self) -> None:
        self._pending = []
        # aborting: the half-written file is discarded anyway
        with contextlib.suppress(Exception):
            self._writer.close()


class StagedWriter:
    """Files written into a private staging folder; subclasses decide how to publish."""

    default_file = "data.parquet"

    def __init__(
        self,
        warehouse: Warehouse,
        run_id: str,
        schema: pa.Schema | None,
        heartbeat: Callable[[], None] | None = None,
        *,
        label: str = "a warehouse write",
    ) -> None:
        self.warehouse = warehouse
        self.run_id = run_id
        self.schema = schema
        self.label = label  # names what is written in errors: "resource 'population'"
        with refused_writes(label, warehouse.uri(STAGING)):
            self.staging = warehouse.new_staging(run_id)
        self._sinks: dict[str, ParquetSink] = {}
        self._done = False
        self._heartbeat = heartbeat
        self._last_beat = time.monotonic()

    def __enter__(self) -> StagedWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.abort()

    @property
    def rows(self) -> int:
        """Rows written so far, over all Parquet files."""
        return sum(s.rows for s in self._sinks.values())

    def write(
        self,
        data: pa.RecordBatch | pa.Table,
        *,
        file: str | None = None,
        schema: pa.Schema | None = None,
    ) -> int:
        """Append a batch or table to a Parquet file of this writer (default ``data.parquet``)."""
        self._check_open()
        name = file or self.default_file
        with self._refused(name):
            sink = self._sinks.get(name)
            if sink is None:
                chosen = (
                    schema or (self.schema if name == self.default_file else None) or data.schema
                )
                rel = f"{self.staging}/{name}"
                sink = self._sinks[name] = ParquetSink(self.warehouse, rel, chosen)
            n = sink.write(data)
        self._beat()
        return n

    def open_file(self, name: str) -> IO[Any]:
        """A writable binary file in this writer's folder (CSV, JSON, checksums...)."""
        self._check_open()
        with self._refused(name):
            return self.warehouse.open(f"{self.staging}/{name}", "wb")

    def put_file(self, name: str, data: bytes | str) -> None:
        """Write a whole small file into this writer's folder."""
        with self._refused(name), self.open_file(name) as fh:
            fh.write(data.encode() if isinstance(data, str) else data)

    def _refused(self, name: str = "") -> contextlib.AbstractContextManager[None]:
        """Permission-denied / disk-full errors naming this writer's subject and the path."""
        return refused_writes(self.label, self.warehouse.uri(f"{self.staging}/{name}"))

    def abort(self) -> None:
        """Discard everything written; safe to call twice."""
        for sink in self._sinks.values():
            sink.abort()
        self._sinks.clear()
        self._done = True
        self.warehouse.remove(self.staging)

    def _close_sinks(self) -> None:
        for name, sink in self._sinks.items():
            with self._refused(name):
                sink.close()

    def _check_open(self) -> None:
        if self._done:
            raise StoreError(
                "this writer is already committed or aborted",
                hint="open a new writer for another version",
            )

    def _beat(self) -> None:
        if self._heartbeat and time.monotonic() - self._last_beat > HEARTBEAT_EVERY_S:
            self._last_beat = time.monotonic()
            self._heartbeat()


class VersionWriter(StagedWriter):
    """Writes one new version; ``commit()`` makes it current atomically."""

    def __init__(
        self,
        warehouse: Warehouse,
        run_id: str,
        schema: pa.Schema | None,
        committer: Callable[[VersionWriter, dict[str, Any]], VersionInfo],
        heartbeat: Callable[[], None] | None = None,
        *,
        label: str = "a new version",
    ) -> None:
        super().__init__(warehouse, run_id, schema, heartbeat, label=label)
        self._committer = committer
        self.declared_rows: int | None = None

    def __enter__(self) -> VersionWriter:
        return self

    def commit(
        self, stats: dict[str, Any] | None = None, *, row_count: int | None = None
    ) -> VersionInfo:
        """Close the files, publish the folder and move the current pointer to it.

        ``row_count``: the version's rows when they were not written through ``write``
        (a release publishes finished files with ``put_file``); default: rows written.
        """
        self._check_open()
        self.declared_rows = row_count
        try:
            self._close_sinks()
            if self.schema is not None and self.default_file not in self._sinks:
                # a version with zero rows still has a readable, typed data file
                self.write(self.schema.empty_table())
                with self._refused(self.default_file):
                    self._sinks[self.default_file].close()
            with self._refused():  # fsync and the rename into place
                info = self._committer(self, dict(stats or {}))
        except BaseException:
            self.abort()
            raise
        self._done = True
        return info

    def fingerprint(self) -> str:
        """The schema fingerprint of the main data file."""
        sink = self._sinks.get(self.default_file)
        schema = sink.schema if sink else self.schema
        return schema_fingerprint(schema) if schema is not None else ""


class RunFileWriter(StagedWriter):
    """Per-run files (raw landings, quarantine): published on a clean exit, not versioned."""

    def __init__(
        self,
        warehouse: Warehouse,
        run_id: str,
        schema: pa.Schema | None,
        final_rel: str,
        default_file: str,
        heartbeat: Callable[[], None] | None = None,
        *,
        label: str = "per-run files",
    ) -> None:
        super().__init__(warehouse, run_id, schema, heartbeat, label=label)
        self.final = final_rel
        self.default_file = default_file

    def __enter__(self) -> RunFileWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and not self._done:
            self.close()
        super().__exit__(exc_type, exc, tb)

    def close(self) -> str:
        """Publish the files to their per-run folder; returns its relative path."""
        self._check_open()
        try:
            self._close_sinks()
            if self.schema is not None and self.default_file not in self._sinks:
                self.write(self.schema.empty_table())
                with self._refused(self.default_file):
                    self._sinks[self.default_file].close()
            with refused_writes(self.label, self.warehouse.uri(self.final)):
                self.warehouse.publish(self.staging, self.final)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self.final
