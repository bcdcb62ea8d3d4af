"""CSRF protection for the portal's forms: a signed double-submit token, no JavaScript.

A GET of a form sets a random nonce in an HttpOnly, SameSite=Strict cookie and puts
``HMAC(key, nonce)`` (key derived from ``ONESOURCE_SECRET_KEY``) in a hidden field.
A POST is accepted only when the field is the HMAC of the cookie's nonce: another
site can neither read the cookie nor forge the MAC.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from fastapi import Request

COOKIE = "onesource_csrf"
FIELD = "csrf"
_PURPOSE = b"onesource-portal-csrf-v1"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _mac(nonce: str, bind: str = "") -> str:
    from onesource.settings import get_settings

    key = hmac.new(get_settings().secret_key.encode(), _PURPOSE, hashlib.sha256).digest()
    message = nonce if not bind else f"{nonce}\x00{bind}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _nonce(request: Request) -> str | None:
    value = request.cookies.get(COOKIE, "")
    return value if _NONCE.match(value) else None


def token_for(request: Request, bind: str = "") -> tuple[str, str]:
    """(nonce for the cookie, token for the form's hidden field).

    ``bind`` (a signed-in session's id) ties the token to that session too: a nonce
    cookie planted in the victim's browser (cookie tossing from a sibling host) with a
    token the attacker got for it is refused, as the attacker's session is not the victim's.
    """
    nonce = _nonce(request) or secrets.token_urlsafe(24)
    return nonce, _mac(nonce, bind)


def set_cookie(
    request: Request,
    response: Any,
    nonce: str,
    path: str = "/register",
    secure: bool | None = None,
) -> Any:
    """Attach the nonce cookie to a rendered form page (sent back only under ``path``);
    ``secure`` default: when this request is https."""
    response.set_cookie(
        COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" if secure is None else secure,
        path=path,
    )
    return response


def valid(request: Request, token: str, bind: str = "") -> bool:
    """Whether a POSTed token matches the request's CSRF cookie (and ``bind``'s session)."""
    nonce = _nonce(request)
    return nonce is not None and hmac.compare_digest(_mac(nonce, bind), token[:128])
