"""JSON nested thousands of levels deep refuses the file naming it (and the line for JSON
lines), instead of an unexpected RecursionError (a 500 for a push)."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pytest

from connectors.base import Extraction
from connectors.readers import ReadSpec, read_stream
from schemas.arrow import resource_schema
from schemas.catalog import Catalog
from schemas.errors import SchemaDriftError


@pytest.fixture
def elderly(catalog: Catalog) -> tuple[Any, pa.Schema]:
    res = catalog.resources["elderly_subsidies"]
    return res, resource_schema(catalog, res)


def read(elderly: tuple[Any, pa.Schema], data: bytes, fmt: str, name: str) -> pa.Table:
    res, schema = elderly
    spec = ReadSpec(format=fmt)
    ex = Extraction(
        schema, lambda e: read_stream(e, res.name, spec, lambda: io.BytesIO(data), name)
    )
    return ex.read_all()


def test_deep_json_lines_name_file_and_line(elderly: tuple[Any, pa.Schema]) -> None:
    deep = b'{"id_number":' + b"[" * 200_000 + b"]" * 200_000 + b"}\n"
    with pytest.raises(SchemaDriftError) as info:
        read(elderly, b'{"id_number": "x"}\n' + deep, "jsonl", "deep.jsonl")
    assert "deep.jsonl: line 2" in str(info.value) and "nested" in str(info.value)


def test_deep_json_names_the_file(elderly: tuple[Any, pa.Schema]) -> None:
    deep = b'[{"id_number":"x","name":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}]"
    with pytest.raises(SchemaDriftError) as info:
        read(elderly, deep, "json", "deep.json")
    assert "deep.json" in str(info.value) and "nested" in str(info.value)
