"""Per-app exchange state and the dependencies routes use: the exchange, the
calling department (authenticated and rate limited), the audit context.
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from onesource.exchange.config import get_exchange_settings
from onesource.exchange.errors import AuthInvalidError, AuthRequiredError, RateLimitedError
from onesource.exchange.hub import Exchange
from onesource.exchange.keys import split_key
from onesource.exchange.signing import SignatureInvalidError, SignatureRequiredError

AUDIT_SCOPE_KEY = "onesource.audit"
SIGNATURE_HEADER = "x-onesource-signature"
BODY_SCOPE_KEY = "onesource.body"  # a signed request's body, read once by the middleware
_lock = threading.Lock()

bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer os_<prefix>_<secret>")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the same key")


@dataclass
class AuditContext:
    """What a call touched; the middleware logs it with the status and duration."""

    department: str | None = None
    resource: str | None = None
    fields: list[str] | None = None
    purpose: str | None = None
    row_count: int | None = None
    result: str | None = None
    client: str | None = None  # the caller's address (uvicorn --proxy-headers behind a proxy)


def freeze_heap() -> None:
    """Take every object alive now out of the garbage collector's reach (``gc.freeze``).

    After start-up the process holds ~170k GC-tracked objects (modules, FastAPI, SQLAlchemy,
    the catalog); each full (generation 2) collection walks all of them, 70-100 ms on a busy
    2-core machine, and every request in flight waits: that was the verification p99.  Frozen
    objects are never scanned again.  Called after start-up work only (the exchange is
    built, an index is built), never per request; unfreezing first lets the collection
    free what died since the last call.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def exchange_for(app: Any) -> Exchange:
    """The app's ``Exchange``, built on first use from the current settings."""
    ex: Exchange | None = getattr(app.state, "onesource_exchange", None)
    if ex is not None:
        return ex
    with _lock:
        ex = getattr(app.state, "onesource_exchange", None)
        if ex is None:
            from onesource.web.deps import get_catalog, get_store

            ex = Exchange(get_store(), get_catalog, get_exchange_settings())
            ex.indexes.after_build = freeze_heap
            freeze_heap()
            app.state.onesource_exchange = ex
    return ex


async def get_exchange(request: Request) -> Exchange:
    return exchange_for(request.app)


async def audit_context(request: Request) -> AuditContext:
    ctx = request.scope.get(AUDIT_SCOPE_KEY)
    if ctx is None:  # called outside the middleware (should not happen)
        ctx = request.scope[AUDIT_SCOPE_KEY] = AuditContext()
    return ctx


ExchangeDep = Annotated[Exchange, Depends(get_exchange)]
AuditDep = Annotated[AuditContext, Depends(audit_context)]


def key_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """The presented key: ``Authorization: Bearer <key>``, else ``X-API-Key``.

    The same reading as the ``bearer`` and ``api_key_header`` schemes (which document it).
    """
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        credentials = credentials.strip()
        if scheme and credentials and scheme.lower() == "bearer":
            return credentials
    return x_api_key or None


def authenticate(ex: Exchange, ctx: AuditContext, key: str | None, *, charge: bool = True) -> str:
    """The department whose key signed the call; rate limited per department.

    An address past its burst of failed authentications gets 429 without a key lookup,
    unless the key is one this process already knows (a department behind the same NAT).
    """
    failures = ex.auth_failures
    wait = failures.throttled(ctx.client)
    if wait is not None and (not key or not ex.keys.recently_good(key)):
        ctx.result = "auth-throttled"
        raise RateLimitedError(
            "too many calls without a valid API key from this address", retry_after=wait
        )
    if not key:
        failures.failed(ctx.client)
        raise AuthRequiredError(
            "no API key", hint="send Authorization: Bearer <key> or X-API-Key: <key>"
        )
    try:
        department = ex.keys.authenticate(key)
    except AuthInvalidError:
        failures.failed(ctx.client)
        raise
    ctx.department = department
    if charge:
        ex.limiter.check(department)
    return department


async def authenticate_request(
    ex: Exchange, ctx: AuditContext, request: Request, key: str | None
) -> str:
    """``authenticate``, then the signature: checked when present, required when the
    department requires signed requests (the body is read to hash it)."""
    # the department's rate limit is charged only once the call is its own: a captured
    # bearer key without the signing secret must not exhaust a signing department's limit
    department = authenticate(ex, ctx, key, charge=False)
    headers = request.headers
    signed = SIGNATURE_HEADER in headers
    if not signed and not ex.dept_auth.requires_signature(department):
        ex.limiter.check(department)
        return department
    if not signed:
        _signature_failed(ex, ctx, "unsigned")
        raise SignatureRequiredError(
            f"department {department!r} requires signed requests",
            hint="sign with the key's signing secret (the SDK does: signing_secret=...)",
        )
    assert key is not None
    parts = split_key(key)
    assert parts is not None
    scope = request.scope
    body = scope.get(BODY_SCOPE_KEY)
    if body is None:
        body = await request.body()
    try:
        ex.request_verifier().check(
            parts[0],
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            body,
        )
    except SignatureInvalidError:
        _signature_failed(ex, ctx, "bad-signature")
        raise
    ex.limiter.check(department)
    return department


def _signature_failed(ex: Exchange, ctx: AuditContext, result: str) -> None:
    """A key without a valid signature is not the department's call: counted per client
    address like other authentication failures (one summary entry per address and minute),
    never charged to the department or logged once per call under its name."""
    ctx.result = result
    ctx.department = None
    ex.auth_failures.failed(ctx.client)


async def current_department(
    request: Request,
    ex: ExchangeDep,
    ctx: AuditDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> str:
    """The department whose key signed the call; rate limited per department."""
    key = credentials.credentials if credentials is not None else api_key
    return await authenticate_request(ex, ctx, request, key)


Department = Annotated[str, Depends(current_department)]
