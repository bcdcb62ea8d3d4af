"""What an ingest run leaves behind: its reports, quarantine, watermark and file manifest."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pyarrow as pa

from onesource.store import Store
from schemas.catalog import Catalog
from schemas.errors import OneSourceError
from schemas.resource import Resource


def report_dict(report: Any) -> dict[str, Any]:
    if hasattr(report, "to_dict"):
        return dict(report.to_dict())
    if hasattr(report, "model_dump"):
        return dict(report.model_dump(mode="json"))
    parsed: dict[str, Any] = json.loads(report.to_json())
    return parsed


def stats(report: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "rows_checked",
        "rows_passed",
        "rows_quarantined",
        "rows_failed",
        "failure_share",
        "warnings",
        "rejected",
        "unparsed_rows",
        "rows_read",
        "rows_good",
        "rows_unparsable",
    )
    return {k: report[k] for k in keep if k in report}


def rejects_table(extraction: Any) -> pa.Table | None:
    if hasattr(extraction, "rejects_table"):
        table = extraction.rejects_table()
        return table if table.num_rows else None
    rejects = getattr(extraction, "rejects", None)
    if rejects is None:
        return None
    if isinstance(rejects, pa.Table):
        return rejects
    if isinstance(rejects, list):
        if not rejects:
            return None
        rows = [r if isinstance(r, dict) else asdict(r) for r in rejects]
        return pa.Table.from_pylist(
            [{k: (None if v is None else str(v)) for k, v in r.items()} for r in rows]
        )
    return None


def write_quarantine(
    store: Store, resource: str, run_id: str, quarantine: pa.Table, rejects: pa.Table | None
) -> None:
    if quarantine.num_rows:
        with store.write_quarantine(resource, run_id, quarantine.schema) as q:
            q.write(quarantine)
    if rejects is not None and rejects.num_rows:
        store.write_report(
            resource,
            run_id,
            "unparsed_rows.json",
            json.dumps(rejects.to_pylist(), ensure_ascii=False, indent=1, default=str),
        )


def write_reports(
    store: Store, resource: str, run_id: str, report_obj: Any, report: dict[str, Any]
) -> dict[str, str]:
    from onesource.quality import render_html

    paths = {
        "json": store.write_report(
            resource,
            run_id,
            "quality.json",
            json.dumps(report, ensure_ascii=False, indent=1, default=str),
        )
    }
    try:
        paths["html"] = store.write_report(
            resource, run_id, "quality.html", render_html(report_obj)
        )
    except Exception as exc:  # a rendering bug must not lose the run
        paths["html_error"] = f"{type(exc).__name__}: {exc}"
    return paths


def consistency_report(
    store: Store, catalog: Catalog, res: Resource, table: pa.Table
) -> dict[str, Any] | None:
    from onesource.quality import compare_copies

    def read_source(name: str) -> pa.Table | None:
        return store.read("resource", name) if store.current("resource", name) else None

    def version(name: str) -> int | None:
        info = store.current("resource", name)
        return info.number if info else None

    try:
        rep = compare_copies(catalog, res, table, read_source, version)
    except OneSourceError as exc:
        return {"error": str(exc)}
    return report_dict(rep) if rep is not None else None


def advance_watermark(
    store: Store, res: Resource, run_id: str, good: pa.Table, extraction: Any
) -> None:
    inc = getattr(res.connector, "incremental", None)
    if inc is None:
        return
    value = getattr(extraction, "new_watermark", None)
    if value is None and good.num_rows and inc.column in good.column_names:
        import pyarrow.compute as pc

        value = pc.max(good[inc.column]).as_py()
    if value is not None:
        store.set_watermark(
            res.name,
            inc.column,
            value.isoformat() if hasattr(value, "isoformat") else str(value),
            run_id,
        )


def record_files(store: Store, res: Resource, run_id: str, extraction: Any) -> None:
    for ref in getattr(extraction, "files", []) or []:
        store.record_manifest(
            res.name,
            ref.path,
            ref.sha256,
            size=ref.size,
            run_id=run_id,
            status="processed",
            lines=getattr(ref, "rows", None),
        )
