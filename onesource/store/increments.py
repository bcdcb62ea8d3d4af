"""State that makes loads incremental: watermarks and the file manifest; plus
quality results, which are written once per run beside them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from onesource.store.db import session
from onesource.store.errors import StoreError
from onesource.store.models import FileManifest, QualityResult, Watermark
from onesource.store.records import utcnow


@dataclass(frozen=True)
class ManifestEntry:
    """One source file a resource has already seen."""

    resource: str
    source: str
    sha256: str
    size: int
    status: str
    first_seen_run: str | None
    lines: int | None
    processed_at: datetime


class IncrementBook:
    """The ``watermarks``, ``file_manifest`` and ``quality_results`` tables."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def get_watermark(self, resource: str, column: str) -> str | None:
        with session(self.engine) as ses:
            row = ses.get(Watermark, (resource, column))
            return row.value if row is not None else None

    def set_watermark(self, resource: str, column: str, value: str, run_id: str | None) -> None:
        for _ in range(3):
            try:
                with session(self.engine, write=True) as ses:
                    row = ses.get(Watermark, (resource, column))
                    if row is None:
                        ses.add(
                            Watermark(
                                resource=resource,
                                column_name=column,
                                value=value,
                                run_id=run_id,
                                updated_at=utcnow(),
                            )
                        )
                    else:
                        row.value, row.run_id, row.updated_at = value, run_id, utcnow()
                return
            except IntegrityError:
                continue  # a concurrent first write; the update path wins next time
        raise StoreError(
            f"could not set the watermark of {resource}.{column}", hint="retry the run"
        )

    def manifest_entry(self, resource: str, sha256: str) -> ManifestEntry | None:
        with session(self.engine) as ses:
            row = ses.scalar(
                sa.select(FileManifest).where(
                    FileManifest.resource == resource, FileManifest.sha256 == sha256
                )
            )
            if row is None:
                return None
            return ManifestEntry(
                resource=row.resource,
                source=row.source,
                sha256=row.sha256,
                size=row.size,
                status=row.status,
                first_seen_run=row.first_seen_run,
                lines=row.lines,
                processed_at=row.processed_at,
            )

    def record_manifest(
        self,
        resource: str,
        source: str,
        sha256: str,
        size: int,
        *,
        run_id: str | None,
        status: str = "processed",
        lines: int | None = None,
    ) -> bool:
        """Record a processed file; False when the same content was already recorded."""
        if status not in ("processed", "quarantined"):
            raise StoreError(f"manifest status {status!r} is not processed or quarantined")
        try:
            with session(self.engine, write=True) as ses:
                ses.add(
                    FileManifest(
                        resource=resource,
                        source=source,
                        sha256=sha256,
                        size=size,
                        first_seen_run=run_id,
                        status=status,
                        lines=lines,
                        processed_at=utcnow(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def record_quality(
        self, run_id: str, resource: str, summary: dict[str, Any], passed: bool
    ) -> None:
        with session(self.engine, write=True) as ses:
            ses.add(
                QualityResult(
                    run_id=run_id,
                    resource=resource,
                    summary=summary,
                    passed=passed,
                    created_at=utcnow(),
                )
            )

    def quality(self, resource: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest quality results of a resource (dicts: run_id, passed, summary, created_at)."""
        with session(self.engine) as ses:
            rows = ses.scalars(
                sa.select(QualityResult)
                .where(QualityResult.resource == resource)
                .order_by(QualityResult.created_at.desc(), QualityResult.id.desc())
                .limit(limit)
            )
            return [
                {
                    "run_id": r.run_id,
                    "passed": r.passed,
                    "summary": r.summary,
                    "created_at": r.created_at,
                }
                for r in rows
            ]
