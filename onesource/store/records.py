"""Plain values the store hands out: run and version records, id generation."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

RunKind = Literal["ingest", "push", "release", "base", "scorecard", "rollback"]
RunStatus = Literal["running", "succeeded", "failed", "rejected", "killed"]
SubjectKind = Literal["resource", "release", "base"]

RUN_KINDS: tuple[str, ...] = ("ingest", "push", "release", "base", "scorecard", "rollback")
RUN_STATUSES: tuple[str, ...] = ("running", "succeeded", "failed", "rejected", "killed")
FINAL_STATUSES: tuple[str, ...] = ("succeeded", "failed", "rejected", "killed")
SUBJECT_KINDS: tuple[str, ...] = ("resource", "release", "base")

# warehouse area holding each subject kind's versions
AREA_OF_KIND: dict[str, str] = {"resource": "curated", "release": "open", "base": "base"}

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A ULID: 26 Crockford base32 chars, sortable by creation time, safe in paths."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class VersionInfo:
    """One committed, immutable version of a resource, release or base entity."""

    kind: str
    subject: str
    number: int
    run_id: str
    path: str  # relative to the warehouse root
    row_count: int
    bytes: int
    schema_fingerprint: str
    created_at: datetime
    stats: dict[str, Any] = field(default_factory=dict)
    current: bool = False


@dataclass(frozen=True)
class RunInfo:
    """One execution of a pipeline step, as recorded in ``runs``."""

    id: str
    kind: str
    subject: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    rows_read: int | None = None
    rows_good: int | None = None
    rows_quarantined: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    report_path: str | None = None
    department: str | None = None
    host: str | None = None
    pid: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def rows_unparsable(self) -> int | None:
        """Rows the source held that could not be read (kept in ``params``)."""
        value = self.params.get("rows_unparsable")
        return int(value) if value is not None else None
