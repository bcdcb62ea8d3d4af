"""What the portal shows: published releases joined with their catalog entries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from onesource.store import Store
from schemas.catalog import Catalog
from schemas.release import Release


@dataclass
class Dataset:
    release: Release
    department: str
    department_en: str
    version: int | None = None
    built_at: str | None = None
    rows: int | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {size, sha256}
    risk: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.release.name

    @property
    def published(self) -> bool:
        return self.version is not None


def _json(store: Store, name: str, file: str, version: int) -> Any:
    with store.open_file("release", name, file, version) as fh:
        return json.loads(fh.read())


def dataset(
    store: Store, catalog: Catalog, release: Release, version: int | None = None
) -> Dataset:
    dept = catalog.departments.get(release.publisher)
    ds = Dataset(
        release,
        dept.name if dept else release.publisher,
        dept.name_en if dept else release.publisher,
    )
    info = (
        store.current("release", release.name)
        if version is None
        else store.version("release", release.name, version)
    )
    if info is None:
        return ds
    ds.version = info.number
    ds.rows = (
        int(info.stats.get("rows", info.row_count))
        if isinstance(info.stats, dict)
        else info.row_count
    )
    ds.built_at = info.created_at.strftime("%Y-%m-%d %H:%M")
    with store.open_file("release", release.name, "checksums.sha256", info.number) as fh:
        sums = dict(
            reversed(line.split("  ", 1))
            for line in fh.read().decode().splitlines()
            if line.strip()
        )
    meta = _json(store, release.name, "datapackage.json", info.number)
    sizes = {r["path"]: r.get("bytes") for r in meta.get("resources", [])}
    for fname in store.files("release", release.name, info.number):
        ds.files[fname] = {"sha256": sums.get(fname), "size": sizes.get(fname)}
    ds.risk = _json(store, release.name, "risk_report.json", info.number)
    return ds


def all_datasets(store: Store, catalog: Catalog) -> list[Dataset]:
    return [dataset(store, catalog, r) for r in catalog.releases.values()]
