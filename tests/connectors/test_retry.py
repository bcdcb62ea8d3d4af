"""The retry policy shared by the HTTP source and the exchange SDK (``connectors.retry``).

The SDK is driven through httpx's MockTransport; waits are recorded, never slept.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from connectors.client import (
    ExchangeClient,
    ExchangeError,
    ExchangeRateLimited,
    ExchangeUnavailable,
)
from connectors.retry import retry_after_seconds

NOW = datetime(2026, 11, 30, 2, 0, 0, tzinfo=UTC)
OK = {"department": "edu"}
GRANT = {
    "id": "g1",
    "request_id": "r1",
    "department": "edu",
    "owner": "psb",
    "resource": "population_register",
    "fields": ["name"],
    "valid_from": "2026-11-30T00:00:00Z",
    "valid_until": "2027-11-30T00:00:00Z",
    "revoked_at": "2026-11-30T01:00:00Z",
    "status": "revoked",
}


@pytest.mark.parametrize(
    "value,seconds",
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Mon, 30 Nov 2026 02:01:30 GMT", 90.0),  # IMF-fixdate
        ("Monday, 30-Nov-26 02:00:10 GMT", 10.0),  # obsolete RFC 850 form
        ("Mon, 30 Nov 2026 01:00:00 GMT", 0.0),  # in the past: go now
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
    ids=["delta", "zero", "http-date", "rfc850", "past", "garbage", "negative", "empty", "absent"],
)
def test_retry_after_both_forms(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


def client(
    answers: Callable[[httpx.Request], httpx.Response], naps: list[float], **kw: object
) -> tuple[ExchangeClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers(request)

    hub = ExchangeClient(
        "http://hub",
        "os_x_y",
        transport=httpx.MockTransport(handler),
        sleep=naps.append,
        **kw,  # type: ignore[arg-type]
    )
    return hub, seen


def busy_then_ok(first: int, status: int = 503, **headers: str) -> Callable[..., httpx.Response]:
    count = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        count["n"] += 1
        if count["n"] <= first:
            body = {"error": {"code": "busy", "message": "later"}}
            return httpx.Response(status, json=body, headers=headers)
        return httpx.Response(200, json=GRANT if request.method == "POST" else OK)

    return answer


def test_503_with_http_date_retry_after(caplog: pytest.LogCaptureFixture) -> None:
    naps: list[float] = []
    when = email.utils.formatdate(datetime.now(UTC).timestamp() + 100, usegmt=True)
    hub, seen = client(busy_then_ok(1, 503, **{"Retry-After": when}), naps, max_wait=1000)
    with caplog.at_level(logging.WARNING, logger="connectors.retry"):
        assert hub.me() == "edu"
    assert len(seen) == 2 and len(naps) == 1
    assert 90 < naps[0] <= 100  # the date, not the backoff (0.25 s)
    [message] = [r.getMessage() for r in caplog.records]
    assert message.startswith("GET /me failed: HTTP 503; attempt 1 of 4, next try in ")


def test_429_with_seconds_retry_after_is_capped() -> None:
    naps: list[float] = []
    hub, seen = client(busy_then_ok(2, 429, **{"Retry-After": "3600"}), naps, max_wait=5)
    assert hub.me() == "edu"
    assert naps == [5.0, 5.0] and len(seen) == 3


def test_400_is_not_retried() -> None:
    naps: list[float] = []
    hub, seen = client(busy_then_ok(9, 400), naps)
    with pytest.raises(ExchangeError) as err:
        hub.me()
    assert err.value.status == 400 and len(seen) == 1 and naps == []


def test_500_is_an_answer_not_an_outage() -> None:
    naps: list[float] = []
    hub, seen = client(busy_then_ok(9, 500), naps)
    with pytest.raises(ExchangeUnavailable, match="500 busy"):
        hub.me()
    assert len(seen) == 1 and naps == []


def test_attempts_are_bounded_with_jittered_backoff() -> None:
    naps: list[float] = []
    hub, seen = client(busy_then_ok(99, 502), naps, retries=4, backoff=1.0, max_wait=3.0)
    with pytest.raises(ExchangeUnavailable, match="502 busy: later"):
        hub.me()
    assert len(seen) == 5 and len(naps) == 4
    assert all(0 <= n <= min(3.0, 2**i) for i, n in enumerate(naps))


def test_rate_limit_after_every_retry_carries_retry_after() -> None:
    naps: list[float] = []
    hub, seen = client(busy_then_ok(99, 429, **{"Retry-After": "2"}), naps, retries=1)
    with pytest.raises(ExchangeRateLimited) as err:
        hub.me()
    assert err.value.retry_after == 2.0 and len(seen) == 2 and naps == [2.0]


def test_non_idempotent_calls_retry_only_what_was_not_acted_on() -> None:
    naps: list[float] = []
    hub, seen = client(busy_then_ok(1, 503), naps)
    with pytest.raises(ExchangeUnavailable):
        hub.revoke("g1")  # a POST the hub may have acted on: no second try
    assert len(seen) == 1
    hub, seen = client(busy_then_ok(1, 429), naps)
    hub.revoke("g1")  # 429: refused before acting, safe to repeat
    assert len(seen) == 2


def test_connect_errors_are_retried_even_for_posts() -> None:
    naps: list[float] = []
    calls = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json=GRANT)

    hub, _ = client(answer, naps)
    assert hub.revoke("g1").status == "revoked"
    assert calls["n"] == 2 and len(naps) == 1
