"""Who is signed in to the console, and what they may do.  The interface other console
pages build on (objections, notifications, steward pages):

``current_user`` (dependency) -> ``ConsoleUser(name, department, roles, ...)``
    The signed-in person.  Not signed in (no cookie, an expired, idle, logged-out
    session, a disabled account): ``LoginRequired``, answered with a 303 redirect to
    ``/console/login?next=<path>``.  On every POST it also checks the form's CSRF
    token (field ``csrf``, see ``onesource.web.portal.csrf``; bound to the CSRF cookie
    and to the session): missing, wrong or another session's -> 403, before the route
    runs.  So a POST route that depends on ``current_user`` or ``require`` cannot
    forget CSRF.

``require(*roles, own_department=True)`` -> a dependency returning the ``ConsoleUser``
    403 unless the user holds one of ``roles``.  ``officer`` and ``approver`` are roles
    *of a department*: a user holds them only for ``user.department``.  Pages act
    on ``user.department`` only; never take a department from a form or URL.
    Anything looked up by id (an application, a grant, a key, an objection) must be
    scoped to ``user.department`` in the query and answer 404 (``ConsoleNotFound``)
    when it belongs to others, exactly as when it does not exist.

``Officer``, ``Approver``, ``Steward``, ``Member``, ``User``: ``Annotated`` shortcuts
    (``Member`` = officer or approver of a department).

``audit(request, user, action, ...)``
    Appends one entry to the exchange's hash-chained audit log, like an API call:
    ``department`` = the user's, ``endpoint`` = ``console <action> (<user name>)``.
    Call it for every state-changing action (and for sign-in and sign-out).

``state(request)`` -> ``ConsoleState``: the account book, the exchange, settings.

Example::

    @router.post("/console/objections/{oid}/answer")
    def answer(oid: str, request: Request, user: Approver, text: str = Form(...)):
        ...  # look ``oid`` up WHERE source_department == user.department, else ConsoleNotFound
        audit(request, user, "objection-answer", resource=res)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from onesource.web.console.accounts import AccountBook
from onesource.web.console.settings import ConsoleSettings, get_console_settings

SESSION_COOKIE = "onesource_console"
CONSOLE = "/console"
_lock = threading.Lock()


class LoginRequired(Exception):
    """Not signed in: the handler redirects to the login page."""

    def __init__(self, next_path: str = CONSOLE) -> None:
        super().__init__("sign in first")
        self.next_path = next_path


class ConsoleDenied(Exception):
    """Refused (403) or not found (404) as far as this user can tell; rendered as a page."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __reduce__(self) -> tuple[type[Exception], tuple[object, ...]]:
        return (type(self), (self.message, self.status))


class ConsoleNotFound(ConsoleDenied):
    """404 for an id that does not exist *or belongs to another department* (same answer)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"没有找到 {what} / not found", 404)
        self.what = what

    def __reduce__(self) -> tuple[type[Exception], tuple[object, ...]]:
        return (type(self), (self.what,))  # rebuilt from what was not found, not the message


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in person."""

    name: str
    department: str | None
    roles: frozenset[str]
    display_name: str | None = None
    session: str = ""  # the session row's key (a hash), for logout

    def has(self, role: str) -> bool:
        return role in self.roles and (
            role not in ("officer", "approver") or self.department is not None
        )

    @property
    def label(self) -> str:
        return self.display_name or self.name


@dataclass
class ConsoleState:
    """Per-app console state: accounts, sign-in throttles, the exchange it acts through."""

    accounts: AccountBook
    settings: ConsoleSettings
    per_account: Any  # RateLimiter
    per_address: Any  # RateLimiter
    app: Any

    @property
    def exchange(self) -> Any:
        from onesource.web.exchange.runtime import exchange_for

        return exchange_for(self.app)


