"""``AuditLog.close()``: nothing queued is lost, the newest entry is checkpointed, and
no writer or WAL-checkpoint thread is left running (they used to linger 10 idle seconds,
and a later fork-based step, e.g. the parallel catalog parse, then refused to run)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from onesource.exchange import audit
from onesource.exchange.audit import AuditLog, AuditRecord
from onesource.store import Store


def _record(i: int) -> AuditRecord:
    return AuditRecord(
        department="edu",
        endpoint="/api/exchange/verify",
        method="POST",
        result="ok",
        status_code=200,
        resource="population_register",
        fields=["name"],
        row_count=i,
        duration_ms=1.0,
    )


def _audit_threads(before: set[threading.Thread]) -> list[str]:
    """Audit threads started since ``before`` (other tests' idle writers do not count)."""
    return [
        t.name for t in threading.enumerate() if t.name.startswith("audit-") and t not in before
    ]


def test_close_writes_the_queue_checkpoints_and_stops_every_thread(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "CHECKPOINT_EVERY", 1)  # the WAL checkpointer starts too
    before = set(threading.enumerate())
    log = AuditLog(Store.open().engine)
    futures = [log.submit(_record(i)) for i in range(50)]
    assert sorted(f.result(timeout=30) for f in futures) == list(range(1, 51))
    assert _audit_threads(before), "the writer should still be up (it idles for 10 s)"
    queued = [log.submit(_record(i)) for i in range(50, 60)]  # not yet written, perhaps

    assert log.close(timeout=30)
    assert _audit_threads(before) == []
    assert sorted(f.result(timeout=0) for f in queued) == list(range(51, 61))
    check = log.verify()
    assert check.ok and check.entries == 60
    assert log._pending is None, "the newest entry has its signed checkpoint"

    # closed is not dead: the next entry starts a writer again
    assert log.submit(_record(99)).result(timeout=30) == 61
    assert log.close(timeout=30) and _audit_threads(before) == []
