"""Single sign-on with OpenID Connect, offline: configuration checks, the redirect, and the
whole code flow against a fake identity provider on 127.0.0.1 (token and JWKS endpoints,
ID tokens signed with a key made here).  Attacks: a forged state, a replayed nonce, a token
for another client, a token signed by another key."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.console.conftest import World
from tests.exchange.fixtures import free_port


class FakeIdP:
    """Token and JWKS endpoints; ``claims`` are those of the next ID token issued."""

    def __init__(self) -> None:
        from joserfc.jwk import RSAKey

        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.claims: dict[str, Any] = {}
        self.sign_with: Any = None
        self.token_requests: list[dict[str, list[str]]] = []

    def id_token(self) -> str:
        from joserfc import jwt

        return jwt.encode({"alg": "RS256", "kid": "k1"}, self.claims, self.sign_with or self.key)

    def serve(self) -> Iterator[FakeIdP]:
        from joserfc.jwk import KeySet

        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, data: dict[str, Any]) -> None:
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._json(KeySet([idp.key]).as_dict(private=False))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                idp.token_requests.append(parse_qs(self.rfile.read(length).decode()))
                self._json(
                    {
                        "access_token": "at",
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": idp.id_token(),
                    }
                )

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdP]:
    yield from FakeIdP().serve()


@pytest.fixture
def sso(world: World, idp: FakeIdP) -> Iterator[FakeIdP]:
    """The app's console configured for the fake provider, for one test."""
    from onesource.web.console.auth import ConsoleState
    from onesource.web.console.settings import ConsoleSettings

    st: ConsoleState = world.app.state.onesource_console
    saved = st.settings
    st.settings = ConsoleSettings(
        oidc_issuer=idp.issuer,
        oidc_client_id="onesource-console",
        oidc_client_secret="s3cret",
        oidc_authorize_url=idp.issuer + "/authorize",
        oidc_token_url=idp.issuer + "/token",
        oidc_jwks_url=idp.issuer + "/jwks",
    )
    st.settings.check_sso()
    try:
        yield idp
    finally:
        st.settings = saved


def _claims(idp: FakeIdP, flow_nonce: str, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": idp.issuer,
        "aud": "onesource-console",
        "sub": "idp-0001",
        "nonce": flow_nonce,
        "iat": now,
        "exp": now + 300,
        "preferred_username": "sun.hao",
        "department": "civil",
        "roles": ["officer", "superuser"],
        **over,
    }


def _start(client: TestClient) -> dict[str, str]:
    r = client.get(
        "/console/sso/start", params={"next": "/console/catalogue"}, follow_redirects=False
    )
    assert r.status_code == 303
    query = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    return query


def test_half_configured_or_plain_http_provider_is_refused() -> None:
    from onesource.web.console.settings import ConsoleSettings
    from schemas.errors import ConfigError

    with pytest.raises(ConfigError, match="CLIENT_ID, ONESOURCE_CONSOLE_OIDC_CLIENT_SECRET"):
        ConsoleSettings(oidc_issuer="https://idp.example").check_sso()
    with pytest.raises(ConfigError, match="must be an https URL"):
        ConsoleSettings(
            oidc_issuer="http://idp.example", oidc_client_id="a", oidc_client_secret="b"
        ).check_sso()
    ConsoleSettings(  # a provider on this machine may speak http
        oidc_issuer="http://127.0.0.1:9", oidc_client_id="a", oidc_client_secret="b"
    ).check_sso()


def test_without_sso_the_routes_are_absent(world: World) -> None:
    assert TestClient(world.app).get("/console/sso/start").status_code == 404


def test_start_redirects_to_the_provider_with_pkce(sso: FakeIdP, world: World) -> None:
    client = TestClient(world.app)
    query = _start(client)
    assert query["client_id"] == "onesource-console"
    assert query["redirect_uri"].endswith("/console/sso/callback")
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert query["state"] and query["nonce"] and query["scope"] == "openid profile email"
    assert "onesource_console_sso" in client.cookies


def test_code_flow_signs_in_with_the_providers_claims(sso: FakeIdP, world: World) -> None:
    client = TestClient(world.app)
    query = _start(client)
    sso.claims = _claims(sso, query["nonce"])
    r = client.get(
        "/console/sso/callback",
        params={"code": "c0de", "state": query["state"]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/catalogue"
    assert sso.token_requests[-1]["code_verifier"]  # PKCE verifier sent with the code
    page = client.get("/console")
    assert page.status_code == 200 and "sun.hao" in page.text
    from onesource.web.console.accounts import AccountBook

    account = AccountBook(world.hub.store.engine).get("sun.hao")
    assert (account.department, account.roles, account.sso) == ("civil", ("officer",), True)


@pytest.mark.parametrize(
    "attack",
    ["forged-state", "wrong-nonce", "other-client", "other-key", "expired", "no-role"],
)
def test_forged_or_foreign_tokens_are_refused(sso: FakeIdP, world: World, attack: str) -> None:
    from joserfc.jwk import RSAKey

    client = TestClient(world.app)
    query = _start(client)
    sso.sign_with = None
    over: dict[str, Any] = {}
    if attack == "wrong-nonce":
        over["nonce"] = "replayed"
    elif attack == "other-client":
        over["aud"] = "another-app"
    elif attack == "other-key":
        sso.sign_with = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    elif attack == "expired":
        over["exp"] = int(time.time()) - 60
    elif attack == "no-role":
        over["roles"] = ["superuser"]
    sso.claims = _claims(sso, query["nonce"], sub=f"idp-{attack}", **over)
    state = "forged" if attack == "forged-state" else query["state"]
    try:
        r = client.get(
            "/console/sso/callback",
            params={"code": "c0de", "state": state},
            follow_redirects=False,
        )
    finally:
        sso.sign_with = None
    assert r.status_code == 403, r.text
    assert "onesource_console=" not in r.headers.get("set-cookie", "")


def test_a_half_configured_provider_closes_the_console(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.web.app import create_app
    from onesource.web.console.settings import get_console_settings

    monkeypatch.setenv("ONESOURCE_CONSOLE_OIDC_ISSUER", "https://id.qinghe.example")
    get_console_settings.cache_clear()
    try:
        r = TestClient(create_app()).get("/console/login", headers={"Accept": "text/html"})
    finally:
        monkeypatch.delenv("ONESOURCE_CONSOLE_OIDC_ISSUER")
        get_console_settings.cache_clear()
    assert r.status_code >= 400 and "ONESOURCE_CONSOLE_OIDC_CLIENT_ID" in r.text
    assert 'name="password"' not in r.text
