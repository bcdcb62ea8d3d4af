"""Runs that die or hang never stay ``running`` and never commit late.

An ``onesource run ingest`` process is SIGKILLed while it holds the commit
transaction (after the compare-and-swap check, the pointer row locked), on
SQLite and on PostgreSQL: readers still see nothing new,
``onesource gc`` marks the run killed, and the next ingest commits normally.
A run older than ``ONESOURCE_RUN_TIMEOUT_S`` is marked failed by the next run,
and its writer can no longer commit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from onesource.store import RunStateError, Store
from onesource.store.ledger import PAUSE_ENV, PAUSE_MARKER_ENV
from onesource.store.models import Run

REPO = Path(__file__).resolve().parents[2]
ONESOURCE = str(Path(sys.executable).with_name("onesource"))
HEAD = "学籍号,身份证号,姓名,性别,学校,年级,入学日期,户籍区划"


def students(start: int, n: int) -> bytes:
    from schemas.identifiers import id_check_char

    rows = []
    for i in range(start, start + n):
        body = f"33990220100101{i:03d}"
        rows.append(f"S{i:05d},{body + id_check_char(body)},学生{i},1,清河一小,3,2019-09-01,339902")
    return ("\n".join([HEAD, *rows]) + "\n").encode()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def metadata_env(
    request: pytest.FixtureRequest, hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment for the hub's processes: the default SQLite DB, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return {}
    from onesource.settings import get_settings

    url = request.getfixturevalue("pg_schema")
    monkeypatch.setenv("ONESOURCE_DB_URL", url)
    get_settings.cache_clear()
    return {"ONESOURCE_DB_URL": url}


@pytest.mark.slow
def test_sigkill_inside_the_commit_then_gc_marks_the_run_killed(
    metadata_env: dict[str, str], tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.csv").write_bytes(students(0, 5))
    env = {
        **os.environ,
        **metadata_env,
        "ONESOURCE_CONN_EDU_DROP": f"file://{drop}",
        "PYTHONPATH": str(REPO),
    }
    first = subprocess.run(
        [ONESOURCE, "run", "ingest", "students"], env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stdout + first.stderr
    (drop / "b.csv").write_bytes(students(100, 5))
    marker = tmp_path / "paused"
    child = subprocess.Popen(
        [ONESOURCE, "run", "ingest", "students"],
        env={**env, PAUSE_ENV: "after-base-check", PAUSE_MARKER_ENV: str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"child exited early: {child.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)  # it holds the metadata DB's write transaction
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    store = Store.open()
    assert store.current("resource", "students").number == 1
    assert store.read("resource", "students").num_rows == 5
    (stuck,) = store.runs("students", status="running")

    gc = subprocess.run([ONESOURCE, "gc"], env=env, capture_output=True, text=True)
    assert gc.returncode == 0, gc.stdout + gc.stderr
    assert f"run {stuck.id}" in gc.stdout and "marked killed" in gc.stdout
    assert store.run(stuck.id).status == "killed"

    again = subprocess.run(
        [ONESOURCE, "run", "ingest", "students"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert store.read("resource", "students").num_rows == 10


def test_a_hung_run_is_failed_by_the_next_run_and_cannot_commit_late(
    local_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = local_store
    schema = pa.schema([("id", pa.int64())])
    hung = store.begin_run("ingest", "people")
    writer = store.open_writer("resource", "people", hung.id, schema)
    writer.write(pa.table({"id": [1, 2]}, schema=schema))
    # it started two days ago (and its heartbeat thread still beats)
    from onesource.store.db import session
    from onesource.store.records import utcnow

    with session(store.engine, write=True) as ses:
        ses.execute(
            sa.update(Run).where(Run.id == hung.id).values(started_at=utcnow() - timedelta(days=2))
        )
    monkeypatch.setenv("ONESOURCE_RUN_TIMEOUT_S", "86400")
    reaped = store.reap_stale_runs()  # what the next run (and gc) does first
    assert [(r.id, r.status, r.error_code) for r in reaped] == [
        (hung.id, "failed", "run-timed-out")
    ]
    assert "ONESOURCE_RUN_TIMEOUT_S" in (reaped[0].error_message or "")
    with pytest.raises(RunStateError, match="not running"):
        writer.commit()
    assert store.current("resource", "people") is None
    assert store.gc().removed == []  # the refused writer cleaned up after itself
