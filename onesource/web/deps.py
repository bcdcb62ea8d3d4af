"""Shared FastAPI dependencies: settings, the store, the catalog."""

from __future__ import annotations

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


_catalogs: dict[str, Catalog] = {}


def get_catalog() -> Catalog:
    """The validated catalog; the same object until a catalog file changes."""
    from onesource.catalog.compiled import fingerprint, load_compiled

    root = get_settings().catalog.resolve()
    key = f"{root}:{fingerprint(root)}"
    catalog = _catalogs.get(key)
    if catalog is None:
        _catalogs.clear()
        catalog = _catalogs[key] = load_compiled(root)
    return catalog


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def reset_caches() -> None:
    """Forget cached settings and store (tests switch homes)."""
    get_settings.cache_clear()
    _store.cache_clear()
    _catalogs.clear()
