"""Pages of rows of a curated version: bounded, with an optional key-equality filter.

A cursor names a position in one immutable version, so paging stays stable
while new versions are committed (the page after the cursor comes from the
same version).  Filter values are bound as Arrow scalars of the column type:
there is no SQL to inject into.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from onesource.exchange.errors import AccessDeniedError, InvalidRequestError

if TYPE_CHECKING:
    from onesource.store import Store


@dataclass(frozen=True)
class Page:
    table: pa.Table
    version: int
    offset: int
    total: int
    next_cursor: str | None


def make_cursor(version: int, offset: int) -> str:
    raw = json.dumps({"v": version, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(cursor: str) -> tuple[int, int]:
    """``(version, offset)`` of a cursor this API handed out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        version, offset = int(data["v"]), int(data["o"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(
            "invalid cursor", hint="pass next_cursor from the previous page unchanged"
        ) from exc
    if version < 1 or offset < 0:
        raise InvalidRequestError("invalid cursor", hint="pass next_cursor unchanged")
    return version, offset


def parse_where(items: list[str]) -> dict[str, str]:
    """``["field:value", ...]`` into a dict (the first ``:`` splits)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name:
            raise InvalidRequestError(
                f"filter {item!r} is not field:value", hint="e.g. eq=id_number:110101199001011234"
            )
        out[name] = value
    return out


def _filter(schema: pa.Schema, where: dict[str, str], allowed: list[str]) -> object:
    import pyarrow.compute as pc

    expr = None
    for name, value in where.items():
        if name not in allowed:
            raise AccessDeniedError(
                f"cannot filter on {name!r}",
                hint="filter on key fields only: " + (", ".join(allowed) or "none"),
            )
        target = schema.field(name).type
        try:
            scalar = pa.scalar(value, pa.string()).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidRequestError(
                f"filter value {value!r} is not a valid {target} for {name!r}"
            ) from exc
        term = pc.field(name) == scalar
        expr = term if expr is None else expr & term
    return expr


def read_page(
    store: Store,
    resource: str,
    version: int,
    fields: list[str],
    where: dict[str, str],
    lookup: list[str],
    limit: int,
    offset: int,
) -> Page:
    """Rows ``offset .. offset+limit`` of ``fields``, optionally filtered by key equality."""
    import pyarrow.parquet as pq

    if where:
        ds = store.dataset("resource", resource, version)
        expr = _filter(ds.schema, where, lookup)
        table = ds.to_table(columns=fields, filter=expr)
        total = table.num_rows
        page = table.slice(offset, limit)
    else:
        with store.open_file("resource", resource, "data.parquet", version) as fh:
            pf = pq.ParquetFile(fh)
            total = pf.metadata.num_rows
            end = min(offset + limit, total)
            groups, start, first_row = [], 0, None
            for i in range(pf.metadata.num_row_groups):
                n = pf.metadata.row_group(i).num_rows
                if start + n > offset and start < end:
                    groups.append(i)
                    first_row = start if first_row is None else first_row
                start += n
            if groups and first_row is not None:
                table = pf.read_row_groups(groups, columns=fields)
                page = table.slice(offset - first_row, end - offset)
            else:
                page = pf.schema_arrow.empty_table().select(fields)
    nxt = make_cursor(version, offset + limit) if offset + limit < total else None
    return Page(page, version, offset, total, nxt)
