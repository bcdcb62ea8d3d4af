"""Server-rendered pages: home + search, dataset pages, department pages, API page, registration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse

from onesource.web.deps import CatalogDep, StoreDep
from onesource.web.portal import consumers
from onesource.web.portal.common import check_name, index_for, render
from onesource.web.portal.model import all_datasets, dataset
from schemas.vocab import OpenClass

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    store: StoreDep,
    catalog: CatalogDep,
    q: str = "",
    department: str = "",
    theme: str = "",
    cycle: str = "",
    open_class: str = "",
    kind: str = "",
) -> Any:
    items = all_datasets(store, catalog)
    if q.strip():
        hits = index_for(catalog).search(q[:100])
        order = {n: i for i, n in enumerate(hits)}
        items = sorted((d for d in items if d.name in order), key=lambda d: order[d.name])
    facets = {
        "department": department,
        "theme": theme,
        "cycle": cycle,
        "open_class": open_class,
        "kind": kind,
    }
    items = [
        d
        for d in items
        if (not department or d.release.publisher == department)
        and (not theme or d.release.theme == theme)
        and (not cycle or d.release.update_cycle.value == cycle)
        and (not open_class or d.release.open_class.value == open_class)
        and (not kind or d.release.kind.value == kind)
    ]
    options = {
        "department": sorted(
            {
                (r.publisher, catalog.departments[r.publisher].name)
                for r in catalog.releases.values()
            }
        ),
        "theme": sorted({(r.theme, r.theme) for r in catalog.releases.values()}),
        "cycle": sorted(
            {(r.update_cycle.value, r.update_cycle.label) for r in catalog.releases.values()}
        ),
        "open_class": sorted(
            {(r.open_class.value, r.open_class.label) for r in catalog.releases.values()}
        ),
        "kind": sorted({(r.kind.value, r.kind.label) for r in catalog.releases.values()}),
    }
    return render(
        request, "home.html", items=items, q=q, facets=facets, options=options, catalog=catalog
    )


@router.get("/datasets/{name}", response_class=HTMLResponse)
def dataset_page(request: Request, name: str, store: StoreDep, catalog: CatalogDep) -> Any:
    check_name(catalog, name)
    ds = dataset(store, catalog, catalog.releases[name])
    preview, columns, dictionary, changelog = [], [], [], None
    if ds.published:
        if ds.release.open_class is OpenClass.open:  # restricted: no rows on a public page
            table = store.dataset("release", name).head(10)
            columns, preview = table.column_names, table.to_pylist()
        import json

        with store.open_file("release", name, "datapackage.json") as fh:
            dictionary = json.loads(fh.read())["resources"][0]["schema"]["fields"]
        with store.open_file("release", name, "changelog.md") as fh:
            changelog = fh.read().decode()
    versions = list(reversed(store.versions("release", name)))
    withdrawn = store.withdrawals.of("release", name)
    score = _department_score(store, ds.release.publisher)
    return render(
        request,
        "dataset.html",
        ds=ds,
        preview=preview,
        columns=columns,
        dictionary=dictionary,
        versions=versions,
        changelog=changelog,
        withdrawn=withdrawn,
        score=score,
        catalog=catalog,
    )


def _department_score(store: Any, dept: str) -> dict[str, Any] | None:
    from onesource.quality.scorecard import latest_scorecard

    card = latest_scorecard(store)
    rows = [r for r in (card or {}).get("rows", []) if r["department"] == dept]
    return max(rows, key=lambda r: r["day"]) if rows else None


@router.get("/departments/{code}", response_class=HTMLResponse)
def department_page(request: Request, code: str, store: StoreDep, catalog: CatalogDep) -> Any:
    from onesource.quality.scorecard import DIMENSIONS, latest_scorecard

    if code not in catalog.departments:
        raise HTTPException(404, f"no department {code!r}")
    card = latest_scorecard(store)
    rows = sorted(
        (r for r in (card or {}).get("rows", []) if r["department"] == code), key=lambda r: r["day"]
    )
    latest = rows[-1] if rows else None
    items = [d for d in all_datasets(store, catalog) if d.release.publisher == code]
    return render(
        request,
        "department.html",
        dept=catalog.departments[code],
        latest=latest,
        dims=DIMENSIONS,
        items=items,
        resources=[r for r in catalog.resources.values() if r.provider == code],
    )


@router.get("/api", response_class=HTMLResponse)
def api_page(request: Request, catalog: CatalogDep) -> Any:
    from onesource.web.hosts import public_url

    return render(
        request,
        "api.html",
        example=next(iter(catalog.releases), "business_register_open"),
        base=public_url(),
    )


@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request) -> Any:
    return render(request, "register.html", key=None, error=None)


@router.post("/register", response_class=HTMLResponse)
def register(
    request: Request,
    store: StoreDep,
    name: Annotated[str, Form(max_length=200)],
    email: Annotated[str, Form(max_length=320)],
    accept: Annotated[str, Form()] = "",
) -> Any:
    if accept != "yes":
        return render(request, "register.html", status=400, key=None, error="terms")
    if "@" not in email or not name.strip():
        return render(request, "register.html", status=400, key=None, error="fields")
    return render(
        request,
        "register.html",
        key=consumers.register(store, name.strip(), email.strip()),
        error=None,
    )
