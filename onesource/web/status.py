"""Health and catalog status: where operators and stewards see that the catalog is broken.

While a catalog file is broken the hub keeps serving the last valid catalog, so
nothing else shows the problem: ``/healthz`` reports ``catalog: stale`` with the
number of problems, and ``/status/catalog`` lists them as ``file:line:column``
(paths relative to the catalog folder; no server paths).  Departments and the
public never see the problems in API errors.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

router = APIRouter(include_in_schema=False)


def _state() -> Any:
    from onesource.catalog.compiled import catalog_state
    from onesource.settings import get_settings

    return catalog_state(get_settings().catalog)


@router.get("/healthz")
def healthz() -> dict[str, Any]:
    """Alive (always 200); ``catalog`` says whether the working catalog is valid."""
    state = _state()
    return {
        "status": "ok" if state.status == "ok" else "degraded",
        "catalog": {
            "status": state.status,
            "problems": len(state.problems),
            "fingerprint": state.fingerprint,
            "serving": state.serving,
        },
    }


@router.get("/status/catalog")
def catalog_status(request: Request) -> Any:
    """The catalog's problems for stewards: a plain page, or JSON for scripts."""
    state = _state()
    body = {
        "status": state.status,
        "fingerprint": state.fingerprint,
        "serving": state.serving,
        "problems": list(state.problems),
    }
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse(body)
    headline = {
        "ok": "The catalog is valid and in use.",
        "stale": f"The catalog has {len(state.problems)} problem(s). The hub keeps serving the "
        f"last valid catalog ({state.serving}) until they are fixed.",
        "invalid": f"The catalog has {len(state.problems)} problem(s) and no earlier valid "
        "catalog exists: the portal and the exchange cannot serve until they are fixed.",
    }[state.status]
    items = "".join(f"<li><code>{html.escape(p)}</code></li>" for p in state.problems)
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>OneSource catalog status</title></head><body>"
        f"<h1>Catalog status: {html.escape(state.status)}</h1><p>{html.escape(headline)}</p>"
        f"{f'<ol>{items}</ol>' if items else ''}"
        f"<p><small>working catalog {html.escape(state.fingerprint)}</small></p></body></html>"
    )
    return HTMLResponse(page)
