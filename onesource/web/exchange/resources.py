"""What a department may read, and reading it (JSON or Arrow IPC)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from onesource.exchange.errors import InvalidRequestError
from onesource.exchange.policy import requestable_fields
from onesource.exchange.rows import parse_cursor, parse_where, read_page
from onesource.web.exchange.errors import ERROR_RESPONSES, ExchangeRoute
from onesource.web.exchange.models import Me, ResourceAccessOut, RowsOut
from onesource.web.exchange.runtime import AuditDep, Department, ExchangeDep

ARROW_STREAM = "application/vnd.apache.arrow.stream"
router = APIRouter(
    prefix="/api/exchange", tags=["exchange"], route_class=ExchangeRoute, responses=ERROR_RESPONSES
)


@router.get("/me", response_model=Me, summary="The department this key belongs to")
def me(department: Department, ex: ExchangeDep) -> Me:
    dept = ex.catalog().departments.get(department)
    return Me(
        department=department,
        name=dept.name if dept else None,
        name_en=dept.name_en if dept else None,
    )


def _access_out(ex: ExchangeDep, department: str, name: str) -> ResourceAccessOut:
    res = ex.resource(name)
    acc = ex.access(department, res)
    return ResourceAccessOut(
        name=res.name,
        title=res.title,
        title_en=res.title_en,
        provider=res.provider,
        share_class=res.share_class.value,
        share_method=res.share_method.value,
        access=acc.level,
        readable_fields=acc.readable,
        verifiable_fields=acc.verifiable,
        lookup_fields=acc.lookup,
        requestable_fields=[] if acc.level == "own" else requestable_fields(ex.catalog(), res),
        field_share=acc.classes,
        grant_until=acc.grant_until,
        version=ex.current_version(res.name),
    )


@router.get(
    "/resources",
    response_model=list[ResourceAccessOut],
    summary="Every resource with my access level and the fields I may read or verify",
)
def list_resources(
    department: Department, ex: ExchangeDep, ctx: AuditDep
) -> list[ResourceAccessOut]:
    out = [_access_out(ex, department, name) for name in sorted(ex.catalog().resources)]
    ctx.row_count = len(out)
    return out


@router.get(
    "/resources/{name}",
    response_model=ResourceAccessOut,
    summary="One resource with my access level",
)
def get_resource(
    name: str, department: Department, ex: ExchangeDep, ctx: AuditDep
) -> ResourceAccessOut:
    ctx.resource = name
    return _access_out(ex, department, name)


@router.get(
    "/resources/{name}/rows",
    response_model=RowsOut,
    summary="Read rows (only fields I may read); JSON, or Arrow IPC with Accept: " + ARROW_STREAM,
    responses={200: {"content": {ARROW_STREAM: {}}, "description": "a page of rows"}},
)
def read_rows(
    name: str,
    request: Request,
    department: Department,
    ex: ExchangeDep,
    ctx: AuditDep,
    fields: Annotated[
        str | None, Query(max_length=4000, description="comma-separated; default: all readable")
    ] = None,
    eq: Annotated[
        list[str],
        Query(max_length=8, description="key-field equality filters, field:value (repeatable)"),
    ] = [],  # noqa: B006 - FastAPI copies defaults
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="page size")] = None,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page")
    ] = None,
    purpose: Annotated[
        str | None,
        Query(max_length=500, description="required: why you read (kept in the audit log)"),
    ] = None,
) -> Response | RowsOut:
    ctx.resource = name
    ctx.purpose = ex.require_purpose(purpose, "reads")
    res = ex.resource(name)
    acc = ex.access(department, res)
    wanted = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    chosen = ex.check_fields(acc, wanted)
    ctx.fields = chosen
    size = limit or ex.settings.default_page
    if size > ex.settings.max_page:
        raise InvalidRequestError(
            f"limit {size} is above the largest page, {ex.settings.max_page}",
            hint="page with next_cursor",
        )
    current = ex.require_version(name)
    if cursor is not None:
        version, offset = parse_cursor(cursor)
        # a cursor reaches only versions the caller may read now: none newer than the
        # current one, none withdrawn (a rollback withdraws what it rolled back past)
        if version > current or offset > 10**12:
            raise InvalidRequestError(
                "invalid cursor", hint="pass next_cursor from the previous page unchanged"
            )
        ex.store.withdrawals.check("resource", name, version)
    else:
        version = current
    page = read_page(ex.store, name, version, chosen, parse_where(eq), acc.lookup, size, offset)
    ctx.row_count = page.table.num_rows
    headers = {"X-Version": str(page.version), "X-Total-Rows": str(page.total)}
    if page.next_cursor:
        headers["X-Next-Cursor"] = page.next_cursor
    if ARROW_STREAM in request.headers.get("accept", ""):
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, page.table.schema) as writer:
            writer.write_table(page.table)
        return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM, headers=headers)
    return RowsOut(
        resource=name,
        version=page.version,
        fields=chosen,
        offset=page.offset,
        total=page.total,
        next_cursor=page.next_cursor,
        rows=page.table.to_pylist(),
    )
