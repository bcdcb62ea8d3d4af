"""共享目录: every resource and data element, its share class, condition, legal basis,
update cycle, quality, the ONE source department of each element, and what the signed-in
department may read now, needs a grant for, or can never have.

What a department may do is the exchange's policy (``Exchange.access``), not a copy of it.
Search is the portal's ``SearchIndex`` (CJK bigrams, BM25F, the stewards' synonyms from
``catalog/search.yaml``) over documents of its own: *every* resource, closed or fed into a
release, with its fields' names and data elements, where the portal indexes only the open
catalogue.  A query the index cannot rank (a resource code, say) falls back to a plain match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Query, Request

from onesource.exchange.policy import ResourceAccess
from onesource.web.console.auth import ConsoleNotFound, User, state
from onesource.web.console.common import render
from schemas.catalog import Catalog
from schemas.resource import Resource
from schemas.vocab import ShareClass

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@dataclass(frozen=True)
class FieldRow:
    name: str
    label: str
    element: str | None
    element_name: str | None
    source: str | None  # the element's ONE source department
    share: ShareClass
    mine: str  # own | readable | granted | requestable | verify-only | none


@dataclass(frozen=True)
class Entry:
    res: Resource
    provider_name: str
    access: ResourceAccess | None  # None for a user without a department (a steward)
    quality: float | None
    fields: list[FieldRow]

    @property
    def needs_grant(self) -> bool:
        return any(f.mine == "requestable" for f in self.fields)


def quality_of(store: Any, resource: str) -> float | None:
    """The newest quality run's mean score (0..1) of a resource, None when never checked."""
    runs = store.quality(resource, 1)
    if not runs:
        return None
    scores = ((runs[0].get("summary") or {}).get("scores")) or {}
    vals = [float(v) for v in scores.values() if v is not None]
    return round(sum(vals) / len(vals), 3) if vals else None


def department_scores(store: Any) -> dict[str, float]:
    """Each department's overall score on the newest scorecard (``onesource quality``)."""
    from onesource.quality.scorecard import latest_scorecard

    card = latest_scorecard(store) or {}
    out: dict[str, tuple[str, float]] = {}
    for row in card.get("rows", []):
        if row.get("overall") is None:
            continue
        if row["department"] not in out or row["day"] > out[row["department"]][0]:
            out[row["department"]] = (row["day"], float(row["overall"]))
    return {dept: score for dept, (_, score) in out.items()}


def field_rows(
    catalog: Catalog, res: Resource, acc: ResourceAccess | None, granted: frozenset[str]
) -> list[FieldRow]:
    from onesource.exchange.policy import field_classes

    classes = field_classes(catalog, res)
    out = []
    for name, spec in res.fields.items():
        el = catalog.elements.get(spec.element) if spec.element else None
        share = classes[name]
        if acc is None:
            mine = share.value
        elif acc.level == "own":
            mine = "own"
        elif name in acc.readable:
            mine = "granted" if name in granted else "readable"
        elif name in acc.verifiable:
            mine = "verify-only"
        elif share is ShareClass.conditional:
            mine = "requestable"
        else:
            mine = "none"
        out.append(
            FieldRow(
                name,
                spec.name or (el.name if el else name),
                spec.element,
                el.name if el else None,
                el.source if el else None,
                share,
                mine,
            )
        )
    return out


def entry(request: Request, user: Any, res: Resource) -> Entry:
    st = state(request)
    ex = st.exchange
    catalog = ex.catalog()
    # what a department may do, for its officers and approvers: a steward or operator
    # account carrying a department sees the catalogue as a steward, not its grants
    member = user.has("officer") or user.has("approver")
    acc = ex.access(user.department, res) if user.department and member else None
    granted: frozenset[str] = frozenset()
    if acc is not None and acc.level == "granted":
        granted = ex.grants.active_fields(user.department, res.name)[0]
    dept = catalog.departments.get(res.provider)
    return Entry(
        res,
        dept.name if dept else res.provider,
        acc,
        quality_of(ex.store, res.name),
        field_rows(catalog, res, acc, granted),
    )


