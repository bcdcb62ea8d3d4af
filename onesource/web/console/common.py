"""Console pages' shared pieces: language, templates, rendering with the CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from onesource.web.console.text import TEXT

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def lang(request: Request) -> str:
    value = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return "en" if value == "en" else "zh"


CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> Any:
    """A console page; every page carries a CSRF token (the header's sign-out is a form)."""
    from onesource.web.console.auth import secure_cookies
    from onesource.web.portal import csrf

    lg = lang(request)
    user = getattr(request.state, "console_user", None)
    # bound to the session too: a planted nonce cookie with the attacker's token fails
    nonce, token = csrf.token_for(request, user.session if user is not None else "")
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {"t": TEXT[lg], "lang": lg, "csrf": token, "user": user, **ctx},
        status_code=status,
    )
    # Secure as the session cookie: behind a TLS proxy the request itself is plain http
    csrf.set_cookie(request, response, nonce, path="/console", secure=secure_cookies(request))
    response.headers["Cache-Control"] = "no-store"  # pages show one department's data
    response.headers["X-Frame-Options"] = "DENY"
    # no inline script or style anywhere in the console: a stored-XSS that slipped past the
    # escaping still could not run, load or send anything
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # console URLs carry ids
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie("lang", lg, max_age=365 * 86400, samesite="lax")
    return response


def fmt_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


TEMPLATES.env.filters["when"] = fmt_time
