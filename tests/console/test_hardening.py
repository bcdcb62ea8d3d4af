"""What the attackers of the console found last: response headers that keep a slipped-through
script harmless, a version number in non-ASCII digits, and an IPv6 client's address range."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from tests.console.conftest import PASSWORD, World, csrf_of, login, post


def test_console_pages_forbid_scripts_framing_and_sniffing(world: World) -> None:
    page = login(world.app, "edu.officer").get("/console")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # no script at all
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["x-frame-options"] == "DENY"


def test_a_version_in_other_digits_is_refused_not_a_500(world: World) -> None:
    edu, psb = login(world.app, "edu.officer"), login(world.app, "psb.approver")
    raised = post(
        edu,
        "/console/objections",
        {
            "resource": "population_register",
            "field": "household_division",
            "key.id_number": world.hub.people[3]["id_number"],
            "reason": "户籍地有误",
        },
        page="/console/objections/new",
    )
    assert raised.status_code == 303, raised.text[:1000]
    found = re.search(r"/console/objections/(\w+)$", raised.headers["location"])
    assert found
    url = f"/console/objections/{found.group(1)}/answer"
    for digits in ("²", "①", "٣"):  # str.isdigit() says yes, int() says no (or another number)
        r = post(
            psb,
            url,
            {"status": "corrected", "version": digits},
            f"/console/objections/{found.group(1)}",
        )
        assert r.status_code == 422, (digits, r.status_code)


def test_one_ipv6_client_is_throttled_by_its_64(world: World) -> None:
    from onesource.exchange.ratelimit import RateLimiter
    from onesource.web.console.auth import ConsoleState

    st: ConsoleState = world.app.state.onesource_console
    saved = st.per_address
    st.per_address = RateLimiter(1 / 60, 2)

    def attempt(host: str) -> int:
        client = TestClient(world.app, client=(host, 40000))
        page = client.get("/console/login")
        form = {"csrf": csrf_of(page.text), "name": "edu.officer", "password": "wrong" * 3}
        return client.post("/console/login", data=form, follow_redirects=False).status_code

    try:
        # a new address of the same /64 for every try: still one client
        codes = [attempt(f"2001:db8:1:2::{i:x}") for i in range(1, 4)]
        assert codes == [401, 401, 429]
        assert attempt("2001:db8:1:3::1") == 401  # another /64 is another client
    finally:
        st.per_address = saved
    assert PASSWORD  # the right password is never needed here
