"""The exchange SDK on a mock transport: purpose is required, signing covers what is sent."""

from __future__ import annotations

import json

import httpx
import pytest

from connectors.client import ExchangeClient, ExchangeUnavailable
from connectors.signing import NONCE, SIGNATURE, TIMESTAMP, signature, string_to_sign

SECRET = "oss_abcd1234_" + "11" * 32


def test_read_and_verify_require_a_purpose() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"matches": {"name": True}, "all_match": True, "found": True, "sources": []}
        return httpx.Response(200, json=body)

    hub = ExchangeClient("http://hub", "os_x_y", transport=httpx.MockTransport(handler))
    with pytest.raises(TypeError):
        hub.verify({"id_number": "1"}, {"name": "x"}, "population_register")  # type: ignore[call-arg]
    assert hub.verify({"id_number": "1"}, {"name": "x"}, purpose="入学审核") == {"name": True}
    assert json.loads(seen[-1].content)["purpose"] == "入学审核"


@pytest.mark.parametrize("algorithm", ["hmac-sha256", "hmac-sm3"])
def test_every_attempt_is_signed_afresh(algorithm: str) -> None:
    attempts: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) < 3:
            return httpx.Response(503, json={"error": {"code": "busy", "message": "later"}})
        return httpx.Response(200, json={"department": "edu"})

    hub = ExchangeClient(
        "http://hub",
        "os_abcd1234_s",
        transport=httpx.MockTransport(handler),
        backoff=0,
        signing_secret=SECRET,
        signature_algorithm=algorithm,
    )
    assert hub.me() == "edu"
    nonces = {r.headers[NONCE] for r in attempts}
    assert len(nonces) == 3  # a retry is a new request, never a replay
    secret = bytes.fromhex("11" * 32)
    for r in attempts:
        message = string_to_sign(
            algorithm,
            r.method,
            r.url.path,
            r.url.query.decode(),
            r.headers[TIMESTAMP],
            r.headers[NONCE],
            r.content,
        )
        assert r.headers[SIGNATURE] == f"{algorithm}={signature(secret, algorithm, message)}"


def test_unreachable_hub_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    hub = ExchangeClient("http://hub", "os_x_y", transport=httpx.MockTransport(handler), retries=0)
    with pytest.raises(ExchangeUnavailable):
        hub.me()
