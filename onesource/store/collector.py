"""Garbage collection of warehouse folders that no committed version references.

Orphans come from killed or failed writers: staging folders, version
folders renamed into place whose DB commit never happened, and on S3 the
multipart uploads a killed writer started and never completed (no object, but
stored parts; see ``uploads``).  What belongs to a run still ``running`` is
left alone (the writer may be about to commit); reap dead runs first with
``reap_stale_runs()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from onesource.store import uploads
from onesource.store.ledger import VERSION_DIR_RE
from onesource.store.records import AREA_OF_KIND
from onesource.store.warehouse import STAGING, Warehouse


@dataclass(frozen=True)
class GcReport:
    """What ``gc()`` removed (or would remove, on a dry run) and what it kept."""

    removed: list[str] = field(default_factory=list)
    kept_running: list[str] = field(default_factory=list)
    dry_run: bool = False
    # keys of incomplete multipart uploads aborted (S3 only)
    aborted_uploads: list[str] = field(default_factory=list)


def _run_of(name: str) -> str:
    # staging folders are "<run>.<token>", version folders "v<N>-<run>"
    match = VERSION_DIR_RE.match(name)
    if match:
        return match.group("run")
    return name.split(".", 1)[0]


def candidates(warehouse: Warehouse) -> list[str]:
    """Relative paths of every staging folder and every version folder."""
    found = [f"{STAGING}/{name}" for name in warehouse.listdir(STAGING)]
    for area in AREA_OF_KIND.values():
        for subject in warehouse.listdir(area):
            for name in warehouse.listdir(f"{area}/{subject}"):
                if VERSION_DIR_RE.match(name):
                    found.append(f"{area}/{subject}/{name}")
    return found


def collect(
    warehouse: Warehouse,
    running: Callable[[], set[str]],
    referenced: Callable[[], set[str]],
    *,
    dry_run: bool = False,
) -> GcReport:
    """Remove orphans whose run is not running; see the module docstring.

    The order matters: list the folders first, then read the running runs,
    then the committed paths.  A writer commits its version before its run
    finishes, so a folder listed earlier is either referenced by then, or
    belongs to a run still running, or is a true orphan.
    """
    listed = candidates(warehouse)
    pending = uploads.incomplete(warehouse)
    active = running()
    keep = referenced()
    removed: list[str] = []
    kept: list[str] = []
    for rel in listed:
        if rel in keep:
            continue
        if _run_of(rel.rsplit("/", 1)[-1]) in active:
            kept.append(rel)
            continue
        if dry_run or warehouse.remove(rel):
            removed.append(rel)
    aborted: list[str] = []
    for up in pending:
        if up.run_id is None:
            continue  # not the store's layout: the bucket's lifecycle rule handles it
        if up.run_id in active:
            kept.append(up.rel)
        elif dry_run or uploads.abort(warehouse, up):
            aborted.append(up.rel)
    return GcReport(removed=removed, kept_running=kept, dry_run=dry_run, aborted_uploads=aborted)
