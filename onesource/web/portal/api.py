"""The open API: dataset listing, metadata, rows with paging and filters, DCAT, data.json."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache, TTLCache
from fastapi import APIRouter, HTTPException, Query, Request

from onesource.metrics import CACHE_HIT, CACHE_MISS
from onesource.web.deps import (
    CatalogDep,
    StoreDep,
    fresh_catalog,
    get_catalog,
    get_store,
    store_opened,
)
from onesource.web.hosts import absolute
from onesource.web.portal.common import check_name, index_for
from onesource.web.portal.listing import datasets
from onesource.web.portal.model import Dataset, all_datasets, dataset
from schemas.vocab import OpenClass

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as pads

    from onesource.store import Store
    from onesource.store.records import VersionInfo

router = APIRouter(tags=["open"])
MAX_PAGE = 1000


def _summary(ds: Dataset, request: Request) -> dict[str, Any]:
    r = ds.release
    return {
        "id": r.name,
        "title": r.title,
        "title_en": r.title_en,
        "summary": r.summary,
        "kind": r.kind.value,
        "publisher": r.publisher,
        "publisher_name": ds.department,
        "theme": r.theme,
        "keywords": r.keywords,
        "update_cycle": r.update_cycle.value,
        "open_class": r.open_class.value,
        "licence": r.licence,
        "version": ds.version,
        "rows": ds.rows,
        "updated": ds.built_at,
        "url": absolute(request.app.url_path_for("open_dataset", name=r.name)),
    }


@router.get("/api/open/datasets", summary="List and search datasets")
def list_datasets(
    request: Request,
    store: StoreDep,
    catalog: CatalogDep,
    q: str = Query("", max_length=100),
    department: str | None = None,
    theme: str | None = None,
    open_class: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    items = datasets(store, catalog)
    if q.strip():  # the portal's search: relevance order, synonyms, code labels
        rank = {h.key: n for n, h in enumerate(index_for(catalog).search(q))}
        items = sorted(
            (d for d in items if f"dataset:{d.name}" in rank),
            key=lambda d: rank[f"dataset:{d.name}"],
        )
    items = [
        d
        for d in items
        if (department is None or d.release.publisher == department)
        and (theme is None or d.release.theme == theme)
        and (open_class is None or d.release.open_class.value == open_class)
    ]
    return {
        "total": len(items),
        "limit": limit,
        "offset": offset,
        "items": [_summary(d, request) for d in items[offset : offset + limit]],
    }


@router.get(
    "/api/open/datasets/{name}", name="open_dataset", summary="One dataset: metadata, files, risk"
)
def get_dataset(
    request: Request, name: str, store: StoreDep, catalog: CatalogDep
) -> dict[str, Any]:
    check_name(catalog, name)
    ds = dataset(store, catalog, catalog.releases[name])
    out = _summary(ds, request)
    out["files"] = ds.files
    out["withdrawn"] = [
        {"version": w.number, "reason": w.reason, "at": w.withdrawn_at.isoformat()}
        for w in sorted(store.withdrawals.of("release", name).values(), key=lambda w: w.number)
    ]
    out["risk"] = {
        k: ds.risk.get(k)
        for k in (
            "k_reached",
            "records_suppressed",
            "max_prosecutor_risk",
            "cells_suppressed_primary",
            "cells_suppressed_complementary",
        )
        if k in ds.risk
    }
    if ds.published:
        with store.open_file("release", name, "datapackage.json") as fh:
            out["fields"] = json.loads(fh.read())["resources"][0]["schema"]["fields"]
    return out


# Published release data, decoded once per version and kept in memory for the rows API:
# versions are immutable, so a page is a zero-copy slice and a filter one vectorized
# compare, instead of reading and decoding the whole Parquet file on every request.
# Bounded by decoded bytes; a release larger than the budget is scanned in batches per
# request instead (slower, but memory stays bounded).
ROWS_CACHE_BYTES = 512 << 20
BLOCK = 1 << 16  # rows per block when locating the matches of one page


class _Rows:
    """One release version in memory: one array per column, repetitive strings as codes."""

    def __init__(self, table: pa.Table, schema: pa.Schema) -> None:
        """``table`` as read (text columns may be dictionaries), ``schema`` as published."""
        import pyarrow as pa

        self.schema = schema  # filter values are typed against the published types
        self.num_rows = table.num_rows
        self.columns: dict[str, pa.Array] = {}
        table = table.unify_dictionaries()  # one dictionary per column across row groups
        for name, col in zip(table.column_names, table.columns, strict=True):
            arr = col.combine_chunks()
            if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
                coded = arr.dictionary_encode()
                if 2 * len(coded.dictionary) <= len(arr):
                    arr = coded  # an equality filter then compares integer codes
            self.columns[name] = arr
        self.nbytes = sum(a.nbytes for a in self.columns.values())

    def mask(self, field: str, value: pa.Scalar) -> pa.BooleanArray:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = self.columns[field]
        if pa.types.is_dictionary(arr.type):
            # -1 when absent, which no code equals
            code = pc.index(arr.dictionary, value.cast(arr.dictionary.type)).as_py()
            return pc.equal(arr.indices, pa.scalar(code, arr.indices.type))
        return pc.equal(arr, value)

    def page(self, rows: slice | pa.Array) -> pa.Table:
        import pyarrow as pa

        cols = []
        for arr in self.columns.values():
            part = (
                arr.slice(rows.start, rows.stop - rows.start)
                if isinstance(rows, slice)
                else arr.take(rows)
            )
            # plain strings again: to_pylist() is ~10x slower on dictionary arrays
            cols.append(part.dictionary_decode() if pa.types.is_dictionary(part.type) else part)
        return pa.Table.from_arrays(cols, names=list(self.columns))


def _matches(mask: pa.BooleanArray, offset: int, limit: int) -> tuple[int, pa.Array]:
    """How many rows match (true; null never does) and the positions of one page of them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    total, seen, found = mask.true_count, 0, []
    need = max(0, min(limit, total - offset))
    for start in range(0, len(mask), BLOCK):
        if need == 0:
            break
        block = mask.slice(start, BLOCK)
        n = block.true_count
        if seen + n > offset:
            hits = pc.indices_nonzero(block)
            lo = max(offset - seen, 0)
            part = hits.slice(lo, need)
            found.append(pc.add(part, pa.scalar(start, pa.uint64())))
            need -= len(part)
        seen += n
    return total, pa.concat_arrays(found) if found else pa.array([], pa.uint64())


