"""Verify a published release from its files alone: checksums, file list, risk figures."""

from __future__ import annotations

import functools
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

from onesource.store import Store
from schemas.catalog import Catalog


@dataclass
class VerifyReport:
    release: str
    version: int
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_release(
    name: str,
    version: int | None = None,
    *,
    store: Store | None = None,
    catalog: Catalog | None = None,
) -> VerifyReport:
    """Recompute checksums and the risk report's k/l/suppression from the published files."""
    import pyarrow.parquet as pq

    store = store or Store.open()
    info = store.version("release", name, version)
    report = VerifyReport(name, info.number)
    files = set(store.files("release", name, info.number))
    with store.open_file("release", name, "checksums.sha256", info.number) as fh:
        listed = dict(
            reversed(line.split("  ", 1))
            for line in fh.read().decode().splitlines()
            if line.strip()
        )
    for missing in sorted(set(listed) - files):
        report.problems.append(f"{missing}: listed in checksums.sha256 but not published")
    for extra in sorted(files - set(listed) - {"checksums.sha256"}):
        report.problems.append(f"{extra}: published but not listed in checksums.sha256")
    for fname, digest in sorted(listed.items()):
        if fname not in files:
            continue
        h = hashlib.sha256()
        with store.open_file("release", name, fname, info.number) as fh:
            for chunk in iter(functools.partial(fh.read, 1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != digest:
            report.problems.append(
                f"{fname}: sha256 {h.hexdigest()[:16]}... does not match the published {digest[:16]}..."
            )
        report.checked.append(fname)
    try:
        with store.open_file("release", name, "risk_report.json", info.number) as fh:
            risk: dict[str, Any] = json.loads(fh.read())
        with store.open_file("release", name, "data.parquet", info.number) as fh:
            table = pq.read_table(io.BytesIO(fh.read()))
    except (OSError, ValueError) as exc:  # a tampered file that no longer parses
        report.problems.append(f"the published files cannot be read: {exc}")
        return report
    qis = [q for q in (risk.get("quasi_identifiers") or []) if q in table.column_names]
    if qis:
        sizes = table.group_by(qis).aggregate([([], "count_all")])["count_all"].to_pylist()
        k = min(sizes) if sizes else 0
        if risk.get("k_reached") is not None and k != risk["k_reached"]:
            report.problems.append(
                f"data.parquet: k recomputed as {k}, risk report says {risk['k_reached']}"
            )
        if risk.get("k_required") and k < risk["k_required"]:
            report.problems.append(
                f"data.parquet: k {k} is below the required {risk['k_required']}"
            )
        for sa, l_reported in (risk.get("l_reached") or {}).items():
            if sa in table.column_names:
                counts = (
                    table.group_by(qis)
                    .aggregate([(sa, "count_distinct")])[f"{sa}_count_distinct"]
                    .to_pylist()
                )
                if counts and min(counts) != l_reported:
                    report.problems.append(
                        f"data.parquet: l of {sa} recomputed as {min(counts)}, report says {l_reported}"
                    )
    try:
        report.problems.extend(_leak_gate(store, name, info.number, catalog))
    except (OSError, ValueError) as exc:  # e.g. a data.csv whose rows lost their shape
        report.problems.append(f"leak gate: the published files cannot be scanned: {exc}")
    if risk.get("kind") == "aggregate" and "suppressed" in table.column_names:
        flagged = sum(table["suppressed"].to_pylist())
        expected = risk.get("cells_suppressed_primary", 0) + risk.get(
            "cells_suppressed_complementary", 0
        )
        if flagged != expected:
            report.problems.append(
                f"data.parquet: {flagged} suppressed cells, risk report says {expected}"
            )
    return report


def _leak_gate(store: Store, name: str, number: int, catalog: Catalog | None) -> list[str]:
    """Today's leak gate on the files as published (a version built before a gate fix)."""
    from onesource.release.gate import rescan

    if catalog is None:
        from onesource.catalog.compiled import load_compiled
        from onesource.settings import get_settings

        catalog = load_compiled(get_settings().catalog)
    release = catalog.releases.get(name)
    if release is None:
        return []
    files = {}
    for fname in ("data.csv", "data.json", "data.parquet"):
        with store.open_file("release", name, fname, number) as fh:
            files[fname] = fh.read()
    with store.open_file("release", name, "metadata.json", number) as fh:
        versions = json.loads(fh.read()).get("input_versions") or {}

    def read(resource: str, columns: list[str]) -> Any:
        return store.read("resource", resource, versions.get(resource), columns=columns)

    return [f"leak gate: {f}" for f in rescan(release, catalog, files, read)]
