"""One audit entry: what a call is logged as, and the bounds every stored entry keeps
(long field lists, names and purposes are cut with a marker, never refused: the call
is logged whatever it carried)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from onesource.store.records import utcnow


@dataclass(slots=True)
class AuditRecord:
    """One exchange call as it will be logged."""

    department: str | None
    endpoint: str
    method: str
    result: str
    status_code: int
    resource: str | None = None
    fields: list[str] | None = None
    purpose: str | None = None
    row_count: int | None = None
    duration_ms: float | None = None
    at: datetime | None = None


MAX_FIELDS = 64  # field names kept in one entry
MAX_FIELD_CHARS = 200  # characters kept of one field name
MAX_PURPOSE_CHARS = 2000
TRUNCATED = "…"  # ends a name cut short; "…(+N more)" ends a cut list


def _cap(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + TRUNCATED


def _fields(fields: list[str] | None) -> list[str] | None:
    """At most ``MAX_FIELDS`` names of at most ``MAX_FIELD_CHARS``, cut with a marker."""
    if fields is None:
        return None
    kept = [_cap(str(f), MAX_FIELD_CHARS) or "" for f in fields[:MAX_FIELDS]]
    if len(fields) > MAX_FIELDS:
        kept.append(f"{TRUNCATED}(+{len(fields) - MAX_FIELDS} more)")
    return kept


def _entry(seq: int, rec: AuditRecord, marker: str) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": rec.at or utcnow(),
        "department": rec.department,
        "endpoint": str(rec.endpoint)[:500],
        "method": str(rec.method)[:8],
        "resource": rec.resource[:200] if rec.resource else rec.resource,
        "fields": _fields(rec.fields),
        "purpose": _cap(rec.purpose, MAX_PURPOSE_CHARS),
        "result": rec.result,
        "status_code": rec.status_code,
        "row_count": rec.row_count,
        "duration_ms": round(float(rec.duration_ms), 3) if rec.duration_ms is not None else None,
        "chain": marker,
    }
