"""Prometheus metrics of the web app: bounded labels, who may read ``/metrics``, what is counted."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from starlette.testclient import TestClient

from onesource.web.metrics import MetricsAccess, MetricsMiddleware
from schemas.errors import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub
from tests.web.test_exchange_api import auth, grant
from tests.web.test_exchange_verify import URL, body

LOCAL = ("127.0.0.1", 50000)


@pytest.fixture
def hub(hub_home: Path, monkeypatch: pytest.MonkeyPatch) -> Hub:
    """The exchange tests' hub, with caches that cannot expire mid-test on a slow machine."""
    from tests.exchange.fixtures import make_hub

    monkeypatch.setenv("ONESOURCE_EXCHANGE_CACHE_SECONDS", "600")
    return make_hub()


def series(name: str) -> set[tuple[tuple[str, str], ...]]:
    """The label sets of every sample of metric family ``name``."""
    for family in REGISTRY.collect():
        if family.name == name:
            return {tuple(sorted(s.labels.items())) for s in family.samples}
    return set()


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_ten_thousand_invented_urls_add_no_series() -> None:
    """Attack: every request a new path; the route label stays the template (or unmatched)."""

    class Route:
        path = "/api/open/datasets/{name}"

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"].startswith("/api/open/datasets/"):
            scope["route"] = Route()  # what the router does for a templated route
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    mw = MetricsMiddleware(inner, access=MetricsAccess((), None))

    async def noop(_: Any) -> None:
        pass

    async def drive() -> None:
        for i in range(10_000):
            path = f"/api/open/datasets/x{i}" if i % 2 else f"/nothing/{i}?q={i}"
            scope = {"type": "http", "method": "GET", "path": path, "headers": []}
            await mw(scope, noop, noop)

    before = series("onesource_http_requests")
    asyncio.run(drive())
    added = series("onesource_http_requests") - before
    routes = {dict(labels)["route"] for labels in added}
    assert routes <= {"/api/open/datasets/{name}", "<unmatched>"}, routes
    assert len(added) <= 4  # two routes x (total, created) samples at most


def test_real_app_labels_routes_by_template(hub_home: Path) -> None:
    from onesource.web.app import create_app

    client = TestClient(create_app())
    before = series("onesource_http_requests")
    for i in range(50):
        client.get(f"/api/open/datasets/no-such-{i}")
        client.get(f"/invented/{i}")
    added = {dict(labels)["route"] for labels in series("onesource_http_requests") - before}
    assert added <= {"/api/open/datasets/{name}", "<unmatched>"}, added


def test_metrics_are_local_only_by_default(hub_home: Path) -> None:
    from onesource.web.app import create_app

    app = create_app()
    remote = TestClient(app, client=("203.0.113.9", 40000))
    refused = remote.get("/metrics")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    local = TestClient(app, client=LOCAL)
    ok = local.get("/metrics")
    assert ok.status_code == 200 and "onesource_http_requests_total" in ok.text
    assert ok.headers["cache-control"] == "no-store"
    # a reverse proxy on the same machine relays the public: its requests are not local
    assert local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert local.get("/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 403


def test_token_admits_from_anywhere(monkeypatch: pytest.MonkeyPatch, hub_home: Path) -> None:
    from onesource.web.app import create_app

    monkeypatch.setenv("ONESOURCE_METRICS_TOKEN", "s3cret-scrape")
    monkeypatch.setenv("ONESOURCE_METRICS_ALLOW", "")
    remote = TestClient(create_app(), client=("203.0.113.9", 40000))
    assert remote.get("/metrics").status_code == 403
    assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    good = {"Authorization": "Bearer s3cret-scrape", "X-Forwarded-For": "203.0.113.9"}
    assert remote.get("/metrics", headers=good).status_code == 200
    # nothing is local any more with an empty allow list
    assert TestClient(create_app(), client=LOCAL).get("/metrics").status_code == 403


def test_bad_allow_list_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESOURCE_METRICS_ALLOW", "127.0.0.1,intranet")
    with pytest.raises(ConfigError, match="'intranet' is not an IP address"):
        MetricsAccess.from_env()


def test_verify_outcomes_caches_and_audit_are_counted(hub: Hub) -> None:
    client = TestClient(hub.app)
    grant(hub, ["name", "household_division", "id_number"])
    match, mismatch = (
        value("onesource_verify_calls_total", outcome="match"),
        value("onesource_verify_calls_total", outcome="mismatch"),
    )
    hits = value("onesource_cache_lookups_total", cache="keys", result="hit")
    written = value("onesource_audit_entries_written_total")
    lags = value("onesource_audit_write_lag_seconds_count")
    calls = value("onesource_http_requests_total", route=URL, method="POST", status="200")
    for _ in range(3):
        assert client.post(URL, json=body(hub), headers=auth(hub, "edu")).status_code == 200
    client.post(URL, json=body(hub, name="nobody"), headers=auth(hub, "edu"))
    assert value("onesource_verify_calls_total", outcome="match") == match + 3
    assert value("onesource_verify_calls_total", outcome="mismatch") == mismatch + 1
    assert value("onesource_http_requests_total", route=URL, method="POST", status="200") == (
        calls + 4
    )
    assert value("onesource_http_request_duration_seconds_count", route=URL, method="POST") >= 4
    assert value("onesource_cache_lookups_total", cache="keys", result="hit") >= hits + 3
    assert value("onesource_cache_lookups_total", cache="grants", result="hit") >= 1
    assert value("onesource_audit_entries_written_total") >= written + 4
    assert value("onesource_audit_write_lag_seconds_count") > lags
    assert value("onesource_audit_queue_entries") >= 0


def test_several_processes_are_summed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, /metrics sums what every worker process counted."""
    import os
    import subprocess

    from onesource.web.metrics import exposition

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = (
        "from onesource import metrics as m; "
        "m.HTTP_REQUESTS.labels('/x', 'GET', '200').inc(); m.AUDIT_QUEUE.inc(2)"
    )
    for _ in range(2):  # two workers, one after the other (a dead worker's counts stay)
        subprocess.run([sys.executable, "-c", count], env=env, check=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # read at scrape time
    text = exposition()[0].decode()
    assert 'onesource_http_requests_total{method="GET",route="/x",status="200"} 2.0' in text
