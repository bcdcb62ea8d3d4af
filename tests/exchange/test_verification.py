"""The verification index and value comparison."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from onesource.exchange.verification import IndexCache
from onesource.exchange.verification import same as same_value
from onesource.store import Store


@pytest.mark.parametrize(
    "value,claim,expected",
    [
        ("张三", " 张三 ", True),
        ("张三", "张四", False),
        (dt.date(1990, 1, 1), "1990-01-01", True),
        (Decimal("800.00"), "800", True),
        (3, "3.0", True),
        (3, "three", False),
        (True, "true", True),
        (None, "", False),
    ],
    ids=["text", "text-mismatch", "date", "decimal", "int", "not-a-number", "bool", "null"],
)
def test_same(value: object, claim: str, expected: bool) -> None:
    assert same_value(value, claim) is expected


def test_index_composite_key_and_new_version(hub_home: Path) -> None:
    store = Store.open()
    schema = pa.schema([("id", pa.string()), ("month", pa.string()), ("amount", pa.int64())])

    def commit(rows: list[tuple[str, str, int]]) -> int:
        table = pa.table(list(zip(*rows, strict=True)), schema=schema)
        with (
            store.begin_run("push", "subsidy") as run,
            store.open_writer("resource", "subsidy", run.id, schema) as w,
        ):
            w.write(table)
            return int(w.commit().number)

    v1 = commit([("b", "2024-01", 1), ("a", "2024-02", 2), ("a", "2024-01", 3)])
    cache = IndexCache(store)
    idx = cache.index("subsidy", v1, ("id", "month"))
    row = idx.find(["a", "2024-01"])
    assert row is not None and cache.column(idx, "amount")[row].as_py() == 3
    assert idx.find(["a", "2024-03"]) is None
    assert idx.find(["x" * 500, "y"]) is None
    v2 = commit([("a", "2024-01", 30)])
    idx2 = cache.index("subsidy", v2, ("id", "month"))
    assert cache.column(idx2, "amount")[idx2.find(["a", "2024-01"])].as_py() == 30


def test_find_agrees_with_a_plain_lookup(hub_home: Path) -> None:
    """Every stored key is found at its row; prefixes, extensions and misses are not."""
    import random

    store = Store.open()
    rng = random.Random(7)
    keys = sorted({"".join(rng.choices("0129ab", k=rng.randint(1, 6))) for _ in range(400)})
    rng.shuffle(keys)
    schema = pa.schema([("id", pa.string())])
    values: list[str | None] = [*keys, None]
    with (
        store.begin_run("push", "keys") as run,
        store.open_writer("resource", "keys", run.id, schema) as w,
    ):
        w.write(pa.table({"id": pa.array(values, pa.string())}, schema=schema))
        version = int(w.commit().number)
    builds: list[int] = []
    cache = IndexCache(store)
    cache.after_build = lambda: builds.append(1)
    idx = cache.index("keys", version, ("id",))
    assert builds == [1]
    for row, key in enumerate(keys):
        assert idx.find([key]) == row
    known = set(keys)
    # the record whose key is null is never found, not even by an empty key
    for probe in [
        "",
        "\x00",
        "zzz",
        "3",
        *(k + "0" for k in keys[:50]),
        *(k[:-1] for k in keys[:50]),
    ]:
        if probe not in known:
            assert idx.find([probe]) is None, probe
    cache.index("keys", version, ("id",))
    assert builds == [1]  # cached: no second build


def test_ready_only_refuses_to_read_the_store(hub_home: Path) -> None:
    """What the web app answers on its event loop: memory only, never a store read."""
    from onesource.exchange.verification import IndexNotReady, ready_only

    store = Store.open()
    schema = pa.schema([("id", pa.string()), ("name", pa.string())])
    with (
        store.begin_run("push", "people") as run,
        store.open_writer("resource", "people", run.id, schema) as w,
    ):
        w.write(pa.table({"id": ["1", "2"], "name": ["甲", "乙"]}, schema=schema))
        version = int(w.commit().number)
    cache = IndexCache(store)
    with ready_only(), pytest.raises(IndexNotReady):
        cache.index("people", version, ("id",))
    idx = cache.index("people", version, ("id",))  # outside: built from the store
    with ready_only():
        assert cache.index("people", version, ("id",)) is idx
        with pytest.raises(IndexNotReady):
            cache.column(idx, "name")  # not claimed yet: would be read
    assert cache.column(idx, "name")[idx.find(["2"])].as_py() == "乙"
    with ready_only():
        assert cache.column(idx, "name")[idx.find(["1"])].as_py() == "甲"
