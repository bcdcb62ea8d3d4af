"""Filesystem faults during an ingest: permission denied and a full disk.

Whatever the warehouse's filesystem refuses, the run fails with an error that
names the resource, the path and the cause; the previous version stays
current; no partial version (or per-run landing) becomes visible; staging
files are removed; the run is recorded as failed; and once the fault is
fixed, the next run commits every row the failed one could not (no data lost).

Permission denied is real (chmod) when the tests run as a normal user.  As
root, chmod does not stop writes (checked with ``os.access``), so the same
refusal is simulated where the OS would raise it: ``os.rename`` into the
read-only curated folder, ``os.makedirs`` under a read-only warehouse.
A full disk is simulated in pyarrow's Parquet writer: half a row group reaches
the file, then ENOSPC, as pyarrow raises it (errno 28, no path in the message).
"""

from __future__ import annotations

import errno
import io
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from onesource.catalog.loader import load_catalog
from onesource.pipeline.ingest import ingest
from onesource.store import Store, StoreError, Warehouse
from schemas.identifiers import credit_check_char

CATALOG = load_catalog("catalog").raise_for_issues()
RESOURCE = "business_register"
COLUMNS = list(CATALOG.resources[RESOURCE].fields)  # the source table mirrors them


def business_rows(start: int, n: int, updated: str) -> list[tuple[Any, ...]]:
    rows = []
    for i in range(start, start + n):
        body = f"91339902MA{i:07d}"
        code = body + credit_check_char(body)
        row = (code, f"清河企业{i}", "1", "赵六", None, 100.5, "2020-05-01", "I", "339902", "1")
        rows.append((*row, updated))
    return rows


