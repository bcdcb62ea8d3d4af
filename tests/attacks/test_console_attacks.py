"""Attacks on the sharing console (/console) as an outsider, a hostile department officer
and a malicious steward, through the real interfaces (TestClient, the installed script).

Each test is an attack; where it once worked, the commit that made it fail names it.
The world is tests/console/conftest.py's (one hub, people in edu, psb, civil, a steward).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from tests.cli.harness import onesource_bin
from tests.console.conftest import PASSWORD, PEOPLE, World, console_home, csrf_of, login, post

CSRF_COOKIE = "onesource_csrf"
SESSION_COOKIE = "onesource_console"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> Iterator[World]:
    """The console's world (tests/console/conftest.py), sign-in throttles out of the way."""
    limits = {"ONESOURCE_CONSOLE_LOGIN_BURST": "1000", "ONESOURCE_CONSOLE_ADDRESS_BURST": "1000"}
    with console_home(
        tmp_path_factory.mktemp("console-attacks"), migrated_db, PEOPLE, **limits
    ) as w:
        yield w


def _cookie(client: TestClient, name: str) -> str:
    value = client.cookies.get(name)
    assert value, f"no {name} cookie"
    return str(value)


def _toss(client: TestClient, name: str, value: str) -> None:
    """Replace ``name`` in the browser's jar, as a sibling sub-domain or a plain-http
    network attacker can (cookies are not isolated by host port or scheme)."""
    for cookie in list(client.cookies.jar):
        if cookie.name == name:
            client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    client.cookies.set(name, value, path="/console")


def _keys(hub: World, department: str) -> int:
    return len(hub.app.state.onesource_exchange.keys.list(department))


