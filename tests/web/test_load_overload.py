"""Saturation answers: 503 with ``Retry-After`` in the error envelope, never a 500 or a stall.

Deterministic counterparts of ``test_load.py``: the pool sized from the worker threads,
the worker threads set from the same setting, an exhausted pool answered 503 on the portal
and the exchange API, and the admission limit.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub, make_hub


@pytest.fixture
def pool_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Engines and pool settings read again from the environment the test sets."""
    from onesource.store.db import engine_for, pool_settings

    engine_for.cache_clear()
    pool_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    engine_for.cache_clear()
    pool_settings.cache_clear()


def _busy(resp: Any) -> None:
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] == "1"
    error = resp.json()["error"]
    assert error["code"] == "metadata-db-busy", error
    assert "QueuePool" not in error["message"]  # no internals in the answer


def test_pool_is_sized_from_the_worker_threads(pool_env: pytest.MonkeyPatch, tmp_path: Path):
    from onesource.store.db import RESERVED_CONNECTIONS, engine_for

    pool_env.setenv("ONESOURCE_WEB_THREADS", "12")
    engine = engine_for(f"sqlite:///{tmp_path / 'a.db'}")
    assert engine.pool.size() == 12 + RESERVED_CONNECTIONS
    assert engine.pool.timeout() == 2.0  # short: a wait ends in a 503, not 30 s later


def test_pool_settings_from_the_environment(pool_env: pytest.MonkeyPatch, tmp_path: Path):
    from onesource.store.db import engine_for

    pool_env.setenv("ONESOURCE_DB_POOL_SIZE", "3")
    pool_env.setenv("ONESOURCE_DB_MAX_OVERFLOW", "2")
    pool_env.setenv("ONESOURCE_DB_POOL_TIMEOUT", "0.25")
    engine = engine_for(f"sqlite:///{tmp_path / 'a.db'}")
    assert (engine.pool.size(), engine.pool._max_overflow, engine.pool.timeout()) == (3, 2, 0.25)


def test_the_web_app_runs_as_many_worker_threads_as_the_pool_is_sized_for(
    pool_env: pytest.MonkeyPatch, hub_home: Path
) -> None:
    import anyio.to_thread

    pool_env.setenv("ONESOURCE_WEB_THREADS", "7")
    hub = make_hub()

    @hub.app.get("/test/threads")
    async def threads() -> int:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    with TestClient(hub.app) as client:
        assert client.get("/test/threads").json() == 7


@pytest.fixture
def starved(pool_env: pytest.MonkeyPatch, hub_home: Path) -> Iterator[Hub]:
    """A hub whose 2-connection pool is held by the test: every checkout times out (0.2 s)."""
    pool_env.setenv("ONESOURCE_DB_POOL_SIZE", "2")
    pool_env.setenv("ONESOURCE_DB_POOL_TIMEOUT", "0.2")
    hub = make_hub()
    with TestClient(hub.app) as client:  # warm: the exchange is built, the catalog loaded
        assert client.get("/healthz").status_code == 200
    held = [hub.store.engine.connect() for _ in range(2)]
    try:
        yield hub
    finally:
        for conn in held:
            conn.close()


def test_an_exhausted_pool_answers_503_on_the_portal(starved: Hub) -> None:
    client = TestClient(starved.app, raise_server_exceptions=False)
    t0 = time.perf_counter()
    _busy(client.get("/api/open/datasets"))  # sync endpoint: store.current per release
    page = client.get("/", headers={"accept": "text/html"})  # a person may get a page
    assert (page.status_code, page.headers["retry-after"]) == (503, "1"), page.text
    assert time.perf_counter() - t0 < 10  # waits of 0.2 s, not 30


def test_an_exhausted_pool_answers_503_on_the_exchange_api(starved: Hub) -> None:
    client = TestClient(starved.app, raise_server_exceptions=False)
    resp = client.get(
        "/api/exchange/resources/service_ratings/rows?purpose=load",
        headers={"X-API-Key": starved.keys["dsj"]},
    )
    # the key lookup or the version lookup finds no connection; the audit entry of the
    # answer cannot be written either: 503 both ways, never 500
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] == "1"
    assert resp.json()["error"]["code"] in ("metadata-db-busy", "audit-unavailable")


def test_a_pool_timeout_raised_by_sqlalchemy_itself_is_a_503(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # code that checks out a connection without the store's session helper
    from onesource.store import Store

    hub = make_hub()

    def timeout(*_: Any, **__: Any) -> None:
        raise sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")

    monkeypatch.setattr(Store, "current", timeout)
    client = TestClient(hub.app, raise_server_exceptions=False)
    _busy(client.get("/api/open/datasets"))


def test_other_errors_are_not_turned_into_503(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.store import Store

    hub = make_hub()

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Store, "current", broken)
    client = TestClient(hub.app, raise_server_exceptions=False)
    assert client.get("/api/open/datasets").status_code == 500


def test_admission_limit_answers_503_at_once_beyond_the_limit() -> None:
    from onesource.web.overload import OverloadMiddleware

    release = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    mw = OverloadMiddleware(slow_app, threads=40, limit=2)

    async def call() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        await mw({"type": "http", "path": "/", "method": "GET"}, receive, send)
        return sent

    async def scenario() -> tuple[list[Any], list[Any], int]:
        first = [asyncio.create_task(call()) for _ in range(2)]
        await asyncio.sleep(0.01)
        refused = await asyncio.wait_for(call(), timeout=1)  # answered without waiting
        busy = mw.inflight
        release.set()
        return refused, await asyncio.gather(*first), busy

    refused, served, busy = asyncio.run(scenario())
    assert busy == 2
    assert refused[0]["status"] == 503
    assert (b"retry-after", b"1") in refused[0]["headers"]
    assert b'"code": "overloaded"' in refused[1]["body"]
    assert [s[0]["status"] for s in served] == [200, 200]
    assert mw.inflight == 0


def test_admission_limit_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from onesource.web.overload import max_inflight
    from schemas.errors import ConfigError

    monkeypatch.setenv("ONESOURCE_WEB_MAX_INFLIGHT", "0")
    assert max_inflight() == 0
    monkeypatch.setenv("ONESOURCE_WEB_MAX_INFLIGHT", "many")
    with pytest.raises(ConfigError, match="ONESOURCE_WEB_MAX_INFLIGHT"):
        max_inflight()


def test_on_the_event_loop_an_exhausted_pool_fails_at_once(
    pool_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the exchange's cached lookups run on the event loop when their caches expire: a wait
    # for a connection there (30 s before, the pool timeout now) stalls every request
    from onesource.store.db import connect, engine_for
    from onesource.store.errors import StoreBusyError

    pool_env.setenv("ONESOURCE_DB_POOL_SIZE", "1")
    pool_env.setenv("ONESOURCE_DB_POOL_TIMEOUT", "30")
    engine = engine_for(f"sqlite:///{tmp_path / 'a.db'}")
    held = engine.connect()
    waits: list[bool] = []
    real = engine.pool._do_get

    def recording_get() -> Any:
        waits.append(True)
        return real()

    pool_env.setattr(engine.pool, "_do_get", recording_get)

    async def on_the_loop() -> None:
        connect(engine)

    try:
        with pytest.raises(StoreBusyError, match="every metadata DB connection is in use"):
            asyncio.run(on_the_loop())
        assert waits == []  # refused before queueing for a connection
    finally:
        held.close()
    with connect(engine):  # off the loop with a free connection: as usual
        pass
