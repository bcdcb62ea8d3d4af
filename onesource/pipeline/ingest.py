"""Ingest: extract from the department, land raw, check quality, commit a version.

A failed, rejected or killed run never changes what readers see: the new
version becomes visible only when the store moves its pointer, after every
check passed.  Transient source failures are re-raised as ``TransientError``
so a scheduler retries them; everything else is recorded and terminal.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from onesource.lineage import traced
from onesource.pipeline.commit import commit_rows
from onesource.pipeline.findings import (
    add_findings,
    count_unparsable,
    counts,
    files_line,
    quarantined_files,
    record_quarantined_files,
)
from onesource.pipeline.outputs import (
    advance_watermark,
    consistency_report,
    record_files,
    rejects_table,
    report_dict,
    stats,
    write_quarantine,
    write_reports,
)
from onesource.store import Store
from schemas.arrow import resource_schema
from schemas.catalog import Catalog
from schemas.errors import NotFoundError, TerminalError, TransientError
from schemas.resource import Resource

Progress = Callable[[int], None]


@dataclass
class IngestResult:
    resource: str
    run_id: str
    status: str  # succeeded | rejected | failed | unchanged
    version: int | None = None
    rows_read: int = 0
    rows_good: int = 0
    rows_quarantined: int = 0
    rows_unparsed: int = 0
    files_skipped: int = 0
    files_quarantined: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    report_paths: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        colour = {"succeeded": "green", "unchanged": "cyan", "rejected": "yellow"}.get(
            self.status, "red"
        )
        text = f"[{colour}]{self.status}[/] {self.resource}: run {self.run_id}"
        if self.version is not None:
            text += f", version {self.version}"
        text += f", {self.rows_read:,} read, {self.rows_good:,} good, {self.rows_quarantined:,} quarantined"
        if self.rows_unparsed:
            text += f", {self.rows_unparsed:,} unparsable"
        if self.files_skipped:
            text += f", {self.files_skipped} file(s) already processed"
        for q in self.files_quarantined[:5]:
            text += f"\n  quarantined file {q['file']}: {q['reason'][:300]}"
        if len(self.files_quarantined) > 5:
            text += f"\n  and {len(self.files_quarantined) - 5} more quarantined file(s)"
        if self.error:
            text += f"\n  {self.error}"
        if self.report_paths.get("html"):
            text += f"\n  quality report: {self.report_paths['html']}"
        return text


def _context(
    resource: str, store: Store | None, catalog: Catalog | None
) -> tuple[Store, Catalog, Resource]:
    if catalog is None:
        from onesource.catalog.compiled import load_compiled
        from onesource.settings import get_settings

        catalog = load_compiled(get_settings().catalog)
    res = catalog.resources.get(resource)
    if res is None:
        raise NotFoundError("resource", resource, list(catalog.resources))
    return store or Store.open(), catalog, res


@traced("ingest")
def ingest(
    resource: str,
    *,
    store: Store | None = None,
    catalog: Catalog | None = None,
    trigger: str = "cli",
    department: str | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Pull ``resource`` from its department's source and commit a checked version."""
    from connectors.registry import get_source

    store, catalog, res = _context(resource, store, catalog)
    if res.connector.type == "push":
        raise TerminalError(
            f"resource {resource!r} is pushed by {res.provider!r} through the exchange API; there is nothing to pull",
            hint="departments push with POST /api/exchange/resources/{name}/pushes",
        )
    store.reap_stale_runs()
    schema = resource_schema(catalog, res)
    handle = store.begin_run(
        "ingest", resource, department, {"trigger": trigger, "connector": res.connector.type}
    )
    try:
        source = get_source(res.connector.type)
        state = _state(store, res, progress)
        extraction = source.extract(res, schema, state)
        return _process(store, catalog, res, schema, handle, extraction, extraction.batches(), now)
    except BaseException as exc:
        _fail(handle, exc)
        raise


