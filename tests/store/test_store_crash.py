"""A writer killed with SIGKILL never changes what readers see.

A child process streams a large version and is killed at two points: in
the middle of writing its Parquet file, and right after renaming the folder
into place but before the DB commit (held there by the store's pause hook).
Afterwards readers still see the previous version, the run is reaped as
killed, gc removes the leftovers, and the next run commits normally.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from onesource.store import Store
from onesource.store.ledger import PAUSE_ENV, PAUSE_MARKER_ENV

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import sys, time
import numpy as np
import pyarrow as pa
from onesource.store import Store

url, root, marker, point = sys.argv[1:5]
store = Store(url, root)
run = store.begin_run("ingest", "big")
schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("score", pa.float64())])
n = 65_536
with store.open_writer("resource", "big", run.id, schema) as writer:
    for i in range(17):  # 1.1 M rows: the first 1 M-row group reaches the file
        ids = np.arange(i * n, (i + 1) * n, dtype=np.int64)
        names = pa.array(ids.astype(str)).cast(pa.string())
        writer.write(pa.record_batch([pa.array(ids), names, pa.array(ids / 3.0)], schema=schema))
    if point == "mid-write":
        open(marker, "w").write(point)
        while True:  # the file has row groups but no footer yet
            time.sleep(1)
    writer.commit()  # pauses at the store's "after-rename" hook
"""


def _kill_at(point: str, store: Store, tmp_path: Path) -> None:
    marker = tmp_path / f"{point}.marker"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if point == "after-rename":
        env[PAUSE_ENV] = "after-rename"
        env[PAUSE_MARKER_ENV] = str(marker)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store.metadata_url, store.warehouse.url, str(marker), point],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"child exited early: {child.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["mid-write", "after-rename"])
def test_sigkilled_writer_changes_nothing_readers_see(
    point: str, tmp_path: Path, rows: Callable[..., Any], commit: Callable[..., Any]
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'meta.db'}", str(tmp_path / "warehouse"))
    before = rows(0, 10)
    assert commit(store, "big", before) == 1

    _kill_at(point, store, tmp_path)

    # the leftovers exist on disk (so the kill really happened where we meant) ...
    curated = store.warehouse.listdir("curated/big")
    if point == "mid-write":
        (staged,) = store.warehouse.listdir("_staging")
        assert store.warehouse.size(f"_staging/{staged}") > 0
        assert len(curated) == 1
    else:
        assert store.warehouse.listdir("_staging") == []
        assert len(curated) == 2 and any(name.startswith("v2-") for name in curated)

    # ... but readers see only version 1
    current = store.current("resource", "big")
    assert current is not None and current.number == 1
    assert [v.number for v in store.versions("resource", "big")] == [1]
    assert store.read("resource", "big").equals(before)
    assert store.files("resource", "big") == ["data.parquet"]

    killed = store.runs(subject="big", status="running")
    assert len(killed) == 1
    reaped = store.reap_stale_runs()
    assert [r.id for r in reaped] == [killed[0].id]
    assert (reaped[0].status, reaped[0].error_code) == ("killed", "run-killed")
    assert store.runs(subject="big", status="running") == []

    report = store.gc()
    assert len(report.removed) == 1
    assert store.warehouse.listdir("_staging") == []
    assert store.warehouse.listdir("curated/big") == [current.path.rsplit("/", 1)[-1]]

    assert commit(store, "big", rows(100, 3)) == 2
    assert store.read("resource", "big").equals(rows(100, 3))


def test_gc_keeps_folders_of_running_runs(local_store: Store, rows: Callable[..., Any]) -> None:
    run = local_store.begin_run("ingest", "people")
    writer = local_store.open_writer("resource", "people", run.id, rows(0, 0).schema)
    writer.write(rows(0, 5))
    report = local_store.gc()
    assert report.removed == [] and report.kept_running == [writer.staging]
    assert writer.commit().number == 1
    run.finish()
