"""The store facade: every pipeline step reads and writes through ``Store``.

store = Store.open()
with store.begin_run("ingest", "population") as run:
    with store.open_writer("resource", "population", run.id, schema) as w:
        for batch in batches:
            w.write(batch)
        w.commit(stats={"source": "sqlite"})
table = store.read("resource", "population")
"""

from __future__ import annotations

from datetime import timedelta
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from onesource.store.collector import GcReport, collect
from onesource.store.db import engine_for, ensure_migrated
from onesource.store.errors import StoreError
from onesource.store.increments import IncrementBook, ManifestEntry
from onesource.store.ledger import ANY_BASE, VersionLedger, check_subject
from onesource.store.records import RunInfo, VersionInfo
from onesource.store.runs import STALE_AFTER, RunHandle, RunRegistry
from onesource.store.warehouse import Warehouse, refused_writes
from onesource.store.withdrawals import WithdrawalBook
from onesource.store.writer import RunFileWriter, VersionWriter

if TYPE_CHECKING:
    import pyarrow.dataset as pads

    from onesource.settings import Settings


class Store:
    """Metadata DB + warehouse, behind one object. Cheap to create repeatedly."""

    def __init__(self, metadata_url: str, warehouse_root: str, *, migrate: bool = True) -> None:
        if migrate:
            ensure_migrated(metadata_url)
        self.metadata_url = metadata_url
        self.engine = engine_for(metadata_url)
        self.warehouse = Warehouse(warehouse_root)
        self._runs = RunRegistry(self.engine)
        self._ledger = VersionLedger(self.engine, self.warehouse)
        self._book = IncrementBook(self.engine)
        self.withdrawals = WithdrawalBook(self.engine)

    @classmethod
    def open(cls, settings: Settings | None = None) -> Store:
        """The store the settings describe (default: ``get_settings()``); migrates once."""
        if settings is None:
            from onesource.settings import get_settings

            settings = get_settings()
        return cls(settings.metadata_url, settings.warehouse_root)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string()!r}, {self.warehouse.url!r})"

    # runs

    def begin_run(
        self,
        kind: str,
        subject: str,
        department: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> RunHandle:
        """Record a new ``running`` run; use the handle as a context manager to finish it."""
        return RunHandle(self._runs, self._runs.begin(kind, subject, department, params))

    def finish_run(
        self,
        run_id: str,
        status: str,
        *,
        rows_read: int | None = None,
        rows_good: int | None = None,
        rows_quarantined: int | None = None,
        error: BaseException | str | None = None,
        report_path: str | None = None,
        rows_unparsable: int | None = None,
    ) -> RunInfo:
        """Close a run as succeeded, failed, rejected or killed (once).

        Counts: read = good + quarantined (failed a check) + unparsable.
        """
        return self._runs.finish(
            run_id,
            status,
            rows_read=rows_read,
            rows_good=rows_good,
            rows_quarantined=rows_quarantined,
            error=error,
            report_path=report_path,
            rows_unparsable=rows_unparsable,
        )

    def heartbeat(self, run_id: str) -> None:
        """Tell reapers on other hosts this run is alive (writers do it themselves)."""
        self._runs.heartbeat(run_id)

    def run(self, run_id: str) -> RunInfo:
        """One run by id."""
        return self._runs.get(run_id)

    def runs(
        self, subject: str | None = None, limit: int = 50, status: str | None = None
    ) -> list[RunInfo]:
        """The newest runs, optionally of one subject or status."""
        return self._runs.recent(subject, limit, status)

    def reap_stale_runs(
        self, stale_after: timedelta = STALE_AFTER, max_age: timedelta | None = None
    ) -> list[RunInfo]:
        """Mark ``running`` runs whose process died ``killed``, hung ones ``failed``; returns them.

        ``max_age`` defaults to ``ONESOURCE_RUN_TIMEOUT_S`` (24 h).
        """
        return self._runs.reap(stale_after, max_age)

    # writing

    def open_writer(
        self,
        kind: str,
        subject: str,
        run_id: str,
        schema: pa.Schema | None = None,
        *,
        base: int | None | Any = ANY_BASE,
    ) -> VersionWriter:
        """A writer for the next version of ``subject``; nothing is visible until ``commit()``.

        ``base``: the version number the written rows were built on (None when
        built on nothing); ``commit()`` then raises ``StaleBaseError`` if another
        writer moved the current version meanwhile.  Omit it for full snapshots.
        """
        check_subject(kind, subject)
        self._runs.require_running(run_id)

        def committer(writer: VersionWriter, stats: dict[str, Any]) -> VersionInfo:
            return self._ledger.commit(
                kind,
                subject,
                run_id=run_id,
                staging=writer.staging,
                row_count=writer.rows if writer.declared_rows is None else writer.declared_rows,
                schema_fingerprint=writer.fingerprint(),
                stats=stats,
                base=base,
            )

        return VersionWriter(
            self.warehouse,
            run_id,
            schema,
            committer,
            lambda: self._runs.heartbeat(run_id),
            label=f"{kind} {subject!r}",
        )

    def land_raw(
        self, resource: str, run_id: str, schema: pa.Schema | None = None
    ) -> RunFileWriter:
        """A writer for ``raw/<resource>/<run>/part-00000.parquet``, published on clean exit."""
        return self._run_writer("raw", resource, run_id, schema, "part-00000.parquet")

    def write_quarantine(
        self, resource: str, run_id: str, schema: pa.Schema | None = None
    ) -> RunFileWriter:
        """A writer for ``quarantine/<resource>/<run>/rows.parquet``, published on clean exit."""
        return self._run_writer("quarantine", resource, run_id, schema, "rows.parquet")

    def write_report(self, resource: str, run_id: str, name: str, data: bytes | str) -> str:
        """Write ``reports/<resource>/<run>/<name>``; returns the relative path."""
        check_subject("resource", resource)
        rel = f"reports/{resource}/{run_id}/{name}"
        what = f"resource {resource!r} (report of run {run_id})"
        try:
            with (
                refused_writes(what, self.warehouse.uri(rel)),
                self.warehouse.open(rel, "wb") as fh,
            ):
                fh.write(data.encode() if isinstance(data, str) else data)
        except BaseException:
            self.warehouse.remove(rel)  # no half-written report (disk full, killed)
            raise
        return rel

    def _run_writer(
        self, area: str, resource: str, run_id: str, schema: pa.Schema | None, file: str
    ) -> RunFileWriter:
        check_subject("resource", resource)
        self._runs.require_running(run_id)
        return RunFileWriter(
            self.warehouse,
            run_id,
            schema,
            f"{area}/{resource}/{run_id}",
            file,
            lambda: self._runs.heartbeat(run_id),
            label=f"resource {resource!r} ({area} files of run {run_id})",
        )

    def read_run_file(
        self, area: str, resource: str, run_id: str, columns: list[str] | None = None
    ) -> pa.Table:
        """Read a published raw landing or quarantine (``area``: raw | quarantine)."""
        if area not in ("raw", "quarantine"):
            raise StoreError(f"unknown per-run area {area!r}", hint="use raw or quarantine")
        check_subject("resource", resource)
        rel = f"{area}/{resource}/{run_id}"
        return pq.read_table(
            self.warehouse.full(rel), filesystem=self.warehouse.arrow_fs, columns=columns
        )

    # reading versions

    def current(self, kind: str, subject: str) -> VersionInfo | None:
        """The version readers see, or None."""
        return self._ledger.current(kind, subject)

    def version(self, kind: str, subject: str, number: int | None = None) -> VersionInfo:
        """One version (default: current); raises ``VersionNotFoundError``."""
        return self._ledger.get(kind, subject, number)

    def versions(self, kind: str, subject: str) -> list[VersionInfo]:
        """Every committed version, oldest first; ``.current`` marks the visible one."""
        return self._ledger.all_of(kind, subject)

    def subjects(self, kind: str | None = None) -> list[str]:
        """Names of every subject (of ``kind``, if given) that has a current version."""
        return sorted(s for k, s in self._ledger.subjects() if kind is None or k == kind)

    def read(
        self,
        kind: str,
        subject: str,
        version: int | None = None,
        columns: list[str] | None = None,
        file: str = "data.parquet",
    ) -> pa.Table:
        """A whole Parquet file of a version (default: the current one) as a table."""
        info = self._ledger.get(kind, subject, version)
        full = self.warehouse.full(f"{info.path}/{file}")
        return pq.read_table(full, filesystem=self.warehouse.arrow_fs, columns=columns)

    def dataset(
        self, kind: str, subject: str, version: int | None = None, file: str = "data.parquet"
    ) -> pads.Dataset:
        """A lazy pyarrow dataset over a version's file, for streaming (``to_batches()``)."""
        import pyarrow.dataset as pads

        info = self._ledger.get(kind, subject, version)
        full = self.warehouse.full(f"{info.path}/{file}")
        return pads.dataset(full, filesystem=self.warehouse.arrow_fs, format="parquet")

    def files(self, kind: str, subject: str, version: int | None = None) -> list[str]:
        """Names of the files in a version's folder (releases hold several)."""
        info = self._ledger.get(kind, subject, version)
        return self.warehouse.files(info.path)

    def open_file(self, kind: str, subject: str, name: str, version: int | None = None) -> IO[Any]:
        """Open one file of a version for reading (binary)."""
        info = self._ledger.get(kind, subject, version)
        return self.warehouse.open(f"{info.path}/{name}", "rb")

    def rollback(
        self, kind: str, subject: str, to: int, department: str | None = None
    ) -> VersionInfo:
        """Point readers back at an existing version; recorded as a ``rollback`` run.

        Every later version is withdrawn in the same transaction (readers get 410 Gone for
        it, a rows cursor cannot reach it, the pointer never returns to it).
        """
        check_subject(kind, subject)
        self._ledger.get(kind, subject, to)  # clear error before a run is recorded
        handle = self.begin_run("rollback", subject, department, {"kind": kind, "to": to})
        try:
            previous, _ = self.withdrawals.withdraw(
                kind, subject, None, f"rolled back to version {to}", handle.id, point_to=to
            )
        except BaseException as exc:
            handle.finish("failed", error=exc)
            raise
        handle.finish("succeeded")
        self._runs_note(handle.id, previous)
        return self._ledger.get(kind, subject, to)

    def withdraw(
        self, kind: str, subject: str, number: int, reason: str, department: str | None = None
    ) -> tuple[int | None, int | None]:
        """Withdraw one version for good (recorded as a ``rollback`` run with its reason).

        Returns ``(previous current, new current)``: withdrawing the current version moves
        readers to the newest version not withdrawn, or to none.
        """
        check_subject(kind, subject)
        params = {"kind": kind, "withdraw": number, "reason": reason}
        handle = self.begin_run("rollback", subject, department, params)
        try:
            moved = self.withdrawals.withdraw(kind, subject, [number], reason, handle.id)
        except BaseException as exc:
            handle.finish("failed", error=exc)
            raise
        handle.finish("succeeded")
        self._runs_note(handle.id, moved[0])
        return moved

    def _runs_note(self, run_id: str, previous: int | None) -> None:
        # the previous number is only known inside the pointer transaction
        from onesource.store.db import session
        from onesource.store.models import Run

        with session(self.engine, write=True) as ses:
            run = ses.get(Run, run_id)
            if run is not None:
                run.params = {**run.params, "from": previous}

    # incremental state and quality

    def get_watermark(self, resource: str, column: str) -> str | None:
        """The last high-water mark stored for ``resource.column``."""
        return self._book.get_watermark(resource, column)

    def set_watermark(
        self, resource: str, column: str, value: str, run_id: str | None = None
    ) -> None:
        """Store a new high-water mark (call after the version commits)."""
        self._book.set_watermark(resource, column, value, run_id)

    def manifest_seen(self, resource: str, sha256: str) -> ManifestEntry | None:
        """The manifest entry of a file with this content, or None when new."""
        return self._book.manifest_entry(resource, sha256)

    def record_manifest(
        self,
        resource: str,
        source: str,
        sha256: str,
        size: int,
        *,
        run_id: str | None = None,
        status: str = "processed",
        lines: int | None = None,
    ) -> bool:
        """Remember a processed file; False when this content was already recorded."""
        return self._book.record_manifest(
            resource, source, sha256, size, run_id=run_id, status=status, lines=lines
        )

    def record_quality(
        self, run_id: str, resource: str, summary: dict[str, Any], passed: bool
    ) -> None:
        """Store one run's quality summary (JSON-serialisable)."""
        self._book.record_quality(run_id, resource, summary, passed)

    def quality(self, resource: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest quality results of a resource."""
        return self._book.quality(resource, limit)

    # housekeeping

    def gc(self, *, dry_run: bool = False) -> GcReport:
        """Remove staging and version folders no committed version references."""
        return collect(self.warehouse, self._runs.running_ids, self._ledger.paths, dry_run=dry_run)
