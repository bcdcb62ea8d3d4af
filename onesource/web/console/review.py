"""Review (approvers): incoming applications with their deadlines, approve (optionally
fewer fields or a shorter period) or refuse with a reason.  Stewards see every overdue one.

Decisions go through ``GrantBook.decide`` with the approver's own department as the
owner: an application addressed to another department is "not found" (404).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from onesource.exchange.errors import ExchangeError, UnknownError
from onesource.store.records import utcnow
from onesource.web.console.applications import working_days_left
from onesource.web.console.auth import Approver, ConsoleNotFound, Steward, audit, state
from onesource.web.console.common import render
from onesource.web.console.notices import request_notice

router = APIRouter(include_in_schema=False)


@router.get("/console/review")
def incoming(request: Request, user: Approver) -> Any:
    ex = state(request).exchange
    now = utcnow()
    rows = ex.grants.requests(user.department, "incoming")
    pending = [(r, working_days_left(now, r.due_at)) for r in rows if r.status == "pending"]
    decided = [r for r in rows if r.status != "pending"][:50]
    return render(request, "review.html", pending=pending, decided=decided)


def _incoming(request: Request, user: Any, request_id: str) -> Any:
    try:
        info = state(request).exchange.grants.get_request(user.department, request_id[:32])
    except UnknownError as exc:
        raise ConsoleNotFound("申请 / application") from exc
    if info.owner != user.department:  # filed by this department: not theirs to decide
        raise ConsoleNotFound("申请 / application")
    return info


def _page(request: Request, info: Any, status: int = 200, errors: list[str] | None = None) -> Any:
    ex = state(request).exchange
    return render(
        request,
        "review_one.html",
        status=status,
        r=info,
        left=working_days_left(utcnow(), info.due_at),
        res=ex.catalog().resources.get(info.resource),
        errors=errors or [],
    )


@router.get("/console/review/{request_id}")
def review_one(request: Request, user: Approver, request_id: str) -> Any:
    return _page(request, _incoming(request, user, request_id))


@router.post("/console/review/{request_id}/approve")
def approve(
    request: Request,
    user: Approver,
    request_id: str,
    fields: list[str] = Form(default_factory=list),
    period_days: str = Form("", max_length=10),
    note: str = Form("", max_length=2000),
) -> Any:
    info = _incoming(request, user, request_id)
    days = (
        int(period_days)
        if period_days.strip().isascii() and period_days.strip().isdigit()
        else None
    )
    if period_days.strip() and days is None:
        return _page(request, info, 422, ["期限须为天数 / the period is a number of days"])
    try:
        done = state(request).exchange.grants.decide(
            user.department,
            info.id,
            True,
            note.strip() or None,
            decided_by=user.name,
            fields=fields or None,
            period_days=days,
        )
    except ExchangeError as exc:
        audit(request, user, "approve", resource=info.resource, result="invalid", status=422)
        return _page(request, info, 422, [str(exc)])
    granted = done.grant.fields if done.grant is not None else []
    audit(request, user, "approve", resource=done.resource, fields=granted, purpose=done.purpose)
    page = RedirectResponse(f"/console/review/{done.id}", status_code=303)
    return request_notice(request, page, done.id)  # to the applicant's officers


@router.post("/console/review/{request_id}/refuse")
def refuse(
    request: Request,
    user: Approver,
    request_id: str,
    reason: str = Form("", max_length=2000),
) -> Any:
    info = _incoming(request, user, request_id)
    if not reason.strip():
        return _page(request, info, 422, ["不予批准须说明理由 / a refusal needs a reason"])
    try:
        done = state(request).exchange.grants.decide(
            user.department, info.id, False, reason.strip(), decided_by=user.name
        )
    except ExchangeError as exc:
        return _page(request, info, 422, [str(exc)])
    audit(request, user, "refuse", resource=done.resource, fields=done.fields, purpose=reason)
    page = RedirectResponse(f"/console/review/{done.id}", status_code=303)
    return request_notice(request, page, done.id)


@router.get("/console/overdue")
def overdue(request: Request, user: Steward) -> Any:
    """Every application past its deadline, for the data administration's stewards."""
    from onesource.notify.checks import overdue_applications

    alerts = overdue_applications(state(request).exchange.store.engine, utcnow())
    return render(
        request, "overdue.html", alerts=[a for a in alerts if a.kind == "request-overdue"]
    )
