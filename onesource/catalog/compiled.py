"""A compiled, validated catalog cached as JSON, for fast repeated loads, and the last valid one.

DAG parsing runs every 30 s; re-validating YAML each time would be waste.
The cache key is a fingerprint of every catalog file's path, size and mtime,
so any edit recompiles, and a broken catalog is never cached.

A typo in one YAML file must not take the hub down: the compiled snapshot of
the last catalog that validated stays in the cache (``catalog-<fp>.json``,
named by ``last-valid-catalog.json``), and the problems of a broken working
catalog are kept beside it (``catalog-problems-<fp>.json``), so the web app and
the DAG files serve the last valid catalog while ``/healthz``, ``/status/catalog``
and ``onesource/dags/onesource_catalog.py`` say what is wrong, without validating again.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cachetools import LRUCache

from onesource.catalog.fingerprint import fingerprint
from schemas.catalog import Catalog
from schemas.errors import CatalogError, OneSourceError, TransientError

LAST_VALID = "last-valid-catalog.json"

# snapshots already read in this process, by (path, mtime, size): a snapshot file is never
# rewritten in place (a new fingerprint is a new file), and nothing mutates a loaded
# Catalog, so a process that opens several homes or re-reads after a cache reset gets the
# same object instead of validating the JSON again (~0.25 s for the demo catalog)
_snapshots: LRUCache[tuple[str, int, int], Catalog] = LRUCache(maxsize=8)
_snapshots_lock = threading.Lock()


class CatalogUnavailableError(TransientError):
    """The catalog is invalid and no valid one was ever compiled in this home."""

    code = "catalog-unavailable"


@dataclass(frozen=True)
class CatalogState:
    """What the hub serves and why: the working catalog, or the last valid one while it is broken."""

    fingerprint: str  # of the files on disk now
    serving: str | None  # fingerprint of the catalog served; None when nothing valid exists
    problems: tuple[str, ...] = ()  # file:line:column: message, paths relative to the catalog

    @property
    def status(self) -> str:
        """``ok``, ``stale`` (broken, serving the last valid one) or ``invalid`` (nothing to serve)."""
        if not self.problems:
            return "ok"
        return "stale" if self.serving else "invalid"


def _cache_dir(cache_dir: Path | str | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    from onesource.settings import get_settings

    return get_settings().home / "cache"


def _write(cache_dir: Path, name: str, data: bytes) -> None:
    """Atomic write; a read-only home still works, only slower."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".catalog-", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, cache_dir / name)
    except OSError:
        pass


def _relative(issue: object, root: Path) -> str:
    """An issue as text with its file relative to the catalog root (no server paths)."""
    file = getattr(issue, "file", None)
    if not isinstance(file, str):
        return str(issue).replace(str(root) + os.sep, "")
    try:
        rel = os.path.relpath(Path(file).resolve(), root)
    except ValueError:
        rel = Path(file).name
    if rel.startswith(".."):
        rel = Path(file).name
    text = str(issue)
    return rel + text[len(file) :] if text.startswith(file) else text


