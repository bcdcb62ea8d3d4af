"""Shared FastAPI dependencies: settings, the store, the catalog."""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from onesource.settings import Settings, get_settings
from onesource.store import Store
from schemas.catalog import Catalog


@lru_cache(maxsize=1)
def _store() -> Store:
    return Store.open(get_settings())


def get_store() -> Store:
    return _store()


def store_opened() -> bool:
    """Whether ``get_store()`` answers from memory (the store is opened once per process)."""
    return _store.cache_info().currsize > 0


# a catalog edit is seen within this many seconds: checking every file's stat on every
# request cost more than the rest of a rows-API request (2 ms for ~60 files, more for 1,000)
CATALOG_RECHECK_SECONDS = 2.0
_catalogs: dict[str, Catalog] = {}
_checked: dict[str, tuple[float, Catalog]] = {}
# one request checks for edits at a time; the others meanwhile use the catalog as last
# checked (without it, every request arriving while a check was due stat-ed every catalog
# file too: with 1,000 files and 32 clients, a 1.5 s stall every 2 s)
_recheck_lock = threading.Lock()


def fresh_catalog() -> Catalog | None:
    """The catalog when it was checked for edits less than ``CATALOG_RECHECK_SECONDS`` ago,
    else None: what async endpoints may use on the event loop without touching the disk."""
    recent = _checked.get(str(get_settings().catalog))
    if recent is None:
        return None
    if time.monotonic() - recent[0] < CATALOG_RECHECK_SECONDS or _recheck_lock.locked():
        return recent[1]
    return None


def get_catalog() -> Catalog:
    """The validated catalog; the same object until a catalog file changes."""
    from onesource.catalog.compiled import load_serving
    from onesource.catalog.fingerprint import fingerprint

    fresh = fresh_catalog()
    if fresh is not None:
        return fresh
    configured = get_settings().catalog
    with _recheck_lock:
        recent = _checked.get(str(configured))
        now = time.monotonic()
        if recent is not None and now - recent[0] < CATALOG_RECHECK_SECONDS:
            return recent[1]  # checked by another request while this one waited
        root = configured.resolve()
        key = f"{root}:{fingerprint(root)}"
        catalog = _catalogs.get(key)
        if catalog is None:
            _catalogs.clear()
            catalog = _catalogs[key] = load_serving(root)
        _checked[str(configured)] = (now, catalog)
        return catalog


# The dependencies are async: FastAPI runs a sync dependency in a worker thread, so three
# sync ones cost a sync endpoint three thread hops before its own, each waiting for a free
# thread when the pool is busy.  From memory they answer on the event loop; only a cold
# store or a catalog due for its edit check goes to a thread.


async def settings_dep() -> Settings:
    return get_settings()


async def store_dep() -> Store:
    if store_opened():
        return _store()
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_store)


async def catalog_dep() -> Catalog:
    fresh = fresh_catalog()
    if fresh is not None:
        return fresh
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(get_catalog)


SettingsDep = Annotated[Settings, Depends(settings_dep)]
StoreDep = Annotated[Store, Depends(store_dep)]
CatalogDep = Annotated[Catalog, Depends(catalog_dep)]


def reset_caches() -> None:
    """Forget cached settings and store (tests switch homes)."""
    get_settings.cache_clear()
    _store.cache_clear()
    _catalogs.clear()
    _checked.clear()
