"""Pushing batches for resources a department owns, and their quality reports."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, UploadFile

from onesource.exchange.pushes import PushInfo
from onesource.web.exchange.errors import ERROR_RESPONSES, ExchangeRoute
from onesource.web.exchange.models import PushOut
from onesource.web.exchange.runtime import AuditDep, Department, ExchangeDep

router = APIRouter(
    prefix="/api/exchange", tags=["exchange"], route_class=ExchangeRoute, responses=ERROR_RESPONSES
)


def _out(p: PushInfo) -> PushOut:
    data = asdict(p)
    data["quality"] = data.pop("report")
    return PushOut(**data)


@router.post(
    "/resources/{name}/pushes",
    response_model=PushOut,
    status_code=201,
    summary="Push a batch (CSV, Parquet or JSON) for a resource I own; it is quality-checked",
    description="A rejected batch (quality gate) is a result (status rejected), not an error; "
    "a file that cannot be read answers 422.",
)
def push(
    name: Annotated[str, Path(max_length=200)],
    department: Department,
    ex: ExchangeDep,
    ctx: AuditDep,
    file: Annotated[UploadFile, File(description="the batch")],
    fmt: Annotated[str | None, Form(max_length=16, description="csv | parquet | json")] = None,
) -> PushOut:
    ctx.resource = name
    data = file.file.read()
    info = ex.pushes.push(ex.catalog(), department, name, data, file.filename or "upload", fmt)
    ex.refresh()  # a new version may be current now
    ctx.row_count = info.rows_read
    ctx.result = info.status
    return _out(info)


@router.get("/pushes", response_model=list[PushOut], summary="My pushes, newest first")
def list_pushes(
    department: Department,
    ex: ExchangeDep,
    ctx: AuditDep,
    resource: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[PushOut]:
    out = [_out(p) for p in ex.pushes.list(department, resource, limit)]
    ctx.row_count = len(out)
    return out


@router.get("/pushes/{push_id}", response_model=PushOut, summary="One push with its quality report")
def get_push(
    push_id: Annotated[str, Path(max_length=32)],
    department: Department,
    ex: ExchangeDep,
    ctx: AuditDep,
) -> PushOut:
    info = ex.pushes.get(department, push_id)
    ctx.resource = info.resource
    return _out(info)
