"""数据异议 in the console: raise an objection on a record's field, see the ones raised,
answer the ones routed to this department; turn a consistency mismatch into one.

The work is ``onesource.exchange.objections.ObjectionBook`` (the CLI uses it too).  The
department is always the signed-in user's: the source department is computed from the
catalog, never read from the form; an objection of other departments answers 404.
Raising takes an officer or approver; answering takes an approver of the source.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from onesource.exchange.errors import ExchangeError, UnknownError
from onesource.web.console.auth import (
    Approver,
    ConsoleNotFound,
    ConsoleUser,
    Member,
    audit,
    state,
)
from onesource.web.console.common import render
from onesource.web.console.notices import objection_notice

router = APIRouter(include_in_schema=False)
KEY_PREFIX = "key."


def book(request: Request) -> Any:
    from onesource.exchange.objections import ObjectionBook

    return ObjectionBook(state(request).exchange)


def _dept(user: ConsoleUser) -> str:
    assert user.department is not None  # Member / Approver hold a department
    return user.department


def left(due: Any) -> int:
    """Working days from now to ``due``."""
    from onesource.store.records import utcnow
    from onesource.web.console.applications import working_days_left

    return working_days_left(utcnow(), due)


@router.get("/console/objections")
def objections(request: Request, user: Member) -> Any:
    b = book(request)
    dept = _dept(user)
    return render(
        request,
        "objections.html",
        incoming=b.list(dept, "incoming"),
        raised=b.list(dept, "raised"),
        left=left,
    )


def _resources_for(request: Request, dept: str) -> list[Any]:
    """Resources on which ``dept`` may raise: some field it reads or holds a copy of."""
    ex = state(request).exchange
    catalog = ex.catalog()
    held = {
        s.element
        for r in catalog.resources.values()
        if r.provider == dept
        for s in r.fields.values()
    }
    out = []
    for res in sorted(catalog.resources.values(), key=lambda r: r.name):
        if res.provider == dept:
            continue
        readable = set(ex.access(dept, res).readable)
        fields = [
            n
            for n, s in res.fields.items()
            if (n in readable or (s.element in held and s.element))
            and _is_source_field(catalog, res, n)
        ]
        if fields:
            out.append((res, fields))
    return out


def _is_source_field(catalog: Any, res: Any, name: str) -> bool:
    element = res.fields[name].element
    return element is None or element in res.source_of


def _form_page(
    request: Request,
    user: ConsoleUser,
    values: dict[str, Any],
    status: int = 200,
    errors: list[str] | None = None,
) -> Any:
    dept = _dept(user)
    choices = _resources_for(request, dept)
    chosen = next((c for c in choices if c[0].name == values.get("resource")), None)
    return render(
        request,
        "objection_new.html",
        status=status,
        choices=choices,
        chosen=chosen,
        elements=state(request).exchange.catalog().elements,
        v=values,
        errors=errors or [],
    )


@router.get("/console/objections/new")
def new(request: Request, user: Member) -> Any:
    """The raise form, prefilled from the query (a record's field, a mismatch)."""
    q = request.query_params
    values: dict[str, Any] = {
        "resource": q.get("resource", "")[:200],
        "field": q.get("field", "")[:200],
        "observed": q.get("observed", "")[:2000],
        "expected": q.get("expected", "")[:2000],
        "reason": q.get("reason", "")[:2000],
        "key": {k[len(KEY_PREFIX) :]: v[:200] for k, v in q.items() if k.startswith(KEY_PREFIX)},
    }
    return _form_page(request, user, values)


@router.post("/console/objections")
async def raise_objection(request: Request, user: Member) -> Any:
    form = await request.form()
    values: dict[str, Any] = {
        name: str(form.get(name) or "")
        for name in ("resource", "field", "observed", "expected", "reason")
    }
    # a department or source named in the form is ignored: routing is the catalog's
    values["key"] = {
        k[len(KEY_PREFIX) :]: str(v) for k, v in form.items() if k.startswith(KEY_PREFIX)
    }
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_raise, request, user, values)


def _raise(request: Request, user: ConsoleUser, values: dict[str, Any]) -> Any:
    try:
        info = book(request).raise_objection(
            _dept(user),
            values["resource"],
            values["key"],
            values["field"],
            values["reason"],
            observed=values["observed"] or None,
            expected=values["expected"] or None,
            user=user.name,
        )
    except ExchangeError as exc:
        audit(
            request,
            user,
            "objection-raise",
            resource=values["resource"][:200] or None,
            result="invalid",
            status=exc.status,
        )
        status = 422 if exc.status == 404 else exc.status
        return _form_page(request, user, values, status, [str(exc)])
    return _raised(request, user, info)


