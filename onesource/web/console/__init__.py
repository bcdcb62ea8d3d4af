"""The sharing console (``/console``): people inside government sign in, browse the
sharing catalogue, apply for and review access, hold keys and see who read their data.

Server-rendered, Chinese first, usable without JavaScript.  Who may do what is in
``onesource.web.console.auth`` (the interface other console pages build on); the work
itself is the exchange's (``onesource.exchange``): one implementation of grants, keys and
the audit log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def install(app: Any) -> None:
    """Mount the console's routers, its static files and its error pages on ``app``."""
    from fastapi.responses import RedirectResponse
    from fastapi.staticfiles import StaticFiles

    from onesource.web.console import pages
    from onesource.web.console.auth import ConsoleDenied, LoginRequired
    from onesource.web.console.common import render

    async def to_login(request: Any, exc: Exception) -> Any:
        from urllib.parse import quote

        assert isinstance(exc, LoginRequired)
        target = "/console/login?next=" + quote(exc.next_path, safe="/")
        response = RedirectResponse(target, status_code=303)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def denied(request: Any, exc: Exception) -> Any:
        assert isinstance(exc, ConsoleDenied)
        return render(
            request, "error.html", status=exc.status, code=exc.status, message=exc.message
        )

    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(ConsoleDenied, denied)
    for router in pages.routers():
        app.include_router(router)
    app.mount(
        "/console/static",
        StaticFiles(directory=str(Path(__file__).parent / "static")),
        name="console-static",
    )