@traced("ingest")
def ingest_push(
    resource: str,
    data: bytes,
    *,
    filename: str,
    fmt: str,
    department: str,
    store: Store | None = None,
    catalog: Catalog | None = None,
    now: datetime | None = None,
    max_rows: int | None = None,
    max_columns: int | None = None,
) -> IngestResult:
    """Run a department's pushed batch through the same check and commit pipeline.

    ``max_rows`` / ``max_columns`` bound the file (``ReadLimitError`` names the limit).
    """
    from connectors.push import read_push

    store, catalog, res = _context(resource, store, catalog)
    if res.provider != department:
        raise TerminalError(
            f"department {department!r} does not own resource {resource!r}; only {res.provider!r} may push"
        )
    store.reap_stale_runs()  # a push is "the next run" too: dead or hung runs are closed
    schema = resource_schema(catalog, res)
    handle = store.begin_run("push", resource, department, {"filename": filename, "format": fmt})
    try:
        extraction = read_push(
            res,
            schema,
            data,
            filename=filename,
            fmt=fmt,
            max_rows=max_rows,
            max_columns=max_columns,
        )
        return _process(
            store,
            catalog,
            res,
            schema,
            handle,
            extraction,
            extraction.batches(),
            now,
            full_replace=False,
        )
    except BaseException as exc:
        _fail(handle, exc)
        raise


def _fail(handle: Any, exc: BaseException) -> None:
    if getattr(handle, "result", None) is not None:
        return  # already finished
    status = "killed" if isinstance(exc, KeyboardInterrupt | SystemExit) else "failed"
    with contextlib.suppress(Exception):  # never mask the original error
        handle.finish(status, error=exc)


def _state(store: Store, res: Resource, progress: Progress | None) -> Any:
    from connectors.base import SourceState

    conn = res.connector
    watermark = None
    column = getattr(getattr(conn, "incremental", None), "column", None)
    if column:
        watermark = store.get_watermark(res.name, column)
    return SourceState(
        watermark=watermark,
        seen=lambda sha: store.manifest_seen(res.name, sha) is not None,
        progress=progress or (lambda rows: None),
    )