def state(request: Request) -> ConsoleState:
    app = request.app
    st: ConsoleState | None = getattr(app.state, "onesource_console", None)
    if st is not None:
        return st
    with _lock:
        st = getattr(app.state, "onesource_console", None)
        if st is None:
            from onesource.exchange.ratelimit import RateLimiter
            from onesource.web.deps import get_store

            settings = get_console_settings()
            rate = settings.login_rate_per_minute / 60
            st = ConsoleState(
                AccountBook(get_store().engine),
                settings,
                RateLimiter(rate, settings.login_burst),
                RateLimiter(rate * 4, settings.address_burst),
                app,
            )
            app.state.onesource_console = st
    return st


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def secure_cookies(request: Request) -> bool:
    """Secure cookies when the hub's public URL (or this request) is https."""
    from onesource.settings import get_settings

    public = get_settings().public_url or ""
    return public.startswith("https://") or request.url.scheme == "https"


def _next_path(request: Request) -> str:
    path = request.url.path
    if request.method == "GET" and request.url.query:
        path += "?" + request.url.query
    return path if request.method == "GET" else CONSOLE


def _lookup(request: Request) -> ConsoleUser:
    st = state(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    found = (
        st.accounts.find_session(token, timedelta(minutes=st.settings.idle_minutes))
        if token
        else None
    )
    if found is None:
        raise LoginRequired(_next_path(request))
    account, digest = found
    return ConsoleUser(
        account.name, account.department, frozenset(account.roles), account.display_name, digest
    )


async def check_csrf(request: Request, session: str = "") -> None:
    """403 unless the POSTed form carries the token matching the CSRF cookie and, once
    signed in, the ``session`` the page was rendered for (see ``common.render``)."""
    from onesource.web.portal import csrf

    form = await request.form()
    token = form.get(csrf.FIELD)
    if not isinstance(token, str) or not csrf.valid(request, token, session):
        raise ConsoleDenied("表单已过期或来源不明，请返回重试 / form expired or forged (CSRF)", 403)


async def current_user(request: Request) -> ConsoleUser:
    """The signed-in user (see the module docstring); checks CSRF on POST."""
    user = await run_in_threadpool(_lookup, request)
    if request.method not in ("GET", "HEAD"):
        await check_csrf(request, user.session)
    request.state.console_user = user
    return user


def require(*roles: str) -> Any:
    """A dependency: the current user, 403 unless they hold one of ``roles``."""

    async def dependency(request: Request) -> ConsoleUser:
        user = await current_user(request)
        if not any(user.has(r) for r in roles):
            raise ConsoleDenied(
                "没有权限 / not allowed: this needs the role " + " or ".join(roles), 403
            )
        return user

    return Depends(dependency)


User = Annotated[ConsoleUser, Depends(current_user)]
Officer = Annotated[ConsoleUser, require("officer")]
Approver = Annotated[ConsoleUser, require("approver")]
Member = Annotated[ConsoleUser, require("officer", "approver")]
Steward = Annotated[ConsoleUser, require("steward")]


def audit_name(name: str) -> str:
    """``name`` as the audit log may hold it: what is typed at sign-in is an outsider's text,
    and the log is read in terminals (``onesource audit query``, rich).  Control characters
    (ESC, BEL: escape sequences), brackets (rich markup) and backslashes become ``\\xNN``."""
    return "".join(c if c.isprintable() and c not in "[]\\" else _escaped(c) for c in name[:64])


def _escaped(c: str) -> str:
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def audit(
    request: Request,
    user: ConsoleUser | None,
    action: str,
    *,
    resource: str | None = None,
    fields: list[str] | None = None,
    purpose: str | None = None,
    result: str = "ok",
    status: int = 200,
    department: str | None = None,
    name: str | None = None,
) -> None:
    """One audit entry for a console action, committed before this returns."""
    from onesource.exchange.audit import AuditRecord

    who = audit_name(user.name if user is not None else (name or "?"))
    record = AuditRecord(
        department=user.department if user is not None else department,
        endpoint=f"console {action} ({who[:100]})",
        method=request.method,
        result=result,
        status_code=status,
        resource=resource,
        fields=fields,
        purpose=purpose,
    )
    state(request).exchange.audit.submit(record).result(timeout=30)
