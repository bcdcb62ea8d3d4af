"""Run a resource's checks once over a batch: split good rows from quarantine.

Rows failing blocking checks go to quarantine with their key and reasons;
warning checks only report.  Above the resource's rejection threshold, or
when a batch-level check fails, the whole batch is rejected and the runner
commits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from onesource.quality.checks import Check, compile_checks
from onesource.quality.report import BatchCheck, CheckResult, QualityReport
from schemas.catalog import Catalog
from schemas.resource import Resource
from schemas.vocab import Severity

SAMPLES = 10


@dataclass
class QualityOutcome:
    good: pa.Table
    quarantine: pa.Table
    report: QualityReport

    @property
    def rejected(self) -> bool:
        return self.report.rejected


def check_batch(
    catalog: Catalog,
    resource: Resource,
    table: pa.Table,
    *,
    previous_rows: int | None = None,
    now: datetime | None = None,
    engine: str = "arrow",
) -> QualityOutcome:
    """Check one batch; never raises for bad data (findings are results)."""
    checks = compile_checks(catalog, resource)
    if engine == "gx":
        from onesource.quality.gx import failures_with_gx

        masks = failures_with_gx(catalog, resource, checks, table)
    else:
        masks = {c.id: c.failures(table) for c in checks}
    n = table.num_rows
    blocking = np.zeros(n, bool)
    for c in checks:
        if c.severity is Severity.blocking:
            blocking |= masks[c.id]
    samples = {c.id: np.flatnonzero(masks[c.id])[:SAMPLES] for c in checks}
    keys = _keys(
        table,
        resource.primary_key,
        np.unique(np.concatenate([*samples.values(), np.zeros(0, np.int64)])),
    )
    results = [
        CheckResult(
            c.id,
            c.kind,
            "+".join(c.fields),
            c.severity.value,
            c.description,
            n,
            int(masks[c.id].sum()),
            [keys[int(i)] for i in samples[c.id]],
        )
        for c in checks
    ]
    failed = int(blocking.sum())
    share = failed / n if n else 0.0
    batch = _batch_checks(resource, table, previous_rows, now or datetime.now(UTC))
    reason = None
    if share > resource.quality.rejection_threshold:
        reason = (
            f"{failed:,} of {n:,} rows ({share:.1%}) fail blocking checks, above the threshold "
            f"of {resource.quality.rejection_threshold:.1%}"
        )
    for b in batch:
        if not b.passed and b.severity == "blocking":
            reason = (reason + "; " if reason else "") + b.detail
    quarantine = _quarantine(table, resource.primary_key, checks, masks, blocking)
    good = table.filter(pa.array(~blocking)) if failed else table
    report = QualityReport(
        resource=resource.name,
        provider=resource.provider,
        title=resource.title,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        rows_checked=n,
        rows_passed=n - failed,
        rows_quarantined=failed,
        failure_share=round(share, 6),
        rejection_threshold=resource.quality.rejection_threshold,
        rejected=reason is not None,
        rejection_reason=reason,
        checks=results,
        batch_checks=batch,
        scores=_scores(table, checks, masks, blocking, batch),
        engine=engine,
    )
    return QualityOutcome(good, quarantine, report)


def _keys(table: pa.Table, key: list[str], rows: np.ndarray) -> dict[int, str]:
    """Key text of the given rows only (samples), never of the whole batch."""
    cols = [k for k in key if k in table.column_names]
    if not cols or not len(rows):
        return {int(r): "" for r in rows}
    picked = table.select(cols).take(pa.array(rows, pa.int64())).to_pylist()
    return {
        int(r): "/".join("" if v is None else str(v) for v in row.values())
        for r, row in zip(rows, picked, strict=True)
    }


def _quarantine(
    table: pa.Table,
    key: list[str],
    checks: list[Check],
    masks: dict[str, np.ndarray],
    blocking: np.ndarray,
) -> pa.Table:
    """The failing rows themselves, with the ids of the blocking checks each failed."""
    rows = np.flatnonzero(blocking)
    # (row, check) pairs built per check, then grouped by row: no per-row Python work
    pair_rows, pair_ids = [], []
    for c in checks:
        if c.severity is Severity.blocking:
            hit = np.flatnonzero(masks[c.id] & blocking)
            pair_rows.append(hit)
            pair_ids.append(np.full(len(hit), c.id, dtype=object))
    all_rows = np.concatenate(pair_rows) if pair_rows else np.zeros(0, np.int64)
    all_ids = np.concatenate(pair_ids) if pair_ids else np.zeros(0, object)
    order = np.argsort(all_rows, kind="stable")
    counts = (
        np.bincount(np.searchsorted(rows, all_rows[order]), minlength=len(rows))
        if len(rows)
        else np.zeros(0, int)
    )
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    reasons = pa.ListArray.from_arrays(pa.array(offsets), pa.array(all_ids[order], pa.string()))
    picked = table.take(pa.array(rows, pa.int64())) if len(rows) else table.slice(0, 0)
    return picked.append_column("_reasons", reasons).append_column(
        "_row", pa.array(rows, pa.int64())
    )


def _batch_checks(
    res: Resource, table: pa.Table, previous_rows: int | None, now: datetime
) -> list[BatchCheck]:
    out: list[BatchCheck] = []
    bounds = res.quality.row_count_change
    if bounds is not None and previous_rows:
        n = table.num_rows
        lo, hi = previous_rows * (1 - bounds.max_drop), previous_rows * (1 + bounds.max_growth)
        ok = lo <= n <= hi
        out.append(
            BatchCheck(
                "row_count_change",
                "blocking",
                ok,
                f"{n:,} rows against {previous_rows:,} in the previous version "
                f"(allowed {int(lo):,} to {int(hi):,})",
            )
        )
    if res.quality.freshness_field and res.update_cycle.max_age_days is not None:
        import pyarrow.compute as pc

        newest = pc.max(table[res.quality.freshness_field]).as_py() if table.num_rows else None
        if newest is not None and not isinstance(newest, datetime):
            newest = datetime(newest.year, newest.month, newest.day)
        if newest is not None and newest.tzinfo is None:
            newest = newest.replace(tzinfo=UTC)
        age = (now - newest).total_seconds() / 86400 if newest else None
        limit = res.update_cycle.max_age_days * 2  # one cycle late is tolerated
        ok = age is not None and age <= limit
        detail = (
            (
                f"newest {res.quality.freshness_field} is {age:.1f} days old; the {res.update_cycle.value} cycle "
                f"allows {limit:g}"
            )
            if age is not None
            else f"no {res.quality.freshness_field} values"
        )
        out.append(BatchCheck("freshness", "warning", ok, detail))
    return out


def _scores(
    table: pa.Table,
    checks: list[Check],
    masks: dict[str, np.ndarray],
    blocking: np.ndarray,
    batch: list[BatchCheck],
) -> dict[str, float | None]:
    n = table.num_rows
    if n == 0:
        return {
            "completeness": None,
            "validity": None,
            "uniqueness": None,
            "timeliness": None,
            "consistency": None,
        }
    cells = n * table.num_columns
    nulls = sum(table[c].null_count for c in table.column_names)
    dup = next((masks[c.id] for c in checks if c.id.endswith(":primary_key")), np.zeros(n, bool))
    fresh = [b for b in batch if b.id == "freshness"]
    return {
        "completeness": round(1 - nulls / cells, 6),
        "validity": round(1 - float(blocking.sum()) / n, 6),
        "uniqueness": round(1 - float(dup.sum()) / n, 6),
        "timeliness": (1.0 if fresh[0].passed else 0.0) if fresh else None,
        "consistency": None,
    }


def summary(outcome: QualityOutcome) -> dict[str, Any]:
    r = outcome.report
    return {
        "rows_checked": r.rows_checked,
        "rows_quarantined": r.rows_quarantined,
        "rejected": r.rejected,
    }
