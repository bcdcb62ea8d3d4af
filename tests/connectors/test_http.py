"""HttpSource against a local threaded http.server: pagination, retries, terminal 4xx, timeouts."""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.base import SourceState
from connectors.errors import HttpStatusError
from connectors.http import HttpSource
from schemas.connector import Pagination
from schemas.errors import SchemaDriftError, SourceUnavailableError

TOKEN = "Bearer t0k-secret"
RATINGS = [
    {
        "rating_number": f"R{i}",
        "service_item": "户籍迁移",
        "channel": "app",
        "score": 1 + i % 5,
        "rated_at": f"2024-05-0{1 + i % 9} 10:00:00",
        "division": "330102",
    }
    for i in range(7)
]


class Api(BaseHTTPRequestHandler):
    calls: dict[str, int] = {}
    seen_auth: list[str | None] = []

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        Api.calls[url.path] = Api.calls.get(url.path, 0) + 1
        Api.seen_auth.append(self.headers.get("Authorization"))
        if url.path == "/api/missing":
            return self._send(404, {"error": "no such dataset"})
        if url.path == "/api/flaky" and Api.calls[url.path] == 1:
            return self._send(503, {"error": "busy"})
        if url.path == "/api/busy-until" and Api.calls[url.path] == 1:
            # RFC 9110 HTTP-date form of Retry-After, 2 minutes ahead
            when = email.utils.formatdate(time.time() + 120, usegmt=True)
            return self._send(503, {"error": "busy"}, headers={"Retry-After": when})
        if url.path == "/api/busy-for" and Api.calls[url.path] <= 2:
            return self._send(429, {"error": "slow down"}, headers={"Retry-After": "7"})
        if url.path == "/api/down":
            return self._send(503, {"error": "down"})
        if url.path == "/api/bad":
            return self._send(400, {"error": "bad parameter"})
        if url.path == "/api/slow":
            time.sleep(0.6)
        if url.path == "/api/html":
            return self._send(200, None, raw=b"<html>login</html>")
        limit = int(q.get("limit", len(RATINGS)))
        if "page" in q:
            start = (int(q["page"]) - 1) * limit
        elif "offset" in q:
            start = int(q["offset"])
        else:
            start = int(q.get("cursor", 0))
        items = RATINGS[start : start + limit]
        nxt = start + limit if start + limit < len(RATINGS) else None
        self._send(200, {"items": items, "next": nxt})

    def _send(
        self,
        status: int,
        body: Any,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json" if raw is None else "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class QuietServer(ThreadingHTTPServer):
    block_on_close = False  # do not wait for the deliberately slow handler

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the timeout test's client hangs up on purpose


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    server = QuietServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    Api.calls, Api.seen_auth = {}, []
    port = server.server_address[1]
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"headers": {"Authorization": TOKEN}, "backoff_s": 0.01},
    }
    monkeypatch.setenv("ONESOURCE_CONN_DSJ_API", json.dumps(conn))
    yield port
    server.shutdown()
    server.server_close()


def run(retarget: Any, **changes: Any) -> Any:
    res, schema = retarget("service_ratings", **changes)
    progress: list[int] = []
    ex = HttpSource().extract(res, schema, SourceState(progress=progress.append))
    table = ex.read_all()
    assert sum(progress) == table.num_rows
    return ex, table


@pytest.mark.parametrize(
    "pagination,requests",
    [
        (
            Pagination(
                style="cursor",
                cursor_param="cursor",
                cursor_path="next",
                size_param="limit",
                page_size=3,
            ),
            3,
        ),
        (Pagination(style="page", page_param="page", size_param="limit", page_size=3), 3),
        (Pagination(style="offset", offset_param="offset", size_param="limit", page_size=2), 4),
        (Pagination(style="none"), 1),
    ],
    ids=["cursor", "page", "offset", "none"],
)
def test_pagination(api: int, retarget: Any, pagination: Pagination, requests: int) -> None:
    ex, table = run(retarget, pagination=pagination)
    assert table.column("rating_number").to_pylist() == [r["rating_number"] for r in RATINGS]
    assert table.column("score").to_pylist()[:3] == [1, 2, 3]
    assert Api.calls["/api/ratings"] == requests
    assert set(Api.seen_auth) == {TOKEN}


