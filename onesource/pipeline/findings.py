"""What a run found besides its good rows: unparsable rows, quarantined files, extra columns.

One set of counts for every view (ingest summary, ``quality report``,
``versions``, ``runs``)::

    read = good + quarantined (failed a check) + unparsable (could not be read)

Rows of a quarantined file are in none of them: the file was not read.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from onesource.store import Store
from schemas.resource import Resource

# unparsable rows listed in the quality report itself (all of them are in unparsed_rows.json)
LISTED_UNPARSABLE = 1000


def unparsable_entries(rejects: pa.Table | None) -> list[dict[str, Any]]:
    """The report's list: file, line, column (when one column is to blame) and reason."""
    from connectors.cast import reason_column

    if rejects is None or rejects.num_rows == 0:
        return []
    out = []
    for row in rejects.slice(0, LISTED_UNPARSABLE).to_pylist():
        reason = str(row.get("reason") or "")
        column = reason_column(reason) if reason.startswith("column ") else None
        out.append(
            {
                "file": row.get("source"),
                "line": row.get("line"),
                "column": column,
                "reason": reason,
            }
        )
    return out


def counts(read: int, good: int, quarantined: int, unparsable: int) -> dict[str, int]:
    """The run's counts under the names every view uses."""
    return {
        "rows_read": read,
        "rows_good": good,
        "rows_quarantined": quarantined,
        "rows_unparsable": unparsable,
    }


def count_unparsable(report: Any, unparsable: int) -> None:
    """Count unparsable rows against the rejection threshold (updates the quality report).

    ``failure_share = (quarantined + unparsable) / read``: rows that could not be
    read at all are failures too, so a batch where many lines do not decode (or do
    not parse) is rejected rather than committed without them.
    """
    if unparsable <= 0:
        return
    read = report.rows_checked + unparsable
    failed = report.rows_quarantined + unparsable
    share = failed / read
    report.failure_share = round(share, 6)
    if share > report.rejection_threshold:
        reason = (
            f"{failed:,} of {read:,} rows ({share:.1%}) fail blocking checks or cannot be read "
            f"({unparsable:,} unparsable), above the threshold of "
            f"{report.rejection_threshold:.1%}"
        )
        old = report.rejection_reason or ""
        if "fail blocking checks, above the threshold" in old:  # the engine's share, now recounted
            old = "; ".join(p for p in old.split("; ") if "above the threshold" not in p)
        report.rejection_reason = reason + ("; " + old if old else "")
        report.rejected = True


def add_findings(report: dict[str, Any], extraction: Any, rejects: pa.Table | None) -> None:
    """Put unparsable rows, quarantined files and ignored columns into a quality report."""
    report["unparsable"] = unparsable_entries(rejects)
    report["unparsable_listed"] = len(report["unparsable"])
    report["files_quarantined"] = quarantined_files(extraction)
    report["extra_columns"] = dict(getattr(extraction, "extra_columns", {}) or {})


def quarantined_files(extraction: Any) -> list[dict[str, Any]]:
    """Files refused whole, with their path and reason."""
    return [
        {"file": q.path, "sha256": q.sha256, "size": q.size, "reason": q.reason}
        for q in getattr(extraction, "quarantined", []) or []
    ]


def record_quarantined_files(store: Store, res: Resource, run_id: str, extraction: Any) -> None:
    """Remember refused files by content: not read again until they change."""
    for q in getattr(extraction, "quarantined", []) or []:
        store.record_manifest(
            res.name, q.path, q.sha256, size=q.size, run_id=run_id, status="quarantined"
        )


def files_line(extraction: Any) -> str | None:
    """``2 file(s) quarantined: a.csv ([code] reason); ...`` or None."""
    files = getattr(extraction, "quarantined", []) or []
    if not files:
        return None
    shown = "; ".join(f"{q.path} ({q.reason[:200]})" for q in files[:5])
    more = f"; and {len(files) - 5} more" if len(files) > 5 else ""
    return f"{len(files)} file(s) quarantined: {shown}{more}"
