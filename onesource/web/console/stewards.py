"""Pages for data stewards (role ``steward``): the data map, catalog health, quality.

- data map: every element, its ONE source department, the resources carrying it, the
  departments reading it (active grants), the releases publishing something from it;
- catalog health: the working catalog's problems as ``file:line:column`` (the hub
  keeps serving the last valid catalog meanwhile, ``onesource.catalog.compiled``) and
  what changed against the catalog served (``onesource.catalog.diff``);
- quality: department scorecards over time (server-side SVG with a table of the same
  figures), objections, recent runs, quarantined rows, consistency, release risk.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from onesource.store.records import utcnow
from onesource.web.console.auth import Steward, state
from onesource.web.console.common import render

router = APIRouter(include_in_schema=False)


def _state() -> Any:
    """The working catalog's state (as ``/status/catalog`` reports it)."""
    from onesource.catalog.compiled import catalog_state
    from onesource.settings import get_settings

    return catalog_state(get_settings().catalog)


@router.get("/console/steward")
def home(request: Request, user: Steward) -> Any:
    return render(request, "steward_home.html", catalog_state=_state())


@router.get("/console/steward/map")
def data_map(request: Request, user: Steward) -> Any:
    from onesource.web.console.datamap import data_map as build

    ex = state(request).exchange
    catalog = ex.catalog()
    q = request.query_params.get("q", "").strip()[:100]
    rows = build(catalog, ex.store.engine, utcnow())
    if q:
        rows = [
            r
            for r in rows
            if q in r.id or q in r.name or q.lower() in r.name_en.lower() or q == r.source
        ]
    return render(request, "steward_map.html", rows=rows, q=q, departments=catalog.departments)


def catalog_health() -> dict[str, Any]:
    """The working catalog's state, its problems and its changes against the served one."""
    from onesource.catalog.compiled import load_serving
    from onesource.catalog.diff import diff
    from onesource.catalog.loader import load_catalog
    from onesource.settings import get_settings

    root = get_settings().catalog
    st = _state()
    changes: list[Any] = []
    error = None
    try:
        serving = load_serving(root)
    except Exception as exc:  # nothing valid to serve: say so, the problems say why
        serving, error = None, str(exc)
    if st.status != "ok" and serving is not None:
        changes = diff(serving, load_catalog(root).catalog)
    return {"state": st, "changes": changes, "error": error}


@router.get("/console/steward/catalog")
def catalog_page(request: Request, user: Steward) -> Any:
    return render(request, "steward_catalog.html", **catalog_health())


def _latest_summary(store: Any, resource: str) -> dict[str, Any]:
    results = store.quality(resource, 1)
    return (results[0]["summary"] or {}) if results else {}


def quality_view(store: Any, catalog: Any, lang: str, exchange: Any = None) -> dict[str, Any]:
    """Scorecards over time (charts and tables), runs, quarantine, consistency, risk."""
    from onesource.quality.scorecard import compute, entries_from_store, with_objections
    from onesource.web.portal.chart import Series, svg

    card = with_objections(compute(entries_from_store(store, catalog, 30)), store.engine)
    by_dept: dict[str, list[Any]] = {}
    for row in card.rows:
        by_dept.setdefault(row.department, []).append(row)
    charts = []
    for dept, rows in sorted(by_dept.items()):
        points = [(r.day, round(r.overall * 100, 1)) for r in rows if r.overall is not None]
        title = "overall score (%)" if lang == "en" else "综合评分（%）"
        series = Series(f"score-{dept}", "month", dept, title, points, 0)
        latest = card.latest().get(dept)
        charts.append(
            {
                "department": dept,
                "svg": svg(series, lang) if points else None,
                "rows": rows,
                "objections": card.open_objections(latest) if latest else None,
            }
        )
    resources = []
    for name, res in sorted(catalog.resources.items()):
        summary = _latest_summary(store, name)
        consistency = summary.get("consistency") or {}
        resources.append(
            {
                "name": name,
                "provider": res.provider,
                "checked": summary.get("rows_checked"),
                "quarantined": summary.get("rows_quarantined"),
                "agreement": consistency.get("agreement"),
                "disagreements": [
                    e for e in consistency.get("elements") or [] if e.get("disagreements")
                ],
            }
        )
    releases = []
    for name in sorted(catalog.releases):
        info = store.current("release", name)
        risk = (info.stats or {}).get("risk") if info is not None else None
        releases.append({"name": name, "version": info.number if info else None, "risk": risk})
    from onesource.exchange.objections import ObjectionBook

    overdue = ObjectionBook(exchange).list(None, status="overdue") if exchange else []
    return {
        "overdue_objections": overdue,
        "card": card,
        "charts": charts,
        "dimensions": list(card.to_dict()["dimensions"]),
        "runs": store.runs(None, 30),
        "resources": resources,
        "releases": releases,
    }


@router.get("/console/steward/quality")
def quality(request: Request, user: Steward) -> Any:
    from onesource.web.console.common import lang

    ex = state(request).exchange
    return render(
        request,
        "steward_quality.html",
        **quality_view(ex.store, ex.catalog(), lang(request), ex),
    )
