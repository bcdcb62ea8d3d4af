"""Transparency: the owning department sees who read or verified its data, when, which
fields, for which purpose (from the audit log), as X-Road members can.

Only entries about the signed-in department's own resources, made by other departments
through the exchange API (reads and verifications; refusals included).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request

from onesource.store.exchange_models import AuditEntry
from onesource.web.console.auth import Member, state
from onesource.web.console.common import render

router = APIRouter(include_in_schema=False)
READS = ("/api/exchange/resources/{name}/rows", "/api/exchange/verify")
PAGE = 200


def reads_of(
    engine: sa.Engine, owner: str, resources: list[str], resource: str | None, before: int | None
) -> list[dict[str, Any]]:
    """The newest reads and verifications of ``resources`` by departments other than ``owner``."""
    if not resources:
        return []
    stmt = (
        sa.select(
            AuditEntry.seq,
            AuditEntry.at,
            AuditEntry.department,
            AuditEntry.endpoint,
            AuditEntry.resource,
            AuditEntry.fields,
            AuditEntry.purpose,
            AuditEntry.result,
            AuditEntry.row_count,
        )
        .where(
            AuditEntry.resource.in_([resource] if resource else resources),
            AuditEntry.endpoint.in_(READS),
            AuditEntry.department.is_not(None),
            AuditEntry.department != owner,
        )
        .order_by(AuditEntry.seq.desc())
        .limit(PAGE)
    )
    if before is not None:
        stmt = stmt.where(AuditEntry.seq < before)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


@router.get("/console/transparency")
def transparency(
    request: Request,
    user: Member,
    resource: str = Query("", max_length=200),
    before: int | None = Query(None, ge=1),
) -> Any:
    ex = state(request).exchange
    catalog = ex.catalog()
    own = [r.name for r in catalog.resources.values() if r.provider == user.department]
    chosen = resource if resource in own else None  # another department's resource: ignored
    rows = reads_of(ex.store.engine, str(user.department), own, chosen, before)
    return render(
        request,
        "transparency.html",
        rows=rows,
        own=own,
        resource=chosen or "",
        resources=catalog.resources,
        more=rows[-1]["seq"] if len(rows) == PAGE else None,
    )