# --- CSRF --------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["login-page", "own-session"])
def test_a_csrf_token_of_another_browser_does_not_work_with_a_tossed_cookie(
    hub: World, source: str
) -> None:
    """The attacker takes a (nonce, token) pair of his own, plants the nonce cookie in the
    victim's browser (cookie tossing) and posts the token: the token is bound to the
    victim's session, so it fails."""
    victim = login(hub.app, "civil.officer")
    attacker = TestClient(hub.app) if source == "login-page" else login(hub.app, "psb.officer")
    token = csrf_of(attacker.get("/console/login" if source == "login-page" else "/console").text)
    _toss(victim, CSRF_COOKIE, _cookie(attacker, CSRF_COOKIE))
    before = _keys(hub, "civil")
    r = victim.post("/console/access/keys/issue", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 403, r.status_code
    assert _keys(hub, "civil") == before


def test_the_csrf_token_of_a_signed_in_page_still_works(hub: World) -> None:
    client = login(hub.app, "civil.officer")
    before = _keys(hub, "civil")
    r = post(client, "/console/access/keys/issue", {}, page="/console/access")
    assert r.status_code == 200 and _keys(hub, "civil") == before + 1


def test_no_get_or_head_route_changes_state(hub: World) -> None:
    """Only POST changes state: every other method under /console is GET (or HEAD)."""
    for route in hub.app.routes:
        path = getattr(route, "path", "")
        if path.startswith("/console") and not path.startswith("/console/static"):
            methods = set(getattr(route, "methods", ()) or ())
            assert methods <= {"GET", "HEAD", "POST"}, (path, methods)
            if "POST" in methods:
                assert methods == {"POST"}, (path, methods)


# --- sessions ----------------------------------------------------------------------------


def test_a_session_id_planted_before_sign_in_is_not_kept(hub: World) -> None:
    client = TestClient(hub.app)
    client.cookies.set(SESSION_COOKIE, "attacker-chosen-" + "a" * 30, path="/console")
    page = client.get("/console/login")
    r = client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "name": "edu.officer", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303
    token = r.cookies.get(SESSION_COOKIE)
    assert token and not token.startswith("attacker-chosen") and len(token) >= 43
    planted = TestClient(hub.app)
    planted.cookies.set(SESSION_COOKIE, "attacker-chosen-" + "a" * 30, path="/console")
    assert planted.get("/console", follow_redirects=False).status_code == 303


def test_a_new_password_ends_every_other_session(hub: World) -> None:
    from onesource.web.console.accounts import AccountBook

    book = AccountBook(hub.hub.store.engine)
    book.add("pw.officer", ["officer"], "edu", password=PASSWORD)
    stolen = login(hub.app, "pw.officer")
    book.set_password("pw.officer", "another long password")
    assert stolen.get("/console", follow_redirects=False).status_code == 303


# --- secrets -----------------------------------------------------------------------------


def test_a_new_key_is_on_a_no_store_page_and_nowhere_else(hub: World) -> None:
    client = login(hub.app, "edu.officer")
    r = post(client, "/console/access/keys/issue", {}, page="/console/access")
    assert r.status_code == 200
    assert "no-store" in r.headers["cache-control"]
    key = re.search(r"os_[A-Za-z0-9_-]{20,}", r.text)
    assert key, "the new key is shown"
    again = client.get("/console/access").text
    assert key.group() not in again
    with hub.hub.store.engine.connect() as conn:
        dump = " ".join(
            str(row) for row in conn.execute(sa.text("SELECT * FROM audit_log")).fetchall()
        )
    assert key.group() not in dump
    assert key.group()[len("os_") :] not in dump


# --- stored XSS --------------------------------------------------------------------------

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def test_text_written_by_one_department_is_escaped_on_every_page_of_another(
    hub: World,
) -> None:
    from onesource.web.console.accounts import AccountBook

    AccountBook(hub.hub.store.engine).add(
        "xss.officer", ["officer"], "edu", password=PASSWORD, display_name=XSS
    )
    edu, psb = login(hub.app, "xss.officer"), login(hub.app, "psb.approver")
    page = "/console/apply/population_register"
    r = post(
        edu,
        page,
        {"fields": ["name"], "purpose": XSS, "legal_basis": XSS, "period_days": "5"},
        page=page,
    )
    assert r.status_code == 303, r.text
    rid = r.headers["location"].split("/")[-1].split("?")[0]
    pages = {
        edu: ["/console", "/console/applications", f"/console/applications/{rid}"],
        psb: ["/console", "/console/review", f"/console/review/{rid}"],
    }
    r = post(psb, f"/console/review/{rid}/refuse", {"reason": XSS}, page=f"/console/review/{rid}")
    assert r.status_code == 303
    for client, urls in pages.items():
        for url in urls:
            html = client.get(url).text
            assert "<script>alert(1)" not in html and "<img src=x" not in html, url


def _terminal(*args: str) -> str:
    """What ``onesource ARGS`` (the installed script, this hub's settings) prints; exit 0."""
    out = subprocess.run(
        [onesource_bin(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1", "TERM": "dumb"},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


# --- sign-in -----------------------------------------------------------------------------


def test_a_failed_sign_in_cannot_write_terminal_controls_into_the_audit_log(
    hub: World,
) -> None:
    """An outsider's "user name" lands in the audit log; an operator reads it with
    ``onesource audit query`` in a terminal: no escape sequences, no rich markup."""
    client = TestClient(hub.app)
    name = "\x1b]0;owned\x07\x1b[2J[bold red]x"
    r = client.post(
        "/console/login",
        data={
            "csrf": csrf_of(client.get("/console/login").text),
            "name": name,
            "password": "x" * 12,
        },
    )
    assert r.status_code == 401
    shown = _terminal("audit", "query", "--limit", "5")
    assert "login-failed" in shown
    assert "\x1b" not in shown and "\x07" not in shown
    entries = hub.app.state.onesource_exchange.audit.query(limit=5)
    endpoint = next(e["endpoint"] for e in entries if "login-failed" in e["endpoint"])
    assert endpoint.isprintable() and "[bold" not in endpoint


def _object(client: TestClient, hub: World, person: int, **form: str) -> Any:
    """POST the console's raise form: psb's population_register.name of ``person``."""
    data = {
        "resource": "population_register",
        "field": "name",
        "key.id_number": hub.hub.people[person]["id_number"],
        **form,
    }
    return post(client, "/console/objections", data, page="/console/objections/new")


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[8m"


def test_an_objection_cannot_drive_the_source_departments_terminal(hub: World) -> None:
    """A hostile officer raises an objection whose reason and expected value hold escape
    sequences; the source department's operator lists it with ``onesource objection
    list`` in a terminal.  Refused with a clear error, nothing stored."""
    edu = login(hub.app, "edu.officer")
    for form in (
        {"reason": "姓名有误" + ESCAPES},
        {"reason": "姓名有误", "expected": "张三" + ESCAPES},
    ):
        r = _object(edu, hub, 3, **form)
        assert r.status_code == 422, r.status_code
        assert "control character" in r.text
    shown = _terminal("objection", "list", "--department", "psb")
    assert "\x1b" not in shown and "\x07" not in shown


VARIANTS = ["EDU.OFFICER", "édu.officer", "edu.officeř", "ｅｄｕ.officer", "edu.officer "]


@pytest.fixture(scope="module")
def mariadb_book(mariadb_url: str) -> Iterator[Any]:
    """An account book on MariaDB (its default collation folds case and accents)."""
    import uuid

    from onesource.store.console_models import ConsoleAccount, ConsoleSession
    from onesource.web.console.accounts import AccountBook

    name = f"t_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(mariadb_url)
    with server.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    url = sa.engine.make_url(mariadb_url).set(database=name)
    engine = sa.create_engine(url.update_query_dict({"charset": "utf8mb4"}))
    try:
        ConsoleAccount.__table__.create(engine)  # type: ignore[attr-defined]
        ConsoleSession.__table__.create(engine)  # type: ignore[attr-defined]
        yield AccountBook(engine)
    finally:
        engine.dispose()
        with server.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE {name}"))
        server.dispose()


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_name_variant_never_signs_in_on_a_folding_collation(
    hub: World, mariadb_book: Any, variant: str
) -> None:
    """On MariaDB ``édu.officer`` = ``edu.officer``: each accent, case or width variant
    would reach the account under a sign-in throttle bucket of its own (per-account
    throttling bypassed).  Only the exact name signs in."""
    from onesource.web.console.settings import get_console_settings

    assert get_console_settings().password_profile == "CHEAPEST"
    book = mariadb_book
    if not any(a.name == "edu.officer" for a in book.list()):
        book.add("edu.officer", ["officer"], "edu", password=PASSWORD)
    assert book.check_password("edu.officer", PASSWORD) is not None
    assert book.check_password(variant, PASSWORD) is None


def test_user_add_takes_no_password_on_the_command_line_and_never_prints_it(
    hub: World,
) -> None:
    env = {**os.environ}
    argv = [onesource_bin(), "user", "add", "cli.steward", "--role", "steward"]
    r = subprocess.run(
        [*argv, "--password", "a long secret pw"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 2 and "a long secret pw" not in r.stdout + r.stderr
    r = subprocess.run(
        [*argv, "--password-stdin"],
        input="a long secret pw\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "a long secret pw" not in r.stdout + r.stderr
    with hub.hub.store.engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT password_hash FROM console_users WHERE name = 'cli.steward'")
        ).scalar_one()
        dump = " ".join(str(r) for r in conn.execute(sa.text("SELECT * FROM audit_log")))
    assert stored.startswith("$argon2id$") and "a long secret pw" not in dump


# --- a live server -----------------------------------------------------------------------


def test_a_forged_forwarded_for_does_not_escape_the_address_throttle(hub: World) -> None:
    """Through uvicorn configured as ``onesource serve`` (no trusted proxy): a new
    ``X-Forwarded-For`` / ``Forwarded`` on every attempt is still one address."""
    import threading
    import time

    import httpx
    import uvicorn

    from onesource.cli.serve import proxy_settings
    from onesource.exchange.ratelimit import RateLimiter
    from tests.exchange.fixtures import free_port

    proxy, trusted = proxy_settings()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            hub.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            proxy_headers=proxy,
            forwarded_allow_ips=trusted or "",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    st = hub.app.state.onesource_console
    saved = st.per_address
    st.per_address = RateLimiter(1 / 60, 2)
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            codes = []
            for i in range(4):
                token = csrf_of(client.get("/console/login").text)
                r = client.post(
                    "/console/login",
                    data={"csrf": token, "name": f"guess.{i}", "password": "x" * 12},
                    headers={"X-Forwarded-For": f"10.9.8.{i}", "Forwarded": f"for=10.7.6.{i}"},
                )
                codes.append(r.status_code)
            assert codes == [401, 401, 429, 429], codes
            cookie = client.get("/console/login").headers.get("set-cookie", "")
            assert (
                "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
            )
    finally:
        st.per_address = saved
        server.should_exit = True
        thread.join(timeout=5)


# --- authorization -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def edu_things(hub: World) -> dict[str, str]:
    """edu's application to psb (approved: a grant), edu's key, edu's objection to psb."""
    edu, psb = login(hub.app, "edu.officer"), login(hub.app, "psb.approver")
    page = "/console/apply/population_register"
    r = post(
        edu,
        page,
        {"fields": ["name"], "purpose": "核验", "legal_basis": "法", "period_days": "9"},
        page=page,
    )
    rid = r.headers["location"].split("/")[-1].split("?")[0]
    r = post(edu, page, {"fields": ["name"], "purpose": "再次", "legal_basis": "法"}, page=page)
    pending = r.headers["location"].split("/")[-1].split("?")[0]
    assert post(psb, f"/console/review/{rid}/approve", {}).status_code == 303
    ex = hub.app.state.onesource_exchange
    grant = ex.grants.get_request("edu", rid).grant.id
    key = ex.keys.issue("edu").info.id
    r = _object(edu, hub, 2, reason="姓名有误")
    assert r.status_code == 303, r.text[:500]
    return {
        "rid": rid,
        "pending": pending,
        "grant": grant,
        "key": key,
        "oid": r.headers["location"].split("/")[-1],
    }


def _state(hub: World, t: dict[str, str]) -> tuple[Any, ...]:
    ex = hub.app.state.onesource_exchange
    req = ex.grants.get_request("edu", t["pending"])
    grant = ex.grants.get_request("edu", t["rid"]).grant
    key = next(k for k in ex.keys.list("edu") if k.id == t["key"])
    from onesource.exchange.objections import ObjectionBook

    obj = ObjectionBook(ex).get("psb", t["oid"])
    return req.status, grant.revoked_at, key.active, obj.status


@pytest.mark.parametrize(
    "who", ["civil.officer", "civil.approver", "steward", "psb.officer", "edu.approver"]
)
def test_no_id_of_another_department_can_be_read_or_acted_on(
    hub: World, edu_things: dict[str, str], who: str
) -> None:
    """Every id-taking route, by URL, with department and ids tampered in query and form."""
    t = edu_things
    client = login(hub.app, who)
    before = _state(hub, t)
    spoof = {"department": "edu", "owner": "psb", "requester": "edu", "source_department": who}
    reads = [
        f"/console/applications/{t['rid']}",
        f"/console/review/{t['pending']}",
        f"/console/objections/{t['oid']}",
    ]
    allowed = {  # what the person may legitimately see
        "psb.officer": {f"/console/applications/{t['rid']}", f"/console/objections/{t['oid']}"},
        "edu.approver": {f"/console/applications/{t['rid']}", f"/console/objections/{t['oid']}"},
    }.get(who, set())
    for url in reads:
        r = client.get(url, params=spoof, headers={"X-Department": "edu"})
        if url not in allowed:
            assert r.status_code in (403, 404), (who, url, r.status_code)
    writes = [
        (f"/console/review/{t['pending']}/approve", {"fields": ["name"]}),
        (f"/console/review/{t['pending']}/refuse", {"reason": "no"}),
        (f"/console/access/keys/{t['key']}/revoke", {}),
        (f"/console/access/grants/{t['grant']}/revoke", {"reason": "x"}),
        (f"/console/objections/{t['oid']}/answer", {"status": "rejected", "text": "不对"}),
    ]
    token = csrf_of(client.get("/console/catalogue").text)
    for url, data in writes:
        r = client.post(url, data={"csrf": token, **spoof, **data}, headers={"X-Department": "edu"})
        assert r.status_code in (403, 404), (who, url, r.status_code)
    assert _state(hub, t) == before


# --- races -------------------------------------------------------------------------------


def test_an_approval_racing_a_refusal_leaves_one_decision(
    pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two approvers of the owner answer the same application at once (PostgreSQL, READ
    COMMITTED): one refuses it, the other approves it in between the refusal's read and
    its write.  Once answered, the other answer is a conflict: never a refused application
    with a live grant."""
    from sqlalchemy.orm import Session

    from onesource.exchange.errors import ConflictError
    from onesource.exchange.grants import GrantBook
    from onesource.store.exchange_models import AccessRequest, Grant
    from onesource.store.records import new_id, utcnow

    engine = sa.create_engine(pg_schema)
    try:
        AccessRequest.__table__.create(engine)  # type: ignore[attr-defined]
        Grant.__table__.create(engine)  # type: ignore[attr-defined]
        now = utcnow()
        rid = new_id()
        with engine.begin() as conn:
            conn.execute(
                sa.insert(AccessRequest).values(
                    id=rid,
                    requester="edu",
                    owner="psb",
                    resource="population_register",
                    fields=["name"],
                    purpose="p",
                    legal_basis="l",
                    period_days=30,
                    status="pending",
                    requested_at=now,
                    due_at=now,
                )
            )
        book = GrantBook(engine)
        real_get = Session.get
        raced: list[Any] = []

        def get(self: Session, *args: Any, **kw: Any) -> Any:
            row = real_get(self, *args, **kw)
            if not raced:  # the refusal has read "pending": the approval runs now
                raced.append(True)
                book.decide("psb", rid, True, decided_by="psb.approver.b")
            return row

        monkeypatch.setattr(Session, "get", get)
        with pytest.raises(ConflictError):
            book.decide("psb", rid, False, "illegal purpose", decided_by="psb.approver.a")
        monkeypatch.undo()
        with engine.connect() as conn:
            status = conn.execute(
                sa.select(AccessRequest.status).where(AccessRequest.id == rid)
            ).scalar_one()
            grants = conn.execute(sa.select(sa.func.count()).select_from(Grant)).scalar_one()
        assert (status, grants) == ("approved", 1)
    finally:
        engine.dispose()


def test_every_console_cookie_is_secure_when_the_public_url_is_https(
    hub: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a TLS-terminating proxy the app sees plain http: the hub's https public URL
    decides, for the CSRF cookie as for the session cookie."""
    from onesource.settings import get_settings

    signed_in = login(hub.app, "edu.officer")  # before: the test client sends no Secure cookie
    monkeypatch.setenv("ONESOURCE_PUBLIC_URL", "https://hub.qinghe.example")
    monkeypatch.setenv("ONESOURCE_TRUSTED_HOSTS", "testserver")
    get_settings.cache_clear()
    try:
        for response in (TestClient(hub.app).get("/console/login"), signed_in.get("/console")):
            cookies = response.headers.get_list("set-cookie")
            assert any(c.startswith(CSRF_COOKIE + "=") for c in cookies), cookies
            for cookie in cookies:
                if cookie.startswith((CSRF_COOKIE + "=", SESSION_COOKIE + "=")):
                    assert "Secure" in cookie, cookie
    finally:
        get_settings.cache_clear()


def test_objection_text_and_reflected_parameters_are_escaped(
    hub: World, edu_things: dict[str, str]
) -> None:
    """Objection reason, values and answer; the raise form's prefill from the query; an
    unknown resource named in the URL on the error page."""
    edu, psb = login(hub.app, "edu.officer"), login(hub.app, "psb.approver")
    r = _object(edu, hub, 0, reason=XSS, expected=XSS, observed=XSS)
    assert r.status_code == 303, r.text[:500]
    oid = r.headers["location"].split("/")[-1]
    url = f"/console/objections/{oid}"
    r = post(psb, f"{url}/answer", {"status": "rejected", "text": XSS}, page=url)
    assert r.status_code == 303, r.text[:500]
    pages = [
        (edu, url),
        (edu, "/console/objections"),
        (psb, url),
        (psb, "/console/objections"),
        (
            edu,
            "/console/objections/new?resource=population_register&field=name"
            "&reason=%3Cscript%3Ealert(1)%3C/script%3E&key.id_number=%22%3E%3Cimg%20src=x%3E",
        ),
        (edu, "/console/catalogue/%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        (edu, "/console/apply/%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    ]
    for client, page in pages:
        r = client.get(page)
        if not r.headers["content-type"].startswith("text/html"):  # the app's JSON 404
            assert r.headers["content-type"].startswith("application/json"), page
            continue
        assert "<script>alert(1)" not in r.text and "<img src=x" not in r.text, page


# --- objections --------------------------------------------------------------------------


def test_a_mismatch_shows_no_source_value_the_department_may_not_read(hub: World) -> None:
    """civil holds a copy of person.name (social_assistance) but no grant on psb's
    population_register.name: the consistency report's sample of psb's value is psb's
    data, not to be read on the mismatch page nor recorded in the objection made of it."""
    import pyarrow as pa

    from onesource.pipeline.outputs import consistency_report
    from schemas.arrow import resource_schema

    ex = hub.app.state.onesource_exchange
    store, catalog = hub.hub.store, hub.hub.catalog
    pop = catalog.resources["population_register"]
    assert "name" not in ex.access("civil", pop).readable  # the premise: no grant
    res = catalog.resources["social_assistance"]
    person = hub.hub.people[1]
    copy = pa.Table.from_pylist(
        [
            {
                "id_number": person["id_number"],
                "name": person["name"] + "X",
                "assistance_type": "dibao",
                "monthly_amount": None,
                "household_division": "339903",
                "family_situation": "x",
            }
        ],
        schema=resource_schema(catalog, res),
    )
    report = consistency_report(store, catalog, res, copy)
    with store.begin_run("ingest", "social_assistance") as run:
        store.record_quality(run.id, "social_assistance", {"consistency": report}, True)
        run.finish("succeeded")
    civil = login(hub.app, "civil.officer")
    page = civil.get("/console/objections/mismatches")
    assert page.status_code == 200 and person["name"] + "X" in page.text
    assert f">{person['name']}<" not in page.text, "psb's value shown without a grant"
    form = {"copy_resource": "social_assistance", "element": "person.name"}
    r = post(
        civil,
        "/console/objections/from-consistency",
        {**form, "key": person["id_number"]},
        page="/console/objections/mismatches",
    )
    assert r.status_code == 303, r.text[:500]
    oid = r.headers["location"].split("/")[-1]
    from onesource.exchange.objections import ObjectionBook

    obj = ObjectionBook(ex).get("civil", oid)
    assert obj.observed != person["name"]
    assert person["name"] + "<" not in civil.get(f"/console/objections/{oid}").text


@pytest.mark.parametrize("role", ["steward", "operator"])
def test_a_non_member_account_with_a_department_sees_none_of_its_applications(
    hub: World, edu_things: dict[str, str], role: str
) -> None:
    """A steward or operator account may carry a department (``user add --department``, an
    identity provider's claim) without being its officer or approver: the home page shows
    no more of the department's applications than /console/applications (403) does."""
    from onesource.web.console.accounts import AccountBook

    name = f"edu.{role}"
    AccountBook(hub.hub.store.engine).add(name, [role], "edu", password=PASSWORD)
    client = login(hub.app, name)
    assert client.get("/console/applications").status_code == 403
    home = client.get("/console").text
    assert "population_register · " not in home, home[-1500:]


def test_the_catalogue_shows_a_non_member_none_of_its_departments_grants(
    hub: World, edu_things: dict[str, str]
) -> None:
    """edu holds a grant on population_register.name; a steward account carrying edu sees
    the catalogue as a steward (share classes), not edu's grants."""
    from onesource.web.console.accounts import AccountBook

    AccountBook(hub.hub.store.engine).add("edu.steward2", ["steward"], "edu", password=PASSWORD)
    officer = login(hub.app, "edu.officer").get("/console/catalogue/population_register").text
    assert "mine-granted" in officer  # the premise: edu's officer sees the grant
    page = login(hub.app, "edu.steward2").get("/console/catalogue/population_register").text
    assert "mine-granted" not in page and "mine-requestable" not in page
