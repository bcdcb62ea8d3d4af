"""Per-app exchange state and the dependencies routes use: the exchange, the
calling department (authenticated and rate limited), the audit context.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from onesource.exchange.config import get_exchange_settings
from onesource.exchange.errors import AuthRequiredError
from onesource.exchange.hub import Exchange

AUDIT_SCOPE_KEY = "onesource.audit"
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


async def current_department(
    request: Request,
    ex: ExchangeDep,
    ctx: AuditDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> str:
    """The department whose key signed the call; rate limited per department."""
    key = credentials.credentials if credentials is not None else api_key
    if not key:
        raise AuthRequiredError(
            "no API key", hint="send Authorization: Bearer <key> or X-API-Key: <key>"
        )
    department = ex.keys.authenticate(key)
    ctx.department = department
    ex.limiter.check(department)
    return department


Department = Annotated[str, Depends(current_department)]
