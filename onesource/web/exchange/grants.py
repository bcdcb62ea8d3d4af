"""Access requests and grants: request, list pending, approve, deny, revoke."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from onesource.exchange.grants import GrantInfo, RequestInfo
from onesource.web.exchange.errors import ERROR_RESPONSES, ExchangeRoute
from onesource.web.exchange.models import AccessRequestIn, AccessRequestOut, DecisionIn, GrantOut
from onesource.web.exchange.runtime import AuditDep, Department, ExchangeDep

router = APIRouter(
    prefix="/api/exchange", tags=["exchange"], route_class=ExchangeRoute, responses=ERROR_RESPONSES
)
Id = Annotated[str, Path(min_length=1, max_length=32)]


def _grant(g: GrantInfo) -> GrantOut:
    return GrantOut(**asdict(g))


def _request(r: RequestInfo) -> AccessRequestOut:
    data = asdict(r)
    data["grant"] = _grant(r.grant) if r.grant is not None else None
    return AccessRequestOut(**data)


@router.post(
    "/requests",
    response_model=AccessRequestOut,
    status_code=201,
    summary="Request access to conditional fields of another department's resource",
)
def request_access(
    body: AccessRequestIn, department: Department, ex: ExchangeDep, ctx: AuditDep
) -> AccessRequestOut:
    ctx.resource, ctx.fields, ctx.purpose = body.resource, body.fields, body.purpose
    info = ex.grants.request(
        ex.catalog(),
        department,
        body.resource,
        body.fields,
        body.purpose,
        body.legal_basis,
        body.period_days,
    )
    return _request(info)


@router.get(
    "/requests",
    response_model=list[AccessRequestOut],
    summary="Requests addressed to me (incoming) or filed by me (outgoing)",
)
def list_requests(
    department: Department,
    ex: ExchangeDep,
    ctx: AuditDep,
    role: Literal["incoming", "outgoing"] = "incoming",
    status: Annotated[
        Literal["pending", "approved", "denied", "revoked", "expired"] | None, Query()
    ] = None,
) -> list[AccessRequestOut]:
    out = [_request(r) for r in ex.grants.requests(department, role, status)]
    ctx.row_count = len(out)
    return out


@router.get(
    "/requests/pending",
    response_model=list[AccessRequestOut],
    summary="Pending requests I must answer, with deadlines (overdue flagged)",
)
def pending(department: Department, ex: ExchangeDep, ctx: AuditDep) -> list[AccessRequestOut]:
    out = [_request(r) for r in ex.grants.requests(department, "incoming", "pending")]
    ctx.row_count = len(out)
    return out


@router.get("/requests/{request_id}", response_model=AccessRequestOut, summary="One request")
def get_request(
    request_id: Id, department: Department, ex: ExchangeDep, ctx: AuditDep
) -> AccessRequestOut:
    info = ex.grants.get_request(department, request_id)
    ctx.resource = info.resource
    return _request(info)


def _decide(
    request_id: str,
    approve: bool,
    body: DecisionIn | None,
    department: str,
    ex: ExchangeDep,
    ctx: AuditDep,
) -> AccessRequestOut:
    narrowing = body is not None and approve  # a denial grants nothing to narrow
    info = ex.grants.decide(
        department,
        request_id,
        approve,
        body.note if body else None,
        fields=body.fields if narrowing and body else None,
        period_days=body.period_days if narrowing and body else None,
    )
    ctx.resource, ctx.fields = info.resource, info.fields
    return _request(info)


@router.post(
    "/requests/{request_id}/approve",
    response_model=AccessRequestOut,
    summary="Approve a request to my resource; the requester gets a grant for its period",
)
def approve(
    request_id: Id,
    department: Department,
    ex: ExchangeDep,
    ctx: AuditDep,
    body: DecisionIn | None = None,
) -> AccessRequestOut:
    return _decide(request_id, True, body, department, ex, ctx)


@router.post(
    "/requests/{request_id}/deny", response_model=AccessRequestOut, summary="Deny a request"
)
def deny(
    request_id: Id,
    department: Department,
    ex: ExchangeDep,
    ctx: AuditDep,
    body: DecisionIn | None = None,
) -> AccessRequestOut:
    return _decide(request_id, False, body, department, ex, ctx)


@router.get(
    "/grants",
    response_model=list[GrantOut],
    summary="Grants I hold (held) or gave on my resources (given)",
)
def list_grants(
    department: Department,
    ex: ExchangeDep,
    ctx: AuditDep,
    role: Literal["held", "given"] = "held",
) -> list[GrantOut]:
    out = [_grant(g) for g in ex.grants.grants(department, role)]
    ctx.row_count = len(out)
    return out


@router.post(
    "/grants/{grant_id}/revoke",
    response_model=GrantOut,
    summary="Revoke a grant (its owner, or its holder giving it up)",
)
def revoke(grant_id: Id, department: Department, ex: ExchangeDep, ctx: AuditDep) -> GrantOut:
    info = ex.grants.revoke(department, grant_id)
    ctx.resource, ctx.fields = info.resource, info.fields
    return _grant(info)
