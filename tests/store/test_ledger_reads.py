"""Version reads hold one pooled connection at a time, never a second one nested in the first.

A read that opens a session while holding another needs two connections: with N readers
at once and a pool of fewer than 2N, every reader holds one and waits for a second until
the pool times out (the web app's 500s under load). A one-connection pool makes that
deterministic: any nesting times out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from onesource.store import Store
from onesource.store.db import _sqlite_setup
from onesource.store.errors import VersionNotFoundError
from onesource.store.ledger import VersionLedger


@pytest.fixture
def two_versions(
    tmp_path: Path, rows: Callable[[int, int], pa.Table], commit: Callable[..., int]
) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'meta.db'}", str(tmp_path / "warehouse"))
    commit(store, "people", rows(0, 3))
    commit(store, "people", rows(3, 3))
    return store


@pytest.fixture
def one_connection(two_versions: Store) -> Iterator[sa.Engine]:
    """An engine on the same DB whose pool holds ONE connection and waits 0.5 s for it."""
    engine = sa.create_engine(
        str(two_versions.engine.url), pool_size=1, max_overflow=0, pool_timeout=0.5
    )
    _sqlite_setup(engine)
    yield engine
    engine.dispose()


def test_every_ledger_read_needs_one_connection(two_versions: Store, one_connection: sa.Engine):
    ledger = VersionLedger(one_connection, two_versions.warehouse)
    assert ledger.get("resource", "people", None).number == 2
    old = ledger.get("resource", "people", 1)  # nested a current-number lookup before
    assert (old.number, old.current) == (1, False)
    assert ledger.get("resource", "people", 2).current
    with pytest.raises(VersionNotFoundError) as err:
        ledger.get("resource", "people", 9)  # nested the list of known versions before
    assert "known versions: 1, 2" in str(err.value)
    assert [(v.number, v.current) for v in ledger.all_of("resource", "people")] == [
        (1, False),
        (2, True),
    ]
    assert ledger.current_number("resource", "people") == 2


def test_concurrent_readers_never_wait_for_a_second_connection(
    two_versions: Store, one_connection: sa.Engine
) -> None:
    # 4 connections for 4 readers: enough when each read holds one, a deadlock (until the
    # pool timeout) when each holds one and asks for another
    engine = sa.create_engine(
        str(two_versions.engine.url), pool_size=4, max_overflow=0, pool_timeout=0.5
    )
    _sqlite_setup(engine)
    ledger = VersionLedger(engine, two_versions.warehouse)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def reader() -> None:
        start.wait()
        try:
            for _ in range(50):
                assert not ledger.get("resource", "people", 1).current
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert not errors, errors[:1]
