"""The console's routers, and its home page (what needs my attention)."""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import APIRouter, Request

from onesource.web.console.auth import User
from onesource.web.console.common import render

router = APIRouter(include_in_schema=False)

# one module per page group, each with a ``router``; a module not written yet is skipped
MODULES = (
    "onesource.web.console.login",
    "onesource.web.console.sso",
    "onesource.web.console.catalogue",
    "onesource.web.console.applications",
    "onesource.web.console.review",
    "onesource.web.console.access",
    "onesource.web.console.transparency",
    "onesource.web.console.objections",
    "onesource.web.console.stewards",
)


def routers() -> list[Any]:
    out = [router]
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        out.append(module.router)
    return out


@router.get("/console")
def home(request: Request, user: User) -> Any:
    from onesource.web.console.auth import state

    ex = state(request).exchange
    pending = outgoing = []
    member = user.has("officer") or user.has("approver")  # a steward's department: none
    if user.department is not None and member:
        if user.has("approver"):
            pending = ex.grants.requests(user.department, "incoming", "pending")
        outgoing = ex.grants.requests(user.department, "outgoing")[:5]
    return render(request, "home.html", pending=pending, outgoing=outgoing)
