"""A compiled, validated catalog cached as JSON, for fast repeated loads.

DAG parsing runs every 30 s; re-validating YAML each time would be waste.
The cache key is a fingerprint of every catalog file's path, size and mtime,
so any edit recompiles, and a broken catalog is never cached.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from onesource.catalog.fingerprint import fingerprint
from schemas.catalog import Catalog


def load_compiled(root: Path | str, cache_dir: Path | str | None = None) -> Catalog:
    """The validated catalog, from the cache when no file changed.

    Raises ``CatalogError`` (listing every problem) when the catalog is invalid.
    """
    from onesource.catalog.loader import load_catalog

    root = Path(root).resolve()
    if cache_dir is None:
        from onesource.settings import get_settings

        cache_dir = get_settings().home / "cache"
    cache_dir = Path(cache_dir)
    cache = cache_dir / f"catalog-{fingerprint(root)}.json"
    if cache.exists():
        try:
            return Catalog.model_validate_json(cache.read_bytes())
        except ValueError:
            pass  # stale format after an upgrade: recompile below
    catalog = load_catalog(root).raise_for_issues()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob("catalog-*.json"):
            old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".catalog-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(catalog.model_dump_json().encode())
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home still works, only slower
    return catalog
