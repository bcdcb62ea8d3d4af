"""Optional single sign-on with OpenID Connect (authorization code flow + PKCE, authlib).

Enabled by ``ONESOURCE_CONSOLE_OIDC_ISSUER`` (+ client id and secret).  The browser goes
to the identity provider with a random ``state``, ``nonce`` and PKCE verifier kept in a
short-lived HMAC-signed cookie; the callback checks ``state``, exchanges the code, verifies
the ID token's signature (the provider's JWKS), issuer, audience, expiry and nonce, then
reads the user's name, department and roles from configurable claims.  The account is
created or updated from those claims (a disabled account stays out); the session is the
same as for a local password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from onesource.web.console.accounts import DEPARTMENT_ROLES, ROLES
from onesource.web.console.auth import CONSOLE, ConsoleDenied, ConsoleUser, audit, state
from onesource.web.console.login import safe_next, start_session
from onesource.web.console.settings import ConsoleSettings

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "onesource_console_sso"
FLOW_SECONDS = 600
_PURPOSE = b"onesource-console-sso-v1"


def _key() -> bytes:
    from onesource.settings import get_settings

    return hmac.new(get_settings().secret_key.encode(), _PURPOSE, hashlib.sha256).digest()


def seal(data: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    mac = hmac.new(_key(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def unseal(value: str) -> dict[str, Any] | None:
    body, _, mac = value.rpartition(".")
    good = hmac.new(_key(), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac, good):
        return None
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body))
    return data if time.time() - float(data.get("at", 0)) < FLOW_SECONDS else None


@lru_cache(maxsize=4)
def _discovery(issuer: str) -> dict[str, Any]:
    import httpx

    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    response = httpx.get(url, timeout=5.0)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def endpoints(settings: ConsoleSettings) -> tuple[str, str, str]:
    """(authorize, token, jwks) URLs: configured, else from the issuer's discovery document."""
    auth, tok, jwks = settings.oidc_authorize_url, settings.oidc_token_url, settings.oidc_jwks_url
    if not (auth and tok and jwks):
        assert settings.oidc_issuer
        found = _discovery(settings.oidc_issuer)
        auth = auth or found["authorization_endpoint"]
        tok = tok or found["token_endpoint"]
        jwks = jwks or found["jwks_uri"]
    return str(auth), str(tok), str(jwks)


def redirect_uri(request: Request) -> str:
    from onesource.settings import get_settings

    base = get_settings().public_url or str(request.base_url)
    return base.rstrip("/") + CONSOLE + "/sso/callback"


def _client(settings: ConsoleSettings, request: Request) -> Any:
    from authlib.integrations.httpx_client import OAuth2Client

    return OAuth2Client(
        settings.oidc_client_id,
        settings.oidc_client_secret,
        scope=settings.oidc_scopes,
        redirect_uri=redirect_uri(request),
        code_challenge_method="S256",
        timeout=10.0,
    )


def _enabled(request: Request) -> ConsoleSettings:
    settings = state(request).settings
    if not settings.sso_enabled:
        raise ConsoleDenied("单点登录未启用 / single sign-on is not configured", 404)
    return settings


@router.get("/console/sso/start")
def start(request: Request, next: str = CONSOLE) -> Any:
    settings = _enabled(request)
    authorize, _, _ = endpoints(settings)
    flow = {
        "state": secrets.token_urlsafe(24),
        "nonce": secrets.token_urlsafe(24),
        "verifier": secrets.token_urlsafe(48),
        "next": safe_next(next),
        "at": time.time(),
    }
    url, _ = _client(settings, request).create_authorization_url(
        authorize, state=flow["state"], nonce=flow["nonce"], code_verifier=flow["verifier"]
    )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        seal(flow),
        max_age=FLOW_SECONDS,
        path=CONSOLE + "/sso",
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back
        secure=redirect_uri(request).startswith("https://"),
    )
    return response


def verify_id_token(
    id_token: str, jwks: dict[str, Any], settings: ConsoleSettings, nonce: str
) -> dict[str, Any]:
    """The ID token's claims once its signature, issuer, audience, expiry and nonce check."""
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": settings.oidc_issuer or ""},
            aud={"essential": True, "value": settings.oidc_client_id or ""},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise ConsoleDenied(f"身份令牌无效 / invalid ID token: {type(exc).__name__}", 403) from exc
    return dict(token.claims)


def account_claims(
    claims: dict[str, Any], settings: ConsoleSettings
) -> tuple[str, str | None, list[str]]:
    """(name, department, roles) from the provider's claims; roles we do not know are dropped."""
    name = str(claims.get(settings.oidc_name_claim) or claims["sub"])[:64]
    department = claims.get(settings.oidc_department_claim)
    raw = claims.get(settings.oidc_roles_claim) or []
    roles = [r for r in ([raw] if isinstance(raw, str) else raw) if r in ROLES]
    if not department:
        roles = [r for r in roles if r not in DEPARTMENT_ROLES]
    if not roles:
        raise ConsoleDenied("身份提供方未授予任何平台角色 / no console role in your claims", 403)
    return name, str(department) if department else None, roles


@router.get("/console/sso/callback")
def callback(request: Request, code: str = "", error: str = "") -> Any:
    import httpx

    settings = _enabled(request)
    flow = unseal(request.cookies.get(FLOW_COOKIE, ""))
    got_state = request.query_params.get("state", "")
    if flow is None or not hmac.compare_digest(str(flow["state"]), got_state):
        raise ConsoleDenied("登录流程已过期或不匹配 / sign-in flow expired or forged", 403)
    if error or not code:
        raise ConsoleDenied(f"身份提供方拒绝登录 / the identity provider refused: {error[:100]}")
    _, token_url, jwks_url = endpoints(settings)
    token = _client(settings, request).fetch_token(
        token_url, code=code, code_verifier=flow["verifier"]
    )
    jwks = httpx.get(jwks_url, timeout=10.0).json()
    claims = verify_id_token(str(token.get("id_token", "")), jwks, settings, str(flow["nonce"]))
    name, department, roles = account_claims(claims, settings)
    account = state(request).accounts.sso_account(str(claims["sub"]), name, department, roles)
    if not account.active:
        raise ConsoleDenied("账号已停用 / account disabled", 403)
    response = start_session(request, account, "oidc", str(flow["next"]))
    response.delete_cookie(FLOW_COOKIE, path=CONSOLE + "/sso")
    audit(request, ConsoleUser(account.name, account.department, frozenset(roles)), "login-sso")
    return response