_Key = tuple[str, str, str]  # warehouse, release, version folder
# least recently used versions leave first; sized by decoded bytes (``_Rows.nbytes``)
_tables: LRUCache[_Key, _Rows] = LRUCache(ROWS_CACHE_BYTES, getsizeof=lambda rows: rows.nbytes)
_too_big: LRUCache[_Key, bool] = LRUCache(4096)  # versions scanned per request instead
_tables_lock = threading.Lock()  # guards the caches (cachetools' are not thread-safe)
_load_locks: dict[_Key, threading.Lock] = {}


def _cached_rows(store: Store, name: str, path: str) -> _Rows | None:
    """The decoded data of one release version, or None when it is over the budget."""
    import pyarrow.parquet as pq

    key = (store.warehouse.url, name, path)
    with _tables_lock:
        cached = _tables.get(key)
        if cached is not None:
            CACHE_HIT["rows"].inc()
            return cached
        CACHE_MISS["rows"].inc()
        if key in _too_big:
            return None
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:  # one load per version, however many requests arrive at once
        with _tables_lock:
            cached = _tables.get(key)
        if cached is not None or key in _too_big:
            return cached
        import pyarrow as pa

        full = store.warehouse.full(f"{path}/data.parquet")
        fs = store.warehouse.arrow_fs
        published = pq.ParquetFile(full, filesystem=fs)
        meta, schema = published.metadata, published.schema_arrow
        # text is read as dictionaries, as Parquet mostly stores it: what is held then stays
        # close to Parquet's uncompressed size (decoded, a repetitive text column can be
        # hundreds of times larger than its Parquet pages)
        text = [
            f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        ]
        estimate = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        cached = None
        if estimate <= ROWS_CACHE_BYTES:
            table = pq.ParquetFile(full, filesystem=fs, read_dictionary=text).read()
            cached = _Rows(table, schema)
            del table
        if cached is None or cached.nbytes > ROWS_CACHE_BYTES:
            with _tables_lock:
                _too_big[key] = True
                _load_locks.pop(key, None)
            return None
        with _tables_lock:
            for old in [k for k in _tables if k[:2] == key[:2]]:
                del _tables[old]  # an older version of the same release
            _tables[key] = cached  # evicts the least recently used until within the budget
            _load_locks.pop(key, None)
        return cached


def _scan_page(
    data: pads.Dataset, expr: pads.Expression | None, offset: int, limit: int
) -> tuple[int, pa.Table]:
    """Total matches and one page, streaming batches (for releases over the cache budget)."""
    import pyarrow as pa

    total, parts = 0, []
    for batch in data.to_batches(filter=expr):
        n = batch.num_rows
        lo, hi = max(offset - total, 0), min(offset + limit - total, n)
        if lo < hi:
            parts.append(batch.slice(lo, hi - lo))
        total += n
    page = pa.Table.from_batches(parts, schema=data.schema) if parts else data.schema.empty_table()
    return total, page


# The version a release's rows come from, looked up at most once a second per release: a
# page served from memory then touches neither the metadata DB nor a worker thread.
CURRENT_RECHECK_SECONDS = 1.0
_current: TTLCache[tuple[str, str], VersionInfo] = TTLCache(1024, CURRENT_RECHECK_SECONDS)


def _hot(store: Store, name: str) -> tuple[VersionInfo, _Rows] | None:
    """The current version and its decoded rows when both are at hand without I/O."""
    with _tables_lock:  # held only for cache updates, never during a load
        info = _current.get((store.warehouse.url, name))
        if info is None:
            return None
        cached = _tables.get((store.warehouse.url, name, info.path))
    return None if cached is None else (info, cached)


