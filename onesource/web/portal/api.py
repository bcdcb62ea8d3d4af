"""The open API: dataset listing, metadata, rows with paging and filters, DCAT, data.json."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from onesource.web.deps import CatalogDep, StoreDep
from onesource.web.portal.common import check_name, index_for
from onesource.web.portal.model import Dataset, all_datasets, dataset
from schemas.vocab import OpenClass

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
        "url": str(request.url_for("open_dataset", name=r.name)),
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
    items = all_datasets(store, catalog)
    if q.strip():
        hits = set(index_for(catalog).search(q))
        items = [d for d in items if d.name in hits]
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


@router.get(
    "/api/open/datasets/{name}/rows", summary="Rows as JSON, paged, filtered by field equality"
)
def rows(
    request: Request,
    name: str,
    store: StoreDep,
    catalog: CatalogDep,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=100_000_000),
) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    check_name(catalog, name)
    release = catalog.releases[name]
    if release.open_class is not OpenClass.open:
        raise HTTPException(
            403, f"dataset {name!r} is restricted: download it with a registered key instead"
        )
    if store.current("release", name) is None:
        raise HTTPException(404, f"dataset {name!r} has no published version")
    data = store.dataset("release", name)
    schema = data.schema
    expr = None
    for field, value in request.query_params.items():
        if field in ("limit", "offset"):
            continue
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
        cond = pads.field(field) == typed
        expr = cond if expr is None else expr & cond
    table = data.to_table(filter=expr) if expr is not None else data.to_table()
    total = table.num_rows
    page = table.slice(offset, limit)
    records = page.to_pylist()
    for rec in records:
        for k, v in rec.items():
            if hasattr(v, "isoformat"):
                rec[k] = v.isoformat()
    _ = pc
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "fields": schema.names,
        "rows": records,
    }


@router.get("/catalog.jsonld", summary="DCAT-AP catalog of all published datasets")
def catalog_jsonld(store: StoreDep, catalog: CatalogDep) -> Any:
    from fastapi.responses import JSONResponse

    datasets = []
    for d in all_datasets(store, catalog):
        if d.published:
            with store.open_file("release", d.name, "dcat.jsonld") as fh:
                datasets.append(json.loads(fh.read()))
    doc = {
        "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"},
        "@type": "dcat:Catalog",
        "dct:title": "清河市公共数据开放目录",
        "dcat:dataset": datasets,
    }
    return JSONResponse(doc, media_type="application/ld+json")


@router.get("/data.json", summary="Project Open Data style listing")
def data_json(request: Request, store: StoreDep, catalog: CatalogDep) -> dict[str, Any]:
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
                        "downloadURL": str(request.url_for("download", name=d.name, file=f)),
                        "mediaType": f.rsplit(".", 1)[1],
                    }
                    for f in ("data.csv", "data.json", "data.parquet")
                ],
            }
        )
    return {"conformsTo": "https://project-open-data.cio.gov/v1.1/schema", "dataset": items}
