"""The open-data portal: pages for people, an open API, streamed downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def install(app: Any) -> None:
    from fastapi import HTTPException, Request
    from fastapi.responses import JSONResponse
    from fastapi.staticfiles import StaticFiles

    from onesource.web.portal import api, files, pages
    from onesource.web.portal.common import render

    app.include_router(api.router)
    app.include_router(files.router)
    app.include_router(pages.router)
    app.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )

    async def portal_http_error(request: Request, exc: HTTPException) -> Any:
        # people get a page; machines get the same JSON error shape as the exchange API
        path = request.url.path
        if path.startswith(
            ("/api/", "/catalog.jsonld", "/data.json")
        ) or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse(
                {"error": {"code": f"http-{exc.status_code}", "message": str(exc.detail)}},
                status_code=exc.status_code,
                headers=getattr(exc, "headers", None),
            )
        return render(
            request,
            "error.html",
            status=exc.status_code,
            message=str(exc.detail),
            code=exc.status_code,
        )

    app.add_exception_handler(HTTPException, portal_http_error)
