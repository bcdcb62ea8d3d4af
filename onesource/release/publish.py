"""The files of a published release version: data, dictionary, DCAT, checksums, risk, changelog."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pyarrow as pa

from onesource.catalog.export import frictionless_type
from schemas.catalog import Catalog
from schemas.release import Release

DATA_FILES = ("data.csv", "data.parquet", "data.json")
MEDIA = {
    "data.csv": "text/csv",
    "data.parquet": "application/vnd.apache.parquet",
    "data.json": "application/json",
}


# OWASP CSV injection: a spreadsheet runs a cell starting with one of these
FORMULA_START = r"^[=+\-@\t\r]"
CSV_NEUTRALIZATION = (
    "text cells beginning with =, +, -, @, a tab or a carriage return are prefixed with a "
    "single quote (') in data.csv so that spreadsheets do not run them as formulas; numeric "
    "columns are not changed; data.json and data.parquet hold the values unchanged"
)


def neutralize_formulas(table: pa.Table) -> pa.Table:
    """Text columns with formula-like cells prefixed by ``'``; other columns untouched."""
    import pyarrow.compute as pc

    for i, name in enumerate(table.column_names):
        col = table.column(i)
        t = col.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            continue
        text = col.cast(pa.string()) if t != col.type or pa.types.is_large_string(t) else col
        hit = pc.fill_null(pc.match_substring_regex(text, FORMULA_START), False)
        if pc.any(hit).as_py():
            quoted = pc.binary_join_element_wise(pa.scalar("'"), text, "")
            table = table.set_column(i, name, pc.if_else(hit, quoted, text))
    return table


def csv_bytes(table: pa.Table) -> bytes:
    """UTF-8 with a BOM, so Excel opens Chinese text; formula cells neutralized."""
    import pyarrow.csv as pacsv

    buf = io.BytesIO()
    pacsv.write_csv(neutralize_formulas(table), buf)
    return "\ufeff".encode() + buf.getvalue()


def json_bytes(table: pa.Table) -> bytes:
    return json.dumps(table.to_pylist(), ensure_ascii=False, default=str).encode()


def parquet_bytes(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def data_files(table: pa.Table) -> dict[str, bytes]:
    """The published data files of ``table``, by file name (what the leak gate scans)."""
    return {
        "data.csv": csv_bytes(table),
        "data.parquet": parquet_bytes(table),
        "data.json": json_bytes(table),
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def datapackage(
    release: Release,
    catalog: Catalog,
    table: pa.Table,
    techniques: dict[str, str],
    checksums: dict[str, str],
    sizes: dict[str, int],
    version: int,
) -> dict[str, Any]:
    from onesource.anonymize.risk import technique_label
    from onesource.catalog.dcat import licence_iri

    fields = []
    for name in table.column_names:
        col = release.columns.get(name)
        meta: dict[str, Any] = {"name": name, "type": frictionless_type(table[name].type)}
        if col is not None:
            ref, field = col.source.split(".", 1)
            spec = catalog.resources[ref].fields[field]
            el = catalog.field_element(spec)
            meta["title"] = col.title or (el.name if el else spec.name) or name
            meta["description"] = (
                col.description or (el.description if el else spec.description) or ""
            )
            meta["x-technique"] = techniques.get(name, "keep")
            meta["x-technique-label"] = technique_label(techniques.get(name, "keep"))
            code_list = spec.code_list or (el.code_list if el else None)
            if code_list and col.technique.value == "keep" and code_list in catalog.code_lists:
                meta["constraints"] = {"enum": catalog.code_lists[code_list].codes}
                meta["x-code-labels"] = {
                    v.code: v.label for v in catalog.code_lists[code_list].values
                }
        else:
            meta["title"] = {"suppressed": "已抑制 suppressed", "count": "计数 count"}.get(
                name, name
            )
        fields.append(meta)
    resources = [
        {
            "name": f"{release.name}-{f.split('.')[1]}",
            "path": f,
            "format": f.split(".")[1],
            "mediatype": MEDIA[f],
            # frictionless counts bytes and hashes only of text it streams: for Parquet
            # (read through pyarrow) size and SHA-256 are in checksums.sha256 and dcat.jsonld
            **(
                {"bytes": sizes[f], "hash": f"sha256:{checksums[f]}"}
                if not f.endswith(".parquet")
                else {"x-bytes": sizes[f], "x-sha256": checksums[f]}
            ),
            **(
                {"encoding": "utf-8-sig", "x-formula-neutralization": CSV_NEUTRALIZATION}
                if f.endswith(".csv")
                else {}
            ),
            "schema": {"fields": fields},
        }
        for f in DATA_FILES
    ]
    return {
        "name": release.name,
        "title": release.title,
        "description": release.summary,
        "version": str(version),
        "licenses": [{"name": release.licence, "path": licence_iri(release.licence)}],
        "keywords": release.keywords,
        "resources": resources,
    }


def dcat(
    release: Release,
    catalog: Catalog,
    checksums: dict[str, str],
    sizes: dict[str, int],
    version: int,
    built_at: str,
) -> dict[str, Any]:
    """The release version's DCAT-AP description (JSON-LD, from the one RDF graph builder)."""
    from onesource.catalog.dcat import release_jsonld

    return json.loads(  # type: ignore[no-any-return]
        release_jsonld(release, catalog, checksums, sizes, version, built_at)
    )


def changelog(
    previous: pa.Table | None,
    current: pa.Table,
    key: str | None,
    prev_report: dict[str, Any] | None,
    report: dict[str, Any],
    prev_version: int | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"previous_version": prev_version, "rows": current.num_rows}
    if previous is None:
        out["summary"] = "first version"
        return out
    out["rows_before"] = previous.num_rows
    out["columns_added"] = sorted(set(current.column_names) - set(previous.column_names))
    out["columns_removed"] = sorted(set(previous.column_names) - set(current.column_names))
    if key and key in current.column_names and key in previous.column_names:
        old, new = set(previous[key].to_pylist()), set(current[key].to_pylist())
        out["rows_added"], out["rows_removed"] = len(new - old), len(old - new)
    # the risk report writes generalization_levels ({column: {level, label}})
    levels = report.get("generalization_levels") or {}
    prev_levels = (prev_report or {}).get("generalization_levels") or {}
    if levels != prev_levels:
        out["generalization_changed"] = {"from": prev_levels, "to": levels}
    return out


def changelog_md(release: Release, version: int, log: dict[str, Any]) -> str:
    lines = [f"# {release.title} — v{version}", ""]
    if log.get("summary"):
        lines.append(f"- {log['summary']}")
    lines.append(
        f"- rows: {log['rows']:,}"
        + (f" (was {log['rows_before']:,})" if "rows_before" in log else "")
    )
    for k in ("rows_added", "rows_removed"):
        if k in log:
            lines.append(f"- {k.replace('_', ' ')}: {log[k]:,}")
    for k in ("columns_added", "columns_removed"):
        if log.get(k):
            lines.append(f"- {k.replace('_', ' ')}: {', '.join(log[k])}")
    if log.get("generalization_changed"):
        lines.append(
            f"- generalization levels: {log['generalization_changed']['from']} -> {log['generalization_changed']['to']}"
        )
    return "\n".join(lines) + "\n"
