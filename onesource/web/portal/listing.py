"""The open catalogue as a listing: search hits, facets with counts, sorting, pagination.

Two kinds of item: *datasets* (published releases, open or restricted) and *catalogue
entries* (resources without a release of their own: restricted ones say how to apply,
closed ones appear only when ``catalog/search.yaml`` sets ``list_closed: true`` and never
carry data).  A resource that feeds a release is represented by that release.

Dataset cards are cached per (release, current version): one query reads every release's
current version number, so a listing of 500 datasets does not open 1,500 files per request.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from cachetools import LRUCache
from markupsafe import Markup

from onesource.store import Store
from onesource.web.portal.model import Dataset, dataset
from onesource.web.portal.search import THEMES, Hit, highlight, listed_resources
from schemas.catalog import Catalog
from schemas.resource import Resource
from schemas.vocab import OpenClass

FACETS = ("department", "theme", "kind", "open_class", "cycle")
SORTS = ("relevance", "newest", "downloads", "name")
PER_PAGE = 20
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

    values: tuple[str, ...] = ()  # facet values, in FACETS order
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lang -> facet labels

    def facet(self, key: str) -> str:
        if key == "kind":
            return self.kind[0]
        if key == "open_class":
            return self.open_class.value
        if key == "cycle":
            return str(self.cycle.value)
        return str(getattr(self, key))

    def indexed(self) -> Item:
        self.values = tuple(self.facet(k) for k in FACETS)
        self.labels = {lg: tuple(_label(k, self, lg) for k in FACETS) for lg in ("zh", "en")}
        return self


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


# the listing reads the version pointers at most once a second per store (as the rows API
# does): a publication shows on the home page within a second; dataset pages are exact
SNAPSHOT_SECONDS = 1.0
_snapshots: dict[str, tuple[float, dict[str, int]]] = {}
_generations = itertools.count()  # one number per built catalogue: part of every page key
_catalogues: dict[
    tuple[str, int], tuple[frozenset[tuple[str, int]], Catalog, tuple[Item, ...], int]
] = {}


# built listings by (catalogue generation, query, facets, sort, page, lang): a listing
# is immutable once built; bounded, since the key is what a client sends
_pages: LRUCache[tuple[Any, ...], Listing] = LRUCache(maxsize=512)


def snapshot(store: Store) -> dict[str, int]:
    """``current_numbers``, re-read when older than ``SNAPSHOT_SECONDS``."""
    now = time.monotonic()
    seen = _snapshots.get(store.metadata_url)
    if seen is None or now - seen[0] >= SNAPSHOT_SECONDS:
        seen = _snapshots[store.metadata_url] = (now, current_numbers(store))
    return seen[1]


def catalogue(store: Store, catalog: Catalog) -> tuple[Item, ...]:
    """Every listable item, rebuilt when the catalog or a current version changed."""
    return _catalogue(store, catalog)[2]


def _catalogue(
    store: Store, catalog: Catalog
) -> tuple[frozenset[tuple[str, int]], Catalog, tuple[Item, ...], int]:
    numbers = snapshot(store)
    key, state = (store.metadata_url, id(catalog)), frozenset(numbers.items())
    hit = _catalogues.get(key)
    if hit is not None and hit[0] == state and hit[1] is catalog:
        return hit
    built = tuple(it.indexed() for it in items(store, catalog, numbers))
    entry = (state, catalog, built, next(_generations))
    with _cards_lock:
        if len(_catalogues) > 8:
            _catalogues.clear()
        _catalogues[key] = entry
    return entry


def datasets(
    store: Store, catalog: Catalog, numbers: dict[str, int] | None = None
) -> list[Dataset]:
    """Every release as a portal dataset, rebuilt only when its current version changed."""
    numbers = current_numbers(store) if numbers is None else numbers
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


def items(store: Store, catalog: Catalog, numbers: dict[str, int] | None = None) -> list[Item]:
    """Every listable thing: datasets, then the catalogue entries the settings allow."""
    out = []
    for ds in datasets(store, catalog, numbers):
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
    found: list[Item],
    sort: str,
    counts: Callable[[], dict[str, int]],
    scores: dict[str, float] | None = None,
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
    if scores:
        return sorted(found, key=lambda i: (-scores.get(i.key, 0.0), i.key))
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
    everything: list[Item] = list(catalogue(store, catalog))
    scores: dict[str, float] = {}
    if hits is not None:
        scores = {h.key: h.score for h in hits}
        everything = [i for i in everything if i.key in scores]
    chosen = {k: v for k, v in selected.items() if v and k in FACETS}
    wanted = tuple(chosen.get(k) for k in FACETS)
    lg = "en" if lang == "en" else "zh"
    counts: list[dict[str, list[Any]]] = [{} for _ in FACETS]
    found = []
    for it in everything:
        # an item counts in facet f when it passes every choice except f's own
        misses = [f for f, w in enumerate(wanted) if w is not None and it.values[f] != w]
        if len(misses) > 1:
            continue
        if not misses:
            found.append(it)
        for f in misses or range(len(FACETS)):
            slot = counts[f].setdefault(it.values[f], [it.labels[lg][f], 0])
            slot[1] += 1
    facets: dict[str, list[tuple[str, str, int]]] = {}
    for f, key in enumerate(FACETS):
        if key in chosen and chosen[key] not in counts[f]:
            counts[f][chosen[key]] = [chosen[key], 0]
        facets[key] = sorted(((v, lab, n) for v, (lab, n) in counts[f].items()), key=lambda x: x[1])
    if sort not in SORTS:
        sort = "relevance"
    ordered = sort_items(found, sort, lambda: download_counts(store), scores)
    pages = max(1, math.ceil(len(ordered) / per_page))
    page = min(max(page, 1), pages)
    by_key = {h.key: h for h in hits or ()}
    shown = [
        _decorate(replace(it, score=scores.get(it.key, 0.0)), by_key.get(it.key), lang)
        for it in ordered[(page - 1) * per_page : page * per_page]
    ]
    not_open = sum(1 for it in found if it.dataset is None and it.open_class is not OpenClass.open)
    return Listing(shown, len(found), page, pages, sort, facets, chosen, not_open)


def _decorate(it: Item, hit: Hit | None, lang: str) -> Item:
    """A copy of a cached item for one page: highlighted title, summary, why it matched."""
    terms = hit.terms if hit is not None else ()
    it.title_html = highlight(it.title_en if lang == "en" else it.title, terms)
    it.summary_html = highlight(it.summary, terms)
    # why it matched, when the title and summary do not show it (a field, a code label)
    shown = (it.title + " " + it.title_en + " " + it.summary).lower()
    it.matches = [
        highlight(text, terms)
        for _, text in (hit.matches if hit is not None else [])
        if any(t in text.lower() and t not in shown for t in terms)
    ][:4]
    return it


def _asked(
    q: str, selected: dict[str, str], sort: str, page: str
) -> tuple[str, tuple[tuple[str, str], ...], str, int]:
    """A listing request reduced to what its cache keys hold: only known values, bounded."""
    query = " ".join(q.split())[:100]
    sort = sort if sort in SORTS else ""
    number = int(page) if page.isascii() and page.isdigit() and len(page) < 6 else 1  # not "²"
    chosen = tuple(sorted((k, v[:100]) for k, v in selected.items() if v and k in FACETS))
    return query, chosen, sort, number


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

    query, chosen, sort, number = _asked(q, selected, sort, page)
    generation = _catalogue(store, catalog)[3]  # changes with the catalog and any version
    key = (generation, query, chosen, sort, number, lang)
    with _cards_lock:
        result = _pages.get(key)
    if result is None or sort == "downloads":  # download counts move without a new version
        hits = index_for(catalog).search(query) if query else None
        result = listing(store, catalog, hits, dict(chosen), sort or "", number, lang)
        with _cards_lock:
            _pages[key] = result
    base = {"q": query, **result.selected, "lang": lang}
    if sort:
        base["sort"] = result.sort

    def link(**change: Any) -> str:
        params = {**base, **change}
        return "/?" + urlencode({k: v for k, v in params.items() if v not in ("", None, 1)})

    return {"q": query, "result": result, "link": link, "sorts": SORTS, "key": key}


_bodies: LRUCache[tuple[Any, ...], bytes] = LRUCache(maxsize=256)


def cached_home(
    request: Any,
    store: Store,
    catalog: Catalog,
    q: str,
    selected: dict[str, str],
    sort: str,
    page: str,
) -> Any:
    """The home page already rendered for this request, or None; no I/O, for the event loop.

    None when anything would need a look at the metadata DB (the version snapshot is older
    than ``SNAPSHOT_SECONDS``, the catalogue changed) or the page was never rendered: the
    caller then renders in a worker thread.  Serving hits on the loop keeps 32 clients from
    queueing behind each other in the thread pool for the GIL (p99 1.5 s -> see RESULTS).
    """
    from fastapi.responses import HTMLResponse

    from onesource.web.portal.common import lang

    if sort == "downloads":
        return None
    seen = _snapshots.get(store.metadata_url)
    built = _catalogues.get((store.metadata_url, id(catalog)))
    if seen is None or built is None or time.monotonic() - seen[0] >= SNAPSHOT_SECONDS:
        return None
    if built[1] is not catalog or built[0] != frozenset(seen[1].items()):
        return None
    lg = lang(request)
    query, chosen, sort, number = _asked(q, selected, sort, page)
    key = ((built[3], query, chosen, sort, number, lg), request.url.query, lg)
    with _cards_lock:
        body = _bodies.get(key)
    if body is None:
        return None
    response = HTMLResponse(body)
    if request.query_params.get("lang") in ("zh", "en"):  # as render() does
        response.set_cookie("lang", lg, max_age=365 * 86400, samesite="lax")
    return response


def home_page(
    request: Any,
    store: Store,
    catalog: Catalog,
    q: str,
    selected: dict[str, str],
    sort: str,
    page: str,
) -> Any:
    """The rendered home page; the same listing asked the same way is served from memory."""
    from fastapi.responses import HTMLResponse

    from onesource.web.portal.common import lang, render

    lg = lang(request)
    ctx = page_context(store, catalog, q, selected, sort, page, lg)
    key = (ctx.pop("key"), request.url.query, lg)  # the language switch link repeats the query
    with _cards_lock:
        body = _bodies.get(key)
    if body is None or sort == "downloads":
        response = render(request, "home.html", catalog=catalog, **ctx)
        if len(request.url.query) <= 1024:  # a query string made to fill memory is not kept
            with _cards_lock:
                _bodies[key] = bytes(response.body)
        return response
    response = HTMLResponse(body)
    if request.query_params.get("lang") in ("zh", "en"):  # as render() does
        response.set_cookie("lang", lg, max_age=365 * 86400, samesite="lax")
    return response


def by_department(store: Store, catalog: Catalog) -> list[tuple[Any, list[Item]]]:
    """(department, its items: datasets first, then catalogue entries) for every department."""
    groups: dict[str, list[Item]] = {code: [] for code in catalog.departments}
    for it in sorted(catalogue(store, catalog), key=_default_rank):
        groups.setdefault(it.department, []).append(it)
    return [(catalog.departments[c], its) for c, its in groups.items() if c in catalog.departments]
