"""ASGI middleware for ``/api/exchange``: body size limits and the audit log.

Each call's audit entry is committed (group commit, see
``onesource.exchange.audit``) before the response starts; if the log cannot
be written the caller gets 503 instead of the data.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import HTTPException

from onesource.exchange.audit import AuditRecord
from onesource.web.exchange.runtime import (
    AUDIT_SCOPE_KEY,
    BODY_SCOPE_KEY,
    AuditContext,
    exchange_for,
)
from onesource.web.exchange.verify import VERIFY_PATH, verify_asgi

PREFIX = "/api/exchange"
SIGNATURE_HEADER = b"x-onesource-signature"
log = logging.getLogger("onesource.exchange")

Scope = dict[str, Any]


def route_path(scope: Scope) -> str:
    """The request path without the app's mount point (``root_path``), as routes see it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("/", ""):
        return path[len(root) :] or "/"
    return path


def _result(status: int, ctx: AuditContext) -> str:
    if ctx.result:
        return ctx.result
    if status < 400:
        return "ok"
    return {401: "unauthenticated", 403: "denied", 404: "not-found", 429: "rate-limited"}.get(
        status, "error" if status >= 500 else "invalid"
    )


def _error_body(status: int, code: str, message: str) -> tuple[dict[str, Any], list[Any]]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *([(b"retry-after", b"1")] if status == 503 else []),
        ],
    }
    return start, [{"type": "http.response.body", "body": body, "more_body": False}]


class ExchangeMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        ex = exchange_for(scope["app"])
        client = scope.get("client")
        ctx = AuditContext(client=str(client[0]) if client else None)
        scope[AUDIT_SCOPE_KEY] = ctx
        is_push = scope["method"] == "POST" and path.endswith("/pushes")
        limit = ex.settings.max_push_bytes if is_push else ex.settings.max_body_bytes
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
        state = {"sent": False, "replaced": False}

        async def audited_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                route = scope.get("route")
                endpoint = getattr(route, "path", None) or path
                if ctx.department is None and status >= 400:
                    # no department to hold to account: counted per address, logged in summary
                    for summary in ex.auth_failures.count(ctx.client, endpoint, status):
                        ex.audit.submit(summary)
                    state["sent"] = True
                    await send(message)
                    return
                for summary in ex.auth_failures.due():
                    ex.audit.submit(summary)
                record = AuditRecord(
                    department=ctx.department,
                    endpoint=endpoint,
                    method=scope["method"],
                    result=_result(status, ctx),
                    status_code=status,
                    resource=ctx.resource,
                    fields=ctx.fields,
                    purpose=ctx.purpose,
                    row_count=ctx.row_count,
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
                try:
                    await ex.audit.submit_async(record)
                except Exception:
                    log.exception("exchange: audit log unavailable; answering 503")
                    state["replaced"] = True
                    start, bodies = _error_body(
                        503, "audit-unavailable", "the audit log cannot be written; try again later"
                    )
                    await send(start)
                    for body in bodies:
                        await send(body)
                    return
                state["sent"] = True
            elif state["replaced"]:
                return
            await send(message)

        if declared is not None and (declared < 0 or declared > limit):
            start, bodies = _error_body(
                413,
                "payload-too-large",
                f"body of {declared} bytes exceeds the limit of {limit} bytes",
            )
            await audited_send(start)
            for body in bodies:
                await audited_send(body)
            return

        seen = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"body exceeds the limit of {limit} bytes")
            return message

        app_receive = limited_receive
        if any(name == SIGNATURE_HEADER for name, _ in scope["headers"]):
            # a signed request: its body is hashed before any route parses it (a multipart
            # form is streamed and cannot be read twice), so read it once and replay it
            try:
                body = await _read_all(limited_receive)
            except HTTPException as exc:
                start, bodies = _error_body(413, "payload-too-large", str(exc.detail))
                await audited_send(start)
                for part in bodies:
                    await audited_send(part)
                return
            scope[BODY_SCOPE_KEY] = body
            app_receive = _replay(body, receive)

        if scope["method"] == "POST" and path == VERIFY_PATH:
            # the hot path: skip the router (same endpoint, same errors)
            await verify_asgi(scope, app_receive, audited_send)
            return
        await self.app(scope, app_receive, audited_send)


async def _read_all(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    done = False

    async def replay() -> dict[str, Any]:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        message: dict[str, Any] = await receive()
        return message

    return replay
