"""Sign in and out: local accounts (argon2), throttled per account and per address."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from onesource.exchange.errors import RateLimitedError
from onesource.web.console.auth import (
    CONSOLE,
    SESSION_COOKIE,
    ConsoleUser,
    User,
    audit,
    check_csrf,
    client_address,
    secure_cookies,
    state,
)
from onesource.web.console.common import render
from onesource.web.console.text import TEXT
from onesource.web.portal.requests import client_key

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Only a console path: never another site (``//evil``, ``/\\evil``, ``https:...``)."""
    if not value or not value.startswith(CONSOLE) or value.startswith(("//", "/\\")):
        return CONSOLE
    if any(c in value for c in "\\\r\n") or value.startswith(CONSOLE + "/login"):
        return CONSOLE
    return value


def start_session(request: Request, account: Any, via: str, next_path: str) -> RedirectResponse:
    """Open a session (a new token: no fixation), set the cookie, go to ``next_path``."""
    st = state(request)
    lifetime = timedelta(hours=st.settings.session_hours)
    token = st.accounts.open_session(account, lifetime, client_address(request), via)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        path=CONSOLE,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return response


@router.get("/console/login")
def login_page(request: Request, next: str = CONSOLE) -> Any:
    st = state(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and st.accounts.find_session(token, timedelta(minutes=st.settings.idle_minutes)):
        return RedirectResponse(safe_next(next), status_code=303)  # already signed in
    return render(request, "login.html", next=safe_next(next), sso=st.settings.sso_enabled)


@router.post("/console/login")
async def login(
    request: Request,
    name: str = Form("", max_length=64),
    password: str = Form("", max_length=1024),
    next: str = Form(CONSOLE, max_length=2000),
) -> Any:
    await check_csrf(request)
    st = state(request)
    t = TEXT["en" if request.cookies.get("lang") == "en" else "zh"]
    key = name.strip().lower()
    try:
        st.per_address.check("addr:" + client_key(request))  # an IPv6 client by its /64
        st.per_account.check("user:" + key)
    except RateLimitedError as exc:
        return render(
            request,
            "login.html",
            status=429,
            error=f"{t['throttled']} ({exc.retry_after:.0f} s)",
            next=safe_next(next),
            name=name,
            sso=st.settings.sso_enabled,
        )
    account = await run_in_threadpool(st.accounts.check_password, name.strip(), password)
    if account is None:
        await run_in_threadpool(
            audit, request, None, "login-failed", result="unauthenticated", status=401, name=key
        )
        return render(
            request,
            "login.html",
            status=401,
            error=t["bad_login"],
            next=safe_next(next),
            name=name,
            sso=st.settings.sso_enabled,
        )
    user = ConsoleUser(account.name, account.department, frozenset(account.roles))
    response = await run_in_threadpool(start_session, request, account, "password", next)
    await run_in_threadpool(audit, request, user, "login")
    return response


@router.post("/console/logout")
def logout(request: Request, user: User) -> Any:
    state(request).accounts.close_session(request.cookies.get(SESSION_COOKIE, ""))
    audit(request, user, "logout")
    response = RedirectResponse(CONSOLE + "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=CONSOLE)
    return response
