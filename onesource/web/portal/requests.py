"""Portal pages for data requests and problem reports (``onesource.web.portal.feedback``).

``/requests`` lists answered requests (never a contact) and, per department, how
many await an answer and how many are overdue.  The forms are plain HTML: a signed
CSRF token (cookie under ``/requests``), size limits, a honeypot field that people
never see (a bot that fills it stores nothing), and a per-address rate limit on
posts.  The status token is shown once, on a page that is not cached.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from onesource.exchange.errors import RateLimitedError
from onesource.exchange.ratelimit import RateLimiter
from onesource.web.deps import CatalogDep, StoreDep
from onesource.web.portal import csrf, feedback
from onesource.web.portal.common import render

router = APIRouter(include_in_schema=False)


class PostLimits(BaseSettings):
    """Anonymous posts per client address (``ONESOURCE_PORTAL_POSTS_PER_HOUR``, ``_BURST``)."""

    model_config = SettingsConfigDict(env_prefix="ONESOURCE_PORTAL_", extra="ignore")

    posts_per_hour: float = Field(5, ge=0, description="sustained posts an hour; 0: no limit")
    post_burst: int = Field(5, ge=1, description="posts at once before the hourly rate applies")


_limits = PostLimits()
# the client address is the proxy's unless ONESOURCE_TRUSTED_PROXIES names the proxy
limiter = RateLimiter(_limits.posts_per_hour / 3600, _limits.post_burst)
HONEYPOT = "website"  # hidden from people (off-screen, not focusable); bots fill it in

Csrf = Annotated[str, Form(alias="csrf", max_length=128)]
Trap = Annotated[str, Form(alias=HONEYPOT, max_length=200)]

LABELS = {
    "zh": {
        "kind": {"data": "数据需求", "problem": "数据纠错"},
        "data": {
            "pending": "待答复",
            "accepted": "已受理，将开放",
            "rejected": "不予开放",
            "published": "已开放",
        },
        "problem": {
            "pending": "待核实",
            "accepted": "已确认，将更正",
            "rejected": "经核实无误",
            "published": "已更正",
        },
    },
    "en": {
        "kind": {"data": "Data request", "problem": "Problem report"},
        "data": {
            "pending": "awaiting an answer",
            "accepted": "accepted: will be published",
            "rejected": "rejected",
            "published": "published",
        },
        "problem": {
            "pending": "being checked",
            "accepted": "confirmed: will be corrected",
            "rejected": "checked: no error",
            "published": "corrected",
        },
    },
}


def client_key(request: Request) -> str:
    """The rate limit's key for the client: its address, an IPv6 one by its /64.

    An IPv6 client is given a whole /64 (2**64 addresses) and may post from a new one
    each time; an IPv4-mapped address is the IPv4 client it names.
    """
    host = request.client.host if request.client else "-"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _render(request: Request, template: str, status: int = 200, **ctx: Any) -> Any:
    return render(request, template, status, labels=LABELS, **ctx)


def _form(request: Request, template: str, status: int = 200, **ctx: Any) -> Any:
    nonce, token = csrf.token_for(request)
    page = _render(request, template, status, csrf=token, honeypot=HONEYPOT, **ctx)
    return csrf.set_cookie(request, page, nonce, path="/requests")


def _refusal(request: Request, token: str, trap: str) -> tuple[int, str] | None:
    """Why a post is refused before it is read: forged, a bot, or too many from this address."""
    if not csrf.valid(request, token):
        return 403, "csrf"
    if trap:
        return 400, "spam"
    try:
        limiter.check(client_key(request))
    except RateLimitedError as exc:
        return 429, f"rate:{max(1, round(exc.retry_after))}"
    return None


def _refused(request: Request, why: tuple[int, str], **ctx: Any) -> Any:
    code, error = why
    page = _form(request, "request_form.html", code, error=error, **ctx)
    if error.startswith("rate:"):
        page.headers["Retry-After"] = error.split(":", 1)[1]
    return page


def _post(
    request: Request,
    guard: tuple[str, str],
    again: dict[str, Any],
    submit: Callable[[], feedback.Submitted],
) -> Any:
    """Refuse (``guard``: CSRF token, honeypot), submit, or show the form ``again`` with why."""
    why = _refusal(request, *guard)
    if why is not None:
        return _refused(request, why, **again)
    try:
        done = submit()
    except feedback.RequestError as exc:
        return _form(request, "request_form.html", 400, error=exc.message, **again)
    days = feedback.DATA_WORKING_DAYS if done.kind == "data" else feedback.PROBLEM_WORKING_DAYS
    page = _render(request, "request_submitted.html", done=done, days=days)
    page.headers["Cache-Control"] = "no-store"  # it carries the status token
    return page


@router.get("/requests", response_class=HTMLResponse)
def public_page(request: Request, store: StoreDep, catalog: CatalogDep, kind: str = "") -> Any:
    """Answered data requests and problem reports; open and overdue counts per department."""
    kind = kind if kind in feedback.KINDS else ""
    return _render(
        request,
        "requests.html",
        items=feedback.public_listing(store, kind or None),
        counts=feedback.open_counts(store),
        kind=kind,
        catalog=catalog,
    )


@router.get("/requests/new", response_class=HTMLResponse)
def data_form(request: Request, catalog: CatalogDep, department: str = "") -> Any:
    form = {"department": department[:64]}
    return _form(request, "request_form.html", kind="data", form=form, error=None, catalog=catalog)


@router.post("/requests/new", response_class=HTMLResponse)
def data_post(
    request: Request,
    store: StoreDep,
    catalog: CatalogDep,
    text: Annotated[str, Form(max_length=feedback.TEXT_MAX)] = "",
    purpose: Annotated[str, Form(max_length=feedback.PURPOSE_MAX)] = "",
    email: Annotated[str, Form(max_length=feedback.EMAIL_MAX)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Csrf = "",
    trap: Trap = "",
) -> Any:
    """A request for data that is not published."""
    form = {"text": text, "purpose": purpose, "email": email, "department": department}
    return _post(
        request,
        (csrf_token, trap),
        {"kind": "data", "form": form, "catalog": catalog},
        lambda: feedback.submit_data_request(
            store, catalog, text=text, purpose=purpose, email=email, department=department
        ),
    )


@router.get("/requests/report", response_class=HTMLResponse)
def problem_form(request: Request, catalog: CatalogDep, dataset: str = "") -> Any:
    form = {"dataset": dataset[:64]}
    return _form(
        request, "request_form.html", kind="problem", form=form, error=None, catalog=catalog
    )


@router.post("/requests/report", response_class=HTMLResponse)
def problem_post(
    request: Request,
    store: StoreDep,
    catalog: CatalogDep,
    dataset: Annotated[str, Form(max_length=64)] = "",
    location: Annotated[str, Form(max_length=feedback.LOCATION_MAX)] = "",
    text: Annotated[str, Form(max_length=feedback.TEXT_MAX)] = "",
    email: Annotated[str, Form(max_length=feedback.EMAIL_MAX)] = "",
    csrf_token: Csrf = "",
    trap: Trap = "",
) -> Any:
    """A problem in a published dataset, answered by its publishing department."""
    form = {"dataset": dataset, "location": location, "text": text, "email": email}
    return _post(
        request,
        (csrf_token, trap),
        {"kind": "problem", "form": form, "catalog": catalog},
        lambda: feedback.submit_problem(
            store, catalog, dataset=dataset, location=location, text=text, email=email
        ),
    )


@router.get("/requests/status", response_class=HTMLResponse)
def status_form(request: Request) -> Any:
    return _form(request, "request_status.html", item=None, error=None)


@router.post("/requests/status", response_class=HTMLResponse)
def status_page(
    request: Request,
    store: StoreDep,
    catalog: CatalogDep,
    request_id: Annotated[str, Form(alias="request", max_length=64)],
    token: Annotated[str, Form(max_length=100)],
    csrf_token: Csrf = "",
) -> Any:
    """The requester's view (id + secret token): status, deadline, the answer once given."""
    if not csrf.valid(request, csrf_token):
        return _form(request, "request_status.html", 403, item=None, error="csrf")
    item = feedback.status(store, request_id.strip(), token.strip())
    if item is None:
        return _form(request, "request_status.html", 404, item=None, error="unknown")
    page = _form(request, "request_status.html", item=item, error=None, catalog=catalog)
    page.headers["Cache-Control"] = "no-store"
    return page
