"""read_push: pushed CSV / Parquet / JSON lines / JSON arrays through the file readers."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors.push import UnsupportedPushFormatError, read_push
from schemas.arrow import resource_schema
from schemas.catalog import Catalog

ROW = {"id_number": "330102194001010011", "name": "张三", "month": "2024-05", "amount": "200.00"}


def push_bytes(fmt: str, records: list[dict[str, Any]]) -> bytes:
    if fmt == "csv":
        head = ",".join(records[0])
        return ("\n".join([head, *(",".join(r.values()) for r in records)]) + "\n").encode("gbk")
    if fmt == "jsonl":
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    if fmt == "json":
        return json.dumps({"data": records}, ensure_ascii=False).encode()
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records), buf)
    return buf.getvalue()


@pytest.fixture
def elderly(catalog: Catalog) -> tuple[Any, pa.Schema]:
    res = catalog.resources["elderly_subsidies"]
    return res, resource_schema(catalog, res)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json", "jsonl"])
def test_push_formats(elderly: tuple[Any, pa.Schema], fmt: str) -> None:
    res, schema = elderly
    records = [ROW]
    ex = read_push(res, schema, push_bytes(fmt, records), filename=f"batch.{fmt}", fmt=fmt)
    table = ex.read_all()
    assert table.schema == schema and table.num_rows == 1 and not ex.rejects
    assert table.column("name").to_pylist() == ["张三"]  # GBK CSV sniffed
    assert ex.files[0].rows == 1 and ex.files[0].path == f"batch.{fmt}"


def test_push_refuses_format(elderly: tuple[Any, pa.Schema]) -> None:
    res, schema = elderly
    with pytest.raises(UnsupportedPushFormatError, match="xlsx"):
        read_push(res, schema, b"", filename="a.xlsx", fmt="xlsx")


def test_push_bad_rows_are_rejects(elderly: tuple[Any, pa.Schema]) -> None:
    res, schema = elderly
    rows = [ROW, {**ROW, "amount": "二百"}]
    data = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode() + b"\n{oops\n"
    ex = read_push(res, schema, data, filename="b.jsonl", fmt="jsonl")
    table = ex.read_all()
    assert table.num_rows == 1 and sorted(r.line for r in ex.rejects) == [2, 3]
