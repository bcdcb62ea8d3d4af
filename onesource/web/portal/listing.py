"""The open catalogue as a listing: search hits, facets with counts, sorting, pagination.

Two kinds of item: *datasets* (published releases, open or restricted) and *catalogue
entries* (resources without a release of their own: restricted ones say how to apply,
closed ones appear only when ``catalog/search.yaml`` sets ``list_closed: true`` and never
carry data).  A resource that feeds a release is represented by that release.

Dataset cards are cached per (release, current version): one query reads every release's
current version number, so a listing of 500 datasets does not open 1,500 files per request.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from onesource.store import Store
from onesource.web.portal.model import Dataset, dataset
from onesource.web.portal.search import Hit, highlight, listed_resources
from schemas.catalog import Catalog
from schemas.resource import Resource
from schemas.vocab import OpenClass

FACETS = ("department", "theme", "kind", "open_class", "cycle")
SORTS = ("relevance", "newest", "downloads", "name")
PER_PAGE = 20
THEMES = {
    "public_service": ("公共服务", "Public services"),
    "housing": ("住房", "Housing"),
    "health": ("医疗卫生", "Health"),
    "legal_entity": ("法人", "Legal entities"),
    "credit": ("社会信用", "Credit"),
    "urban_governance": ("城市治理", "Urban governance"),
    "population": ("人口", "Population"),
    "education": ("教育", "Education"),
    "social_security": ("社会保障", "Social security"),
    "civil_affairs": ("民政", "Civil affairs"),
}
ENTRY_KIND = ("entry", "目录条目（无数据）", "catalogue entry (no data)")


@dataclass
class Item:
    """One row of the listing, dataset or catalogue entry, with what the page shows."""

    key: str
    name: str
    title: str
    title_en: str
    summary: str
    department: str
    department_name: str
    department_name_en: str
    theme: str
    cycle: Any  # UpdateCycle
    open_class: OpenClass
    kind: tuple[str, str, str]  # value, label, English label
    keywords: list[str]
    newest: str  # sortable date text
    dataset: Dataset | None = None
    resource: Resource | None = None
    score: float = 0.0
    title_html: Markup = Markup("")
    summary_html: Markup = Markup("")
    matches: list[Markup] = field(default_factory=list)

    def facet(self, key: str) -> str:
        if key == "kind":
            return self.kind[0]
        if key == "open_class":
            return self.open_class.value
        if key == "cycle":
            return str(self.cycle.value)
        return str(getattr(self, key))


@dataclass
class Listing:
    items: list[Item]  # this page
    total: int
    page: int
    pages: int
    sort: str
    facets: dict[str, list[tuple[str, str, int]]]  # key -> (value, label, count)
    selected: dict[str, str]
    not_open: int  # matching entries that are not open (restricted or closed)


_cards: dict[tuple[str, int, str], tuple[int | None, Dataset]] = {}
_cards_lock = threading.Lock()


def current_numbers(store: Store) -> dict[str, int]:
    """Every release's current version number, in one query."""
    import sqlalchemy as sa

    from onesource.store.models import CurrentVersion

    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(CurrentVersion.subject, CurrentVersion.number).where(
                CurrentVersion.kind == "release"
            )
        )
        return {subject: number for subject, number in rows}


def datasets(store: Store, catalog: Catalog) -> list[Dataset]:
    """Every release as a portal dataset, rebuilt only when its current version changed."""
    numbers = current_numbers(store)
    out = []
    for rel in catalog.releases.values():
        key = (store.metadata_url, id(catalog), rel.name)
        number = numbers.get(rel.name)
        with _cards_lock:
            hit = _cards.get(key)
        if hit is None or hit[0] != number or hit[1].release is not rel:
            ds = dataset(store, catalog, rel)
            with _cards_lock:
                if len(_cards) > 20_000:
                    _cards.clear()
                _cards[key] = (ds.version, ds)
            hit = (ds.version, ds)
        out.append(hit[1])
    return out


def download_counts(store: Store) -> dict[str, int]:
    """Completed downloads per release, for the "most downloaded" sort.

    The counter lives in ``onesource.web.portal.downloads`` (its own change, migration
    0006); without it every count is 0 and the sort falls back to newest first.
    """
    import importlib

    try:
        module = importlib.import_module("onesource.web.portal.downloads")
    except ImportError:
        return {}
    counts: Callable[[Store], dict[str, int]] | None = getattr(module, "download_counts", None)
    return counts(store) if counts else {}


def items(store: Store, catalog: Catalog) -> list[Item]:
    """Every listable thing: datasets, then the catalogue entries the settings allow."""
    out = []
    for ds in datasets(store, catalog):
        r = ds.release
        out.append(
            Item(
                f"dataset:{r.name}",
                r.name,
                r.title,
                r.title_en,
                r.summary,
                r.publisher,
                ds.department,
                ds.department_en,
                r.theme,
                r.update_cycle,
                r.open_class,
                (r.kind.value, r.kind.label, r.kind.label_en),
                list(r.keywords),
                ds.built_at or "",
                dataset=ds,
            )
        )
    for res in listed_resources(catalog):
        dept = catalog.departments.get(res.provider)
        out.append(
            Item(
                f"entry:{res.name}",
                res.name,
                res.title,
                res.title_en,
                res.summary,
                res.provider,
                dept.name if dept else res.provider,
                dept.name_en if dept else res.provider,
                res.classification.subject,
                res.update_cycle,
                res.open_class,
                ENTRY_KIND,
                list(res.keywords),
                res.issued.isoformat(),
                resource=res,
            )
        )
    return out


