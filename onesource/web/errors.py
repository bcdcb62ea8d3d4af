"""App-wide error answers: JSON APIs get ``{"error": {"code", "message"}}``, people a page.

Covers what no route sees: unknown paths (404), wrong methods (405), FastAPI's
request-validation errors (otherwise ``{"detail": ...}``), unreadable bodies,
refused Host headers, and anything unexpected (a bare 500 in the envelope).
Exchange routes answer through ``onesource.web.exchange.errors.to_response``
themselves; this is the same mapping for everything else.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.trustedhost import TrustedHostMiddleware

from onesource.web.exchange.errors import error_response, to_response

# machine paths: always JSON, whatever the Accept header says
JSON_PREFIXES = ("/api/", "/catalog.jsonld", "/data.json", "/healthz", "/openapi.json")
HOST_OK = "onesource.host_ok"


def wants_html(request: Any) -> bool:
    """A person's browser asking for a page (not an API, a feed or a download)."""
    path = request.url.path
    if path.startswith(JSON_PREFIXES) or "/download/" in path:
        return False
    return "text/html" in request.headers.get("accept", "")


def install(app: Any) -> None:
    """Register the handlers on ``app``."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from schemas.errors import OneSourceError

    async def handle(request: Any, exc: Exception) -> Any:
        if isinstance(exc, StarletteHTTPException) and exc.detail in ("Not Found", None):
            exc = StarletteHTTPException(404, f"no page or endpoint {request.url.path}")
        response = to_response(exc)
        if not wants_html(request):
            return response
        import json

        from onesource.web.portal.common import render

        error = json.loads(bytes(response.body))["error"]
        page = render(
            request,
            "error.html",
            status=response.status_code,
            message=error["message"],
            code=response.status_code,
        )
        for name in ("allow", "retry-after", "www-authenticate"):
            if name in response.headers:
                page.headers[name] = response.headers[name]
        return page

    app.add_exception_handler(StarletteHTTPException, handle)
    app.add_exception_handler(RequestValidationError, handle)
    app.add_exception_handler(OneSourceError, handle)
    app.add_exception_handler(Exception, handle)


class TrustedHosts(TrustedHostMiddleware):
    """Starlette's Host check, answering a refused host in the error envelope.

    The refusal never repeats the host it refused (no reflected text).
    """

    def __init__(self, app: Any, allowed_hosts: list[str]) -> None:
        super().__init__(self._passed, allowed_hosts=allowed_hosts, www_redirect=False)
        self.inner = app

    async def _passed(self, scope: Any, receive: Any, send: Any) -> None:
        scope[HOST_OK] = True
        await self.inner(scope, receive, send)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return

        async def guarded(message: Any) -> None:
            if scope.get(HOST_OK):
                await send(message)
            elif message["type"] == "http.response.start":
                refusal = error_response(
                    400,
                    "unknown-host",
                    "this hub does not answer to that host name; use its public address",
                )
                await refusal(scope, receive, send)
            # the refusal's plain-text body is dropped: ours was sent whole

        await super().__call__(scope, receive, guarded)