def _process(
    store: Store,
    catalog: Catalog,
    res: Resource,
    schema: pa.Schema,
    handle: Any,
    extraction: Any,
    batches: Iterable[pa.RecordBatch],
    now: datetime | None,
    full_replace: bool | None = None,
) -> IngestResult:
    from onesource.quality import check_batch

    run_id = handle.id
    result = IngestResult(resource=res.name, run_id=run_id, status="failed")

    # 1. land the raw rows of this run (streamed; bounded memory)
    with store.land_raw(res.name, run_id, schema) as raw:
        for batch in batches:
            raw.write(batch)
            result.rows_read += batch.num_rows
    rejects = rejects_table(extraction)
    result.rows_unparsed = rejects.num_rows if rejects is not None else 0
    result.files_skipped = len(getattr(extraction, "skipped", []) or [])
    landed = (
        store.read_run_file("raw", res.name, run_id) if result.rows_read else schema.empty_table()
    )
    # one set of counts everywhere: read = good + quarantined (failed a check) + unparsable
    result.rows_read += result.rows_unparsed

    incremental = bool(getattr(res.connector, "incremental", None)) or res.connector.type in (
        "files",
        "push",
    )
    if full_replace is None:
        full_replace = not incremental
    current = store.current("resource", res.name)
    result.files_quarantined = quarantined_files(extraction)
    if result.rows_read == 0 and result.files_quarantined:
        return _only_bad_files(store, res, handle, result, extraction)
    if result.rows_read == 0 and not full_replace:
        # nothing new (an empty drop, or only files already seen): no version, not even a first
        result.status = "unchanged"
        handle.finish("succeeded", rows_read=0, rows_good=0, rows_quarantined=0, rows_unparsable=0)
        record_files(store, res, run_id, extraction)
        return result

    # 2. quality: one suite run over the whole landed batch
    # row-count bounds compare full snapshots only; an incremental batch is a delta
    previous = current.row_count if current is not None and full_replace else None
    outcome = check_batch(catalog, res, landed, previous_rows=previous, now=now)
    count_unparsable(outcome.report, result.rows_unparsed)
    report = report_dict(outcome.report)
    report["run_id"] = run_id
    report["unparsed_rows"] = result.rows_unparsed
    add_findings(report, extraction, rejects)
    result.rows_quarantined = outcome.quarantine.num_rows
    good_rows = 0 if outcome.rejected else outcome.good.num_rows
    report.update(
        counts(result.rows_read, good_rows, result.rows_quarantined, result.rows_unparsed)
    )

    # 3. consistency of other departments' copies against their sources (a report, never a change)
    consistency = consistency_report(store, catalog, res, outcome.good)
    report["consistency"] = consistency
    if consistency and consistency.get("agreement") is not None:
        report.setdefault("scores", {})["consistency"] = round(consistency["agreement"], 6)
    outcome.report.consistency = consistency
    if "scores" in report:
        outcome.report.scores = report["scores"]
    result.report = report

    # 4. quarantine and reports are kept with the run, whatever happens next
    write_quarantine(store, res.name, run_id, outcome.quarantine, rejects)
    result.report_paths = write_reports(store, res.name, run_id, outcome.report, report)

    store.record_quality(run_id, res.name, report, not outcome.rejected)
    if outcome.rejected:
        result.status = "rejected"
        result.error = report.get("rejection_reason") or "the batch failed its quality gate"
        record_quarantined_files(store, res, run_id, extraction)
        handle.finish(
            "rejected",
            rows_read=result.rows_read,
            rows_good=0,
            rows_quarantined=result.rows_quarantined,
            rows_unparsable=result.rows_unparsed,
            report_path=result.report_paths.get("json"),
            error=TerminalError(result.error),
        )
        return result

    # 5. the new version: full snapshot, or the current version merged with the new rows
    # by key (compare-and-swap: a concurrent commit makes it merge again, never lose rows)
    result.rows_good = outcome.good.num_rows
    info = commit_rows(
        store,
        res,
        schema,
        run_id,
        outcome.good,
        full_replace=full_replace,
        stats={
            "quality": stats(report),
            "rows_new": outcome.good.num_rows,
            "trigger": handle_params(handle),
        },
    )
    if info is None:
        # same content as the current version: no new version, nothing downstream to rebuild
        result.status = "unchanged"
    else:
        result.version = info.number
        result.status = "succeeded"

    # 6. only after the commit: move the watermark and remember processed files
    advance_watermark(store, res, run_id, outcome.good, extraction)
    record_files(store, res, run_id, extraction)
    record_quarantined_files(store, res, run_id, extraction)
    handle.finish(
        "succeeded",
        rows_read=result.rows_read,
        rows_good=result.rows_good,
        rows_quarantined=result.rows_quarantined,
        rows_unparsable=result.rows_unparsed,
        report_path=result.report_paths.get("json"),
    )
    return result


def _only_bad_files(
    store: Store, res: Resource, handle: Any, result: IngestResult, extraction: Any
) -> IngestResult:
    """Every new file was quarantined: nothing to check or commit; the run says which and why."""
    report: dict[str, Any] = {
        "run_id": handle.id,
        "resource": res.name,
        **counts(0, 0, 0, 0),
        "rows_checked": 0,
        "unparsed_rows": 0,
    }
    add_findings(report, extraction, None)
    result.report = report
    result.report_paths = {
        "json": store.write_report(
            res.name, handle.id, "quality.json", json.dumps(report, ensure_ascii=False, indent=1)
        )
    }
    store.record_quality(handle.id, res.name, report, False)
    record_quarantined_files(store, res, handle.id, extraction)
    record_files(store, res, handle.id, extraction)
    result.status = "rejected"
    result.error = files_line(extraction)
    handle.finish(
        "rejected",
        rows_read=0,
        rows_good=0,
        rows_quarantined=0,
        rows_unparsable=0,
        report_path=result.report_paths["json"],
        error=TerminalError(result.error or "every file was quarantined"),
    )
    return result


def handle_params(handle: Any) -> str:
    return (
        str(getattr(getattr(handle, "info", None), "params", {}).get("trigger", ""))
        if hasattr(handle, "info")
        else ""
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = ["IngestResult", "ingest", "ingest_push", "TransientError"]
