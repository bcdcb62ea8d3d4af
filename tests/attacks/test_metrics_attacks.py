"""Attacks on ``/metrics``: being taken for a local scraper.

A reverse proxy on the hub's machine relays the public from 127.0.0.1.  The middleware
refuses requests carrying a forwarding header, but a proxy that adds none (nginx's
plain ``proxy_pass`` does not) made every visitor local.  When the operator names the
proxy (``ONESOURCE_TRUSTED_PROXIES``), a request from it is relayed, never local.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from onesource.web.metrics import MetricsAccess, MetricsMiddleware


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _client(peer: str) -> TestClient:
    access = MetricsAccess.from_env()
    return TestClient(MetricsMiddleware(_inner, access=access), client=(peer, 40000))


@pytest.mark.parametrize("proxies", ["127.0.0.1", "127.0.0.0/8,::1", "10.0.0.5, 127.0.0.1", "*"])
def test_a_request_relayed_by_the_named_proxy_is_not_local(monkeypatch, proxies) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ONESOURCE_METRICS_ALLOW", raising=False)
    monkeypatch.delenv("ONESOURCE_METRICS_TOKEN", raising=False)
    monkeypatch.setenv("ONESOURCE_TRUSTED_PROXIES", proxies)
    refused = _client("127.0.0.1").get("/metrics")  # no forwarding header at all
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"


def test_the_token_still_admits_through_the_proxy(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ONESOURCE_TRUSTED_PROXIES", "127.0.0.1")
    monkeypatch.setenv("ONESOURCE_METRICS_TOKEN", "scrape-secret")
    client = _client("127.0.0.1")
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape"}).status_code == 403
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert ok.status_code == 200


def test_without_a_named_proxy_local_scrapes_still_work(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ONESOURCE_TRUSTED_PROXIES", raising=False)
    monkeypatch.delenv("ONESOURCE_METRICS_ALLOW", raising=False)
    monkeypatch.setenv("ONESOURCE_TRUSTED_PROXIES", "10.0.0.5")  # a proxy elsewhere
    assert _client("127.0.0.1").get("/metrics").status_code == 200
    assert _client("::1").get("/metrics").status_code == 200
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        relayed = _client("127.0.0.1").get("/metrics", headers={header: "127.0.0.1"})
        assert relayed.status_code == 403, header


@pytest.mark.parametrize(
    "header",
    [
        "X-Forwarded-Proto",
        "X-Forwarded-Host",
        "Via",
        "True-Client-IP",
        "CF-Connecting-IP",
        "X-Client-IP",
        "X-Original-Forwarded-For",
        "X-Cluster-Client-IP",
    ],
)
def test_any_proxys_mark_makes_a_request_not_local(monkeypatch, header) -> None:  # type: ignore[no-untyped-def]
    """Attack: a proxy (or CDN) that marks what it relays with another header than the three
    first checked (nginx with only X-Forwarded-Proto, a cache adding Via)."""
    monkeypatch.delenv("ONESOURCE_TRUSTED_PROXIES", raising=False)
    monkeypatch.delenv("ONESOURCE_METRICS_ALLOW", raising=False)
    monkeypatch.delenv("ONESOURCE_METRICS_TOKEN", raising=False)
    relayed = _client("127.0.0.1").get("/metrics", headers={header: "203.0.113.9"})
    assert relayed.status_code == 403
