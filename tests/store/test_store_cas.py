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


def _first_commits_race(store: Store, rows: Callable[..., Any], monkeypatch: Any) -> None:
    """Two writers both build the first version (no pointer row to lock yet): the one that
    checked its base first and then paused must not lose the other's rows, nor vice versa."""
    import threading

    from onesource.store import ledger

    checked, resume = threading.Event(), threading.Event()
    real_pause = ledger.pause_point

    def pause(name: str) -> None:
        if name == "after-base-check" and threading.current_thread().name == "first":
            checked.set()
            resume.wait(30)
        real_pause(name)

    monkeypatch.setattr(ledger, "pause_point", pause)
    outcome: dict[str, Any] = {}

    def write(label: str, n: int) -> None:
        run = store.begin_run("ingest", "people")
        try:
            with store.open_writer("resource", "people", run.id, rows(0, 0).schema, base=None) as w:
                w.write(rows(0, n))
                outcome[label] = w.commit().number
            run.finish()
        except StaleBaseError as exc:
            outcome[label] = exc
            run.finish("failed", error=exc)

    first = threading.Thread(target=write, args=("first", 3), name="first")
    first.start()
    assert checked.wait(30)  # the first writer checked "no version yet" and paused
    second = threading.Thread(target=write, args=("second", 4), name="second")
    second.start()
    second.join(2)  # on PostgreSQL it waits for the first writer's lock
    resume.set()
    first.join(30)
    second.join(30)
    committed = [v for v in outcome.values() if isinstance(v, int)]
    refused = [v for v in outcome.values() if isinstance(v, StaleBaseError)]
    # exactly one first version; the other writer is told to merge, not silently stacked
    assert committed == [1] and len(refused) == 1, outcome


def test_concurrent_first_versions_sqlite(
    tmp_path: Path, rows: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _first_commits_race(
        Store(f"sqlite:///{tmp_path / 'meta.db'}", str(tmp_path / "wh")), rows, monkeypatch
    )


@pytest.mark.services
def test_concurrent_first_versions_postgresql(
    pg_schema: str, tmp_path: Path, rows: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _first_commits_race(Store(pg_schema, str(tmp_path / "wh")), rows, monkeypatch)
