"""Yes/no verification against the source record, which is never returned."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from onesource.web.exchange.errors import ERROR_RESPONSES, ExchangeRoute
from onesource.web.exchange.models import VerifyIn, VerifyOut
from onesource.web.exchange.runtime import AuditDep, Department, ExchangeDep

router = APIRouter(
    prefix="/api/exchange", tags=["exchange"], route_class=ExchangeRoute, responses=ERROR_RESPONSES
)


@router.post(
    "/verify",
    response_model=VerifyOut,
    summary="Verify claims about one record at its source: yes/no per claimed field",
    description=(
        "Name a `resource` and use its field names in `key` and `claims`, or leave `resource` "
        "out and use element ids (e.g. `person.id_number`, `person.name`): each claimed element "
        "is checked at its source resource. Allowed for fields you may read, for conditional "
        "fields of resources whose share_method is `verify`, and never for `none` fields."
    ),
)
async def verify(
    body: VerifyIn, department: Department, ex: ExchangeDep, ctx: AuditDep
) -> JSONResponse:
    # async on purpose: the check is in memory (index built once per version), so it
    # runs on the event loop without a thread hop
    ctx.resource = body.resource
    ctx.fields = list(body.claims)
    ctx.purpose = body.purpose
    answer = ex.verify(department, body.resource, body.key, body.claims)
    if body.resource is None:
        ctx.resource = ",".join(r for r, _ in answer.sources)
    ctx.row_count = 0  # nothing of the record leaves the hub
    ctx.result = "match" if answer.all_match else ("mismatch" if answer.found else "no-record")
    # a plain JSONResponse skips response-model re-validation on the hot path; the
    # body is exactly VerifyOut (documented above)
    return JSONResponse(
        {
            "matches": answer.matches,
            "all_match": answer.all_match,
            "found": answer.found,
            "sources": [{"resource": r, "version": v} for r, v in answer.sources],
        }
    )
