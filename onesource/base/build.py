"""Build the golden records of an entity (person, enterprise, property, ...).

The key is the entity element that is the primary key of its source resource
(``person.id_number`` for people).  Every other element of the entity is read
from the current curated version of ITS source resource (one data, one
source) and joined on that key; copies held by other departments are never
used.  Lineage (resource, version, field per column) goes into the version's
stats and the Parquet schema metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from onesource.lineage import traced
from onesource.store import Store
from schemas.catalog import Catalog
from schemas.errors import NotFoundError, TerminalError


@dataclass
class BaseResult:
    entity: str
    version: int
    rows: int
    lineage: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def key_element(catalog: Catalog, entity: str) -> str:
    """The entity's identifying element: the single primary key of one of its source resources."""
    for el in catalog.elements.values():
        if el.entity != entity:
            continue
        src = catalog.source_resource(el.id)
        if src and len(src.primary_key) == 1 and src.fields[src.primary_key[0]].element == el.id:
            return el.id
    raise TerminalError(
        f"entity {entity!r} has no element that is the primary key of its source resource",
        hint="golden records need a key, e.g. person.id_number",
    )


def _first_per_key(table: pa.Table, key: str) -> pa.Table:
    """One row per key (its first), for any column type."""
    import numpy as np

    rows = pa.array(np.arange(table.num_rows))
    firsts = (
        table.select([key])
        .append_column("__row", rows)
        .group_by(key, use_threads=False)
        .aggregate([("__row", "min")])
    )
    return table.take(firsts["__row_min"])


@traced("base")
def build_base(
    entity: str, *, store: Store | None = None, catalog: Catalog | None = None
) -> BaseResult:
    """Build and commit the next version of ``base/<entity>``."""
    import pyarrow.compute as pc

    if catalog is None:
        from onesource.catalog.compiled import load_compiled
        from onesource.settings import get_settings

        catalog = load_compiled(get_settings().catalog)
    if entity not in catalog.entities():
        raise NotFoundError("entity", entity, sorted(catalog.entities()))
    store = store or Store.open()
    key_el = key_element(catalog, entity)
    key_src = catalog.source_resource(key_el)
    assert key_src is not None
    cache: dict[str, tuple[pa.Table, int]] = {}

    def current(resource: str) -> tuple[pa.Table, int] | None:
        if resource not in cache:
            info = store.current("resource", resource)
            if info is None:
                return None
            cache[resource] = (store.read("resource", resource), info.number)
        return cache[resource]

    got = current(key_src.name)
    if got is None:
        raise TerminalError(
            f"base {entity!r}: key source {key_src.name!r} has no current version",
            hint=f"run: onesource run ingest {key_src.name}",
        )
    key_field = key_src.primary_key[0]
    key_name = key_el.split(".", 1)[1]
    table = pa.table({key_name: pc.unique(got[0][key_field])})
    lineage = {
        key_name: {
            "element": key_el,
            "resource": key_src.name,
            "version": got[1],
            "field": key_field,
        }
    }
    skipped = []
    for el in catalog.elements.values():
        if el.entity != entity or el.id == key_el:
            continue
        src = catalog.source_resource(el.id)
        if src is None:
            skipped.append(f"{el.id}: no source resource")
            continue
        src_key = next((f for f, s in src.fields.items() if s.element == key_el), None)
        got = current(src.name)
        if src_key is None or got is None:
            skipped.append(
                f"{el.id}: source {src.name} "
                + ("has no current version" if got is None else f"lacks {key_el}")
            )
            continue
        src_field = next(f for f, s in src.fields.items() if s.element == el.id)
        name = el.id.split(".", 1)[1]
        part = _first_per_key(got[0].select([src_key, src_field]), src_key).rename_columns(
            [key_name, name]
        )
        table = table.join(part, key_name, join_type="left outer")
        lineage[name] = {
            "element": el.id,
            "resource": src.name,
            "version": got[1],
            "field": src_field,
        }
    table = table.sort_by(key_name).select(list(lineage))
    table = table.replace_schema_metadata({"lineage": json.dumps(lineage, ensure_ascii=False)})
    with store.begin_run("base", entity) as run:
        with store.open_writer("base", entity, run.id, table.schema) as writer:
            writer.write(table)
            info = writer.commit(stats={"lineage": lineage, "skipped": skipped})
        run.finish("succeeded", rows_read=table.num_rows, rows_good=table.num_rows)
    return BaseResult(entity, info.number, table.num_rows, lineage, skipped)
