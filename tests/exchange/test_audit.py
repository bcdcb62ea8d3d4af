"""The audit chain: linear under concurrency, and any edit or deletion is found."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from onesource.exchange import audit
from onesource.exchange.audit import AuditLog, AuditRecord
from onesource.store import Store


def _record(i: int, dept: str | None = "edu") -> AuditRecord:
    return AuditRecord(
        department=dept,
        endpoint="/api/exchange/verify",
        method="POST",
        result="ok",
        status_code=200,
        resource="population_register",
        fields=["name"],
        row_count=i,
        duration_ms=1.5,
    )


@pytest.fixture
def log(hub_home: Path) -> AuditLog:
    return AuditLog(Store.open().engine)


def test_appends_chain_and_verify(log: AuditLog) -> None:
    seqs = log.append_many([_record(i) for i in range(5)])
    assert seqs == [1, 2, 3, 4, 5]
    check = log.verify()
    assert check.ok and check.entries == 5 and check.head_seq == 5


def test_group_commit_from_many_threads_keeps_one_chain(log: AuditLog) -> None:
    futures = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(25):
            fut = log.submit(_record(n * 100 + i))
            with lock:
                futures.append(fut)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = sorted(f.result(timeout=10) for f in futures)
    assert seqs == list(range(1, 201))
    assert log.verify().ok


def test_writer_rechains_when_another_writer_appended(log: AuditLog) -> None:
    """The writer keeps the head in memory; an append elsewhere (another process) is found
    by the primary key and the batch is chained again after it, never forked."""
    assert log.submit(_record(1)).result(timeout=10) == 1
    other = AuditLog(log.engine)
    assert other.append_many([_record(2), _record(3)]) == [2, 3]
    assert log.submit(_record(4)).result(timeout=10) == 4
    stop = threading.Event()

    def elsewhere() -> None:
        while not stop.is_set():
            other.append(_record(0))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    try:
        seqs = [f.result(timeout=30) for f in [log.submit(_record(i)) for i in range(200)]]
    finally:
        stop.set()
        thread.join()
    assert len(set(seqs)) == 200
    check = log.verify()
    assert check.ok and check.entries == check.head_seq


def test_a_cancelled_waiter_does_not_stop_the_writer(log: AuditLog) -> None:
    futures = [log.submit(_record(i)) for i in range(100)]
    cancelled = [f for f in futures[::3] if f.cancel()]
    later = log.submit(_record(1000))
    assert later.result(timeout=10) >= 1  # the writer survived setting a cancelled future
    assert all(f.result(timeout=10) >= 1 for f in futures if f not in cancelled)
    assert log.verify().ok


def test_submit_async_resolves_every_waiter(log: AuditLog) -> None:
    async def main() -> list[int]:
        return list(await asyncio.gather(*(log.submit_async(_record(i)) for i in range(50))))

    assert sorted(asyncio.run(main())) == list(range(1, 51))
    assert log.verify().ok


def test_submit_async_reports_a_failed_write(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(raw: object, records: object) -> list[int]:
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(log, "_append_sqlite", broken)

    async def main() -> None:
        await log.submit_async(_record(1))

    with pytest.raises(sa.exc.OperationalError):
        asyncio.run(main())
    monkeypatch.undo()
    assert log.submit(_record(2)).result(timeout=10) == 1  # the writer recovers
    assert log.verify().ok


def test_wal_checkpoints_run_beside_the_writer(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "CHECKPOINT_EVERY", 10)
    done = threading.Event()
    catch_up = AuditLog._catch_up

    def counting(raw: object) -> None:
        catch_up(raw)
        done.set()

    monkeypatch.setattr(AuditLog, "_catch_up", staticmethod(counting))
    for i in range(5):
        futures = [log.submit(_record(10 * i + j)) for j in range(10)]
        assert [f.result(timeout=10) for f in futures] == list(range(10 * i + 1, 10 * i + 11))
    assert done.wait(timeout=30)  # the checkpointer copied the WAL into the database
    assert log.verify().ok

    raw = log._writer_connection()  # never checkpoints on its own commits ...
    assert raw.cursor().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    log._release_writer_connection(raw)  # ... and is reset before the pool gets it back
    with log.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000


@pytest.mark.parametrize(
    "tamper,bad_seq",
    [
        ("UPDATE audit_log SET fields = '[\"mobile\"]' WHERE seq = 3", 3),
        ("UPDATE audit_log SET department = 'psb' WHERE seq = 4", 4),
        ("UPDATE audit_log SET status_code = 403 WHERE seq = 1", 1),
        ("DELETE FROM audit_log WHERE seq = 2", 2),
    ],
    ids=["update-fields", "update-department", "update-status", "delete-row"],
)
def test_tampering_is_detected_with_its_seq(log: AuditLog, tamper: str, bad_seq: int) -> None:
    log.append_many([_record(i) for i in range(6)])
    with log.engine.begin() as conn:
        conn.execute(sa.text(tamper))
    check = log.verify()
    assert not check.ok
    assert check.first_bad_seq == bad_seq


def test_rehashed_edit_is_found_at_the_edited_entry(log: AuditLog) -> None:
    from onesource.exchange.audit import chain_hash

    log.append_many([_record(i) for i in range(4)])
    # a forger who rehashes row 2 without the chain key (kept outside the DB) is found at row 2
    rows = log.query(seq=2)
    entry = {k: rows[0][k] for k in rows[0] if k not in ("prev_hash", "hash")}
    entry["row_count"] = 999
    forged = chain_hash(rows[0]["prev_hash"], entry)
    with log.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE audit_log SET row_count = 999, hash = :h WHERE seq = 2"), {"h": forged}
        )
    check = log.verify()
    assert not check.ok and check.first_bad_seq == 2


def test_cli_verify_exit_codes_and_query(log: AuditLog) -> None:
    from onesource.cli.main import app

    log.append_many([_record(i) for i in range(3)] + [_record(9, dept="psb")])
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "4 entries" in ok.output
    out = runner.invoke(app, ["audit", "query", "--department", "psb", "--json"])
    assert out.exit_code == 0 and out.output.count('"department": "psb"') == 1
    head = log.query(limit=1, seq=4)[0]["hash"]
    with log.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 4"))
    truncated = runner.invoke(app, ["audit", "verify", "--expect-head", f"4:{head}"])
    assert truncated.exit_code == 1 and "seq 4" in truncated.output
    with log.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET method = 'GET' WHERE seq = 2"))
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "seq 2" in bad.output


@pytest.mark.services
def test_chain_on_postgresql_with_concurrent_writers(pg_schema: str, hub_home: Path) -> None:
    from onesource.store.db import migrate

    migrate(pg_schema)
    logs = [AuditLog(Store(pg_schema, "memory://audit-pg").engine) for _ in range(2)]
    threads = [
        threading.Thread(target=lambda lg=lg: [lg.append(_record(i)) for i in range(20)])
        for lg in logs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check = logs[0].verify()
    assert check.ok and check.entries == 40


@pytest.mark.services
def test_group_commit_on_postgresql(pg_schema: str, hub_home: Path) -> None:
    from onesource.store.db import migrate

    migrate(pg_schema)
    log = AuditLog(Store(pg_schema, "memory://audit-pg").engine)

    async def main() -> list[int]:
        return list(await asyncio.gather(*(log.submit_async(_record(i)) for i in range(30))))

    seqs = asyncio.run(main())
    seqs.append(log.submit(_record(0)).result(timeout=30))
    assert sorted(seqs) == list(range(1, 32))
    rows = log.query(limit=1)
    assert rows[0]["fields"] == ["name"] and rows[0]["at"].tzinfo is not None
    assert log.verify().ok
