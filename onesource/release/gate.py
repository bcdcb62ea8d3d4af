"""The leak gate as a release build runs it: classify output columns, gather
the inputs' direct identifiers, write the data files, scan table and files.

The files returned are exactly the bytes that get published: the gate scans
what consumers download, not an earlier copy of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from onesource.release import publish as pub
from onesource.release.spec import ReleaseRefused
from schemas.catalog import Catalog
from schemas.release import Release
from schemas.vocab import PiiClass, Technique

ReadColumns = Callable[[str, list[str]], pa.Table]

# a column that IS a non-personal identifier of its kind may hold that pattern
_EXPECTED_KINDS = {"credit-code": "credit_code"}


def classification(release: Release, out: pa.Table, sources: dict[str, Any]) -> dict[str, str]:
    """Each output column's class for the gate (pseudonym columns are checked for shape)."""
    classes = {}
    for name in out.column_names:
        col = release.columns.get(name)
        if col is None:
            classes[name] = "none"  # counts, suppression flags
        elif col.technique is Technique.pseudonymize:
            classes[name] = "pseudonym"
        elif col.technique is Technique.mask:
            classes[name] = "quasi"  # masked for a list notice: no longer the direct value
        else:
            pii = sources[name].pii
            classes[name] = pii.value if pii is not None else "unclassified"
    return classes


def direct_values(
    release: Release, catalog: Catalog, read: ReadColumns
) -> dict[str, pa.ChunkedArray]:
    """Every direct-identifier field of every input, whether the release lists it or not."""
    out: dict[str, pa.ChunkedArray] = {}
    for inp in release.inputs:
        res = catalog.resources.get(inp.resource or "")
        if res is None:
            continue
        names = [n for n, f in res.fields.items() if catalog.field_pii(f) is PiiClass.direct]
        if not names:
            continue
        table = read(res.name, names)
        for n in names:
            if n in table.column_names:
                out[f"{res.name}.{n}"] = table[n]
    return out


def expected(finding: Any, sources: dict[str, Any]) -> bool:
    """A public business register legitimately publishes credit codes (pii none)."""
    column = finding.column.rsplit(": ", 1)[-1]  # file findings are "data.csv: <column>"
    domain = _EXPECTED_KINDS.get(finding.kind)
    src = sources.get(column)
    if domain is None or src is None or src.pii is not PiiClass.none or not src.element:
        return False
    return bool(src.element.endswith(f".{domain}") or src.element.endswith(f"_{domain}"))


def leak_gate(
    release: Release,
    catalog: Catalog,
    out: pa.Table,
    sources: dict[str, Any],
    read: ReadColumns,
) -> dict[str, bytes]:
    """The data files to publish, once the table and every file passed the gate.

    Raises :class:`ReleaseRefused` naming the column, file and pattern of
    every finding; nothing is written then.
    """
    from onesource.anonymize import leakgate

    classes = classification(release, out, sources)
    direct = direct_values(release, catalog, read)
    files = pub.data_files(out)
    matcher = leakgate.prepare_direct(direct)
    findings = leakgate.scan(out, classification=classes, _direct=matcher)
    if not findings:  # the table is clean: scan what the formats made of it
        findings = leakgate.scan_files(files, classification=classes, table=out, _direct=matcher)
    findings = [f for f in findings if not expected(f, sources)]
    if findings:
        listed = "; ".join(str(f) for f in findings[:10])
        raise ReleaseRefused(
            f"release {release.name!r} refused by the leak gate: {listed}",
            hint="nothing was published; fix the release's techniques or the source data",
        )
    return files


def catalog_sources(release: Release, catalog: Catalog) -> dict[str, Any]:
    """Each release column's PII class and element from the catalog (no values)."""
    from onesource.release.spec import Source

    out: dict[str, Any] = {}
    for name, col in release.columns.items():
        ref, field = col.source.split(".", 1)
        res = catalog.resources.get(ref)
        spec = res.fields.get(field) if res is not None else None
        if spec is not None:
            out[name] = Source(
                pa.chunked_array([], pa.null()), catalog.field_pii(spec), spec.element
            )
    return out


def rescan(
    release: Release,
    catalog: Catalog,
    files: dict[str, bytes],
    read: ReadColumns,
) -> list[Any]:
    """The gate again on published files (``release verify``): findings, expected ones removed."""
    from onesource.anonymize import leakgate

    sources = catalog_sources(release, catalog)
    table = leakgate.read_published({"data.parquet": files["data.parquet"]})["data.parquet"]
    classes = classification(release, table, sources)
    direct = direct_values(release, catalog, read)
    found = leakgate.scan_files(files, classification=classes, direct_values=direct)
    return [f for f in found if not expected(f, sources)]
