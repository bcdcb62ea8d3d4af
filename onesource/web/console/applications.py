"""Apply for conditional fields, and follow one's applications (state, deadline counting down).

Filing goes through ``GrantBook.request`` with the signed-in user's department: the
department is never read from the form, so a tampered hidden field changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from onesource.exchange.errors import ExchangeError, UnknownError
from onesource.exchange.policy import requestable_fields
from onesource.store.records import utcnow
from onesource.web.console.auth import ConsoleNotFound, Member, Officer, audit, state
from onesource.web.console.common import render
from onesource.web.console.notices import request_notice

router = APIRouter(include_in_schema=False)
MAX_PERIOD_DAYS = 366


def working_days_left(now: datetime, due: datetime) -> int:
    """Working days (Monday to Friday) from ``now``'s date to ``due``'s, the due day counted;
    negative when late.  Counted by dates, so an application filed now shows the full 10."""
    sign, start, end = (1, now.date(), due.date()) if due >= now else (-1, due.date(), now.date())
    days, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days += 1
    return sign * days


def _resource(request: Request, name: str) -> Any:
    res = state(request).exchange.catalog().resources.get(name)
    if res is None:
        raise ConsoleNotFound(f"信息资源 {name[:80]}")
    return res


def _form(request: Request, user: Any, res: Any, status: int = 200, **ctx: Any) -> Any:
    ex = state(request).exchange
    catalog = ex.catalog()
    held = ex.grants.active_fields(user.department, res.name)[0]
    return render(
        request,
        "apply.html",
        status=status,
        res=res,
        fields=[(f, res.fields[f], f in held) for f in requestable_fields(catalog, res)],
        elements=catalog.elements,
        max_period=MAX_PERIOD_DAYS,
        deadline_days=ex.grants.deadline_days,
        **ctx,
    )


@router.get("/console/apply/{name}")
def apply_form(request: Request, user: Officer, name: str) -> Any:
    return _form(request, user, _resource(request, name))


@router.post("/console/apply/{name}")
def apply(
    request: Request,
    user: Officer,
    name: str,
    fields: list[str] = Form(default_factory=list),
    purpose: str = Form("", max_length=2000),
    legal_basis: str = Form("", max_length=2000),
    period_days: int = Form(90, ge=1, le=MAX_PERIOD_DAYS),
) -> Any:
    res = _resource(request, name)
    ex = state(request).exchange
    problems = []
    if not purpose.strip():
        problems.append("请填写用途 / state the purpose")
    if not legal_basis.strip():
        problems.append("请填写法律依据 / state the legal basis")
    info = None
    if not problems:
        try:
            info = ex.grants.request(
                ex.catalog(),
                user.department,
                res.name,
                fields,
                purpose.strip(),
                legal_basis.strip(),
                period_days,
            )
        except ExchangeError as exc:
            problems.append(str(exc))
    if info is None:
        audit(
            request, user, "apply", resource=res.name, fields=fields, result="invalid", status=422
        )
        return _form(
            request,
            user,
            res,
            status=422,
            errors=problems,
            chosen=fields,
            purpose=purpose,
            legal_basis=legal_basis,
            period_days=period_days,
        )
    audit(request, user, "apply", resource=res.name, fields=info.fields, purpose=info.purpose)
    done = RedirectResponse(f"/console/applications/{info.id}?new=1", status_code=303)
    return request_notice(request, done, info.id)  # to the owner's approvers


@router.get("/console/applications")
def my_applications(request: Request, user: Member) -> Any:
    ex = state(request).exchange
    now = utcnow()
    rows = ex.grants.requests(user.department, "outgoing")
    return render(
        request,
        "applications.html",
        rows=[(r, working_days_left(now, r.due_at)) for r in rows],
    )


@router.get("/console/applications/{request_id}")
def application(request: Request, user: Member, request_id: str) -> Any:
    """One application, for the department that filed it or the one that must answer it."""
    ex = state(request).exchange
    try:
        info = ex.grants.get_request(user.department, request_id[:32])
    except UnknownError as exc:
        raise ConsoleNotFound("申请 / application") from exc
    return render(
        request,
        "application.html",
        r=info,
        left=working_days_left(utcnow(), info.due_at),
        new=request.query_params.get("new") == "1",
        res=ex.catalog().resources.get(info.resource),
    )
