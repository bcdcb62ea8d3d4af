"""Pushed uploads: a department sends CSV, Parquet, JSON lines or a JSON array.

The exchange API calls ``read_push`` with the request body; the result is the
same ``Extraction`` a pulled source gives, read by the same format readers
(headers must be the resource's field names; CSV may be UTF-8, with or without
BOM, or GBK/GB18030).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import IO, ClassVar

import pyarrow as pa

from connectors.base import Extraction, FileRef, SourceState
from connectors.limits import ReadLimits
from connectors.readers import ReadSpec, read_stream
from schemas.connector import PushConnector
from schemas.errors import TerminalError
from schemas.resource import Resource

PUSH_FORMATS = ("csv", "parquet", "jsonl", "json")


class UnsupportedPushFormatError(TerminalError):
    """The pushed format is not one the resource accepts."""

    code = "push-format-unsupported"


class PushSource:
    """Registry entry for ``type: push``: nothing to pull, departments push."""

    type: ClassVar[str] = "push"

    def extract(self, resource: Resource, schema: pa.Schema, state: SourceState) -> Extraction:
        raise TerminalError(
            f"resource {resource.name!r} is pushed by {resource.provider!r}; there is nothing to pull",
            hint="departments push with POST /api/exchange/resources/{name}/pushes",
        )


def guess_format(filename: str) -> str | None:
    """The push format implied by a file name, or None."""
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    return {
        "csv": "csv",
        "parquet": "parquet",
        "pq": "parquet",
        "jsonl": "jsonl",
        "ndjson": "jsonl",
        "json": "json",
    }.get(suffix)


def read_push(
    resource: Resource,
    schema: pa.Schema,
    data: bytes,
    *,
    filename: str = "upload",
    fmt: str | None = None,
    state: SourceState | None = None,
    max_rows: int | None = None,
    max_columns: int | None = None,
) -> Extraction:
    """Parse a pushed batch into an ``Extraction`` in the pinned schema.

    ``max_rows`` / ``max_columns`` tighten the reader's limits (``ReadLimitError``).
    """
    fmt = fmt or guess_format(filename)
    spec = resource.connector
    allowed = list(spec.formats) if isinstance(spec, PushConnector) else list(PUSH_FORMATS)
    if isinstance(spec, PushConnector) and "json" in allowed and "jsonl" not in allowed:
        allowed.append("jsonl")  # JSON lines is JSON, one record a line
    if fmt is None or fmt not in allowed:
        raise UnsupportedPushFormatError(
            f"resource {resource.name!r} does not accept pushed format {fmt!r}",
            hint=f"push one of: {', '.join(allowed)}",
        )
    limits = ReadLimits.from_env(max_rows=max_rows, max_columns=max_columns)
    read = ReadSpec(format=fmt, encoding="auto", limits=limits)
    digest = hashlib.sha256(data).hexdigest()

    def opener() -> IO[bytes]:
        return io.BytesIO(data)

    def produce(ex: Extraction) -> Iterator[pa.RecordBatch]:
        yield from read_stream(ex, resource.name, read, opener, filename)
        ex.files.append(FileRef(filename, digest, len(data), rows=ex.rows))

    return Extraction(schema, produce, state)
