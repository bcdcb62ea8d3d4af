"""Server-rendered pages: home + search, dataset pages, department pages, API page, registration."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse

from onesource.web.deps import CatalogDep, StoreDep
from onesource.web.portal import csrf
from onesource.web.portal.common import check_name, render
from onesource.web.portal.listing import datasets
from onesource.web.portal.model import dataset
from schemas.vocab import OpenClass

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    store: StoreDep,
    catalog: CatalogDep,
    q: str = "",
    sort: str = "",
    page: str = "1",
    department: str = "",
    theme: str = "",
    cycle: str = "",
    open_class: str = "",
    kind: str = "",
) -> Any:
    """The open catalogue: search, facets with counts, sorting, pages (onesource.web.portal.listing).

    A page rendered before is answered on the event loop; rendering runs in a worker thread.
    """
    from starlette.concurrency import run_in_threadpool

    from onesource.web.portal.listing import cached_home, home_page

    facets = {
        "department": department,
        "theme": theme,
        "cycle": cycle,
        "open_class": open_class,
        "kind": kind,
    }
    hit = cached_home(request, store, catalog, q, facets, sort, page)
    if hit is not None:
        return hit
    return await run_in_threadpool(home_page, request, store, catalog, q, facets, sort, page)


@router.get("/datasets/{name}", response_class=HTMLResponse)
def dataset_page(request: Request, name: str, store: StoreDep, catalog: CatalogDep) -> Any:
    from onesource.web.hosts import public_url
    from onesource.web.portal import dataset_view
    from onesource.web.portal.common import lang

    check_name(catalog, name)
    ds = dataset(store, catalog, catalog.releases[name])
    view = dataset_view.page(store, catalog, ds, lang(request), public_url())
    score = _department_score(store, ds.release.publisher)
    return render(request, "dataset.html", ds=ds, score=score, catalog=catalog, **view)


def _department_score(store: Any, dept: str) -> dict[str, Any] | None:
    from onesource.quality.scorecard import latest_scorecard

    card = latest_scorecard(store)
    rows = [r for r in (card or {}).get("rows", []) if r["department"] == dept]
    return max(rows, key=lambda r: r["day"]) if rows else None


@router.get("/departments", response_class=HTMLResponse)
def departments_index(request: Request, store: StoreDep, catalog: CatalogDep) -> Any:
    """Every department with its datasets and catalogue entries."""
    from onesource.web.portal.listing import by_department

    return render(request, "departments.html", groups=by_department(store, catalog))


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
    items = [d for d in datasets(store, catalog) if d.release.publisher == code]
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


def _restricted(catalog: Any) -> list[tuple[str, str, list[Any]]]:
    """Restricted releases grouped by publishing department: (code, name, releases)."""
    groups: dict[str, list[Any]] = {}
    for r in catalog.releases.values():
        if r.open_class is OpenClass.restricted:
            groups.setdefault(r.publisher, []).append(r)
    return [
        (code, catalog.departments[code].name, sorted(rs, key=lambda r: r.name))
        for code, rs in sorted(groups.items())
    ]


def _form(request: Request, template: str, status: int = 200, **ctx: Any) -> Any:
    nonce, token = csrf.token_for(request)
    return csrf.set_cookie(request, render(request, template, status, csrf=token, **ctx), nonce)


@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request, catalog: CatalogDep) -> Any:
    return _form(request, "register.html", groups=_restricted(catalog), error=None, form={})


@router.post("/register", response_class=HTMLResponse)
def register(
    request: Request,
    store: StoreDep,
    catalog: CatalogDep,
    name: Annotated[str, Form(max_length=200)],
    email: Annotated[str, Form(max_length=320)],
    organisation: Annotated[str, Form(max_length=200)] = "",
    purpose: Annotated[str, Form(max_length=2000)] = "",
    datasets: Annotated[list[str], Form(max_length=100)] = [],  # noqa: B006 (FastAPI default)
    accept: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias="csrf", max_length=128)] = "",
) -> Any:
    """An application for restricted datasets; nothing is granted until the publisher decides."""
    from onesource.web.portal import applications

    form = {"name": name, "email": email, "organisation": organisation, "purpose": purpose}
    again = {"groups": _restricted(catalog), "form": form}
    if not csrf.valid(request, csrf_token):
        return _form(request, "register.html", 403, error="csrf", **again)
    if accept != "yes":
        return _form(request, "register.html", 400, error="terms", **again)
    try:
        done = applications.submit(
            store,
            catalog,
            name=name,
            organisation=organisation,
            email=email,
            purpose=purpose,
            datasets=datasets,
        )
    except applications.ApplicationError as exc:
        return _form(request, "register.html", 400, error=exc.message, **again)
    page = render(request, "application_submitted.html", done=done)
    page.headers["Cache-Control"] = "no-store"  # it carries the status token
    return page


@router.get("/register/status", response_class=HTMLResponse)
def status_form(request: Request) -> Any:
    return _form(request, "application_status.html", app=None, key=None, error=None)


@router.post("/register/status", response_class=HTMLResponse)
def status_page(
    request: Request,
    store: StoreDep,
    catalog: CatalogDep,
    application: Annotated[str, Form(max_length=64)],
    token: Annotated[str, Form(max_length=100)],
    csrf_token: Annotated[str, Form(alias="csrf", max_length=128)] = "",
) -> Any:
    """The application's status (id + secret token); an approved key is shown here once."""
    from onesource.web.portal import applications

    if not csrf.valid(request, csrf_token):
        return _form(request, "application_status.html", 403, app=None, key=None, error="csrf")
    found = applications.status(store, application.strip(), token.strip())
    if found is None:
        return _form(request, "application_status.html", 404, app=None, key=None, error="unknown")
    app, key = found
    response = _form(
        request, "application_status.html", app=app, key=key, error=None, catalog=catalog
    )
    response.headers["Cache-Control"] = "no-store"
    return response