def test_503_then_success_is_retried(api: int, retarget: Any) -> None:
    ex, table = run(retarget, path="/api/flaky", pagination=Pagination(style="none"))
    assert table.num_rows == 7 and Api.calls["/api/flaky"] == 2


@pytest.fixture
def naps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retry policy's waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr("connectors.retry._nap", waits.append)
    return waits


def test_retry_after_http_date_is_honoured(
    api: int, retarget: Any, naps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="connectors.retry"):
        ex, table = run(retarget, path="/api/busy-until", pagination=Pagination(style="none"))
    assert table.num_rows == 7 and Api.calls["/api/busy-until"] == 2
    # 120 s ahead, whole seconds; capped at 30 s (MAX_BACKOFF_S)
    assert naps == [30.0]
    [message] = [r.getMessage() for r in caplog.records]
    assert "/api/busy-until failed: HTTP 503; attempt 1 of 6, next try in 30.0 s" in message


def test_retry_after_seconds_is_honoured(api: int, retarget: Any, naps: list[float]) -> None:
    ex, table = run(retarget, path="/api/busy-for", pagination=Pagination(style="none"))
    assert table.num_rows == 7 and Api.calls["/api/busy-for"] == 3
    assert naps == [7.0, 7.0]


def test_attempts_are_bounded(api: int, retarget: Any, naps: list[float]) -> None:
    with pytest.raises(SourceUnavailableError, match="failed after 3 attempts: HTTP 503"):
        run(retarget, path="/api/down", max_retries=2, pagination=Pagination(style="none"))
    assert Api.calls["/api/down"] == 3 and len(naps) == 2
    assert all(0 <= n <= 0.01 * 2**i for i, n in enumerate(naps, 1))  # jittered backoff


def test_400_is_not_retried(api: int, retarget: Any, naps: list[float]) -> None:
    with pytest.raises(HttpStatusError, match="400"):
        run(retarget, path="/api/bad", pagination=Pagination(style="none"))
    assert Api.calls["/api/bad"] == 1 and naps == []


def test_404_is_terminal_with_url_and_status(api: int, retarget: Any) -> None:
    with pytest.raises(HttpStatusError) as err:
        run(retarget, path="/api/missing", params={"api_key": "k3y"})
    text = str(err.value)
    assert err.value.status == 404 and not err.value.transient
    assert f"127.0.0.1:{api}/api/missing" in text and "404" in text
    assert "k3y" not in text and "t0k" not in text
    assert Api.calls["/api/missing"] == 1  # no retries on 4xx


def test_timeout_becomes_source_unavailable(api: int, retarget: Any) -> None:
    with pytest.raises(SourceUnavailableError) as err:
        run(retarget, path="/api/slow", timeout_s=0.2, max_retries=1)
    assert err.value.transient and "timed out" in str(err.value) and "dsj_api" in str(err.value)
    assert "2 attempts" in str(err.value)


def test_wrong_records_path_and_non_json(api: int, retarget: Any) -> None:
    with pytest.raises(SchemaDriftError, match="records_path 'data.rows'"):
        run(retarget, records_path="data.rows")
    with pytest.raises(SchemaDriftError, match="not JSON"):
        run(retarget, path="/api/html")


def test_bad_record_values_are_rejects_with_page(
    api: int, retarget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(RATINGS[4], "score", "five")
    try:
        ex, table = run(
            retarget,
            pagination=Pagination(style="page", page_param="page", size_param="limit", page_size=3),
        )
    finally:
        RATINGS[4]["score"] = 5
    assert table.num_rows == 6
    assert [(r.line, "five" in r.reason) for r in ex.rejects] == [(2, True)]  # page 2
