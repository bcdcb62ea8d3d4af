"""Casting to the pinned schema: allowed conversions, bad values as row errors, drift."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from connectors.cast import cast_batch, cast_rows
from connectors.errors import ColumnDriftError


def one(values: list[Any], source: pa.DataType | None, target: pa.DataType) -> Any:
    batch = pa.record_batch({"c": pa.array(values, source)})
    return cast_rows(batch, pa.schema([("c", target)]), "res")


@pytest.mark.parametrize(
    "values,source,target,expected",
    [
        (
            ["2024-03-01", "2024/3/2", "20240303", "2024年3月4日", " "],
            None,
            pa.date32(),
            [dt.date(2024, 3, d) for d in (1, 2, 3, 4)] + [None],
        ),
        (
            ["2024-03-01 08:00:00.5", "2024/3/1 09:10:11"],
            None,
            pa.timestamp("us"),
            [dt.datetime(2024, 3, 1, 8, 0, 0, 500000), dt.datetime(2024, 3, 1, 9, 10, 11)],
        ),
        ([330102, None], pa.int64(), pa.string(), ["330102", None]),
        ([330102.0, 1.0], pa.float64(), pa.string(), ["330102", "1"]),
        ([" 12 ", "7"], None, pa.int64(), [12, 7]),
        (["是", "否", "TRUE", "0"], None, pa.bool_(), [True, False, True, False]),
        ([850.5, 1200], None, pa.decimal128(10, 2), [Decimal("850.50"), Decimal("1200.00")]),
        ([None, None], pa.null(), pa.date32(), [None, None]),
    ],
    ids=[
        "dates",
        "timestamps",
        "int-code",
        "float-code",
        "trimmed-int",
        "yes-no",
        "decimal",
        "nulls",
    ],
)
def test_allowed_casts(
    values: list[Any], source: Any, target: pa.DataType, expected: list[Any]
) -> None:
    result = one(values, source, target)
    assert result.batch.column(0).to_pylist() == expected and not result.errors


def test_bad_values_drop_their_rows_with_every_reason() -> None:
    schema = pa.schema([("n", pa.int64()), ("d", pa.date32())])
    batch = pa.record_batch({"n": ["1", "x", "3"], "d": ["2024-01-01", "2024-02-30", "bad"]})
    result = cast_rows(batch, schema, "res")
    assert result.batch.column("n").to_pylist() == [1]
    assert result.bad_rows == [1, 2]
    assert "'x'" in result.errors[1] and "2024-02-30" in result.errors[1]


@pytest.mark.parametrize(
    "values,source,target,found",
    [
        ([19900101, 19900102], pa.int32(), pa.date32(), "int32"),
        ([dt.date(2024, 1, 1)], pa.date32(), pa.int64(), "date32[day]"),
        (["a", "b", "c", "d", "e"], None, pa.int64(), "string"),
    ],
    ids=["int-as-date", "date-as-int", "all-text-fails"],
)
def test_drift(values: list[Any], source: Any, target: pa.DataType, found: str) -> None:
    with pytest.raises(ColumnDriftError) as err:
        one(values, source, target)
    assert (err.value.resource, err.value.column, err.value.expected, err.value.found) == (
        "res",
        "c",
        str(target),
        found,
    )


def test_strict_cast_batch_raises_on_one_bad_value() -> None:
    with pytest.raises(ColumnDriftError, match="'x'"):
        cast_batch(pa.record_batch({"c": ["1", "x"]}), pa.schema([("c", pa.int64())]), "res")


def test_whole_numbers_cast_to_small_decimals() -> None:
    """JSON integers into a decimal(10, 2) column (Arrow refuses int64 -> decimal(10, 2))."""
    import decimal

    import pyarrow as pa

    from connectors.cast import cast_column

    out, bad = cast_column(pa.array([100, None, 12345678901]), pa.decimal128(10, 2), "r", "amount")
    assert out.to_pylist()[:2] == [decimal.Decimal("100.00"), None]
    assert out.to_pylist()[2] is None and bad is not None and bad.tolist() == [False, False, True]