def _label(key: str, item: Item, lang: str) -> str:
    en = lang == "en"
    if key == "department":
        return item.department_name_en if en else item.department_name
    if key == "theme":
        zh_en = THEMES.get(item.theme)
        return (zh_en[1] if en else zh_en[0]) if zh_en else item.theme
    if key == "kind":
        return item.kind[2] if en else item.kind[1]
    if key == "open_class":
        return item.open_class.label_en if en else item.open_class.label
    return str(item.cycle.label_en if en else item.cycle.label)


def _default_rank(item: Item) -> tuple[int, str]:
    published = item.dataset is not None and item.dataset.published
    tier = 0 if published else 1 if item.dataset is not None else 2 + 2 - item.open_class.rank
    return tier, item.name


def sort_items(
    found: list[Item], sort: str, counts: Callable[[], dict[str, int]], searched: bool
) -> list[Item]:
    """Order items; ``downloads`` reads the counts only when asked for (ties: newest)."""
    by_name = sorted(found, key=lambda i: i.name)
    if sort == "name":
        return sorted(by_name, key=lambda i: i.title)
    if sort == "newest":
        return sorted(by_name, key=lambda i: i.newest, reverse=True)
    if sort == "downloads":
        n = counts()
        newest = sorted(by_name, key=lambda i: i.newest, reverse=True)
        return sorted(newest, key=lambda i: -n.get(i.name, 0) if i.dataset else 1)
    if searched:
        return sorted(found, key=lambda i: (-i.score, i.key))
    return sorted(found, key=_default_rank)


def listing(
    store: Store,
    catalog: Catalog,
    hits: list[Hit] | None,
    selected: dict[str, str],
    sort: str,
    page: int,
    lang: str,
    per_page: int = PER_PAGE,
) -> Listing:
    """Filter, count facets (each facet counted under the other facets' choices), sort, page."""
    everything = items(store, catalog)
    if hits is not None:
        by_key = {h.key: h for h in hits}
        everything = [i for i in everything if i.key in by_key]
        for it in everything:
            hit = by_key[it.key]
            it.score = hit.score
    chosen = {k: v for k, v in selected.items() if v and k in FACETS}

    def keep(it: Item, skip: str = "") -> bool:
        return all(it.facet(k) == v for k, v in chosen.items() if k != skip)

    facets: dict[str, list[tuple[str, str, int]]] = {}
    for key in FACETS:
        counts: dict[str, tuple[str, int]] = {}
        for it in everything:
            if keep(it, key):
                value = it.facet(key)
                label, n = counts.get(value, (_label(key, it, lang), 0))
                counts[value] = (label, n + 1)
        if key in chosen and chosen[key] not in counts:
            counts[chosen[key]] = (chosen[key], 0)
        facets[key] = sorted(((v, lab, n) for v, (lab, n) in counts.items()), key=lambda x: x[1])
    found = [it for it in everything if keep(it)]
    if sort not in SORTS:
        sort = "relevance"
    ordered = sort_items(found, sort, lambda: download_counts(store), hits is not None)
    pages = max(1, math.ceil(len(ordered) / per_page))
    page = min(max(page, 1), pages)
    shown = ordered[(page - 1) * per_page : page * per_page]
    if hits is not None:
        by_key = {h.key: h for h in hits}
        for it in shown:
            _decorate(it, by_key[it.key], lang)
    else:
        for it in shown:
            it.title_html = highlight(it.title_en if lang == "en" else it.title, ())
            it.summary_html = highlight(it.summary, ())
            it.matches = []
    not_open = sum(1 for it in found if it.dataset is None and it.open_class is not OpenClass.open)
    return Listing(shown, len(found), page, pages, sort, facets, chosen, not_open)


def _decorate(it: Item, hit: Hit, lang: str) -> None:
    it.title_html = highlight(it.title_en if lang == "en" else it.title, hit.terms)
    it.summary_html = highlight(it.summary, hit.terms)
    # why it matched, when the title and summary do not show it (a field, a code label)
    shown = (it.title + " " + it.title_en + " " + it.summary).lower()
    it.matches = [
        highlight(text, hit.terms)
        for _, text in hit.matches
        if any(t in text.lower() and t not in shown for t in hit.terms)
    ][:4]


def page_context(
    store: Store,
    catalog: Catalog,
    q: str,
    selected: dict[str, str],
    sort: str,
    page: str,
    lang: str,
) -> dict[str, Any]:
    """What home.html needs: the listing for a query, its facets, sort and page links."""
    from urllib.parse import urlencode

    from onesource.web.portal.common import index_for

    query = q.strip()[:100]
    hits = index_for(catalog).search(query) if query else None
    number = int(page) if page.isdigit() and len(page) < 6 else 1
    result = listing(store, catalog, hits, selected, sort or "", number, lang)
    base = {"q": query, **result.selected, "lang": lang}
    if sort:
        base["sort"] = result.sort

    def link(**change: Any) -> str:
        params = {**base, **change}
        return "/?" + urlencode({k: v for k, v in params.items() if v not in ("", None, 1)})

    return {"q": query, "result": result, "link": link, "sorts": SORTS}


def by_department(store: Store, catalog: Catalog) -> list[tuple[Any, list[Item]]]:
    """(department, its items: datasets first, then catalogue entries) for every department."""
    groups: dict[str, list[Item]] = {code: [] for code in catalog.departments}
    for it in sorted(items(store, catalog), key=_default_rank):
        groups.setdefault(it.department, []).append(it)
    return [(catalog.departments[c], its) for c, its in groups.items() if c in catalog.departments]
