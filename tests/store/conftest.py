"""Fixtures for store tests: a store on a temp SQLite DB with a local, memory:// or s3:// warehouse."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from onesource.store import Store

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string()), ("score", pa.float64())])


# test files here have no package, so helpers travel as fixtures


def _table(start: int, n: int) -> pa.Table:
    ids = list(range(start, start + n))
    return pa.table(
        {"id": ids, "name": [f"n{i}" for i in ids], "score": [i / 2 for i in ids]}, schema=SCHEMA
    )


def _commit(store: Store, subject: str, data: pa.Table, kind: str = "resource") -> int:
    with (
        store.begin_run("ingest", subject) as run,
        store.open_writer(kind, subject, run.id, data.schema) as writer,
    ):
        writer.write(data)
        return writer.commit().number


@pytest.fixture
def rows() -> Callable[[int, int], pa.Table]:
    """``rows(start, n)``: n rows (id, name, score) with ids from ``start``."""
    return _table


@pytest.fixture
def commit() -> Callable[..., int]:
    """``commit(store, subject, table)``: commit a version under a fresh run; its number."""
    return _commit


@pytest.fixture(
    params=["local", "memory", "s3"], ids=["local-warehouse", "memory-warehouse", "s3-warehouse"]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store; the warehouse is a temp folder, an fsspec memory:// root, or a bucket
    on the local S3 server (tests/s3/server.py; skipped with the reason without moto)."""
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    if request.param == "local":
        yield Store(url, str(tmp_path / "warehouse"))
        return
    if request.param == "s3":
        from tests.s3.server import new_bucket

        with pytest.MonkeyPatch.context() as mp:
            yield Store(url, f"s3://{new_bucket(mp, 'store')}/warehouse")
        return
    root = f"memory://wh-{uuid.uuid4().hex[:8]}"
    yield Store(url, root)
    import fsspec

    fsspec.filesystem("memory").rm(root.removeprefix("memory:/"), recursive=True)


@pytest.fixture
def local_store(tmp_path: Path) -> Store:
    """A fresh store on local disk only (for tests that look at files directly)."""
    return Store(f"sqlite:///{tmp_path / 'meta.db'}", str(tmp_path / "warehouse"))
