"""The exchange's and the portal's caches: cachetools, bounded, expiring, behind a lock.

Time is a fake clock handed to the ``TTLCache``; nothing sleeps.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from cachetools import LRUCache, TTLCache

from onesource.exchange.deptauth import DepartmentAuthBook
from onesource.exchange.grants import GrantBook
from onesource.exchange.hub import _Ttl
from onesource.store import Store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ttl_values_are_recomputed_after_their_time() -> None:
    clock, calls = Clock(), []
    ttl = _Ttl(2.0)
    ttl._values = TTLCache(8, 2.0, timer=clock)

    def compute() -> object:
        calls.append(clock.now)
        return len(calls)

    assert [ttl.get("catalog", compute) for _ in range(3)] == [1, 1, 1]
    clock.now += 2.5
    assert ttl.get("catalog", compute) == 2
    ttl.clear()
    assert ttl.get("catalog", compute) == 3


def test_ttl_with_zero_seconds_never_caches() -> None:
    ttl = _Ttl(0.0)
    counter = iter(range(10))
    assert [ttl.get("v:x", lambda: next(counter)) for _ in range(3)] == [0, 1, 2]


def test_ttl_is_bounded() -> None:
    ttl = _Ttl(60.0, size=4)
    for i in range(100):
        ttl.get(f"v:{i}", lambda i=i: i)  # type: ignore[misc]
    assert len(ttl._values) == 4


def test_department_rule_is_cached_then_reread(hub_home: Path) -> None:
    engine = Store.open().engine
    clock = Clock()
    book = DepartmentAuthBook(engine, cache_seconds=2.0)
    book._cache = TTLCache(16, 2.0, timer=clock)
    assert book.requires_signature("edu") is False
    DepartmentAuthBook(engine).set_require_signature("edu", True)  # another process
    assert book.requires_signature("edu") is False  # still cached
    clock.now += 2.1
    assert book.requires_signature("edu") is True
    book.set_require_signature("edu", False)  # this process forgets at once
    assert book.requires_signature("edu") is False


def test_caches_are_bounded_and_locked() -> None:
    engine = sa.create_engine("sqlite://")  # never queried here
    for owner in (GrantBook(engine), DepartmentAuthBook(engine)):
        assert isinstance(owner._cache, TTLCache) and owner._cache.maxsize <= 65_536
        assert isinstance(owner._lock, type(threading.Lock()))
    from onesource.web.portal import api, files

    assert isinstance(files._SUMS, LRUCache) and files._SUMS.maxsize == 256
    assert isinstance(api._current, TTLCache) and isinstance(api._too_big, LRUCache)
    # the rows cache is budgeted by decoded bytes, not by entries
    assert api._tables.maxsize == api.ROWS_CACHE_BYTES
    assert api._tables.getsizeof(type("R", (), {"nbytes": 12345})()) == 12345


def test_rows_cache_evicts_least_recently_used_by_bytes() -> None:
    from onesource.web.portal import api

    class Rows:
        def __init__(self, nbytes: int) -> None:
            self.nbytes = nbytes

    cache = type(api._tables)(100, getsizeof=api._tables.getsizeof)
    cache["a"], cache["b"] = Rows(40), Rows(40)
    assert cache.get("a") is not None  # a used last: b leaves first
    cache["c"] = Rows(40)
    assert sorted(cache) == ["a", "c"] and cache.currsize == 80
