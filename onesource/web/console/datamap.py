"""The data map for stewards: each element, its ONE source, who carries, reads and
publishes it.  Built from the served catalog and the active grants (no second copy)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa


@dataclass
class ElementRow:
    id: str
    name: str
    name_en: str
    source: str
    source_resource: str | None
    carriers: list[tuple[str, str, bool]] = field(default_factory=list)  # resource, dept, source?
    readers: dict[str, set[str]] = field(default_factory=dict)  # department -> resources
    releases: list[str] = field(default_factory=list)


def _active_grants(engine: sa.Engine, now: datetime) -> list[tuple[str, str, list[str]]]:
    from onesource.store.db import session
    from onesource.store.exchange_models import Grant

    with session(engine) as ses:
        rows = ses.execute(
            sa.select(Grant.department, Grant.resource, Grant.fields).where(
                Grant.revoked_at.is_(None), Grant.valid_until > now, Grant.valid_from <= now
            )
        ).all()
    return [(d, r, list(f or [])) for d, r, f in rows]


def _column_element(catalog: Any, source: str) -> str | None:
    ref, _, name = source.partition(".")
    res = catalog.resources.get(ref)
    if res is not None:
        spec = res.fields.get(name)
        return spec.element if spec is not None else None
    element = f"{ref}.{name}"  # golden records of an entity: its columns are its elements
    return element if element in catalog.elements else None


def data_map(catalog: Any, engine: sa.Engine, now: datetime) -> list[ElementRow]:
    """Every element of the catalog, in id order."""
    rows = {
        e.id: ElementRow(
            e.id,
            e.name,
            e.name_en,
            e.source,
            (src.name if (src := catalog.source_resource(e.id)) else None),
        )
        for e in catalog.elements.values()
    }
    by_field: dict[tuple[str, str], str] = {}
    for res in sorted(catalog.resources.values(), key=lambda r: r.name):
        for name, spec in res.fields.items():
            if spec.element in rows:
                by_field[(res.name, name)] = spec.element
                rows[spec.element].carriers.append(
                    (res.name, res.provider, spec.element in res.source_of)
                )
    readers: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for dept, resource, fields in _active_grants(engine, now):
        for f in fields:
            element = by_field.get((resource, f))
            if element is not None:
                readers[element][dept].add(resource)
    for element, depts in readers.items():
        rows[element].readers = dict(depts)
    for rel in sorted(catalog.releases.values(), key=lambda r: r.name):
        for col in rel.columns.values():
            element = _column_element(catalog, col.source)
            if element in rows and rel.name not in rows[element].releases:
                rows[element].releases.append(rel.name)
    return [rows[k] for k in sorted(rows)]
