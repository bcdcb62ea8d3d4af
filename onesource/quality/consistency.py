"""One data, one source: compare other departments' copies with the source.

For each field of a resource that carries an element whose authoritative
resource is another one, join by the element both share as a key (the source
resource's primary key element) and count disagreements.  Copies are never
changed: the report names who holds the stale or wrong value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any

import pyarrow as pa

from schemas.catalog import Catalog
from schemas.resource import Resource

SAMPLES = 10


@dataclass
class ElementConsistency:
    element: str
    field: str
    copy_department: str
    source_department: str
    source_resource: str
    source_version: int | None
    key_element: str
    compared: int
    disagreements: int
    missing_in_source: int
    sample_keys: list[str] = dc_field(default_factory=list)
    # the disagreements themselves: key, the copy's value, the source's value
    samples: list[dict[str, str]] = dc_field(default_factory=list)


@dataclass
class ConsistencyReport:
    resource: str
    elements: list[ElementConsistency] = dc_field(default_factory=list)
    skipped: list[str] = dc_field(default_factory=list)

    @property
    def agreement(self) -> float | None:
        compared = sum(e.compared for e in self.elements)
        if not compared:
            return None
        return 1 - sum(e.disagreements for e in self.elements) / compared

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["agreement"] = self.agreement
        return out


def compare_copies(
    catalog: Catalog,
    res: Resource,
    table: pa.Table,
    read_source: Callable[[str], pa.Table | None],
    source_version: Callable[[str], int | None] | None = None,
) -> ConsistencyReport:
    """Compare every copied element of ``table`` with its source's current data."""
    report = ConsistencyReport(res.name)
    by_element = {spec.element: name for name, spec in res.fields.items() if spec.element}
    cache: dict[str, pa.Table | None] = {}
    for name, spec in res.fields.items():
        el_id = spec.element
        if not el_id or el_id in res.source_of:
            continue
        src = catalog.source_resource(el_id)
        if src is None or src.name == res.name:
            continue
        key_field_src = src.primary_key[0] if len(src.primary_key) == 1 else None
        key_el = src.fields[key_field_src].element if key_field_src else None
        if key_el is None or key_el == el_id or key_el not in by_element:
            if key_el != el_id:
                report.skipped.append(f"{name}: no shared key with {src.name}")
            continue
        if src.name not in cache:
            cache[src.name] = read_source(src.name)
        source = cache[src.name]
        if source is None:
            report.skipped.append(f"{name}: source {src.name} has no current version")
            continue
        src_field = next(f for f, s in src.fields.items() if s.element == el_id)
        report.elements.append(
            _compare(
                res,
                name,
                el_id,
                by_element[key_el],
                key_el,
                src,
                key_field_src or "",
                src_field,
                table,
                source,
                catalog,
                source_version(src.name) if source_version else None,
            )
        )
    return report


def _compare(
    res: Resource,
    field_name: str,
    el_id: str,
    key_field: str,
    key_el: str,
    src: Resource,
    src_key: str,
    src_field: str,
    table: pa.Table,
    source: pa.Table,
    catalog: Catalog,
    version: int | None,
) -> ElementConsistency:
    import pyarrow.compute as pc

    left = pa.table(
        {
            "k": pc.cast(table[key_field], pa.string()),
            "copy": pc.cast(table[field_name], pa.string()),
        }
    )
    left = left.filter(pc.and_(pc.is_valid(left["k"]), pc.is_valid(left["copy"])))
    right = pa.table(
        {"k": pc.cast(source[src_key], pa.string()), "src": pc.cast(source[src_field], pa.string())}
    )
    right = (
        right.group_by("k", use_threads=False)
        .aggregate([("src", "first")])
        .rename_columns(["k", "src"])
    )
    joined = left.join(right, "k", join_type="left outer")
    missing = pc.is_null(joined["src"])
    differs = pc.fill_null(pc.not_equal(joined["copy"], joined["src"]), False)
    bad = joined.filter(differs)
    return ElementConsistency(
        element=el_id,
        field=field_name,
        copy_department=res.provider,
        source_department=src.provider,
        source_resource=src.name,
        source_version=version,
        key_element=key_el,
        compared=joined.num_rows - pc.sum(missing).as_py() if joined.num_rows else 0,
        disagreements=bad.num_rows,
        missing_in_source=int(pc.sum(missing).as_py() or 0),
        sample_keys=bad["k"].to_pylist()[:SAMPLES],
        samples=[
            {"key": k, "copy": c, "source": v}
            for k, c, v in zip(
                bad["k"].to_pylist()[:SAMPLES],
                bad["copy"].to_pylist()[:SAMPLES],
                bad["src"].to_pylist()[:SAMPLES],
                strict=True,
            )
        ],
    )
