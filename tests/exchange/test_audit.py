"""The audit chain: linear under concurrency, and any edit or deletion is found."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

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


def test_rehashed_edit_still_breaks_the_next_link(log: AuditLog) -> None:
    from onesource.exchange.audit import chain_hash

    log.append_many([_record(i) for i in range(4)])
    # a forger who recomputes row 2's hash cannot fix row 3's prev_hash without rewriting all
    rows = log.query(seq=2)
    entry = {k: rows[0][k] for k in rows[0] if k not in ("prev_hash", "hash")}
    entry["row_count"] = 999
    forged = chain_hash(rows[0]["prev_hash"], entry)
    with log.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE audit_log SET row_count = 999, hash = :h WHERE seq = 2"), {"h": forged}
        )
    check = log.verify()
    assert not check.ok and check.first_bad_seq == 3


def test_cli_verify_exit_codes_and_query(log: AuditLog) -> None:
    from onesource.cli.main import app

    log.append_many([_record(i) for i in range(3)] + [_record(9, dept="psb")])
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "4 entries" in ok.output
    out = runner.invoke(app, ["audit", "query", "--department", "psb", "--json"])
    assert out.exit_code == 0 and out.output.count('"department": "psb"') == 1
    with log.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 4"))
    truncated = runner.invoke(app, ["audit", "verify", "--expect-head", "4:"])
    assert truncated.exit_code == 1 and "seq 4" in truncated.output
    with log.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET method = 'GET' WHERE seq = 2"))
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "seq 2" in bad.output


@pytest.mark.services
def test_chain_on_postgresql_with_concurrent_writers(pg_schema: str) -> None:
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
