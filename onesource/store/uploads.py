"""Incomplete multipart uploads on an S3 warehouse, found and aborted by ``gc()``.

s3fs streams a file larger than one block (``default_block_size``, 50 MiB) as a
multipart upload: the object appears only when the upload completes, so a writer
killed mid-file leaves no object at all, but the parts it sent stay stored (and
billed) until the upload is aborted.  They never show up in a listing, so the
folder sweep cannot see them; this module lists them by key prefix.

Which uploads are the store's: keys under the paths it writes (``_staging/<run>.<token>/``,
``<area>/<subject>/v<N>-<run>/`` and the per-run ``raw|quarantine|reports/<resource>/<run>/``).
An upload whose run is not ``running`` is aborted; any other upload under the
root is left to the bucket's lifecycle rule (docs/operators.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from onesource.store.ledger import VERSION_DIR_RE
from onesource.store.records import AREA_OF_KIND
from onesource.store.warehouse import STAGING, Warehouse

PER_RUN_AREAS = ("raw", "quarantine", "reports")


@dataclass(frozen=True)
class Upload:
    """One multipart upload that was started and neither completed nor aborted."""

    rel: str  # the object's key relative to the warehouse root
    upload_id: str
    initiated: datetime | None
    run_id: str | None  # the run that wrote it, when the key follows the store's layout


def supported(warehouse: Warehouse) -> bool:
    """Whether the warehouse speaks the S3 API (only S3 has multipart uploads to clean)."""
    return not warehouse.local and callable(getattr(warehouse.fs, "call_s3", None))


def run_of_key(rel: str) -> str | None:
    """The run id a relative key belongs to, or None when the store did not write it."""
    parts = rel.split("/")
    if len(parts) >= 3 and parts[0] == STAGING:
        return parts[1].split(".", 1)[0]
    if len(parts) >= 4 and parts[0] in AREA_OF_KIND.values():
        match = VERSION_DIR_RE.match(parts[2])
        return match.group("run") if match else None
    if len(parts) >= 4 and parts[0] in PER_RUN_AREAS:
        return parts[2]
    return None


def _bucket_prefix(warehouse: Warehouse) -> tuple[str, str]:
    bucket, _, key = warehouse.root.strip("/").partition("/")
    return bucket, f"{key}/" if key else ""


def incomplete(warehouse: Warehouse) -> list[Upload]:
    """Every incomplete multipart upload under the warehouse root (empty off S3)."""
    if not supported(warehouse):
        return []
    bucket, prefix = _bucket_prefix(warehouse)
    found: list[Upload] = []
    markers: dict[str, Any] = {}
    while True:
        page = warehouse.fs.call_s3(
            "list_multipart_uploads", Bucket=bucket, Prefix=prefix, **markers
        )
        for up in page.get("Uploads") or []:
            rel = str(up["Key"])[len(prefix) :]
            found.append(Upload(rel, str(up["UploadId"]), up.get("Initiated"), run_of_key(rel)))
        if not page.get("IsTruncated"):
            return found
        markers = {
            "KeyMarker": page.get("NextKeyMarker"),
            "UploadIdMarker": page.get("NextUploadIdMarker"),
        }


def abort(warehouse: Warehouse, upload: Upload) -> bool:
    """Abort one upload (its parts are deleted); False when it already finished or vanished."""
    bucket, prefix = _bucket_prefix(warehouse)
    try:
        warehouse.fs.call_s3(
            "abort_multipart_upload",
            Bucket=bucket,
            Key=f"{prefix}{upload.rel}",
            UploadId=upload.upload_id,
        )
    except (FileNotFoundError, OSError):
        return False
    return True