def add_rows(db: Path, rows: list[tuple[Any, ...]]) -> None:
    con = sqlite3.connect(db)
    con.executemany(f"INSERT INTO enterprise VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    con.commit()
    con.close()


@pytest.fixture
def amr_db(hub_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = hub_home / "amr.db"
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE enterprise ({', '.join(c + ' TEXT' for c in COLUMNS)})")
    con.close()
    add_rows(path, business_rows(0, 50, "2026-11-20 10:00:00"))
    monkeypatch.setenv("ONESOURCE_CONN_AMR_DB", f"sqlite:///{path}")
    return path


@pytest.fixture
def store(amr_db: Path) -> Store:
    """The hub's store with version 1 of the resource committed from 50 rows."""
    store = Store.open()
    first = ingest(RESOURCE, store=store, catalog=CATALOG)
    assert (first.status, first.version, first.rows_good) == ("succeeded", 1, 50), first.error
    # new rows at the source: the next run has something to commit
    add_rows(amr_db, business_rows(50, 7, "2026-11-21 10:00:00"))
    return store


def root_ignores_chmod(path: Path) -> bool:
    """True when chmod a-w does not stop this process writing (root, CAP_DAC_OVERRIDE)."""
    mode = path.stat().st_mode
    path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        return os.access(path, os.W_OK)
    finally:
        path.chmod(mode)


def _under(path: Any, folder: Path) -> bool:
    return str(path) == str(folder) or str(path).startswith(f"{folder}/")


@contextmanager
def read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``folder`` and everything below it read-only for the duration."""
    if root_ignores_chmod(folder):
        real_rename, real_makedirs = os.rename, os.makedirs

        def refuse(path: Any) -> None:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

        def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            for path in (src, dst):
                if _under(os.path.dirname(str(path)), folder):
                    raise PermissionError(
                        errno.EACCES, os.strerror(errno.EACCES), str(src), None, str(dst)
                    )
            real_rename(src, dst, *args, **kwargs)

        def makedirs(name: Any, *args: Any, **kwargs: Any) -> None:
            if _under(name, folder) and not os.path.isdir(name):
                refuse(name)
            real_makedirs(name, *args, **kwargs)

        with monkeypatch.context() as mp:
            mp.setattr(os, "rename", rename)
            mp.setattr(os, "makedirs", makedirs)
            yield
        return
    changed = []
    for dirpath, _dirs, _files in os.walk(folder):
        changed.append((dirpath, os.stat(dirpath).st_mode))
        os.chmod(dirpath, stat.S_IRUSR | stat.S_IXUSR)
    try:
        yield
    finally:
        for dirpath, mode in reversed(changed):
            os.chmod(dirpath, mode)


def assert_nothing_changed(store: Store, run_id: str, landed: bool) -> None:
    """v1 is still current and whole; the failed run left no version and no staging files.

    A raw landing is the run's own record, published only complete: a run that failed
    after landing keeps all 7 rows there; one that failed while landing has none.
    """
    wh = store.warehouse
    current = store.current("resource", RESOURCE)
    assert current is not None and current.number == 1
    assert [v.number for v in store.versions("resource", RESOURCE)] == [1]
    assert store.read("resource", RESOURCE).num_rows == 50
    assert wh.listdir(f"curated/{RESOURCE}") == [current.path.rsplit("/", 1)[-1]]
    assert wh.listdir("_staging") == []
    if landed:
        assert store.read_run_file("raw", RESOURCE, run_id).num_rows == 7
    else:
        assert run_id not in wh.listdir(f"raw/{RESOURCE}")
    run = store.run(run_id)
    assert run.status == "failed"
    assert RESOURCE in (run.error_message or "")


def assert_next_run_commits_everything(store: Store) -> None:
    again = ingest(RESOURCE, store=store, catalog=CATALOG)
    assert (again.status, again.version) == ("succeeded", 2), again.error
    assert again.rows_read == 7  # the watermark did not move past the failed run's rows
    assert store.read("resource", RESOURCE).num_rows == 57
    assert store.warehouse.listdir("_staging") == []


def failed_run_id(store: Store) -> str:
    (run,) = store.runs(subject=RESOURCE, status="failed")
    return run.id


@pytest.mark.parametrize("where", ["curated-folder", "warehouse"])
def test_permission_denied_names_resource_and_path_and_changes_nothing(
    where: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(store.warehouse.root)
    folder = root / "curated" / RESOURCE if where == "curated-folder" else root
    with read_only(folder, monkeypatch), pytest.raises(StoreError) as err:
        ingest(RESOURCE, store=store, catalog=CATALOG)
    message = str(err.value)
    assert "permission denied" in message.lower()
    assert RESOURCE in message and str(folder) in message
    assert err.value.code == "warehouse-permission-denied"
    run_id = failed_run_id(store)
    assert store.run(run_id).error_code == "warehouse-permission-denied"
    assert_nothing_changed(store, run_id, landed=where == "curated-folder")
    assert_next_run_commits_everything(store)


ENOSPC = OSError(
    errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device"
)  # what pyarrow raises: errno 28, no file name


class FullDisk:
    """Writes to the file named ``target`` hit a full disk midway: half the data reaches it.

    Parquet files through pq.ParquetWriter (what the store's writers use); other
    files (reports) through ``Warehouse.open``.
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.hit = 0

    def ours(self, path: Any) -> bool:
        return str(path).endswith(f"/{self.target}")

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        fault = self

        class ParquetWriter(pq.ParquetWriter):  # type: ignore[misc]
            def write_table(self, table: Any, *args: Any, **kwargs: Any) -> None:
                if not fault.ours(self.where):
                    return super().write_table(table, *args, **kwargs)
                fault.hit += 1
                super().write_table(table.slice(0, table.num_rows // 2), *args, **kwargs)
                raise ENOSPC

        class FullFile(io.BufferedIOBase):
            def __init__(self, raw: Any) -> None:
                self.raw = raw

            def write(self, data: Any) -> int:
                fault.hit += 1
                self.raw.write(bytes(data)[: len(data) // 2])
                raise ENOSPC

            def close(self) -> None:
                self.raw.close()
                super().close()

        real_open = Warehouse.open

        def warehouse_open(wh: Warehouse, rel: str, mode: str = "rb") -> Any:
            fh = real_open(wh, rel, mode)
            return FullFile(fh) if "w" in mode and fault.ours(rel) else fh

        monkeypatch.setattr(pq, "ParquetWriter", ParquetWriter)
        monkeypatch.setattr(Warehouse, "open", warehouse_open)


@pytest.mark.parametrize(
    "target",
    ["part-00000.parquet", "quality.json", "data.parquet"],
    ids=["raw-landing", "quality-report", "new-version"],
)
def test_disk_full_names_resource_and_path_and_changes_nothing(
    target: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = FullDisk(target)
    with monkeypatch.context() as mp:
        fault.install(mp)
        with pytest.raises(StoreError) as err:
            ingest(RESOURCE, store=store, catalog=CATALOG)
    assert fault.hit == 1
    message = str(err.value)
    assert "disk is full" in message.lower()
    assert RESOURCE in message and store.warehouse.root in message
    assert err.value.code == "warehouse-disk-full"
    run_id = failed_run_id(store)
    assert store.run(run_id).error_code == "warehouse-disk-full"
    assert_nothing_changed(store, run_id, landed=target != "part-00000.parquet")
    if target == "quality.json":  # no half-written report either
        assert not store.warehouse.exists(f"reports/{RESOURCE}/{run_id}/quality.json")
    assert_next_run_commits_everything(store)