def load_compiled(root: Path | str, cache_dir: Path | str | None = None) -> Catalog:
    """The validated catalog, from the cache when no file changed.

    Raises ``CatalogError`` (listing every problem) when the catalog is invalid.
    """
    from onesource.catalog.loader import load_catalog

    root = Path(root).resolve()
    cache_dir = _cache_dir(cache_dir)
    fp = fingerprint(root)
    cache = cache_dir / f"catalog-{fp}.json"
    try:
        st = cache.stat()
    except OSError:
        st = None
    if st is not None:
        key = (str(cache), st.st_mtime_ns, st.st_size)
        with _snapshots_lock:
            known = _snapshots.get(key)
        if known is not None:
            return known
        try:
            catalog = _read_snapshot(cache.read_bytes())
        except (ValueError, OneSourceError):
            pass  # stale format after an upgrade, a plugin gone: recompile below
        else:
            with _snapshots_lock:
                _snapshots[key] = catalog
            return catalog
    try:
        catalog = load_catalog(root).raise_for_issues()
    except CatalogError as exc:
        problems = [_relative(i, root) for i in (exc.issues or [exc.message])]
        body = {"root": str(root), "fingerprint": fp, "problems": problems}
        _write(cache_dir, f"catalog-problems-{fp}.json", json.dumps(body).encode())
        raise
    try:
        for old in [*cache_dir.glob("catalog-*.json")]:
            old.unlink(missing_ok=True)  # older snapshots and problem lists
    except OSError:
        pass
    _write(cache_dir, cache.name, catalog.model_dump_json().encode())
    _write(cache_dir, LAST_VALID, json.dumps({"root": str(root), "fingerprint": fp}).encode())
    return catalog


def _read_snapshot(data: bytes) -> Catalog:
    """A compiled catalog read back.  JSON keeps only a plugin connector's options: each
    gets its plugin's spec model again, as the loader gave it."""
    from schemas.connector import PluginConnector, PluginSpec

    catalog = Catalog.model_validate_json(data)
    for res in catalog.resources.values():
        spec = res.connector
        if isinstance(spec, PluginConnector) and not isinstance(spec, PluginSpec):
            from connectors.registry import spec_model

            res.connector = spec_model(spec.type).model_validate(spec.model_dump())
    return catalog


def _last_valid(root: Path, cache_dir: Path) -> tuple[str, Path] | None:
    try:
        pointer = json.loads((cache_dir / LAST_VALID).read_bytes())
        if pointer.get("root") != str(root):
            return None
        fp = str(pointer["fingerprint"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    snapshot = cache_dir / f"catalog-{fp}.json"
    return (fp, snapshot) if snapshot.exists() else None


def catalog_state(root: Path | str, cache_dir: Path | str | None = None) -> CatalogState:
    """Whether the working catalog is valid, and which one is served; cheap when cached."""
    root = Path(root).resolve()
    cache_dir = _cache_dir(cache_dir)
    fp = fingerprint(root)
    if not (cache_dir / f"catalog-{fp}.json").exists():
        problems_file = cache_dir / f"catalog-problems-{fp}.json"
        try:
            problems = tuple(json.loads(problems_file.read_bytes())["problems"])
        except (OSError, ValueError, KeyError, TypeError):
            try:
                load_compiled(root, cache_dir)
                return CatalogState(fp, fp)
            except CatalogError as exc:
                problems = tuple(_relative(i, root) for i in (exc.issues or [exc.message]))
        last = _last_valid(root, cache_dir)
        return CatalogState(fp, last[0] if last else None, problems or ("catalog invalid",))
    return CatalogState(fp, fp)


def load_serving(root: Path | str, cache_dir: Path | str | None = None) -> Catalog:
    """The catalog to serve: the working one when valid, else the last valid one.

    Raises ``CatalogUnavailableError`` (no paths in its message) when the catalog is
    invalid and no valid one was ever compiled with this cache.
    """
    root = Path(root).resolve()
    cache_dir = _cache_dir(cache_dir)
    fp = fingerprint(root)
    known_bad = (
        not (cache_dir / f"catalog-{fp}.json").exists()
        and (cache_dir / f"catalog-problems-{fp}.json").exists()
    )
    try:
        if known_bad:  # validated before: do not parse every YAML file again
            raise CatalogError(["catalog invalid"])
        return load_compiled(root, cache_dir)
    except CatalogError:
        last = _last_valid(root, cache_dir)
        if last is not None:
            try:
                return _read_snapshot(last[1].read_bytes())
            except (OSError, ValueError, OneSourceError):
                pass
        raise CatalogUnavailableError(
            "the catalog is being corrected and no earlier valid version is available",
            hint="the hub operator has been told; try again later",
        ) from None
