"""The tamper-evident audit log: every exchange call, hash-chained in the metadata DB.

``hash = HMAC(key, prev_hash + canonical JSON of the entry)`` (see
``onesource.exchange.chain``), where the entry holds its ``seq``, every column and
the chain marker; the key lives outside the DB.  Signed checkpoints of the head go to
a store the DB cannot rewrite (``onesource.exchange.checkpoints``) every N entries or
T seconds, when the writer goes idle and when the process exits.  Appends are serialized so the chain stays
linear: a PostgreSQL advisory lock, SQLite's ``BEGIN IMMEDIATE`` write lock
(or, for the writer thread on SQLite, one atomic INSERT per batch), and on
any backend the primary key on ``seq`` (assigned as last + 1) turns a lost
race into a retry, never a fork.

Group commit: concurrent requests hand their entries to one writer thread,
which appends everything queued in one transaction and only then releases
the waiting requests.  A response therefore never leaves before its audit
entry is committed (durability kept); batching only amortizes the commit.
The writer does the whole chain work (seq, hash) and inserts with raw DB-API
calls (values converted by the columns' own SQLAlchemy bind processors, so
rows are stored exactly as the ORM would): on SQLite one multi-row INSERT
per batch, elsewhere one ``executemany`` in the locked transaction.  An
event loop waits with ``submit_async``: the writer wakes each loop once per
batch instead of once per entry.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import logging
import threading
import time
import weakref
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from onesource.exchange.audit_insert import Insert as _Insert
from onesource.exchange.audit_record import AuditRecord, _entry
from onesource.exchange.chain import GENESIS, ChainKey, canonical, legacy_hash
from onesource.exchange.config import AuditSettings
from onesource.metrics import AUDIT_FAILED, AUDIT_LAG, AUDIT_QUEUE, AUDIT_WRITTEN
from onesource.store.exchange_models import AuditEntry

log = logging.getLogger("onesource.exchange")
_LOCK_KEY = zlib.crc32(b"onesource-audit-chain")
_TABLE: sa.Table = AuditEntry.__table__  # type: ignore[assignment]
BATCH_MAX = 500
# SQLite: WAL checkpoints move off the writer's commit path (see AuditLog._checkpoint_loop);
# one is requested after this many entries (~1,000-3,000 WAL pages, SQLite's default is 1,000)
CHECKPOINT_EVERY = 1000


@dataclass(frozen=True)
class AuditCheck:
    """The outcome of walking the chain and matching it against the signed checkpoints."""

    ok: bool
    entries: int
    head_seq: int | None
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None
    kind: str | None = None  # what broke: altered | missing | truncated | checkpoint | unanchored
    legacy_entries: int = 0  # entries of the original unkeyed chain
    checkpoints: int = 0
    last_checkpoint_seq: int | None = None
    unanchored: int = 0  # entries after the newest checkpoint
    notes: tuple[str, ...] = ()


chain_hash = legacy_hash  # the original unkeyed link (kept for callers of the old name)
__all__ = ["GENESIS", "AuditCheck", "AuditLog", "AuditRecord", "canonical", "chain_hash"]


def _settle(items: list[tuple[asyncio.Future[int], int | BaseException]]) -> None:
    """On the waiting loop: resolve every future of one batch."""
    for fut, outcome in items:
        if fut.done():  # the caller went away (cancelled)
            continue
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)


class AuditLog:
    """Append, verify and query the chain; ``submit`` group-commits from many threads."""

    def __init__(self, engine: sa.Engine, settings: AuditSettings | None = None) -> None:
        self.engine = engine
        self.settings = (settings or AuditSettings()).resolved()
        self._ckey: ChainKey | None = None
        self._signer: Any = None
        self._anchor_lock = threading.Lock()
        self._pending: tuple[int, str, str] | None = None  # newest entry not yet checkpointed
        self._since_anchor = 0
        # the first entries a process appends are checkpointed at once: a log with a chain
        # key always has a checkpoint, so `audit verify` can refuse one that has none
        self._anchored_at = float("-inf")
        self._log_id: str | None = None
        ref = weakref.ref(self)
        atexit.register(lambda: (log_ := ref()) is not None and log_.anchor())
        self._cond = threading.Condition()
        self._queue: list[tuple[AuditRecord, Future[int] | asyncio.Future[int]]] = []
        self._writer: threading.Thread | None = None
        self._oldest_at: float | None = None  # when the oldest queued entry was submitted
        self._insert: _Insert | None = None
        self._head: tuple[int, str] | None = None  # the writer thread's view of the last entry
        self._checkpoint_due = threading.Event()
        self._checkpoint_done = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._closing = False  # close(): the writer and the WAL checkpointer stop when idle

    def close(self, timeout: float = 30.0) -> bool:
        """Write what is queued, checkpoint the newest entry, stop the background threads.

        The writer and the WAL checkpointer otherwise end only after 10 idle seconds;
        the web app's shutdown and tests call this so that none is left running. A later
        ``submit`` starts a writer again. False when a thread did not stop in ``timeout``.
        """
        with self._cond:
            self._closing = True
            writer = self._writer
            self._cond.notify_all()
        try:
            if writer is not None:
                writer.join(timeout)
            with self._cond:
                checkpointer = self._checkpointer
            if checkpointer is not None:
                self._checkpoint_due.set()  # wake it: one last catch-up, then it ends
                checkpointer.join(timeout)
            self.anchor()
            return not any(t is not None and t.is_alive() for t in (writer, checkpointer))
        finally:
            with self._cond:
                self._closing = False

    def _ins(self) -> _Insert:
        ins = self._insert
        if ins is None:
            ins = self._insert = _Insert(self.engine.dialect)
        return ins

    @property
    def log_id(self) -> str:
        """Which log checkpoints speak of: the operator's name, else the id kept in
        ``audit-log.id`` beside the key files (made once, outside the DB, so the way the
        DB URL is spelled does not matter)."""
        if self.settings.log_id:
            return self.settings.log_id
        if self._log_id is None:
            self._log_id = self._stored_log_id()
        return self._log_id

    def _stored_log_id(self) -> str:
        import secrets

        from onesource.exchange.checkpoints import CheckpointStore

        assert self.settings.signing_key_file is not None
        path = self.settings.signing_key_file.with_name("audit-log.id")
        try:
            text = path.read_text().strip()
            if text:
                return text
        except FileNotFoundError:
            pass
        # first use: a log checkpointed before the id file existed keeps its old id (the
        # hash of its DB URL); a new log gets a random one
        url = self.engine.url.render_as_string(hide_password=True)
        old = hashlib.sha256(url.encode()).hexdigest()[:16]
        try:
            known = any(
                old in line for _, line in CheckpointStore(self.settings.checkpoints or "").lines()
            )
        except OSError:
            known = False
        new = old if known else secrets.token_hex(8)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x") as fh:
                fh.write(new + "\n")
        except FileExistsError:
            return path.read_text().strip() or new
        except OSError:
            log.warning("audit: cannot keep the log id in %s", path)
        return new

    def chain_key(self, *, create: bool = True) -> ChainKey | None:
        """The chain's HMAC key (made on first use at the default path when ``create``)."""
        if self._ckey is None:
            from onesource.exchange.keyfiles import secret_key

            st = self.settings
            key = secret_key(
                env_value=st.key,
                path=st.key_file,
                default_path=st.default_key_file(),
                create=create,
                what="audit chain key",
            )
            if key is None:
                return None
            self._ckey = ChainKey(key, st.hash)
        return self._ckey

    def _chain(
        self, seq: int, prev: str, records: list[AuditRecord]
    ) -> tuple[list[Any], tuple[int, str]]:
        """The rows for ``records`` chained after entry ``seq`` (hash ``prev``), and the new head."""
        ins = self._ins()
        ckey = self.chain_key()
        assert ckey is not None
        marker = ckey.marker
        rows = []
        for rec in records:
            seq += 1
            entry = _entry(seq, rec, marker)
            digest = ckey.digest(prev, entry)
            entry["prev_hash"] = prev
            entry["hash"] = digest
            rows.append(ins.params(entry))
            prev = digest
        return rows, (seq, prev)

    # appending

    def append(self, record: AuditRecord) -> int:
        """Append one entry now; returns its seq."""
        return self.append_many([record])[0]

    def append_many(self, records: list[AuditRecord]) -> list[int]:
        """Append entries in one transaction, in order; returns their seqs."""
        for attempt in range(5):
            try:
                seqs, head = self._append_once(records)
                if threading.current_thread() is self._writer:
                    self._head = head  # the writer's next batch can chain on it directly
                self._appended(head, len(records))
                return seqs
            except sa.exc.IntegrityError:
                if attempt == 4:
                    raise
                time.sleep(0.01 * (attempt + 1))  # another writer took the seq: reread the head
        raise AssertionError("unreachable")

    def _append_once(self, records: list[AuditRecord]) -> tuple[list[int], tuple[int, str]]:
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn = conn.execution_options(sqlite_immediate=True)  # take the write lock first
            with conn.begin():
                return self._append_in(conn, records)

    def _append_in(
        self, conn: sa.Connection, records: list[AuditRecord]
    ) -> tuple[list[int], tuple[int, str]]:
        if self.engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        head = conn.exec_driver_sql(self._ins().head_sql).first()
        seq, prev = (int(head[0]), str(head[1])) if head is not None else (0, GENESIS)
        rows, new_head = self._chain(seq, prev, records)
        self._ins().execute(conn, rows)  # raw DB-API, no per-row ORM/Core work
        return list(range(seq + 1, seq + 1 + len(records))), new_head

    def _append_sqlite(self, raw: Any, records: list[AuditRecord]) -> list[int]:
        """The writer's SQLite path: the batch as ONE autocommit multi-row INSERT.

        One statement is one transaction (atomic, committed like any other), and one
        GIL release: the sqlite3 module releases the GIL around every statement step, and
        each time this thread wants it back while the event loop is busy it may wait a
        whole switch interval (5 ms), so BEGIN / read head / INSERT / COMMIT cost up to
        ~20 ms of latency per batch where one statement costs up to 5.  The head is kept
        in memory.  If another writer (another process) appended meanwhile, the first seq
        already exists and the primary key refuses the whole statement; the batch then
        goes through ``append_many`` (write lock first, head read under it), which cannot
        lose that race, and the head is read again next time.
        """
        ins = self._ins()
        if self._head is None or len(records) > ins.rows_per_statement:
            self._head = None
            return self.append_many(records)
        seq, prev = self._head
        rows, head = self._chain(seq, prev, records)
        cur = raw.cursor()
        try:
            cur.execute(ins.multi_sql(len(rows)), tuple(v for r in rows for v in r))
        except self.engine.dialect.loaded_dbapi.IntegrityError:
            self._head = None  # another writer appended: take the lock this time
            return self.append_many(records)
        finally:
            cur.close()
        self._head = head
        self._appended(head, len(records))
        return list(range(seq + 1, seq + 1 + len(records)))

    # signed checkpoints (anchors)

    def _appended(self, head: tuple[int, str], count: int) -> None:
        """Note the newest entry this process wrote; checkpoint it when N or T is reached."""
        ckey = self.chain_key()
        assert ckey is not None
        with self._anchor_lock:
            if self._pending is None or head[0] > self._pending[0]:
                self._pending = (head[0], head[1], ckey.marker)
            self._since_anchor += count
            due = (
                self._since_anchor >= self.settings.checkpoint_every
                or time.monotonic() - self._anchored_at >= self.settings.checkpoint_seconds
            )
        if due:
            self.anchor()

    def anchor(self, head: tuple[int, str, str | None] | None = None) -> bool:
        """Write a signed checkpoint of ``head`` (default: the newest entry this process
        appended and has not checkpointed yet); False when there is nothing to write."""
        from onesource.exchange.checkpoints import CheckpointStore, Signer
        from onesource.exchange.keyfiles import ed25519_private

        with self._anchor_lock:
            target = head or self._pending
            if target is None:
                return False
            if self._signer is None:
                path = self.settings.signing_key_file
                assert path is not None and self.settings.checkpoints is not None
                self._signer = Signer(ed25519_private(path, create=True))
            cp = self._signer.checkpoint(self.log_id, *target)
            try:
                CheckpointStore(self.settings.checkpoints or "").append(cp)
            except OSError:
                log.exception("audit: cannot write a checkpoint to %s", self.settings.checkpoints)
                return False
            if head is None or (self._pending is not None and head[0] >= self._pending[0]):
                self._pending = None
                self._since_anchor = 0
            self._anchored_at = time.monotonic()
            return True

    def submit(self, record: AuditRecord) -> Future[int]:
        """Queue an entry for the writer thread; the future resolves once it is committed."""
        fut: Future[int] = Future()
        self._enqueue(record, fut)
        return fut

    def submit_async(self, record: AuditRecord) -> asyncio.Future[int]:
        """Like ``submit``, for the running event loop: await the result (the entry's seq).

        The writer resolves all of a batch's futures of one loop with one wake-up.
        """
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._enqueue(record, fut)
        return fut

    def _enqueue(self, record: AuditRecord, fut: Future[int] | asyncio.Future[int]) -> None:
        with self._cond:
            if not self._queue:
                self._oldest_at = time.monotonic()
            self._queue.append((record, fut))
            AUDIT_QUEUE.inc()
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_loop, name="audit-writer", daemon=True
                )
                self._writer.start()
            self._cond.notify()

    def _write_loop(self) -> None:
        sqlite = self._ins().multirow
        raw: Any = None  # SQLite: a pooled DB-API connection kept while busy
        since_checkpoint = 0
        try:
            while True:
                with self._cond:
                    if not self._queue and not self._closing:
                        self._cond.wait(timeout=min(10.0, self.settings.checkpoint_seconds))
                    idle = not self._queue
                if idle:
                    self.anchor()  # the newest entries get their checkpoint before the pause
                    with self._cond:
                        if not self._queue:
                            self._writer = None  # idle: let the thread end; submit starts another
                            return
                with self._cond:
                    batch, self._queue = self._queue[:BATCH_MAX], self._queue[BATCH_MAX:]
                    oldest = self._oldest_at
                    # entries left behind were submitted before now: their lag is undercounted
                    self._oldest_at = time.monotonic() if self._queue else None
                AUDIT_QUEUE.dec(len(batch))
                records = [r for r, _ in batch]
                outcomes: list[int] | list[BaseException]
                try:
                    if sqlite:
                        if raw is None:
                            raw = self._writer_connection()
                        if self._checkpoint_done.is_set():
                            self._checkpoint_done.clear()
                            self._catch_up(raw)
                        outcomes = self._append_sqlite(raw, records)
                        since_checkpoint += len(records)
                        if since_checkpoint >= CHECKPOINT_EVERY:
                            since_checkpoint = 0
                            self._request_checkpoint()
                    else:
                        outcomes = self.append_many(records)
                except BaseException as exc:
                    outcomes = [exc] * len(batch)
                    self._head = None
                    if raw is not None:  # do not reuse a connection that failed
                        raw.invalidate()
                        raw = None
                self._resolve(batch, outcomes)
                if oldest is not None:
                    AUDIT_LAG.observe(time.monotonic() - oldest)
                if outcomes and isinstance(outcomes[0], BaseException):
                    AUDIT_FAILED.inc(len(batch))
                else:
                    AUDIT_WRITTEN.inc(len(batch))
        finally:
            self._head = None  # appends by others while idle: reread on the next start
            if raw is not None:
                self._release_writer_connection(raw)
                if since_checkpoint:
                    self._request_checkpoint()

    # SQLite WAL checkpoints, off the commit path

    def _writer_connection(self) -> Any:
        """A pooled DB-API connection that never checkpoints on commit.

        With the default ``wal_autocheckpoint`` the commit that pushes the WAL past 1,000
        pages also copies them into the database file and fsyncs it, 10-20 ms on a busy
        disk, every ~25 batches, while every request of the batch (and those queued behind
        it) waits: that was most of the verification p99.  Here the copying happens on the
        checkpointer thread (``_checkpoint_loop``) while the writer goes on; the writer
        itself only copies what it appended meanwhile (``_catch_up``).
        """
        raw = self.engine.raw_connection()
        cur = raw.cursor()
        try:
            cur.execute("PRAGMA wal_autocheckpoint = 0")
        finally:
            cur.close()
        return raw

    @staticmethod
    def _catch_up(raw: Any) -> None:
        """After a background checkpoint: copy the few frames appended during it.

        The WAL can only start over from its beginning when a write begins with every
        frame copied; under a steady stream of batches that never happens by itself, and the
        WAL file would grow for as long as the load lasts.  Copying the rest here (~50
        frames, ~1 ms) lets the next INSERT restart it.  A passive checkpoint returns at
        once if another one is running.
        """
        cur = raw.cursor()
        try:
            cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            cur.close()

    @staticmethod
    def _release_writer_connection(raw: Any) -> None:
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA wal_autocheckpoint = 1000")  # SQLite's default, for the pool
            cur.close()
        except Exception:
            raw.invalidate()
        raw.close()

    def _request_checkpoint(self) -> None:
        self._checkpoint_due.set()
        with self._cond:
            if self._checkpointer is None or not self._checkpointer.is_alive():
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop, name="audit-checkpoint", daemon=True
                )
                self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        """Run ``PRAGMA wal_checkpoint(PASSIVE)`` when the writer asks.

        A passive checkpoint neither blocks nor waits for writers or readers: the writer
        keeps appending to the WAL while older frames are copied, and the WAL restarts from
        its beginning once everything was copied.  Other connections of the process keep
        SQLite's automatic checkpoints.
        """
        while self._checkpoint_due.wait(timeout=10.0):
            self._checkpoint_due.clear()
            try:
                raw = self.engine.raw_connection()  # autocommit: no transaction around it
                try:
                    self._catch_up(raw)
                finally:
                    raw.close()
            except Exception:
                log.warning("audit: WAL checkpoint failed; SQLite retries on a later commit")
            else:
                self._checkpoint_done.set()
            if self._closing:
                break
        with self._cond:
            if self._checkpointer is threading.current_thread():
                self._checkpointer = None

    @staticmethod
    def _resolve(
        batch: list[tuple[AuditRecord, Future[int] | asyncio.Future[int]]],
        outcomes: Sequence[int | BaseException],
    ) -> None:
        per_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for (_, fut), outcome in zip(batch, outcomes, strict=True):
            if isinstance(fut, asyncio.Future):
                per_loop.setdefault(fut.get_loop(), []).append((fut, outcome))
                continue
            with contextlib.suppress(InvalidStateError):  # cancelled: nobody waits for it
                if isinstance(outcome, BaseException):
                    fut.set_exception(outcome)
                else:
                    fut.set_result(outcome)
        for loop, items in per_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, items)

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

    def verify(self, accept_legacy: int | None = None) -> AuditCheck:
        """Walk the chain from the start and match it against the signed checkpoints."""
        from onesource.exchange.audit_verify import verify_log

        return verify_log(self, accept_legacy)

    def query(
        self,
        department: str | None = None,
        resource: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        seq: int | None = None,
        result: str | None = None,
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
        if result is not None:
            stmt = stmt.where(_TABLE.c.result == result)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]
