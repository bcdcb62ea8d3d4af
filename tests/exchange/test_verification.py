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
