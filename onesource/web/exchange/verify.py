"""Yes/no verification against the source record, which is never returned.

``/verify`` is the exchange's hot path (thousands of calls per second from
counter systems), so it skips FastAPI's per-request machinery: no dependency
tree, no request-model plumbing, no response-model pass.  The endpoint reads
the headers and body itself (the body is still validated by ``VerifyIn``, in
pydantic-core's JSON mode, and errors are the usual 4xx error bodies) and
answers pre-serialized bytes whose shape is ``VerifyOut``.
``ExchangeMiddleware`` calls it directly (``verify_asgi``), past the router.

The route stays declared for the OpenAPI document: the body (``VerifyIn``'s
schema, inline), the responses and the security schemes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from onesource.exchange.claimwatch import VerifyLimitError
from onesource.exchange.verification import IndexNotReady, ready_only
from onesource.web.exchange.errors import ERROR_RESPONSES, ExchangeRoute, to_response
from onesource.web.exchange.models import VerifyIn, VerifyOut
from onesource.web.exchange.runtime import (
    AUDIT_SCOPE_KEY,
    AuditContext,
    authenticate_request,
    exchange_for,
    key_from_headers,
)


class RawRoute(ExchangeRoute):
    """A documented route whose endpoint takes the ``Request`` and returns a ``Response``.

    FastAPI still builds the OpenAPI operation from the route's metadata, but requests
    go straight to the endpoint; every exception becomes the error body.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            try:
                response: Response = await endpoint(request)
            except Exception as exc:
                return to_response(exc)
            return response

        return handler


router = APIRouter(
    prefix="/api/exchange", tags=["exchange"], route_class=RawRoute, responses=ERROR_RESPONSES
)

_BODY_SCHEMA = VerifyIn.model_json_schema()  # self-contained: no nested models
_JSON = ("application/json",)


def _not_json(content_type: str | None) -> str | None:
    """The media type if it is not JSON (no Content-Type: read as JSON, like FastAPI)."""
    if not content_type:
        return None
    media = content_type.partition(";")[0].strip().lower()
    return None if media in _JSON or media.endswith("+json") else media


def parse_body(raw: bytes, content_type: str | None) -> VerifyIn:
    """The validated body; errors are ``RequestValidationError`` (answered 422)."""
    other = _not_json(content_type)
    if other is not None:
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "msg": f"expected a JSON body (Content-Type: application/json), "
                    f"not {other[:100]!r}",
                    "type": "content_type",
                }
            ]
        )
    if not raw:
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "Field required", "type": "missing"}]
        )
    try:
        return VerifyIn.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def _answer(
    matches: dict[str, bool], all_match: bool, found: bool, sources: list[tuple[str, int]]
) -> bytes:
    return json.dumps(
        {
            "matches": matches,
            "all_match": all_match,
            "found": found,
            "sources": [{"resource": r, "version": v} for r, v in sources],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


@router.post(
    "/verify",
    response_model=VerifyOut,  # documents the 200 body; the endpoint returns its bytes
    summary="Verify claims about one record at its source: yes/no per claimed field",
    description=(
        "Name a `resource` and use its field names in `key` and `claims`, or leave `resource` "
        "out and use element ids (e.g. `person.id_number`, `person.name`): each claimed element "
        "is checked at its source resource. Allowed for fields you may read, for conditional "
        "fields granted to you (grants on resources whose share_method is `verify` allow "
        "verification only), and never for `none` fields. `purpose` is required. At most a "
        "few distinct values of one field of one record per day (429 `verify-limit` beyond)."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BODY_SCHEMA}},
        },
        "security": [{"HTTPBearer": []}, {"APIKeyHeader": []}],
    },
)
async def verify(request: Request) -> Response:
    # async on purpose: the check is in memory (index built once per version), so it
    # runs on the event loop without a thread hop; building an index goes to a thread
    scope = request.scope
    ex = exchange_for(scope["app"])
    ctx: AuditContext | None = scope.get(AUDIT_SCOPE_KEY)
    if ctx is None:  # called outside the middleware (should not happen)
        ctx = scope[AUDIT_SCOPE_KEY] = AuditContext()
    headers = request.headers
    department = await authenticate_request(
        ex, ctx, request, key_from_headers(headers.get("authorization"), headers.get("x-api-key"))
    )
    body = parse_body(await request.body(), headers.get("content-type"))
    ctx.resource = body.resource
    ctx.fields = list(body.claims)
    ctx.purpose = ex.require_purpose(body.purpose, "verifications")
    try:
        with ready_only():  # in memory: answer here, on the event loop
            answer = ex.verify(department, body.resource, body.key, body.claims)
    except IndexNotReady:  # the first call for a version reads the store: not on the loop
        answer = await run_in_threadpool(
            ex.verify, department, body.resource, body.key, body.claims
        )
    except VerifyLimitError:
        ctx.result = "verify-limit"  # the alert: audit query --result verify-limit
        raise
    if body.resource is None:
        ctx.resource = ",".join(r for r, _ in answer.sources)
    ctx.row_count = 0  # nothing of the record leaves the hub
    all_match = answer.all_match
    ctx.result = "match" if all_match else ("mismatch" if answer.found else "no-record")
    return Response(
        _answer(answer.matches, all_match, answer.found, answer.sources),
        media_type="application/json",
    )


VERIFY_PATH = "/api/exchange/verify"


async def verify_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``POST /api/exchange/verify`` as a bare ASGI call, for ``ExchangeMiddleware``.

    The same endpoint and error mapping as the route, minus the framework layers between
    the middleware and it (exception middleware, exit stack, route matching, the route's
    wrappers): a third of the endpoint's cost at thousands of calls per second.  Other
    methods on the path go through the router (and answer 404 like any unknown endpoint).
    """
    request = Request(scope, receive, send)
    try:
        response = await verify(request)
    except Exception as exc:
        response = to_response(exc)
    await response(scope, receive, send)
