"""Signed requests: a department that requires them cannot be called with its key alone,
and a captured signed request cannot be replayed, altered or kept for later."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from connectors.signing import sign_headers
from onesource.exchange.signing import master_key, signing_secret_text
from onesource.web.exchange.runtime import exchange_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub, serve
from tests.web.test_exchange_api import auth, error_code

API = "/api/exchange"
REPO = Path(__file__).resolve().parents[2]


def _secret(hub: Hub, dept: str) -> str:
    ex = exchange_for(hub.app)
    return signing_secret_text(master_key(ex.settings), hub.keys[dept].split("_")[1])


def _require(hub: Hub, dept: str) -> None:
    exchange_for(hub.app).dept_auth.set_require_signature(dept, True)


def _signed(
    hub: Hub, method: str, path: str, query: str = "", body: bytes = b"", **kw: Any
) -> dict[str, str]:
    return {
        **auth(hub, "edu"),
        **sign_headers(_secret(hub, "edu"), method, path, query, body, **kw),
    }


def _verify_body(hub: Hub, name: str) -> bytes:
    return json.dumps(
        {
            "resource": "service_ratings",
            "key": {"rating_number": "R0001"},
            "claims": {"score": name},
            "purpose": "签名测试",
        }
    ).encode()


def test_unsigned_call_of_a_department_that_requires_signing(hub: Hub, client: TestClient) -> None:
    assert client.get(f"{API}/me", headers=auth(hub, "edu")).status_code == 200
    _require(hub, "edu")
    resp = client.get(f"{API}/me", headers=auth(hub, "edu"))
    assert resp.status_code == 401 and error_code(resp) == "signature-required"
    signed = client.get(f"{API}/me", headers=_signed(hub, "GET", f"{API}/me"))
    assert signed.status_code == 200 and signed.json()["department"] == "edu"
    # other departments are not affected
    assert client.get(f"{API}/me", headers=auth(hub, "psb")).status_code == 200


def test_replayed_request_is_refused(hub: Hub, client: TestClient) -> None:
    _require(hub, "edu")
    headers = _signed(hub, "GET", f"{API}/me")
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    replay = client.get(f"{API}/me", headers=headers)
    assert replay.status_code == 401 and error_code(replay) == "signature-invalid"
    assert "replayed" in replay.json()["error"]["message"]


def test_tampered_body_is_refused(hub: Hub, client: TestClient) -> None:
    _require(hub, "edu")
    url = f"{API}/verify"
    signed_for = _verify_body(hub, "5")
    headers = {**_signed(hub, "POST", url, body=signed_for), "Content-Type": "application/json"}
    resp = client.post(url, content=_verify_body(hub, "1"), headers=headers)
    assert resp.status_code == 401 and error_code(resp) == "signature-invalid"
    fresh = {**_signed(hub, "POST", url, body=signed_for), "Content-Type": "application/json"}
    assert client.post(url, content=signed_for, headers=fresh).status_code == 200


def test_tampered_query_is_refused(hub: Hub, client: TestClient) -> None:
    url = f"{API}/resources/service_ratings/rows"
    headers = _signed(hub, "GET", url, "limit=1&purpose=p")
    resp = client.get(url, params={"limit": "25", "purpose": "p"}, headers=headers)
    assert resp.status_code == 401 and error_code(resp) == "signature-invalid"
    ok = client.get(
        url,
        params={"purpose": "p", "limit": "1"},
        headers=_signed(hub, "GET", url, "limit=1&purpose=p"),
    )
    assert ok.status_code == 200 and len(ok.json()["rows"]) == 1  # parameter order is free


# well outside the window: a slow (loaded) test run must not bring a future stamp back inside it
@pytest.mark.parametrize("skew", [-301, 420], ids=["stale", "future"])
def test_timestamp_outside_five_minutes_is_refused(hub: Hub, client: TestClient, skew: int) -> None:
    _require(hub, "edu")
    headers = _signed(hub, "GET", f"{API}/me", now=time.time() + skew)
    resp = client.get(f"{API}/me", headers=headers)
    assert resp.status_code == 401 and "clock" in resp.json()["error"]["message"]


def test_a_signature_with_another_keys_secret_is_refused(hub: Hub, client: TestClient) -> None:
    headers = {**auth(hub, "edu"), **sign_headers(_secret(hub, "psb"), "GET", f"{API}/me", "", b"")}
    assert client.get(f"{API}/me", headers=headers).status_code == 401


def test_sm3_signatures_and_the_operators_choice(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.exchange.fixtures import make_hub

    monkeypatch.setenv("ONESOURCE_EXCHANGE_SIGNATURE_ALGORITHMS", "hmac-sm3")
    hub = make_hub()
    client = TestClient(hub.app)
    sm3 = client.get(f"{API}/me", headers=_signed(hub, "GET", f"{API}/me", algorithm="hmac-sm3"))
    assert sm3.status_code == 200
    sha = client.get(f"{API}/me", headers=_signed(hub, "GET", f"{API}/me"))
    assert sha.status_code == 401 and "not accepted" in sha.json()["error"]["message"]


def test_the_sdk_signs_reads_verifications_and_pushes(hub: Hub) -> None:
    from connectors.client import ExchangeAuthError, ExchangeClient

    _require(hub, "edu")
    _require(hub, "civil")
    with serve(hub.app) as url:
        with pytest.raises(ExchangeAuthError, match="signature-required"):
            ExchangeClient(url, hub.keys["edu"], retries=0).me()
        for algorithm in ("hmac-sha256", "hmac-sm3"):
            edu = ExchangeClient(
                url,
                hub.keys["edu"],
                signing_secret=_secret(hub, "edu"),
                signature_algorithm=algorithm,
            )
            assert edu.me() == "edu"
            table = edu.read("service_ratings", fields=["score"], limit=3, page_size=2, purpose="p")
            assert table.num_rows == 3
            assert edu.verify(
                {"rating_number": "R0001"}, {"score": "2"}, "service_ratings", purpose="p"
            )
        civil = ExchangeClient(url, hub.keys["civil"], signing_secret=_secret(hub, "civil"))
        person = hub.people[3]
        csv = f"id_number,name,month,amount\n{person['id_number']},{person['name']},2026-01,100\n"
        result = civil.push("elderly_subsidies", csv.encode(), fmt="csv", filename="b.csv")
        assert result.status == "succeeded", result


def test_cli_requires_signing_and_prints_the_secret(hub: Hub, hub_home: Path) -> None:
    onesource = str(Path(sys.executable).parent / "onesource")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONESOURCE_")}
    env.update(ONESOURCE_HOME=str(hub_home), ONESOURCE_CATALOG=str(REPO / "catalog"))
    prefix = hub.keys["edu"].split("_")[1]
    out = subprocess.run(
        [onesource, "dept", "key", "signing-secret", "edu", prefix],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == _secret(hub, "edu")
    req = subprocess.run(
        [onesource, "dept", "require-signing", "edu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert req.returncode == 0, req.stderr
    assert exchange_for(hub.app).dept_auth.all() == {"edu": True}
    bad = subprocess.run(
        [onesource, "dept", "key", "signing-secret", "edu", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1


def test_a_captured_key_without_the_secret_cannot_exhaust_the_departments_limit(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """signing_dos.py: bogus signatures with edu's captured bearer key were charged to edu's
    rate limit (the victim got 429) and logged one audit entry per call under edu."""
    from onesource.exchange.audit import AuditLog
    from tests.exchange.fixtures import make_hub

    monkeypatch.setenv("ONESOURCE_EXCHANGE_RATE_PER_SECOND", "0.01")
    monkeypatch.setenv("ONESOURCE_EXCHANGE_RATE_BURST", "5")
    hub = make_hub()
    assert exchange_for(hub.app).settings.rate_burst == 5
    client = TestClient(hub.app)
    _require(hub, "edu")
    before = AuditLog(hub.store.engine).query(limit=1)
    seq0 = before[0]["seq"] if before else 0
    bogus = {
        **auth(hub, "edu"),
        "X-OneSource-Timestamp": str(int(time.time())),
        "X-OneSource-Signature": "hmac-sha256=00",
    }
    codes = set()
    for i in range(30):
        resp = client.get(f"{API}/me", headers={**bogus, "X-OneSource-Nonce": f"n{i}"})
        codes.add(resp.status_code)
        unsigned = client.get(f"{API}/me", headers=auth(hub, "edu"))
        codes.add(unsigned.status_code)
    assert codes <= {401, 429}
    legit = client.get(f"{API}/me", headers=_signed(hub, "GET", f"{API}/me"))
    assert legit.status_code == 200, legit.text
    per_call = [
        e
        for e in AuditLog(hub.store.engine).query(limit=1000)
        if e["seq"] > seq0 and e["department"] == "edu" and e["status_code"] != 200
    ]
    assert per_call == []  # counted per address in summary entries instead
