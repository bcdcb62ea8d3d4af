"""The tamper-evident audit log: every exchange call, hash-chained in the metadata DB.

``hash = sha256(prev_hash + canonical JSON of the entry)``, where the entry
holds its ``seq`` and every column.  Appends are serialized so the chain stays
linear: a PostgreSQL advisory lock, SQLite's ``BEGIN IMMEDIATE`` write lock,
and on any backend the primary key on ``seq`` (assigned as last + 1) turns a
lost race into a retry, never a fork.

Group commit: concurrent requests hand their entries to one writer thread,
which appends everything queued in one transaction and only then releases
the waiting requests.  A response therefore never leaves before its audit
entry is committed (durability kept); batching only amortizes the commit.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from onesource.store.exchange_models import AuditEntry
from onesource.store.records import utcnow

GENESIS = "0" * 64
_LOCK_KEY = zlib.crc32(b"onesource-audit-chain")
_TABLE: sa.Table = AuditEntry.__table__  # type: ignore[assignment]
BATCH_MAX = 500


@dataclass
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


@dataclass(frozen=True)
class AuditCheck:
    """The outcome of walking the chain."""

    ok: bool
    entries: int
    head_seq: int | None
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None


def canonical(entry: dict[str, Any]) -> str:
    """The exact text an entry's hash covers (sorted keys, UTC microsecond timestamps)."""
    out = dict(entry)
    at = out["at"]
    if isinstance(at, datetime):
        out["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(out, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode()).hexdigest()


_COLUMNS = (
    "seq",
    "at",
    "department",
    "endpoint",
    "method",
    "resource",
    "fields",
    "purpose",
    "result",
    "status_code",
    "row_count",
    "duration_ms",
)


def _entry(seq: int, rec: AuditRecord) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": rec.at or utcnow(),
        "department": rec.department,
        "endpoint": str(rec.endpoint)[:500],
        "method": str(rec.method)[:8],
        "resource": rec.resource[:200] if rec.resource else rec.resource,
        "fields": list(rec.fields) if rec.fields is not None else None,
        "purpose": rec.purpose,
        "result": rec.result,
        "status_code": rec.status_code,
        "row_count": rec.row_count,
        "duration_ms": round(float(rec.duration_ms), 3) if rec.duration_ms is not None else None,
    }


class AuditLog:
    """Append, verify and query the chain; ``submit`` group-commits from many threads."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._cond = threading.Condition()
        self._queue: list[tuple[AuditRecord, Future[int]]] = []
        self._writer: threading.Thread | None = None

    # appending

    def append(self, record: AuditRecord) -> int:
        """Append one entry now; returns its seq."""
        return self.append_many([record])[0]

    def append_many(self, records: list[AuditRecord]) -> list[int]:
        """Append entries in one transaction, in order; returns their seqs."""
        for attempt in range(5):
            try:
                return self._append_once(records)
            except sa.exc.IntegrityError:
                if attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))  # another writer took the seq: reread the head
        raise AssertionError("unreachable")

    def _append_once(self, records: list[AuditRecord]) -> list[int]:
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn = conn.execution_options(sqlite_immediate=True)  # take the write lock first
            with conn.begin():
                return self._append_in(conn, records)

    def _append_in(self, conn: sa.Connection, records: list[AuditRecord]) -> list[int]:
        if self.engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        head = conn.execute(
            sa.select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1)
        ).first()
        seq, prev = (head[0], head[1]) if head is not None else (0, GENESIS)
        rows = []
        for rec in records:
            seq += 1
            entry = _entry(seq, rec)
            digest = chain_hash(prev, entry)
            rows.append({**entry, "prev_hash": prev, "hash": digest})
            prev = digest
        conn.execute(sa.insert(_TABLE), rows)
        return [r["seq"] for r in rows]

    def submit(self, record: AuditRecord) -> Future[int]:
        """Queue an entry for the writer thread; the future resolves once it is committed."""
        fut: Future[int] = Future()
        with self._cond:
            self._queue.append((record, fut))
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_loop, name="audit-writer", daemon=True
                )
                self._writer.start()
            self._cond.notify()
        return fut

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._cond.wait(timeout=10.0)
                if not self._queue:
                    self._writer = None  # idle: let the thread end; submit starts another
                    return
                batch, self._queue = self._queue[:BATCH_MAX], self._queue[BATCH_MAX:]
            try:
                seqs = self.append_many([r for r, _ in batch])
            except BaseException as exc:
                for _, fut in batch:
                    fut.set_exception(exc)
            else:
                for (_, fut), seq in zip(batch, seqs, strict=True):
                    fut.set_result(seq)

    # reading

    def _rows(self, chunk: int = 5000) -> Iterator[Any]:
        last = 0
        with self.engine.connect() as conn:
            while True:
                rows = conn.execute(
                    sa.select(_TABLE).where(_TABLE.c.seq > last).order_by(_TABLE.c.seq).limit(chunk)
                ).all()
                if not rows:
                    return
                yield from rows
                last = rows[-1].seq

    def verify(self) -> AuditCheck:
        """Walk the chain from the start; name the first entry that was altered or deleted."""
        prev = GENESIS
        expected_seq = 1
        count = 0
        head_seq = None
        for row in self._rows():
            entry = {k: getattr(row, k) for k in _COLUMNS}
            if row.seq != expected_seq:
                return AuditCheck(
                    False,
                    count,
                    head_seq,
                    prev,
                    expected_seq,
                    f"seq {expected_seq} is missing (deleted); the log continues at {row.seq}",
                )
            if row.prev_hash != prev:
                return AuditCheck(
                    False,
                    count,
                    head_seq,
                    prev,
                    row.seq,
                    "prev_hash does not match the entry before",
                )
            if chain_hash(prev, entry) != row.hash:
                return AuditCheck(
                    False, count, head_seq, prev, row.seq, "entry was altered (hash mismatch)"
                )
            prev = row.hash
            head_seq = row.seq
            expected_seq += 1
            count += 1
        return AuditCheck(True, count, head_seq, prev)

    def query(
        self,
        department: str | None = None,
        resource: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        seq: int | None = None,
    ) -> list[dict[str, Any]]:
        """The newest entries matching every given filter, newest first."""
        stmt = sa.select(_TABLE).order_by(_TABLE.c.seq.desc()).limit(limit)
        if seq is not None:
            stmt = stmt.where(_TABLE.c.seq == seq)
        if department is not None:
            stmt = stmt.where(_TABLE.c.department == department)
        if resource is not None:
            stmt = stmt.where(_TABLE.c.resource == resource)
        if since is not None:
            stmt = stmt.where(_TABLE.c.at >= since)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]