def _load(store: Store, name: str) -> tuple[VersionInfo, _Rows | None]:
    """The current version (or 404) and its decoded rows (None over the budget); does I/O."""
    info = store.current("release", name)
    if info is None:
        if store.withdrawals.of("release", name):
            raise HTTPException(
                410,
                f"every published version of {name!r} was withdrawn",
                headers={"Cache-Control": "no-store"},
            )
        raise HTTPException(404, f"dataset {name!r} has no published version")
    with _tables_lock:
        _current[(store.warehouse.url, name)] = info
    return info, _cached_rows(store, name, info.path)


@router.get(
    "/api/open/datasets/{name}/rows", summary="Rows as JSON, paged, filtered by field equality"
)
async def rows(
    request: Request,
    name: str,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=100_000_000),
) -> dict[str, Any]:
    """A page of an open dataset's rows; ``<field>=<value>`` parameters filter by equality.

    A page of a version held in memory is cut on the event loop (under a millisecond);
    anything that reads the disk or the metadata DB runs in a worker thread.
    """
    from starlette.concurrency import run_in_threadpool

    # on the event loop only what is at hand: a catalog check or reload, a cold store, a version
    # lookup or load, and scans of versions too large to hold all run in a worker thread
    catalog = fresh_catalog()
    if catalog is None:
        catalog = await run_in_threadpool(get_catalog)
    store = get_store() if store_opened() else await run_in_threadpool(get_store)
    check_name(catalog, name)
    if catalog.releases[name].open_class is not OpenClass.open:
        raise HTTPException(
            403, f"dataset {name!r} is restricted: download it with a registered key instead"
        )
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset")]
    hot = _hot(store, name)
    if hot is not None:
        return _page(store, name, hot[0], hot[1], params, limit, offset)
    info, cached = await run_in_threadpool(_load, store, name)
    if cached is not None:
        return _page(store, name, info, cached, params, limit, offset)
    return await run_in_threadpool(_page, store, name, info, None, params, limit, offset)


def _page(
    store: Store,
    name: str,
    info: VersionInfo,
    cached: _Rows | None,
    params: list[tuple[str, str]],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    data = store.dataset("release", name, info.number) if cached is None else None
    schema = cached.schema if cached is not None else data.schema  # type: ignore[union-attr]
    conds: list[tuple[str, pa.Scalar]] = []
    for field, value in params:
        if field not in schema.names:
            raise HTTPException(400, f"unknown field {field!r}; fields: {', '.join(schema.names)}")
        try:
            typed = (
                pa.scalar(value).cast(schema.field(field).type)
                if not pa.types.is_string(schema.field(field).type)
                else pa.scalar(value)
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise HTTPException(
                400, f"{value!r} is not a valid {schema.field(field).type} for field {field!r}"
            ) from None
        conds.append((field, typed))
    if cached is not None:
        if conds:
            mask = None
            for field, typed in conds:
                cond = cached.mask(field, typed)
                mask = cond if mask is None else pc.and_kleene(mask, cond)
            total, hits = _matches(mask, offset, limit)
            page = cached.page(hits)
        else:
            total = cached.num_rows
            start = min(offset, total)
            page = cached.page(slice(start, min(start + limit, total)))
    else:
        expr = None
        for field, typed in conds:
            cond = pads.field(field) == typed
            expr = cond if expr is None else expr & cond
        total, page = _scan_page(data, expr, offset, limit)
    records = page.to_pylist()
    for rec in records:
        for k, v in rec.items():
            if hasattr(v, "isoformat"):
                rec[k] = v.isoformat()
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "fields": schema.names,
        "rows": records,
    }


@router.get("/catalog.jsonld", summary="DCAT-AP catalog of all published datasets")
def catalog_jsonld(store: StoreDep, catalog: CatalogDep) -> Any:
    from fastapi.responses import Response

    from onesource.catalog.dcat import base_iri, open_catalogue_graph, serialize

    docs = []
    for d in all_datasets(store, catalog):
        if d.published:
            with store.open_file("release", d.name, "dcat.jsonld") as fh:
                docs.append(fh.read().decode("utf-8"))
    graph = open_catalogue_graph(catalog, docs, base_iri())
    return Response(serialize(graph, "jsonld"), media_type="application/ld+json")


@router.get("/data.json", summary="Project Open Data style listing")
def data_json(request: Request, store: StoreDep, catalog: CatalogDep) -> dict[str, Any]:
    from onesource.catalog.dcat import media_type

    items = []
    for d in all_datasets(store, catalog):
        if not d.published:
            continue
        items.append(
            {
                "identifier": d.name,
                "title": d.release.title,
                "description": d.release.summary,
                "keyword": d.release.keywords,
                "modified": d.built_at,
                "publisher": {"name": d.department},
                "accessLevel": "public"
                if d.release.open_class is OpenClass.open
                else "restricted public",
                "license": d.release.licence,
                "distribution": [
                    {
                        "downloadURL": absolute(
                            request.app.url_path_for("download", name=d.name, file=f)
                        ),
                        "mediaType": media_type(f),
                    }
                    for f in ("data.csv", "data.json", "data.parquet")
                ],
            }
        )
    return {"conformsTo": "https://project-open-data.cio.gov/v1.1/schema", "dataset": items}
