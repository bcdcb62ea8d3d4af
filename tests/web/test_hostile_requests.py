"""Hostile and malformed requests: every error in the envelope, bad numbers 4xx, no Host trust,
no keys in URLs, docs that work with no internet."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub
from tests.portal.keys import approved_key

HTML = {"accept": "text/html"}
DOWNLOAD = "/datasets/grid_events_open/download/data.csv"


@pytest.fixture
def portal(portal_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The demo portal (every release published once), built from the current environment."""
    from onesource.web.app import create_app
    from onesource.web.deps import reset_caches

    monkeypatch.setenv("ONESOURCE_HOME", str(portal_home))  # restored after the test
    reset_caches()
    yield TestClient(create_app())
    reset_caches()


def envelope(resp: Any) -> dict[str, str]:
    """The documented error body, and nothing else."""
    body = resp.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) >= {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["message"]
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "method,path,status",
    [
        ("GET", "/no/such/page", 404),
        ("GET", "/api/open/no-such-endpoint", 404),
        ("GET", "/api/exchange/no-such-endpoint", 404),
        ("DELETE", "/data.json", 405),
        ("POST", "/api/open/datasets", 405),
        ("GET", "/api/open/datasets/grid_events_open/rows?limit=5000", 422),
        ("GET", "/api/open/datasets/grid_events_open/rows?offset=-1", 422),
        ("GET", "/api/open/datasets?limit=abc", 422),
    ],
    ids=["unknown-page", "unknown-open", "unknown-exchange", "405-get-only", "405-post",
         "limit-too-big", "negative-offset", "not-a-number"],
)  # fmt: skip
def test_every_json_error_uses_the_envelope(
    portal: TestClient, method: str, path: str, status: int
) -> None:
    resp = portal.request(method, path)
    assert resp.status_code == status, resp.text[:300]
    assert "detail" not in resp.text
    envelope(resp)


def test_html_pages_get_an_html_error_page(portal: TestClient) -> None:
    resp = portal.get("/no/such/page", headers=HTML)
    assert resp.status_code == 404 and resp.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "version",
    ["-1", "0", "999999", "99999999999999999999", "1e3", "abc", "", "1.5"],
    ids=["negative", "zero", "absent", "huge", "exponent", "text", "empty", "fraction"],
)
def test_bad_download_versions_are_4xx_in_the_envelope(portal: TestClient, version: str) -> None:
    resp = portal.get(DOWNLOAD, params={"version": version})
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    envelope(resp)


def test_existing_version_still_downloads(portal: TestClient) -> None:
    assert portal.get(DOWNLOAD, params={"version": "1"}).status_code == 200


def test_a_200k_deep_json_body_is_422_in_the_envelope(client: TestClient, hub: Hub) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    resp = client.post(
        "/api/exchange/requests",
        content=deep,
        headers={"Authorization": f"Bearer {hub.keys['edu']}", "content-type": "application/json"},
    )
    assert resp.status_code == 422, resp.text[:300]
    assert envelope(resp)["code"] == "invalid-request"


@pytest.mark.parametrize(
    "cursor",
    [{"v": 10**20, "o": 0}, {"v": -5, "o": 0}, {"v": 99999, "o": 0}, {"v": 1, "o": 10**30}],
    ids=["huge-version", "negative-version", "absent-version", "huge-offset"],
)
def test_hand_made_rows_cursors_are_4xx(client: TestClient, hub: Hub, cursor: dict) -> None:
    import base64
    import json

    token = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")
    resp = client.get(
        "/api/exchange/resources/service_ratings/rows",
        params={"cursor": token, "purpose": "hostile-cursor test"},
        headers={"Authorization": f"Bearer {hub.keys['edu']}"},
    )
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text[:300])
    envelope(resp)


# Host header: absolute URLs come from ONESOURCE_PUBLIC_URL; other hosts are refused


@pytest.mark.parametrize("path", ["/data.json", "/api/open/datasets", "/", "/api"])
def test_unknown_host_is_refused(portal: TestClient, path: str) -> None:
    resp = portal.get(path, headers={"host": "evil.example"})
    assert resp.status_code == 400
    assert "evil.example" not in resp.text


