"""Every exchange error answers ``{"error": {"code": ..., "message": ...}}``, never a trace."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from onesource.exchange.errors import ExchangeError, RateLimitedError
from onesource.store.errors import VersionNotFoundError
from onesource.store.withdrawals import VersionWithdrawnError
from onesource.web.exchange.models import ErrorBody
from schemas.errors import NotFoundError, OneSourceError, TransientError

log = logging.getLogger("onesource.exchange")

STATUS_CODES = {
    400: "bad-request",
    401: "auth-required",
    403: "access-denied",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    416: "range-not-satisfiable",
    422: "invalid-request",
    429: "rate-limited",
    503: "unavailable",
}

# documented on every exchange operation
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "missing or invalid API key",
        403: "the department may not do this",
        404: "unknown, or not the caller's",
        413: "body too large",
        422: "invalid request",
        429: "rate limited (see Retry-After)",
    }.items()
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        # a location part may be a client-chosen name (a dict key): never echoed in full
        loc = ".".join(_short(str(p)) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def to_response(exc: BaseException) -> JSONResponse:
    """Map any exception to an error body; unexpected ones become a bare 500."""
    if isinstance(exc, RateLimitedError):
        wait = str(max(1, math.ceil(exc.retry_after)))
        return error_response(429, exc.code, str(exc), {"Retry-After": wait})
    if isinstance(exc, ExchangeError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, str(exc), headers)
    if isinstance(exc, RequestValidationError):
        return error_response(422, "invalid-request", _validation_message(exc))
    if isinstance(exc, HTTPException | StarletteHTTPException):
        if exc.status_code == 400 and isinstance(
            exc.__cause__, RecursionError | ValueError | UnicodeError
        ):
            # FastAPI's "There was an error parsing the body" (e.g. JSON nested 200k deep)
            return error_response(
                422,
                "invalid-request",
                "the body is not valid JSON (malformed or nested too deeply)",
            )
        code = STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))
    if isinstance(exc, VersionWithdrawnError):
        return error_response(410, exc.code, str(exc), {"Cache-Control": "no-store"})
    if isinstance(exc, NotFoundError | VersionNotFoundError):
        return error_response(404, exc.code, str(exc))
    if isinstance(exc, TransientError):
        return error_response(503, exc.code, str(exc), {"Retry-After": "1"})
    if isinstance(exc, OneSourceError):
        return error_response(422, exc.code, str(exc))
    log.exception("exchange: unexpected error", exc_info=exc)
    return error_response(500, "internal", "internal error; the hub operator has been told")


class ExchangeRoute(APIRoute):
    """A route whose errors, including validation ones, all use the error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except Exception as exc:
                return to_response(exc)

        return handler


fallback = APIRouter(route_class=ExchangeRoute)


@fallback.api_route(
    "/api/exchange/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    include_in_schema=False,
)
def not_found(path: str, request: Request) -> JSONResponse:
    """Unknown exchange paths answer in the error format too."""
    return error_response(404, "not-found", f"no endpoint {request.method} /api/exchange/{path}")
