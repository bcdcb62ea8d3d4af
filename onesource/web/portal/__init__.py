"""The open-data portal: pages for people, an open API, streamed downloads.

Errors are answered app-wide (``onesource.web.errors``): an HTML page for people,
the ``{"error": ...}`` envelope for the open API, feeds and downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def install(app: Any) -> None:
    from fastapi.staticfiles import StaticFiles

    from onesource.web.portal import api, files, pages, requests

    app.include_router(api.router)
    app.include_router(files.router)
    app.include_router(pages.router)
    app.include_router(requests.router)
    app.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
