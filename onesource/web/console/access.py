"""My access: grants held (expiring soon flagged) and given, API keys (issue, rotate, revoke;
a new key is shown once, in the response that made it), and usage per day and resource.

Keys are the exchange's ``KeyRing``, grants its ``GrantBook``, usage its audit log; every
lookup is scoped to the signed-in user's department (another's id answers 404).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from onesource.exchange.errors import UnknownError
from onesource.store.exchange_models import AuditEntry
from onesource.store.records import utcnow
from onesource.web.console.auth import ConsoleNotFound, Member, Officer, audit, state
from onesource.web.console.common import render

router = APIRouter(include_in_schema=False)
EXPIRING_DAYS = 14
USAGE_DAYS = 30
USAGE_ROWS = 100_000  # newest audit entries read for the usage table


def usage(engine: sa.Engine, department: str, days: int = USAGE_DAYS) -> dict[str, Any]:
    """Exchange calls of ``department`` in the last ``days``: per day, per resource."""
    since = utcnow() - timedelta(days=days)
    stmt = (
        sa.select(AuditEntry.at, AuditEntry.resource)
        .where(
            AuditEntry.department == department,
            AuditEntry.endpoint.like("/api/exchange/%"),
            AuditEntry.at >= since,
        )
        .order_by(AuditEntry.seq.desc())
        .limit(USAGE_ROWS)
    )
    per_day: Counter[str] = Counter()
    per_resource: Counter[str] = Counter()
    with engine.connect() as conn:
        for at, resource in conn.execute(stmt):
            per_day[at.date().isoformat() if hasattr(at, "date") else str(at)[:10]] += 1
            per_resource[resource or "-"] += 1
    return {
        "per_day": sorted(per_day.items(), reverse=True),
        "per_resource": per_resource.most_common(),
        "days": days,
    }


def _page(request: Request, user: Any, new_key: str | None = None, flash: str | None = None) -> Any:
    ex = state(request).exchange
    now = utcnow()
    held = ex.grants.grants(user.department, "held")
    soon = now + timedelta(days=EXPIRING_DAYS)
    return render(
        request,
        "access.html",
        held=held,
        expiring={g.id for g in held if g.status == "active" and g.valid_until <= soon},
        given=ex.grants.grants(user.department, "given"),
        keys=ex.keys.list(user.department),
        usage=usage(ex.store.engine, user.department),
        new_key=new_key,
        flash=flash,
    )


@router.get("/console/access")
def my_access(request: Request, user: Member) -> Any:
    return _page(request, user)


@router.post("/console/access/keys/issue")
def issue_key(request: Request, user: Officer) -> Any:
    issued = state(request).exchange.keys.issue(user.department)
    audit(request, user, "key-issue", purpose=f"key {issued.info.prefix}")
    return _page(request, user, new_key=issued.key)  # no-store page: shown this once


@router.post("/console/access/keys/rotate")
def rotate_keys(request: Request, user: Officer) -> Any:
    issued, revoked = state(request).exchange.keys.rotate(user.department)
    gone = ", ".join(k.prefix for k in revoked) or "-"
    audit(request, user, "key-rotate", purpose=f"key {issued.info.prefix}; revoked {gone}")
    return _page(request, user, new_key=issued.key)


@router.post("/console/access/keys/{key_id}/revoke")
def revoke_key(request: Request, user: Officer, key_id: str) -> Any:
    try:
        info = state(request).exchange.keys.revoke(user.department, key_id[:32])
    except UnknownError as exc:
        raise ConsoleNotFound("密钥 / key") from exc
    audit(request, user, "key-revoke", purpose=f"key {info.prefix}")
    return RedirectResponse("/console/access?revoked=" + info.prefix, status_code=303)


@router.post("/console/access/grants/{grant_id}/revoke")
def revoke_grant(
    request: Request, user: Member, grant_id: str, reason: str = Form("", max_length=2000)
) -> Any:
    """The holder gives a grant up (officer), or the owner withdraws it (approver)."""
    ex = state(request).exchange
    mine = {g.id: "held" for g in ex.grants.grants(user.department, "held")}
    mine.update({g.id: "given" for g in ex.grants.grants(user.department, "given")})
    side = mine.get(grant_id)
    if side is None:
        raise ConsoleNotFound("授权 / grant")
    if not user.has("approver" if side == "given" else "officer"):
        raise ConsoleNotFound("授权 / grant")
    info = ex.grants.revoke(user.department, grant_id)
    audit(request, user, "grant-revoke", resource=info.resource, fields=info.fields, purpose=reason)
    return RedirectResponse("/console/access", status_code=303)
