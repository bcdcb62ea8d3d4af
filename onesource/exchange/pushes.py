"""Batches a department pushes for resources it owns, run through the ingest pipeline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from onesource.exchange.errors import (
    InvalidRequestError,
    NotOwnerError,
    PayloadTooLargeError,
    UnknownError,
)
from onesource.store.db import session
from onesource.store.exchange_models import Push
from onesource.store.models import Run
from onesource.store.records import new_id, utcnow
from schemas.catalog import Catalog
from schemas.errors import OneSourceError, TransientError

if TYPE_CHECKING:
    from onesource.exchange.config import ExchangeSettings
    from onesource.store import Store

# the exchange's own limits on pushed files (ExchangeSettings), by reader limit name
PUSH_LIMITS = {
    "max_rows": "ONESOURCE_EXCHANGE_MAX_PUSH_ROWS",
    "max_columns": "ONESOURCE_EXCHANGE_MAX_PUSH_COLUMNS",
}
FORMATS = {"csv": "csv", "parquet": "parquet", "pq": "parquet", "json": "json", "jsonl": "jsonl"}


@dataclass(frozen=True)
class PushInfo:
    id: str
    department: str
    resource: str
    run_id: str | None
    filename: str | None
    format: str
    status: str
    created_at: datetime
    rows_read: int | None = None
    rows_good: int | None = None
    rows_quarantined: int | None = None
    error: str | None = None
    version: int | None = None
    report: dict[str, Any] | None = None


def detect_format(filename: str, fmt: str | None) -> str:
    """``csv``, ``parquet`` or ``json``, from ``fmt`` or else the file name."""
    ext = filename.rsplit(".", 1)[-1] if "." in filename else ""
    guess = (fmt or ext).lower()
    if guess not in FORMATS:
        raise InvalidRequestError(
            f"cannot tell the format of {filename!r}" + (f" (fmt={fmt!r})" if fmt else ""),
            hint="pass fmt=csv|parquet|json|jsonl or a file name ending in .csv, .parquet, .json or .jsonl",
        )
    return FORMATS[guess]


class PushBook:
    def __init__(self, store: Store, settings: ExchangeSettings | None = None) -> None:
        self.store = store
        self.settings = settings

    def push(
        self,
        catalog: Catalog,
        department: str,
        resource: str,
        data: bytes,
        filename: str,
        fmt: str | None,
    ) -> PushInfo:
        """Check the caller owns a push resource, then run ``ingest_push``."""
        res = catalog.resources.get(resource)
        if res is None:
            raise UnknownError(f"unknown resource {resource!r}", hint="GET /api/exchange/resources")
        if res.provider != department:
            raise NotOwnerError(
                f"{department!r} does not own {resource!r}; only {res.provider!r} may push to it"
            )
        if res.connector.type != "push":
            raise InvalidRequestError(
                f"{resource!r} is pulled by the hub (connector {res.connector.type!r}), not pushed",
                hint="ask the data administration to change its connector to type: push",
            )
        kind = detect_format(filename, fmt)
        from connectors.limits import ReadLimitError
        from onesource.pipeline.ingest import ingest_push

        push_id = new_id()
        created = utcnow()
        if self.settings is None:
            from onesource.exchange.config import get_exchange_settings

            self.settings = get_exchange_settings()
        try:
            result = ingest_push(
                resource,
                data,
                filename=filename,
                fmt=kind,
                department=department,
                store=self.store,
                catalog=catalog,
                max_rows=self.settings.max_push_rows,
                max_columns=self.settings.max_push_columns,
            )
        except (OneSourceError, ValueError, UnicodeError) as exc:
            run_id = self._last_run(resource, department, created)
            self._record(
                push_id, department, resource, run_id, filename, kind, None, "failed", created
            )
            if isinstance(exc, TransientError):
                raise  # a busy store, a lost commit race: 503, the department retries
            if isinstance(exc, ReadLimitError):
                setting = PUSH_LIMITS.get(exc.limit, f"ONESOURCE_READ_{exc.limit.upper()}")
                error = PayloadTooLargeError if exc.limit == "max_rows" else InvalidRequestError
                raise error(
                    f"push {push_id} of {filename!r} to {resource!r} refused: {exc.message}",
                    hint=f"the limit is {setting}={exc.value}; "
                    + (
                        "split the file into smaller pushes"
                        if exc.limit == "max_rows"
                        else "fix the file"
                    ),
                ) from exc
            raise InvalidRequestError(
                f"push {push_id} of {filename!r} to {resource!r} failed: {exc}",
                hint="fix the file and push again; GET /api/exchange/pushes/" + push_id,
            ) from exc
        self._record(
            push_id,
            department,
            resource,
            result.run_id,
            filename,
            kind,
            result.rows_read,
            result.status,
            created,
        )
        return PushInfo(
            push_id,
            department,
            resource,
            result.run_id,
            filename,
            kind,
            result.status,
            created,
            result.rows_read,
            result.rows_good,
            result.rows_quarantined,
            result.error,
            result.version,
            result.report,
        )

    def _last_run(self, resource: str, department: str, since: datetime) -> str | None:
        with session(self.store.engine) as ses:
            return ses.scalars(
                sa.select(Run.id)
                .where(Run.subject == resource, Run.kind == "push", Run.department == department)
                .where(Run.started_at >= since)
                .order_by(Run.started_at.desc())
                .limit(1)
            ).first()

    def _record(
        self,
        push_id: str,
        department: str,
        resource: str,
        run_id: str | None,
        filename: str,
        fmt: str,
        rows: int | None,
        status: str,
        created: datetime,
    ) -> None:
        with session(self.store.engine, write=True) as ses:
            ses.add(
                Push(
                    id=push_id,
                    department=department,
                    resource=resource,
                    run_id=run_id,
                    filename=filename[:500],
                    format=fmt,
                    rows=rows,
                    status=status,
                    created_at=created,
                )
            )

    def list(self, department: str, resource: str | None = None, limit: int = 50) -> list[PushInfo]:
        """The department's newest pushes (without their full reports)."""
        stmt = (
            sa.select(Push, Run)
            .outerjoin(Run, Run.id == Push.run_id)
            .where(Push.department == department)
            .order_by(Push.created_at.desc())
            .limit(limit)
        )
        if resource is not None:
            stmt = stmt.where(Push.resource == resource)
        with session(self.store.engine) as ses:
            return [self._info(p, r, None) for p, r in ses.execute(stmt).tuples()]

    def get(self, department: str, push_id: str) -> PushInfo:
        """One push of the department, with its quality report."""
        with session(self.store.engine) as ses:
            row = ses.get(Push, push_id)
            if row is None or row.department != department:
                raise UnknownError(
                    f"no push {push_id!r} by {department!r}", hint="GET /api/exchange/pushes"
                )
            run = ses.get(Run, row.run_id) if row.run_id else None
        report = None
        if run is not None and run.report_path:
            try:
                with self.store.warehouse.open(run.report_path, "rb") as fh:
                    report = json.loads(fh.read())
            except (OSError, ValueError):
                report = None
        return self._info(row, run, report)

    @staticmethod
    def _info(row: Push, run: Run | None, report: dict[str, Any] | None) -> PushInfo:
        return PushInfo(
            row.id,
            row.department,
            row.resource,
            row.run_id,
            row.filename,
            row.format,
            row.status,
            row.created_at,
            run.rows_read if run else row.rows,
            run.rows_good if run else None,
            run.rows_quarantined if run else None,
            run.error_message if run else None,
            None,
            report,
        )
