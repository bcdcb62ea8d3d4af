"""Build an aggregate release: the table, its audit against linked releases, its report.

Linked releases: the other aggregate releases of the catalog that read the
same inputs and whose current published version was built from the same
input versions.  Their published cells are known to anyone, so the audit
of this release counts them as known (and protects their sensitive cells
too).  Tables of the same input built from other input versions are not
linked (see docs/stewards-releases.md for what that leaves open).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

from onesource.release.spec import ReleaseRefused, Source, build_spec, input_table
from onesource.store import Store
from schemas.catalog import Catalog
from schemas.release import Release
from schemas.vocab import Technique

UNPROTECTABLE = ("min", "max")


def refuse_unprotectable(release: Release) -> None:
    """Min and max are one contributor's own value: never published."""
    agg = release.aggregate
    assert agg is not None
    for name, m in agg.measures.items():
        if m.function in UNPROTECTABLE:
            raise ReleaseRefused(
                f"release {release.name!r}, table by {agg.group_by}, measure {name!r}: "
                f"{m.function}({m.column}) is one contributor's own value and cannot be "
                "protected by cell suppression",
                hint="publish a count, sum or mean instead, or a microdata release with k-anonymity",
            )


def _domains(release: Release, catalog: Catalog, table: pa.Table) -> dict[str, list[Any]]:
    """Declared values of each dimension kept verbatim from a code-list field:
    the codes at the depths of the list that the data uses (a flat list:
    all its codes).  Other dimensions: the values observed."""
    out: dict[str, list[Any]] = {}
    assert release.aggregate is not None
    for dim in release.aggregate.group_by:
        col = release.columns[dim]
        if col.technique is not Technique.keep:
            continue
        ref, field = col.source.split(".", 1)
        res = catalog.resources.get(ref)
        if res is None or field not in res.fields:
            continue
        spec = res.fields[field]
        element = catalog.field_element(spec)
        name = spec.code_list or (element.code_list if element is not None else None)
        if name is None or name not in catalog.code_lists:
            continue
        parent = {v.code: v.parent for v in catalog.code_lists[name].values}

        def depth(code: str, parent: dict[str, str | None] = parent) -> int:
            d = 0
            while parent.get(code):
                code = parent[code] or ""
                d += 1
            return d

        seen = {depth(str(v)) for v in table[dim].unique().to_pylist() if v in parent}
        out[dim] = [c for c in parent if depth(c) in seen]
    return out


def _dim_key(release: Release, dim: str) -> str:
    c = release.columns[dim]
    return json.dumps(
        [c.source, c.technique.value, c.hierarchy.model_dump() if c.hierarchy else None, c.level],
        sort_keys=True,
        default=str,
    )


def _linked(
    release: Release,
    catalog: Catalog,
    store: Store,
    table: pa.Table,
    input_versions: dict[str, int | None],
) -> tuple[list[Any], pa.Table]:
    """Linked tables from other published releases; ``table`` gains their
    dimension columns (named ``<release>.<dim>``) when they differ from ours."""
    from onesource.anonymize.aggregate import LinkedTable

    assert release.aggregate is not None
    inputs = [(i.ref, tuple(i.join_on)) for i in release.inputs]
    ours = {_dim_key(release, d): d for d in release.aggregate.group_by}
    linked = []
    for other in catalog.releases.values():
        if other.name == release.name or other.aggregate is None:
            continue
        if [(i.ref, tuple(i.join_on)) for i in other.inputs] != inputs:
            continue
        if store.current("release", other.name) is None:
            continue
        with store.open_file("release", other.name, "metadata.json") as fh:
            meta = json.loads(fh.read())
        if meta.get("input_versions") != input_versions:
            continue
        published = store.read("release", other.name, file="data.parquet")
        rename: dict[str, str] = {}
        for d in other.aggregate.group_by:
            key = _dim_key(other, d)
            if key in ours:
                rename[d] = ours[key]
                continue
            for mine in release.aggregate.group_by:
                if release.columns[mine].source == other.columns[d].source:
                    raise ReleaseRefused(
                        f"release {release.name!r}: linked release {other.name!r} groups "
                        f"{other.columns[d].source} differently ({d!r} vs {mine!r}); the audit "
                        "cannot link different generalizations of one column",
                        hint="use the same generalization in both releases",
                    )
            rename[d] = f"{other.name}.{d}"
        if any(v.startswith(f"{other.name}.") for v in rename.values()):
            spec_other = _engine_table(other, catalog, store)
            for d, new in rename.items():
                if new.startswith(f"{other.name}.") and new not in table.column_names:
                    table = table.append_column(new, spec_other[d])
        cols = {rename.get(n, n): published[n] for n in published.column_names}
        count_col = next(
            (n for n, m in other.aggregate.measures.items() if m.function == "count"), None
        )
        if count_col is None:
            continue
        cols["count"] = published[count_col]
        if "margin" in published.column_names:  # names of summed dimensions, renamed too
            cols["margin"] = pa.array(
                [
                    ",".join(rename.get(x, x) for x in (m or "").split(",") if x)
                    for m in published["margin"].to_pylist()
                ],
                pa.string(),
            )
        linked.append(
            LinkedTable(
                name=other.name,
                by=[rename[d] for d in other.aggregate.group_by],
                threshold=other.aggregate.min_cell,
                published=pa.table(cols),
                zeros=other.aggregate.zeros,
                margins_published=other.aggregate.margins,
            )
        )
    return linked, table


