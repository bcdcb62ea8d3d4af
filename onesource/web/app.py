"""The FastAPI application: one process serves the exchange API and the portal."""

from __future__ import annotations

import importlib
from typing import Any


def create_app() -> Any:
    """Build the app.  Routers come from ``onesource.web.exchange`` and ``onesource.web.portal``."""
    from fastapi_offline import FastAPIOffline

    from onesource.web import errors, status
    from onesource.web.hosts import allowed_hosts
    from onesource.web.lifespan import lifespan

    # /docs and /redoc load Swagger UI and ReDoc from the hub itself (isolated networks)
    app = FastAPIOffline(
        title="OneSource",
        version="0.1.0",
        description="清河市政务数据共享交换平台 — exchange API for departments and the open-data portal.",
        openapi_tags=[
            {
                "name": "exchange",
                "description": "Department-to-department data exchange (authenticated).",
            },
            {"name": "open", "description": "Open data for the public."},
        ],
        lifespan=lifespan,  # shutdown writes pending audit summaries and a checkpoint
    )
    for module_name in ("onesource.web.exchange", "onesource.web.portal", "onesource.web.console"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.install(app)
    errors.install(app)  # after the portal's: the envelope for every JSON error
    app.include_router(status.router)
    app.add_middleware(errors.TrustedHosts, allowed_hosts=allowed_hosts())

    from onesource.web import overload

    overload.install(app)

    from onesource.web import metrics

    metrics.install(app)  # last: the outermost, so overload answers are counted too

    return app
