"""Build and publish an open-data release; verify a published one.

Build: read the inputs' current curated versions, de-identify with the
engine (k-anonymity, l-diversity, pseudonyms, masks, aggregates with
complementary suppression), run the leak gate, then publish every file in
one atomic store commit.  Any finding refuses the release: nothing is
published and the previous version stays current.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from onesource.lineage import traced
from onesource.release import publish as pub
from onesource.release.spec import ReleaseRefused, build_spec, input_table
from onesource.store import Store
from schemas.catalog import Catalog
from schemas.errors import NotFoundError
from schemas.release import Release
from schemas.vocab import ReleaseKind, Technique


@dataclass
class ReleaseResult:
    release: str
    version: int
    run_id: str
    rows: int
    path: str
    risk: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _catalog(catalog: Catalog | None) -> Catalog:
    if catalog is not None:
        return catalog
    from onesource.catalog.compiled import load_compiled
    from onesource.settings import get_settings

    return load_compiled(get_settings().catalog)


def _release(catalog: Catalog, name: str) -> Release:
    rel = catalog.releases.get(name)
    if rel is None:
        raise NotFoundError("release", name, list(catalog.releases))
    return rel


@traced("release")
def build_release(
    name: str,
    *,
    store: Store | None = None,
    catalog: Catalog | None = None,
    key: bytes | None = None,
    today: dt.date | None = None,
) -> ReleaseResult:
    """De-identify, gate and publish release ``name`` as its next version."""
    catalog = _catalog(catalog)
    release = _release(catalog, name)
    store = store or Store.open()
    today = today or dt.date.today()

    def read(resource: str) -> pa.Table | None:
        return store.read("resource", resource) if store.current("resource", resource) else None

    table, sources = input_table(release, catalog, read)
    input_versions = {
        i.ref: getattr(store.current("resource", i.ref), "number", None) for i in release.inputs
    }
    if release.kind is ReleaseKind.aggregate:
        from onesource.release.aggregate import aggregate_release

        out, report = aggregate_release(
            release, catalog, table, sources, today, store=store, input_versions=input_versions
        )
    else:
        from onesource.anonymize import anonymize
        from onesource.anonymize.pseudonym import release_key

        spec, table = build_spec(release, catalog, table, sources, today)
        if key is None and any(
            c.technique is Technique.pseudonymize for c in release.columns.values()
        ):
            key = release_key(release.name, release.links_with)
        out, report = anonymize(table, spec, key=key)
        report["combinations"] = _check_combinations(store, catalog, release, out)
    from onesource.release.gate import leak_gate

    files = leak_gate(
        release, catalog, out, sources, lambda r, cols: store.read("resource", r, columns=cols)
    )
    with store.begin_run("release", name) as run:
        result = _publish(store, catalog, release, out, files, report, run.id, input_versions)
        run.finish("succeeded", rows_read=table.num_rows, rows_good=out.num_rows)
    return result


def _check_combinations(
    store: Store, catalog: Catalog, release: Release, out: pa.Table
) -> list[str]:
    """Refuse when ``out`` combines with a published release of the same inputs below k.

    See :mod:`onesource.release.linkage` for what "combines" means; returns
    one line per release checked, for the risk report.
    """
    from onesource.release import linkage

    def read_published(name: str) -> tuple[pa.Table, dict[str, Any]] | None:
        if store.current("release", name) is None:
            return None
        with store.open_file("release", name, "risk_report.json") as fh:
            report = json.loads(fh.read())
        return store.read("release", name, file="data.parquet"), report

    results = linkage.check(catalog, release, out, read_published)
    conflicts = [c for c in results if not c.ok]
    if conflicts:
        raise ReleaseRefused(
            f"release {release.name!r} combines with published release(s) "
            f"{', '.join(repr(c.other) for c in conflicts)} below k: "
            + "; ".join(str(c) for c in conflicts),
            hint="stop publishing the shared link columns (a unique field, linked pseudonyms) "
            "in one of them, declare them quasi-identifiers, or generalize further",
        )
    return [str(c) for c in results]


def _publish(
    store: Store,
    catalog: Catalog,
    release: Release,
    out: pa.Table,
    files: dict[str, bytes],
    report: dict[str, Any],
    run_id: str,
    input_versions: dict[str, int | None],
) -> ReleaseResult:
    prev = store.current("release", release.name)
    version = (prev.number + 1) if prev else 1
    built_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    blobs = dict(files)  # exactly the bytes the leak gate scanned
    checks = {n: pub.sha256(b) for n, b in blobs.items()}
    sizes = {n: len(b) for n, b in blobs.items()}
    techniques = {n: c.technique.value for n, c in release.columns.items()}
    report = {
        **report,
        "release": release.name,
        "kind": release.kind.value,
        "k_required": release.k,
        "l_required": release.l,
        "suppression_limit": release.suppression_limit,
    }
    previous_table, prev_report = None, None
    if prev is not None:
        previous_table = store.read("release", release.name, file="data.parquet")
        with store.open_file("release", release.name, "risk_report.json") as fh:
            prev_report = json.loads(fh.read())
    key = next(
        (
            n
            for n, c in release.columns.items()
            if c.technique is Technique.keep
            and n in out.column_names
            and _is_key(catalog, c.source)
        ),
        None,
    )
    log = pub.changelog(
        previous_table, out, key, prev_report, report, prev.number if prev else None
    )
    docs = {
        "datapackage.json": pub.datapackage(
            release, catalog, out, techniques, checks, sizes, version
        ),
        "dcat.jsonld": pub.dcat(release, catalog, checks, sizes, version, built_at),
        "risk_report.json": report,
        "changelog.json": log,
        "metadata.json": {
            "release": release.name,
            "version": version,
            "built_at": built_at,
            "rows": out.num_rows,
            "input_versions": input_versions,
            "licence": release.licence,
            "open_class": release.open_class.value,
            "kind": release.kind.value,
            "run_id": run_id,
        },
    }
    for name, doc in docs.items():
        blobs[name] = json.dumps(doc, ensure_ascii=False, indent=1, default=str).encode()
    blobs["changelog.md"] = pub.changelog_md(release, version, log).encode()
    sums = "".join(f"{pub.sha256(b)}  {n}\n" for n, b in sorted(blobs.items()))
    with store.open_writer("release", release.name, run_id) as writer:
        for name, data in blobs.items():
            writer.put_file(name, data)
        writer.put_file("checksums.sha256", sums)
        info = writer.commit(
            stats={"rows": out.num_rows, "risk": _risk_summary(report)}, row_count=out.num_rows
        )
    return ReleaseResult(
        release.name, info.number, run_id, out.num_rows, info.path, _risk_summary(report)
    )


def _is_key(catalog: Catalog, source: str) -> bool:
    ref, field = source.split(".", 1)
    res = catalog.resources.get(ref)
    return bool(res and (res.primary_key == [field] or res.fields[field].unique))


def _risk_summary(report: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "k_reached",
        "max_prosecutor_risk",
        "avg_prosecutor_risk",
        "records_suppressed",
        "sample_uniques",
        "cells_suppressed_primary",
        "cells_suppressed_complementary",
    )
    flat = {k: report[k] for k in keys if k in report}
    for v in report.values():  # the engine nests some figures
        if isinstance(v, dict):
            flat.update({kk: vv for kk, vv in v.items() if kk in keys})
    return flat
