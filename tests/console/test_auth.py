"""Signing in and out of the console: the attacks on sessions, CSRF and passwords."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from tests.console.conftest import PASSWORD, World, csrf_of, login, post


def _attempt(client: TestClient, name: str, password: str, csrf: str | None = None) -> object:
    token = csrf if csrf is not None else csrf_of(client.get("/console/login").text)
    return client.post(
        "/console/login",
        data={"csrf": token, "name": name, "password": password, "next": "/console"},
        follow_redirects=False,
    )


@pytest.mark.parametrize("path", ["/console"])
def test_logged_out_is_redirected_to_sign_in(world: World, path: str) -> None:
    r = TestClient(world.app).get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/login?next=" + path)


def test_logged_out_post_is_redirected_and_changes_nothing(world: World) -> None:
    client = TestClient(world.app)
    r = client.post("/console/access/keys/issue", data={"csrf": "x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_wrong_password_and_unknown_user_answer_alike(world: World) -> None:
    client = TestClient(world.app)
    wrong = _attempt(client, "edu.officer", "not the password")
    unknown = _attempt(client, "nobody.at.all", "not the password")
    assert wrong.status_code == unknown.status_code == 401  # type: ignore[attr-defined]
    for r in (wrong, unknown):
        assert "用户名或密码错误" in r.text  # type: ignore[attr-defined]
        assert "onesource_console=" not in r.headers.get("set-cookie", "")  # type: ignore[attr-defined]


def test_unknown_user_costs_one_argon2_verification(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.web.console import accounts

    calls = []
    real = accounts._hasher()

    class Spy:
        def hash(self, password: str) -> str:  # the stand-in hash, made on first use
            return str(real.hash(password))

        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored)
            return bool(real.verify(stored, password))

    monkeypatch.setattr(accounts, "_hasher", lambda: Spy())
    book = accounts.AccountBook(world.hub.store.engine)
    assert book.check_password("nobody.at.all", "whatever") is None
    assert book.check_password("edu.officer", "whatever") is None
    assert len(calls) == 2 and all(c.startswith("$argon2id$") for c in calls)


def test_sign_in_sets_a_hardened_session_cookie(world: World) -> None:
    client = TestClient(world.app)
    r = _attempt(client, "edu.officer", PASSWORD)
    assert r.status_code == 303  # type: ignore[attr-defined]
    cookie = r.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "onesource_console=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http public URL


def test_secure_cookie_when_the_public_url_is_https(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.settings import get_settings

    monkeypatch.setenv("ONESOURCE_PUBLIC_URL", "https://hub.qinghe.example")
    monkeypatch.setenv("ONESOURCE_TRUSTED_HOSTS", "testserver")
    get_settings.cache_clear()
    try:
        r = _attempt(TestClient(world.app), "edu.officer", PASSWORD)
        assert "Secure" in r.headers["set-cookie"]  # type: ignore[attr-defined]
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("token", ["", "forged-token-0123456789abcdef"], ids=["missing", "wrong"])
def test_login_without_a_valid_csrf_token_is_refused(world: World, token: str) -> None:
    client = TestClient(world.app)
    client.get("/console/login")  # has the cookie, not the matching token
    r = _attempt(client, "edu.officer", PASSWORD, csrf=token)
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert "onesource_console=" not in r.headers.get("set-cookie", "")  # type: ignore[attr-defined]


@pytest.mark.parametrize("token", ["", "forged-token-0123456789abcdef"], ids=["missing", "wrong"])
def test_post_without_a_valid_csrf_token_is_refused(world: World, token: str) -> None:
    client = login(world.app, "edu.officer")
    r = client.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/console", follow_redirects=False).status_code == 200  # still signed in


def test_another_sites_form_cannot_post_with_the_victims_session(world: World) -> None:
    victim = login(world.app, "edu.officer")
    attacker = TestClient(world.app)
    token = csrf_of(attacker.get("/console/login").text)  # a valid token, for the attacker's nonce
    r = victim.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 403


def test_logout_ends_the_session_on_the_server(world: World) -> None:
    client = login(world.app, "edu.officer")
    stolen = client.cookies.get("onesource_console")
    r = post(client, "/console/logout", {})
    assert r.status_code == 303
    replay = TestClient(world.app)
    replay.cookies.set("onesource_console", stolen, path="/console")
    assert replay.get("/console", follow_redirects=False).status_code == 303


def test_idle_and_expired_sessions_end(world: World) -> None:
    from onesource.store.console_models import ConsoleSession
    from onesource.web.console.accounts import token_hash

    engine = world.hub.store.engine
    for column in ("last_seen_at", "expires_at"):
        client = login(world.app, "edu.officer")
        digest = token_hash(client.cookies.get("onesource_console"))
        with engine.begin() as conn:
            conn.execute(
                sa.update(ConsoleSession)
                .where(ConsoleSession.token_hash == digest)
                .values({column: sa.func.datetime("now", "-1 days")})
            )
        assert client.get("/console", follow_redirects=False).status_code == 303, column


def test_disabling_an_account_ends_its_sessions(world: World) -> None:
    from onesource.web.console.accounts import AccountBook

    book = AccountBook(world.hub.store.engine)
    book.add("temp.officer", ["officer"], "edu", password=PASSWORD)
    client = login(world.app, "temp.officer")
    book.disable("temp.officer")
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert _attempt(TestClient(world.app), "temp.officer", PASSWORD).status_code == 401  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/portal"]
)
def test_next_never_leaves_the_console(world: World, target: str) -> None:
    client = TestClient(world.app)
    page = client.get("/console/login")
    r = client.post(
        "/console/login",
        data={
            "csrf": csrf_of(page.text),
            "name": "edu.officer",
            "password": PASSWORD,
            "next": target,
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/console"


def test_sign_in_is_throttled_per_account(world: World) -> None:
    from onesource.exchange.ratelimit import RateLimiter
    from onesource.web.console.auth import ConsoleState

    st: ConsoleState = world.app.state.onesource_console
    saved = st.per_account
    st.per_account = RateLimiter(1 / 60, 3)
    try:
        client = TestClient(world.app)
        codes = [_attempt(client, "psb.officer", f"guess {i}").status_code for i in range(3)]  # type: ignore[attr-defined]
        assert codes == [401, 401, 401]
        # the right password no longer helps: the account's bucket is empty
        r = _attempt(client, "psb.officer", PASSWORD)
        assert r.status_code == 429 and "尝试次数过多" in r.text  # type: ignore[attr-defined]
        # other accounts are not affected
        assert _attempt(client, "psb.approver", PASSWORD).status_code == 303  # type: ignore[attr-defined]
    finally:
        st.per_account = saved


def test_sign_in_is_throttled_per_address(world: World) -> None:
    from onesource.exchange.ratelimit import RateLimiter
    from onesource.web.console.auth import ConsoleState

    st: ConsoleState = world.app.state.onesource_console
    saved = st.per_address
    st.per_address = RateLimiter(1 / 60, 2)
    try:
        client = TestClient(world.app)
        assert _attempt(client, "a.one", "x" * 10).status_code == 401  # type: ignore[attr-defined]
        assert _attempt(client, "a.two", "x" * 10).status_code == 401  # type: ignore[attr-defined]
        assert _attempt(client, "edu.officer", PASSWORD).status_code == 429  # type: ignore[attr-defined]
    finally:
        st.per_address = saved


def test_sign_in_and_out_are_audited(world: World) -> None:
    ex = world.app.state.onesource_exchange
    client = login(world.app, "civil.officer")
    post(client, "/console/logout", {})
    entries = [e["endpoint"] for e in ex.audit.query(department="civil", limit=5)]
    assert "console logout (civil.officer)" in entries
    assert "console login (civil.officer)" in entries


def test_session_lifetime_is_the_configured_one(world: World) -> None:
    from onesource.store.console_models import ConsoleSession
    from onesource.web.console.accounts import token_hash

    client = login(world.app, "edu.approver")
    digest = token_hash(client.cookies.get("onesource_console"))
    with world.hub.store.engine.connect() as conn:
        row = conn.execute(
            sa.select(ConsoleSession).where(ConsoleSession.token_hash == digest)
        ).one()
    lifetime = row.expires_at - row.created_at
    assert timedelta(hours=7.9) < lifetime <= timedelta(hours=8)


def test_the_login_page_sends_a_signed_in_person_on(world: World) -> None:
    client = login(world.app, "edu.officer")
    r = client.get("/console/login", params={"next": "/console/access"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/access"


def test_every_console_form_refuses_a_post_without_csrf(world: World) -> None:
    """Every POST route under /console, present and future: no token, no action."""
    import re as _re

    client = login(world.app, "edu.approver")
    posts = [
        r.path
        for r in world.app.routes
        if getattr(r, "path", "").startswith("/console") and "POST" in getattr(r, "methods", ())
    ]
    assert len(posts) >= 8, posts
    for path in posts:
        url = _re.sub(r"\{[^}]+\}", "01ANYTHING", path)
        r = client.post(url, data={"csrf": "", "reason": "x"}, follow_redirects=False)
        assert r.status_code == 403, (path, r.status_code)