def _engine_table(release: Release, catalog: Catalog, store: Store) -> pa.Table:
    def read(resource: str) -> pa.Table | None:
        return store.read("resource", resource) if store.current("resource", resource) else None

    table, sources = input_table(release, catalog, read)
    out, _ = _prepared(release, catalog, table, sources, dt.date.today())
    return out


def _prepared(
    release: Release, catalog: Catalog, table: pa.Table, sources: dict[str, Source], today: dt.date
) -> tuple[pa.Table, list[str]]:
    import pyarrow.compute as pc

    dropped = [n for n, c in release.columns.items() if c.technique is Technique.drop]
    _, table = build_spec(
        release,
        catalog,
        table.drop_columns(dropped),
        {n: s for n, s in sources.items() if n not in dropped},
        today,
    )
    assert release.aggregate is not None
    sums = sorted({m.column for m in release.aggregate.measures.values() if m.column})
    for col in sums:
        table = table.set_column(
            table.column_names.index(col), col, pc.cast(table[col], pa.float64())
        )
    return table, sums


def aggregate_release(
    release: Release,
    catalog: Catalog,
    table: pa.Table,
    sources: dict[str, Source],
    today: dt.date,
    *,
    store: Store | None = None,
    input_versions: dict[str, int | None] | None = None,
) -> tuple[pa.Table, dict[str, Any]]:
    """The published table and risk report of aggregate release ``release``."""
    import pyarrow.compute as pc

    from onesource.anonymize.aggregate import aggregate
    from onesource.anonymize.dominance import DominanceRule

    refuse_unprotectable(release)
    agg = release.aggregate
    assert agg is not None
    table, sums = _prepared(release, catalog, table, sources, today)
    linked: list[Any] = []
    if store is not None and input_versions is not None:
        linked, table = _linked(release, catalog, store, table, input_versions)
    dom = agg.dominance
    with _progress() as progress:
        result = aggregate(
            table,
            agg.group_by,
            threshold=agg.min_cell,
            sums=sums,
            domains=_domains(release, catalog, table),
            zeros=agg.zeros,
            margins=agg.margins,
            dominance=DominanceRule(dom.rule, dom.p, dom.n, dom.k),
            linked=linked,
            progress=progress,
        )
    if result.exposed or not result.exact_checked:
        raise ReleaseRefused(
            f"release {release.name!r}: the audit could not prove {result.exposed} suppressed "
            f"cell(s) protected (linked releases: {[t.name for t in linked] or 'none'})",
            hint="group by fewer or coarser dimensions, or raise min_cell",
        )
    t = result.table
    cols: dict[str, Any] = {g: t[g] for g in agg.group_by}
    for name, m in agg.measures.items():
        if m.function == "count":
            cols[name] = t["count"]
        elif m.function == "sum":
            cols[name] = t[f"{m.column}_sum"]
        elif m.function == "mean":
            cols[name] = pc.round(
                pc.divide(t[f"{m.column}_sum"], pc.cast(t["count"], pa.float64())), 2
            )
    cols["suppressed"] = t["suppressed"]
    if "margin" in t.column_names:
        cols["margin"] = t["margin"]
    out = pa.table(cols)
    report = {
        "kind": "aggregate",
        "min_cell": agg.min_cell,
        "cells": out.num_rows,
        "cells_suppressed_primary": result.primary,
        "cells_suppressed_complementary": result.complementary,
        # true only when the LP/ILP audit proved every suppressed sensitive cell protected
        "exact_check": bool(result.exact_checked and not result.exposed),
        "audit": result.audit,
        "input_rows": table.num_rows,
        "techniques": {n: c.technique.value for n, c in release.columns.items()},
    }
    return out, report


class _progress:
    """A rich progress bar on stderr for long audits (silent when not a terminal)."""

    def __enter__(self) -> Any:
        from rich.console import Console
        from rich.progress import Progress

        self._p = Progress(console=Console(stderr=True), transient=True)
        self._p.start()
        self._tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in self._tasks:
                self._tasks[stage] = self._p.add_task(stage, total=total)
            self._p.update(self._tasks[stage], completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        self._p.stop()