def test_absolute_urls_come_from_the_public_url(
    portal_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.web.app import create_app
    from onesource.web.deps import reset_caches

    monkeypatch.setenv("ONESOURCE_HOME", str(portal_home))
    monkeypatch.setenv("ONESOURCE_PUBLIC_URL", "https://data.qinghe.example/portal/")
    monkeypatch.setenv("ONESOURCE_TRUSTED_HOSTS", "proxy.internal")
    reset_caches()
    try:
        client = TestClient(create_app(), base_url="http://proxy.internal")
        listing = client.get("/data.json").json()
        urls = [d["downloadURL"] for ds in listing["dataset"] for d in ds["distribution"]]
        assert urls and all(
            u.startswith("https://data.qinghe.example/portal/datasets/") for u in urls
        )
        items = client.get("/api/open/datasets").json()["items"]
        assert all(
            i["url"].startswith("https://data.qinghe.example/portal/api/open/") for i in items
        )
        page = client.get("/api", headers=HTML).text
        assert "https://data.qinghe.example/portal/api/open/datasets/" in page
        assert "127.0.0.1:8000" not in page and "proxy.internal" not in page
        for path in ("/data.json", "/api/open/datasets", "/api"):
            assert "proxy.internal" not in client.get(path).text
        # the public host itself is trusted, loopback too; anything else is not
        assert TestClient(client.app, base_url="https://data.qinghe.example").get("/data.json").status_code == 200  # fmt: skip
        assert TestClient(client.app, base_url="http://127.0.0.1:8000").get("/data.json").status_code == 200  # fmt: skip
        assert TestClient(client.app, base_url="http://evil.example").get("/data.json").status_code == 400  # fmt: skip
    finally:
        reset_caches()


def test_api_page_shows_the_default_public_url(portal: TestClient) -> None:
    page = portal.get("/api", headers=HTML).text
    assert re.search(r"curl [^\n]*http://127\.0\.0\.1:8000/api/open/datasets/", page)


# consumer keys travel in headers, never in URLs (access logs, browser history, Referer)


def test_query_string_keys_are_refused_with_a_clear_error(portal: TestClient) -> None:
    url = "/datasets/appointments_research/download/data.csv"
    key = approved_key(portal, ["appointments_research"])
    refused = portal.get(url, params={"key": key})
    assert refused.status_code == 400
    assert "X-Consumer-Key" in envelope(refused)["message"]
    assert key not in refused.text
    assert portal.get(url, headers={"x-consumer-key": key}).status_code == 200
    # exchange keys likewise
    resp = portal.get("/api/exchange/resources", params={"key": "os_abc_def"})
    assert resp.status_code in (400, 401) and "os_abc_def" not in resp.text


def test_signed_download_link_for_browsers(portal: TestClient) -> None:
    """A registered consumer gets a short-lived link: works as a plain URL, then expires."""
    url = "/datasets/appointments_research/download/data.csv"
    key = approved_key(portal, ["appointments_research"])
    link = portal.post(
        "/api/open/datasets/appointments_research/links",
        params={"file": "data.csv"},
        headers={"x-consumer-key": key},
    )
    assert link.status_code == 200, link.text[:300]
    signed = link.json()["url"]
    assert key not in signed and "expires" in signed
    path = signed.split("127.0.0.1:8000", 1)[1]
    assert path.startswith(url + "?")
    assert portal.get(path).status_code == 200
    tampered = path.replace("data.csv", "data.json")
    assert portal.get(tampered).status_code in (401, 403)
    expired = re.sub(r"expires=\d+", "expires=1000", path)
    assert portal.get(expired).status_code in (401, 403)


# /docs and /redoc work on an isolated network: every asset is served by the hub itself


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_docs_load_only_local_assets(portal: TestClient, page: str) -> None:
    html = portal.get(page)
    assert html.status_code == 200
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html.text)
    refs += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html.text)
    refs += re.findall(r"""spec-url=["']([^"']+)["']""", html.text)
    assert refs, html.text[:500]
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref
        assert portal.get(ref).status_code == 200, ref
    assert "cdn" not in html.text.lower() and "fonts.googleapis" not in html.text


def test_a_rows_cursor_cannot_reach_a_rolled_back_version(client: TestClient, hub: Hub) -> None:
    import base64
    import json

    from tests.exchange.fixtures import commit

    rows = [
        {"rating_number": f"X{i:04d}", "service_item": "入学登记", "channel": "app", "score": 1,
         "rated_at": __import__("datetime").datetime(2024, 3, 1, 9, i), "division": "339901"}
        for i in range(5)
    ]  # fmt: skip
    assert commit(hub.store, hub.catalog, "service_ratings", rows) == 2
    key = {"Authorization": f"Bearer {hub.keys['edu']}"}
    url = "/api/exchange/resources/service_ratings/rows"
    params = {"purpose": "cursor test", "limit": 2}
    first = client.get(url, params=params, headers=key)
    assert first.status_code == 200 and first.json()["version"] == 2
    handed_out = first.json()["next_cursor"]
    hub.store.rollback("resource", "service_ratings", to=1)

    def token(v: int) -> str:
        raw = json.dumps({"v": v, "o": 0}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    for cursor in (handed_out, token(2)):
        resp = client.get(url, params={**params, "cursor": cursor}, headers=key)
        assert resp.status_code == 410, (resp.status_code, resp.text[:300])
        assert "rolled back" in envelope(resp)["message"]
    ok = client.get(url, params={**params, "cursor": token(1)}, headers=key)
    assert ok.status_code == 200 and ok.json()["version"] == 1
