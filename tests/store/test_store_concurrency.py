"""Concurrent commits of one subject get distinct, consecutive numbers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from onesource.store import Store

WRITERS = 6


def _race(store: Store, rows: Callable[..., Any]) -> list[int]:
    # every writer finishes its files, then all commit at the same moment
    barrier = threading.Barrier(WRITERS)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with (
                store.begin_run("ingest", "people") as run,
                store.open_writer("resource", "people", run.id, rows(0, 0).schema) as writer,
            ):
                writer.write(rows(i * 100, 10 + i))
                barrier.wait(timeout=30)
                numbers.append(writer.commit().number)
        except BaseException as exc:  # surfaced below with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return numbers


def _check(store: Store, numbers: list[int]) -> None:
    assert sorted(numbers) == list(range(1, WRITERS + 1))
    versions = store.versions("resource", "people")
    assert [v.number for v in versions] == list(range(1, WRITERS + 1))
    assert len({v.path for v in versions}) == WRITERS
    current = store.current("resource", "people")
    assert current is not None and current.number == WRITERS
    for v in versions:  # each number holds the rows its own writer wrote
        assert store.read("resource", "people", version=v.number).num_rows == v.row_count
    assert store.gc().removed == []  # no writer left an orphan behind


def test_concurrent_commits_on_sqlite(tmp_path: Path, rows: Callable[..., Any]) -> None:
    store = Store(f"sqlite:///{tmp_path / 'meta.db'}", str(tmp_path / "warehouse"))
    _check(store, _race(store, rows))


@pytest.mark.services
def test_concurrent_commits_on_postgresql(
    pg_schema: str, tmp_path: Path, rows: Callable[..., Any]
) -> None:
    store = Store(pg_schema, str(tmp_path / "warehouse"))
    _check(store, _race(store, rows))
