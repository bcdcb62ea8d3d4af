"""The store on an S3-protocol server (moto, through s3fs): the same guarantees as on a folder.

A version is visible only when its pointer (a row in the metadata DB) moves; a writer
SIGKILLed in the middle of a multipart upload, or after its objects were copied into
place but before the DB commit, changes nothing a fresh reader sees, and ``onesource gc``
removes the objects and aborts the upload it left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from onesource.store import Store, uploads
from onesource.store.ledger import PAUSE_ENV, PAUSE_MARKER_ENV
from onesource.store.warehouse import WarehousePermissionError, WarehouseUnavailableError
from tests.s3.server import KEYS, new_bucket

REPO = Path(__file__).resolve().parents[2]
ONESOURCE = Path(sys.executable).with_name("onesource")


@pytest.fixture(scope="module")
def bucket() -> Iterator[str]:
    mp = pytest.MonkeyPatch()
    try:
        yield new_bucket(mp, "store")
    finally:
        mp.undo()


@pytest.fixture
def s3_store(bucket: str, tmp_path: Path) -> Store:
    """A fresh store: SQLite metadata, warehouse under a fresh prefix of the bucket."""
    return Store(f"sqlite:///{tmp_path / 'meta.db'}", f"s3://{bucket}/{uuid.uuid4().hex[:8]}")


def objects(store: Store) -> list[str]:
    """Every object under the warehouse root, relative to it (straight from the server)."""
    return store.warehouse.files("")


def test_commit_read_rollback_gc(
    s3_store: Store, rows: Callable[..., pa.Table], commit: Callable[..., int]
) -> None:
    assert commit(s3_store, "people", rows(0, 5)) == 1
    assert commit(s3_store, "people", rows(10, 3)) == 2
    current = s3_store.current("resource", "people")
    assert current is not None and current.number == 2
    assert s3_store.read("resource", "people").equals(rows(10, 3))
    assert s3_store.dataset("resource", "people").to_table().num_rows == 3
    assert s3_store.files("resource", "people") == ["data.parquet"]
    assert current.bytes == s3_store.warehouse.size(current.path) > 0

    assert s3_store.rollback("resource", "people", 1).number == 1
    assert s3_store.read("resource", "people").equals(rows(0, 5))

    # no rename on S3: each commit copied its objects and deleted the staged ones
    paths = {v.path for v in s3_store.versions("resource", "people")}
    assert objects(s3_store) == sorted(f"{p}/data.parquet" for p in paths)
    assert s3_store.gc().removed == []


def test_per_run_files_and_reports(s3_store: Store, rows: Callable[..., pa.Table]) -> None:
    with s3_store.begin_run("ingest", "people") as run:
        with s3_store.land_raw("people", run.id, rows(0, 0).schema) as raw:
            raw.write(rows(0, 4))
        with s3_store.write_quarantine("people", run.id) as bad:
            bad.write(rows(4, 1))
        report = s3_store.write_report("people", run.id, "quality.json", '{"ok": true}')
    assert s3_store.read_run_file("raw", "people", run.id).equals(rows(0, 4))
    assert s3_store.read_run_file("quarantine", "people", run.id).equals(rows(4, 1))
    with s3_store.warehouse.open(report) as fh:
        assert fh.read() == b'{"ok": true}'
    assert objects(s3_store) == [
        f"quarantine/people/{run.id}/rows.parquet",
        f"raw/people/{run.id}/part-00000.parquet",
        f"reports/people/{run.id}/quality.json",
    ]


def test_a_failed_writer_leaves_nothing_visible_and_gc_removes_its_objects(
    s3_store: Store, rows: Callable[..., pa.Table], commit: Callable[..., int]
) -> None:
    commit(s3_store, "people", rows(0, 2))
    run = s3_store.begin_run("ingest", "people")
    orphan = s3_store.open_writer("resource", "people", run.id, rows(0, 0).schema)
    orphan.write(rows(0, 7))
    orphan._close_sinks()  # the object exists, the commit never comes
    s3_store.finish_run(run.id, "failed", error="worker lost")
    assert any(o.startswith(orphan.staging) for o in objects(s3_store))

    fresh = Store(s3_store.metadata_url, s3_store.warehouse.url)
    assert fresh.read("resource", "people").equals(rows(0, 2))
    assert fresh.gc().removed == [orphan.staging]
    assert not any(o.startswith("_staging") for o in objects(fresh))


def test_a_long_lived_process_sees_what_other_processes_wrote(
    s3_store: Store, rows: Callable[..., pa.Table], commit: Callable[..., int]
) -> None:
    """s3fs caches folder listings per filesystem instance; another process's new objects
    were "not found" (and gc listed stale folders) until the cache expired."""
    import fsspec

    commit(s3_store, "people", rows(0, 2))
    assert len(s3_store.warehouse.listdir("curated/people")) == 1
    # another process: its own s3fs instance, writing a folder the first one listed
    other = fsspec.filesystem("s3", skip_instance_cache=True)
    other.pipe(s3_store.warehouse.full("curated/people/v9-OTHER/data.parquet"), b"x")
    assert len(s3_store.warehouse.listdir("curated/people")) == 2
    assert s3_store.warehouse.exists("curated/people/v9-OTHER/data.parquet")


CHILD = """
import sys, time
import numpy as np
import pyarrow as pa
import onesource.store.writer as writer_module
from onesource.store import Store

