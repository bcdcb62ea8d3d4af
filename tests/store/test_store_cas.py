"""Compare-and-swap commits: a version built on a base that is no longer current is refused
and leaves nothing behind; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from onesource.store import StaleBaseError, Store


def _cas(store: Store, rows: Callable[..., Any], commit: Callable[..., Any]) -> None:
    assert commit(store, "people", rows(0, 3)) == 1
    # two writers both build on version 1
    a = store.begin_run("ingest", "people")
    b = store.begin_run("ingest", "people")
    wa = store.open_writer("resource", "people", a.id, rows(0, 0).schema, base=1)
    wb = store.open_writer("resource", "people", b.id, rows(0, 0).schema, base=1)
    wa.write(rows(0, 4))
    wb.write(rows(0, 5))
    assert wa.commit().number == 2
    with pytest.raises(StaleBaseError) as err:
        wb.commit()
    assert (err.value.base, err.value.current) == (1, 2) and err.value.transient
    assert store.current("resource", "people").number == 2
    assert store.read("resource", "people").num_rows == 4
    assert [v.number for v in store.versions("resource", "people")] == [1, 2]
    a.finish()
    b.finish("failed", error=err.value)
    assert store.gc().removed == []  # the refused writer left no folder
    # a writer that says it built on nothing is refused once something exists
    c = store.begin_run("ingest", "people")
    with (
        store.open_writer("resource", "people", c.id, rows(0, 0).schema, base=None) as wc,
        pytest.raises(StaleBaseError),
    ):
        wc.write(rows(0, 1))
        wc.commit()
    c.finish("failed")


def test_stale_base_is_refused_sqlite(
    tmp_path: Path, rows: Callable[..., Any], commit: Callable[..., Any]
) -> None:
    _cas(Store(f"sqlite:///{tmp_path / 'meta.db'}", str(tmp_path / "wh")), rows, commit)


@pytest.mark.services
def test_stale_base_is_refused_postgresql(
    pg_schema: str, tmp_path: Path, rows: Callable[..., Any], commit: Callable[..., Any]
) -> None:
    _cas(Store(pg_schema, str(tmp_path / "wh")), rows, commit)
