"""From a catalog release to the de-identification engine's spec and input table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from onesource.anonymize import AnonymizationSpec, ColumnRule
from onesource.anonymize import hierarchy as h
from schemas.catalog import Catalog
from schemas.errors import TerminalError
from schemas.release import (
    AgeHierarchy,
    BandsHierarchy,
    CodeListHierarchy,
    DateHierarchy,
    PrefixHierarchy,
    Release,
    ReleaseColumn,
)
from schemas.vocab import PiiClass, ReleaseKind, Technique

MASK_KIND = {
    "person.id_number": "id_number",
    "enterprise.legal_rep_id_number": "id_number",
    "person.mobile": "phone",
    "person.name": "name",
    "enterprise.legal_rep_name": "name",
}


class ReleaseRefused(TerminalError):
    """The release would publish something it must not; nothing was published."""

    code = "release-refused"


@dataclass
class Source:
    """One output column's origin: its values, PII class and element."""

    values: pa.ChunkedArray
    pii: PiiClass | None
    element: str | None


def engine_hierarchy(
    col: ReleaseColumn, catalog: Catalog, arrow_type: pa.DataType, today: dt.date
) -> Any:
    hy = col.hierarchy
    if isinstance(hy, BandsHierarchy):
        return h.NumericBands(widths=tuple(hy.widths), origin=hy.start)
    if isinstance(hy, AgeHierarchy):
        return h.AgeBands(reference=today, bands=h.NumericBands(widths=tuple(hy.widths)))
    if isinstance(hy, DateHierarchy):
        return h.DateHierarchy(with_time=pa.types.is_timestamp(arrow_type))
    if isinstance(hy, PrefixHierarchy):
        return h.StringPrefix(keep=tuple(hy.lengths))
    if isinstance(hy, CodeListHierarchy):
        values = catalog.code_lists[hy.code_list].values
        return h.CodeListHierarchy({v.code: v.parent for v in values if v.parent})
    raise TerminalError(f"unsupported hierarchy {hy!r}")


def engine_level(col: ReleaseColumn, arrow_type: pa.DataType) -> int | str:
    """The catalog's level in the engine's ladder (date levels count from the day)."""
    if col.level == "auto" or col.level is None:
        return "auto"
    if isinstance(col.hierarchy, DateHierarchy):
        ladder = ["day", "month", "year"]
        wanted = col.hierarchy.levels[int(col.level) - 1] if int(col.level) >= 1 else "day"
        return ladder.index(wanted) + (1 if pa.types.is_timestamp(arrow_type) else 0)
    if isinstance(col.hierarchy, AgeHierarchy):
        return int(col.level) + 1  # engine level 1 is the exact age
    return int(col.level)


def input_table(
    release: Release, catalog: Catalog, read: Any
) -> tuple[pa.Table, dict[str, Source]]:
    """Each output column's values, joined across inputs on ``join_on``."""
    tables: dict[str, pa.Table] = {}
    for inp in release.inputs:
        if inp.resource is None:
            raise TerminalError(
                f"release {release.name!r}: entity inputs need base records (onesource base build)"
            )
        table = read(inp.resource)
        if table is None:
            raise TerminalError(
                f"release {release.name!r}: input {inp.resource!r} has no current version",
                hint=f"run: onesource run ingest {inp.resource}",
            )
        tables[inp.resource] = table
    first = release.inputs[0].ref
    base = tables[first]
    for inp in release.inputs[1:]:
        keys = inp.join_on
        right = tables[inp.ref].rename_columns(
            [f"{inp.ref}.{c}" if c not in keys else c for c in tables[inp.ref].column_names]
        )
        base = base.join(right, keys, join_type="left outer")
    sources: dict[str, Source] = {}
    cols = {}
    for name, col in release.columns.items():
        ref, field = col.source.split(".", 1)
        res = catalog.resources[ref]
        column = field if ref == first or field in release.inputs[0].join_on else f"{ref}.{field}"
        spec = res.fields[field]
        cols[name] = base[column]
        sources[name] = Source(base[column], catalog.field_pii(spec), spec.element)
    return pa.table(cols), sources


def build_spec(
    release: Release, catalog: Catalog, table: pa.Table, sources: dict[str, Source], today: dt.date
) -> tuple[AnonymizationSpec, pa.Table]:
    """The engine spec; fixed generalizations of non-quasi columns are applied here."""
    rules: dict[str, ColumnRule] = {}
    for name, col in release.columns.items():
        if name not in table.column_names:
            continue  # dropped before (aggregates group what is left)
        src = sources[name]
        if src.pii is None and col.technique is not Technique.drop:
            raise ReleaseRefused(
                f"release {release.name!r}: column {name!r} ({col.source}) is unclassified",
                hint="give the field a pii class in its resource, or drop the column",
            )
        pii = (src.pii or PiiClass.none).value
        tech = col.technique.value
        arrow_type = table[name].type
        if col.technique is Technique.generalize:
            hierarchy = engine_hierarchy(col, catalog, arrow_type, today)
            level = engine_level(col, arrow_type)
            # a declared quasi-identifier takes part in k-anonymity whatever its
            # element's PII class; any other generalized column gets its fixed level
            if name not in release.quasi_identifiers:
                if level == "auto":
                    raise ReleaseRefused(
                        f"release {release.name!r}: column {name!r} has level 'auto' "
                        "but is not a quasi-identifier",
                        hint="add it to quasi_identifiers or give a fixed level",
                    )
                if release.kind is ReleaseKind.aggregate:
                    # aggregates group the generalized values; the engine is not involved
                    table = table.set_column(
                        table.column_names.index(name),
                        name,
                        hierarchy.apply(table[name].combine_chunks(), level),
                    )
                    rules[name] = ColumnRule("keep", pii)  # type: ignore[arg-type]
                    continue
            rules[name] = ColumnRule("generalize", pii, hierarchy=hierarchy, level=level)  # type: ignore[arg-type]
        elif col.technique is Technique.mask:
            kind = MASK_KIND.get(src.element or "", "name")
            rules[name] = ColumnRule("mask", pii, mask_kind=kind)  # type: ignore[arg-type]
        elif col.technique is Technique.top_bottom_code:
            rules[name] = ColumnRule("top_bottom_code", pii, bottom=col.bottom, top=col.top)  # type: ignore[arg-type]
        else:
            rules[name] = ColumnRule(tech, pii)  # type: ignore[arg-type]
    spec = AnonymizationSpec(
        columns=rules,
        k=release.k,
        suppression_limit=release.suppression_limit,
        l_div=release.l,
        list_notice=release.kind is ReleaseKind.list_notice,
        quasi_identifiers=tuple(q for q in release.quasi_identifiers if q in rules),
        sensitive=tuple(s for s in release.sensitive if s in rules),
    )
    return spec, table
