"""The exchange API for departments, mounted under ``/api/exchange``.

``install(app)`` adds the routers, the catch-all 404 in the error format and
the middleware (body limits + audit log).  The logic lives in
``onesource.exchange``; this package only speaks HTTP.
"""

from __future__ import annotations

from typing import Any


def install(app: Any) -> None:
    """Mount the exchange routers and middleware on ``app``."""
    from onesource.web.exchange import grants, pushes, resources, verify
    from onesource.web.exchange.errors import fallback
    from onesource.web.exchange.middleware import ExchangeMiddleware

    for module in (resources, verify, grants, pushes):
        app.include_router(module.router)
    app.include_router(fallback)  # last: only paths no router matched
    app.add_middleware(ExchangeMiddleware)