_indexes: dict[int, tuple[Catalog, Any]] = {}


def documents(catalog: Catalog) -> list[Any]:
    """One search document per resource, whatever its open class."""
    from onesource.web.portal.search import Doc

    docs = []
    for res in catalog.resources.values():
        fields = []
        for name, spec in res.fields.items():
            el = catalog.field_element(spec)
            names = (name, spec.name, el.name if el else None, el.name_en if el else None)
            fields.append(" / ".join(dict.fromkeys(n for n in names if n)))
        dept = catalog.departments.get(res.provider)
        docs.append(
            Doc(
                res.name,
                {
                    "title": [res.title, res.title_en, res.name],
                    "keywords": list(res.keywords),
                    "fields": fields,
                    "department": [dept.name, dept.name_en, dept.code] if dept else [],
                    "summary": [res.summary, res.share_condition or "", res.share_basis or ""],
                    "codes": [res.code],
                },
            )
        )
    return docs


def search(catalog: Catalog, q: str) -> list[str]:
    """Resource names matching ``q``, best first (the index, else a plain match)."""
    from onesource.web.portal.search import SearchIndex

    hit = _indexes.get(id(catalog))
    if hit is None or hit[0] is not catalog:
        _indexes.clear()
        hit = _indexes[id(catalog)] = (catalog, SearchIndex(catalog, documents(catalog)))
    ranked = [h.key for h in hit[1].search(q)]
    if ranked:
        return ranked
    return [r.name for r in catalog.resources.values() if matches(r, catalog, q)]


def matches(res: Resource, catalog: Catalog, q: str) -> bool:
    q = q.strip().lower()
    if not q:
        return True
    dept = catalog.departments.get(res.provider)
    texts = [res.name, res.title, res.title_en, res.code, res.summary, *res.keywords]
    texts += [dept.name if dept else res.provider, res.provider]
    for name, spec in res.fields.items():
        el = catalog.elements.get(spec.element) if spec.element else None
        texts += [name, spec.name or "", el.name if el else "", el.name_en if el else ""]
    return any(q in t.lower() for t in texts if t)


@router.get("/console/catalogue")
def catalogue(
    request: Request,
    user: User,
    q: str = Query("", max_length=100),
    share: str = Query("", pattern="^(|unconditional|conditional|none)$"),
    department: str = Query("", max_length=64),
    page: int = Query(1, ge=1, le=100_000),
) -> Any:
    catalog: Catalog = state(request).exchange.catalog()
    if q.strip():
        found = [catalog.resources[n] for n in search(catalog, q) if n in catalog.resources]
    else:
        found = sorted(catalog.resources.values(), key=lambda r: (r.provider, r.code))
    chosen = [
        res
        for res in found
        if (not share or res.share_class.value == share)
        and (not department or res.provider == department)
    ]
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(page, pages)
    # what a department may do, and quality, only for the page shown (one query each)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    entries = [entry(request, user, res) for res in shown]
    return render(
        request,
        "catalogue.html",
        entries=entries,
        q=q,
        share=share,
        department=department,
        departments=catalog.departments,
        total=len(catalog.resources),
        matched=len(chosen),
        page=page,
        pages=pages,
        scores=department_scores(state(request).exchange.store),
    )


@router.get("/console/catalogue/{name}")
def resource_page(request: Request, user: User, name: str) -> Any:
    catalog: Catalog = state(request).exchange.catalog()
    res = catalog.resources.get(name)
    if res is None:
        raise ConsoleNotFound(f"信息资源 {name[:80]}")
    return render(
        request,
        "resource.html",
        e=entry(request, user, res),
        departments=catalog.departments,
        scores=department_scores(state(request).exchange.store),
    )