url, root, marker, point = sys.argv[1:5]
writer_module.ROW_GROUP_ROWS = 200_000  # a row group (1.6 MB) reaches the upload per batch
store = Store(url, root)
run = store.begin_run("ingest", "big")
schema = pa.schema([("id", pa.int64()), ("noise", pa.int64())])
rng = np.random.default_rng(1)
batches = 8 if point == "mid-upload" else 1  # 13 MB of incompressible rows: 2 parts sent
with store.open_writer("resource", "big", run.id, schema) as writer:
    for i in range(batches):
        ids = np.arange(i * 200_000, (i + 1) * 200_000, dtype=np.int64)
        noise = rng.integers(0, 2**62, 200_000, dtype=np.int64)
        writer.write(pa.record_batch([pa.array(ids), pa.array(noise)], schema=schema))
    if point == "mid-upload":
        open(marker, "w").write(point)
        while True:  # parts uploaded, the upload neither completed nor aborted
            time.sleep(1)
    writer.commit()  # pauses at the store's "after-rename" hook: objects copied, no DB row
"""


def _start(point: str, store: Store, marker: Path) -> subprocess.Popen[bytes]:
    # parts of 5 MiB (S3's minimum) instead of s3fs's 50 MiB: fsspec's per-protocol setting
    env = {**os.environ, "PYTHONPATH": str(REPO), "FSSPEC_S3_DEFAULT_BLOCK_SIZE": str(5 << 20)}
    if point == "after-rename":
        env[PAUSE_ENV] = "after-rename"
        env[PAUSE_MARKER_ENV] = str(marker)
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, store.metadata_url, store.warehouse.url, str(marker), point],
        env=env,
        stderr=subprocess.PIPE,
    )


def _kill_when_marked(children: dict[Path, subprocess.Popen[bytes]]) -> None:
    """SIGKILL each child once it has written its marker (it is then held where we want it)."""
    try:
        waiting = dict(children)
        while waiting:
            for marker, child in list(waiting.items()):
                if marker.exists():
                    os.kill(child.pid, signal.SIGKILL)
                    assert child.wait(timeout=30) == -signal.SIGKILL
                    del waiting[marker]
                elif child.poll() is not None:
                    pytest.fail(f"child exited early: {child.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.05)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
                child.wait()


def test_sigkilled_writers_change_nothing_and_gc_cleans_up(s3_store: Store, tmp_path: Path) -> None:
    """Two writers of the same subject, killed at once: one mid-upload, one after copying."""
    before = pa.table({"id": [1, 2], "noise": [3, 4]})
    with (
        s3_store.begin_run("ingest", "big") as run,
        s3_store.open_writer("resource", "big", run.id, before.schema) as writer,
    ):
        writer.write(before)
        v1 = {f"{writer.commit().path}/data.parquet"}

    points = ("mid-upload", "after-rename")
    _kill_when_marked({tmp_path / p: _start(p, s3_store, tmp_path / p) for p in points})

    # the leftovers are on the server, so the kills happened where we meant: an upload with
    # parts sent (no object until it completes) and the copied objects of "version 2"
    (upload,) = uploads.incomplete(s3_store.warehouse)
    assert upload.rel.startswith("_staging/") and upload.rel.endswith("/data.parquet")
    bucket, _, key = s3_store.warehouse.full(upload.rel).partition("/")
    parts = s3_store.warehouse.fs.call_s3(  # type: ignore[attr-defined]
        "list_parts", Bucket=bucket, Key=key, UploadId=upload.upload_id
    )
    assert len(parts["Parts"]) >= 2
    (copied,) = set(objects(s3_store)) - v1
    assert copied.startswith("curated/big/v") and not copied.startswith("curated/big/v1-")

    # ... but a fresh reader sees version 1 only
    fresh = Store(s3_store.metadata_url, s3_store.warehouse.url)
    assert [v.number for v in fresh.versions("resource", "big")] == [1]
    assert fresh.read("resource", "big").equals(before)

    # the operator's gc, configured through ONESOURCE_* and the AWS_* environment
    env = {
        **os.environ,
        "ONESOURCE_DB_URL": s3_store.metadata_url,
        "ONESOURCE_WAREHOUSE": s3_store.warehouse.url,
        "COLUMNS": "250",  # one line per message: rich wraps at the terminal's width
    }
    done = subprocess.run(
        [str(ONESOURCE), "gc"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("marked killed") == 2
    assert f"removed {copied.rsplit('/', 1)[0]}" in done.stdout
    assert f"aborted the incomplete upload of {upload.rel}" in done.stdout
    assert uploads.incomplete(s3_store.warehouse) == []
    assert set(objects(s3_store)) == v1

    with (
        fresh.begin_run("ingest", "big") as run,
        fresh.open_writer("resource", "big", run.id, before.schema) as writer,
    ):
        writer.write(before)
        assert writer.commit().number == 2


def test_gc_keeps_the_upload_of_a_running_writer(s3_store: Store) -> None:
    """gc on another host while a big file streams must not abort its upload."""
    run = s3_store.begin_run("ingest", "big")
    rel = f"_staging/{run.id}.abcd/data.parquet"
    fh = s3_store.warehouse.fs.open(s3_store.warehouse.full(rel), "wb", block_size=5 << 20)
    fh.write(os.urandom(6 << 20))
    fh.flush()  # the first part goes out: an incomplete upload now exists
    assert [u.rel for u in uploads.incomplete(s3_store.warehouse)] == [rel]
    report = s3_store.gc()
    assert report.aborted_uploads == [] and rel in report.kept_running
    fh.close()
    assert s3_store.warehouse.exists(rel)
    s3_store.finish_run(run.id, "failed", error="test")
    assert s3_store.gc().removed == [f"_staging/{run.id}.abcd"]


def test_a_small_range_read_fetches_a_bounded_block(s3_store: Store) -> None:
    """A portal Range request of a few bytes read s3fs's whole 50 MiB default block, held
    in memory for the response (16 concurrent downloads: 800 MB)."""
    s3_store.warehouse.fs.pipe(s3_store.warehouse.full("big.bin"), os.urandom(12 << 20))
    fetched: list[int] = []
    fs = s3_store.warehouse.fs
    call = fs._call_s3  # type: ignore[attr-defined]

    async def spy(method: str, *args: object, **kwargs: object) -> object:
        if method == "get_object":
            first, last = str(kwargs["Range"]).removeprefix("bytes=").split("-")
            fetched.append(int(last) - int(first) + 1)
        return await call(method, *args, **kwargs)

    fs._call_s3 = spy  # type: ignore[attr-defined]
    try:
        with s3_store.warehouse.open("big.bin") as fh:
            fh.seek(3)
            assert len(fh.read(10)) == 10
    finally:
        del fs._call_s3  # type: ignore[attr-defined]
    assert fetched and max(fetched) <= (4 << 20) + 13  # the bytes asked for and one block


def test_the_copy_runs_outside_the_metadata_db_write_lock(
    s3_store: Store, rows: Callable[..., pa.Table], commit: Callable[..., int]
) -> None:
    """S3 has no rename: a commit copies every object.  Inside the commit's DB transaction
    that held SQLite's write lock (and on PostgreSQL the subject's lock) for as long as the
    copy of a large version took: every other writer and heartbeat waited."""
    import sqlite3

    commit(s3_store, "people", rows(0, 2))
    db = s3_store.metadata_url.removeprefix("sqlite:///")
    copy = s3_store.warehouse._copy_tree
    locked: list[bool] = []

    def spy(src: str, dst: str) -> None:
        probe = sqlite3.connect(db, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            locked.append(False)
        except sqlite3.OperationalError:  # database is locked
            locked.append(True)
        finally:
            probe.close()
        copy(src, dst)

    s3_store.warehouse._copy_tree = spy  # type: ignore[method-assign]
    assert commit(s3_store, "people", rows(5, 3)) == 2
    assert locked == [False]
    assert s3_store.read("resource", "people").equals(rows(5, 3))


@pytest.mark.parametrize(
    ("keys", "error", "said"),
    [
        (KEYS, WarehouseUnavailableError, "cannot be reached (EndpointConnectionError"),
        ({}, WarehousePermissionError, "refused the hub's credentials (NoCredentialsError"),
    ],
    ids=["unreachable", "no-credentials"],
)
def test_a_store_that_cannot_be_used_is_named_with_what_to_check(
    keys: dict[str, str],
    error: type[Exception],
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from s3fs import S3FileSystem

    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {
        **keys,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # discard port: nothing listens
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance role to ask for here
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    S3FileSystem.clear_instance_cache()  # a client built from this environment
    try:
        with pytest.raises(error) as caught:
            Store(f"sqlite:///{tmp_path / 'meta.db'}", "s3://city-hub/warehouse")
    finally:
        S3FileSystem.clear_instance_cache()
    assert f"warehouse s3://city-hub/warehouse: the object store {said}" in str(caught.value)
    assert ("AWS_ENDPOINT_URL" if keys else "AWS_ACCESS_KEY_ID") in caught.value.hint  # type: ignore[attr-defined]


def test_concurrent_commits_each_get_their_own_number_and_objects(
    s3_store: Store, rows: Callable[..., pa.Table]
) -> None:
    """Writers committing at once all copy to the number they expect (the same one); all but
    one copy again inside the commit.  No rows are mixed up and nothing is left behind."""
    import threading

    writers = 4
    barrier = threading.Barrier(writers)
    numbers: dict[int, int] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with (
                s3_store.begin_run("ingest", "people") as run,
                s3_store.open_writer("resource", "people", run.id, rows(0, 0).schema) as writer,
            ):
                writer.write(rows(i * 100, 10 + i))
                barrier.wait(timeout=60)
                numbers[i] = writer.commit().number
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(numbers.values()) == list(range(1, writers + 1))
    for i, number in numbers.items():
        assert s3_store.read("resource", "people", version=number).equals(rows(i * 100, 10 + i))
    paths = {v.path for v in s3_store.versions("resource", "people")}
    assert objects(s3_store) == sorted(f"{p}/data.parquet" for p in paths)
    assert s3_store.gc().removed == []