def _raised(request: Request, user: ConsoleUser, info: Any, how: str = "") -> Any:
    """Audit a raised objection, show it, and notify its source department."""
    audit(
        request,
        user,
        "objection-raise",
        resource=info.resource,
        fields=[info.field],
        purpose=f"objection {info.id} -> {info.source_department}{how}",
    )
    return objection_notice(
        request, RedirectResponse(f"/console/objections/{info.id}", status_code=303), info.id
    )


def _mine(request: Request, user: ConsoleUser, objection_id: str) -> Any:
    try:
        return book(request).get(_dept(user), objection_id[:32])
    except UnknownError as exc:
        raise ConsoleNotFound("异议 / objection") from exc


def _detail(
    request: Request, user: ConsoleUser, info: Any, status: int = 200, errors: Any = None
) -> Any:
    ex = state(request).exchange
    versions = []
    can_answer = (
        info.status == "open" and user.has("approver") and info.source_department == user.department
    )
    if can_answer:
        versions = [v.number for v in ex.store.versions("resource", info.resource)]
    return render(
        request,
        "objection.html",
        status=status,
        o=info,
        can_answer=can_answer,
        versions=versions,
        left=left(info.due_at),
        errors=errors or [],
    )


@router.post("/console/objections/{objection_id}/answer")
def answer(
    request: Request,
    user: Approver,
    objection_id: str,
    status: str = Form(""),
    version: str = Form(""),
    text: str = Form("", max_length=2000),
) -> Any:
    info = _mine(request, user, objection_id)
    if info.source_department != user.department:
        # the raiser sees its objection, but only the source department answers it
        audit(
            request, user, "objection-answer", resource=info.resource, result="denied", status=403
        )
        return _detail(
            request, user, info, 403, ["只有来源部门可以答复 / only the source department answers"]
        )
    number = int(version) if version.strip().isascii() and version.strip().isdigit() else None
    try:
        done = book(request).answer(
            _dept(user), info.id, status, text, version=number, user=user.name
        )
    except ExchangeError as exc:
        audit(
            request,
            user,
            "objection-answer",
            resource=info.resource,
            result="invalid",
            status=exc.status,
        )
        return _detail(request, user, info, exc.status, [str(exc)])
    audit(
        request,
        user,
        "objection-answer",
        resource=done.resource,
        fields=[done.field],
        purpose=f"objection {done.id} {done.status}"
        + (f" v{done.corrected_version}" if done.corrected_version else ""),
    )
    return objection_notice(
        request, RedirectResponse(f"/console/objections/{done.id}", status_code=303), done.id
    )


# consistency mismatches -> objections


def mismatches(request: Request, dept: str) -> list[Any]:
    from onesource.exchange.objections import mismatches as found

    return found(state(request).exchange, dept)


@router.get("/console/objections/mismatches")
def mismatch_list(request: Request, user: Member) -> Any:
    return render(request, "objection_mismatches.html", rows=mismatches(request, _dept(user)))


@router.post("/console/objections/from-consistency")
def from_consistency(
    request: Request,
    user: Member,
    copy_resource: str = Form(""),
    element: str = Form(""),
    key: str = Form(""),
) -> Any:
    """One step: the mismatch is looked up on the server (values never come from the form)."""
    dept = _dept(user)
    hit = next(
        (
            m
            for m in mismatches(request, dept)
            if (m.copy_resource, m.element, m.key) == (copy_resource, element, key)
        ),
        None,
    )
    if hit is None:
        raise ConsoleNotFound("不一致记录 / mismatch")
    from onesource.exchange.objections import raise_from

    try:
        info = raise_from(book(request), dept, hit, user=user.name)
    except ExchangeError as exc:
        audit(
            request,
            user,
            "objection-raise",
            resource=hit.source_resource,
            result="invalid",
            status=exc.status,
        )
        return render(
            request,
            "objection_mismatches.html",
            status=422,
            rows=mismatches(request, dept),
            errors=[str(exc)],
        )
    return _raised(request, user, info, " (consistency)")


# last: "/console/objections/{id}" would swallow the fixed paths above
@router.get("/console/objections/{objection_id}")
def detail(request: Request, user: Member, objection_id: str) -> Any:
    return _detail(request, user, _mine(request, user, objection_id))
