"""The exchange API's refusals: auth, share classes, grants, id scoping, limits, injection."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from starlette.testclient import TestClient

from onesource.exchange.audit import AuditLog
from onesource.exchange.grants import GrantBook
from onesource.web.exchange.runtime import exchange_for

# tests/web has no package of its own: make the repo root importable for the shared helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub, make_hub

API = "/api/exchange"


def auth(hub: Hub, dept: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.keys[dept]}"}


def grant(hub: Hub, fields: list[str], *, days_ago: int = 0, period: int = 30) -> Any:
    book: GrantBook = exchange_for(hub.app).grants  # the app's own book: its cache sees this
    now = datetime.now(UTC) - timedelta(days=days_ago)
    req = book.request(hub.catalog, "edu", "population_register", fields, "p", "b", period, now=now)
    return book.decide("psb", req.id, True, now=now)


def error_code(resp: Any) -> str:
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return str(body["error"]["code"])


@pytest.mark.parametrize(
    "headers,code",
    [
        ({}, "auth-required"),
        ({"Authorization": "Bearer os_deadbeef_nope"}, "auth-invalid"),
        ({"X-API-Key": "garbage"}, "auth-invalid"),
    ],
    ids=["missing", "unknown", "malformed"],
)
def test_unauthenticated_calls_are_refused_and_audited(
    hub: Hub, client: TestClient, headers: dict[str, str], code: str
) -> None:
    resp = client.get(f"{API}/resources", headers=headers)
    assert resp.status_code == 401 and error_code(resp) == code
    assert exchange_for(hub.app).flush_summaries() == 1  # counted per address, in summary
    last = AuditLog(hub.store.engine).query(limit=1)[0]
    assert last["department"] is None and last["status_code"] == 401
    assert last["result"] == "auth-failures" and last["row_count"] == 1


def test_x_api_key_header_works(hub: Hub, client: TestClient) -> None:
    resp = client.get(f"{API}/me", headers={"X-API-Key": hub.keys["edu"]})
    assert resp.status_code == 200 and resp.json()["department"] == "edu"


def test_none_fields_are_never_returned(hub: Hub, client: TestClient) -> None:
    own = client.get(
        f"{API}/resources/social_assistance/rows?purpose=test", headers=auth(hub, "civil")
    )
    assert "family_situation" in own.json()["fields"]  # the owner reads its own
    for dept in ("hrss", "psb"):
        resp = client.get(
            f"{API}/resources/social_assistance/rows?purpose=test",
            params={"purpose": "test", "fields": "family_situation"},
            headers=auth(hub, dept),
        )
        assert resp.status_code == 403
    resp = client.post(
        f"{API}/requests",
        json={
            "resource": "social_assistance",
            "fields": ["family_situation"],
            "purpose": "p",
            "legal_basis": "b",
            "period_days": 5,
        },
        headers=auth(hub, "hrss"),
    )
    assert resp.status_code == 422 and "not shared" in resp.json()["error"]["message"]


def test_granted_fields_only_then_expired_and_revoked_deny(hub: Hub, client: TestClient) -> None:
    url = f"{API}/resources/population_register/rows?purpose=test"
    assert client.get(url, headers=auth(hub, "edu")).status_code == 403
    grant(hub, ["name"], days_ago=31)  # expired yesterday
    assert client.get(url, headers=auth(hub, "edu")).status_code == 403
    live = grant(hub, ["name", "household_division"])
    resp = client.get(url, headers=auth(hub, "edu"))
    assert resp.status_code == 200
    assert all(set(r) == {"name", "household_division"} for r in resp.json()["rows"])
    mobile = client.get(
        url, params={"purpose": "test", "fields": "name,mobile"}, headers=auth(hub, "edu")
    )
    assert mobile.status_code == 403 and "mobile" in mobile.json()["error"]["message"]
    revoke = client.post(f"{API}/grants/{live.grant.id}/revoke", headers=auth(hub, "psb"))
    assert revoke.status_code == 200 and revoke.json()["status"] == "revoked"
    assert client.get(url, headers=auth(hub, "edu")).status_code == 403


def test_ids_of_other_departments_do_not_leak(hub: Hub, client: TestClient) -> None:
    req = client.post(
        f"{API}/requests",
        json={
            "resource": "population_register",
            "fields": ["name"],
            "purpose": "p",
            "legal_basis": "b",
            "period_days": 5,
        },
        headers=auth(hub, "edu"),
    ).json()
    for dept in ("civil", "edu"):  # neither the owner nor able to approve
        resp = client.post(f"{API}/requests/{req['id']}/approve", headers=auth(hub, dept))
        assert resp.status_code == 404
    assert client.get(f"{API}/requests/{req['id']}", headers=auth(hub, "hrss")).status_code == 404
    ok = client.post(f"{API}/requests/{req['id']}/approve", headers=auth(hub, "psb"))
    grant_id = ok.json()["grant"]["id"]
    assert (
        client.post(f"{API}/grants/{grant_id}/revoke", headers=auth(hub, "civil")).status_code
        == 404
    )
    assert client.get(f"{API}/grants", headers=auth(hub, "civil")).json() == []
    assert client.get(f"{API}/pushes/{grant_id}", headers=auth(hub, "civil")).status_code == 404
    pushed = client.post(
        f"{API}/resources/elderly_subsidies/pushes",
        files={"file": ("b.csv", b"id_number,month,amount\n")},
        headers=auth(hub, "edu"),
    )
    assert pushed.status_code == 403 and error_code(pushed) == "not-owner"


@pytest.mark.parametrize(
    "filter_value",
    [
        "id_number:' OR 1=1 --",
        "id_number:x'; DROP TABLE audit_log; --",
        "id_number:%",
        "id_number:*",
    ],
    ids=["or-true", "drop-table", "like-wildcard", "glob"],
)
def test_filter_injection_matches_nothing(hub: Hub, client: TestClient, filter_value: str) -> None:
    resp = client.get(
        f"{API}/resources/population_register/rows?purpose=test",
        params={"purpose": "test", "eq": filter_value},
        headers=auth(hub, "psb"),
    )
    assert resp.status_code == 200 and resp.json()["rows"] == []
    assert AuditLog(hub.store.engine).verify().ok


def test_filters_only_on_key_fields_and_typed(hub: Hub, client: TestClient) -> None:
    person = hub.people[1]
    url = f"{API}/resources/population_register/rows?purpose=test"
    hit = client.get(
        url,
        params={"purpose": "test", "eq": f"id_number:{person['id_number']}"},
        headers=auth(hub, "psb"),
    )
    assert [r["name"] for r in hit.json()["rows"]] == [person["name"]]
    assert (
        client.get(
            url, params={"purpose": "test", "eq": "name:张三"}, headers=auth(hub, "psb")
        ).status_code
        == 403
    )
    assert (
        client.get(
            url, params={"purpose": "test", "eq": "nocolon"}, headers=auth(hub, "psb")
        ).status_code
        == 422
    )
    ratings = f"{API}/resources/service_ratings/rows?purpose=test"
    assert (
        client.get(
            ratings, params={"purpose": "test", "limit": 10**5}, headers=auth(hub, "edu")
        ).status_code
        == 422
    )


def test_cursor_paging_and_arrow(hub: Hub, client: TestClient) -> None:
    url = f"{API}/resources/service_ratings/rows?purpose=test"
    rows, params = [], {"limit": 10, "purpose": "test"}
    while True:
        page = client.get(url, params=params, headers=auth(hub, "edu")).json()
        rows += page["rows"]
        if not page["next_cursor"]:
            break
        params = {"limit": 10, "cursor": page["next_cursor"], "purpose": "test"}
    assert len(rows) == 25 and len({r["rating_number"] for r in rows}) == 25
    arrow = client.get(
        url,
        params={"purpose": "test", "fields": "rating_number,score", "limit": 5},
        headers={**auth(hub, "edu"), "Accept": "application/vnd.apache.arrow.stream"},
    )
    table = pa.ipc.open_stream(arrow.content).read_all()
    assert table.column_names == ["rating_number", "score"] and table.num_rows == 5
    assert arrow.headers["x-next-cursor"]
    bad = client.get(
        url, params={"purpose": "test", "cursor": "!!notacursor"}, headers=auth(hub, "edu")
    )
    assert bad.status_code == 422


def test_verify_policy(hub: Hub, client: TestClient) -> None:
    person = hub.people[3]
    body = {
        "resource": "social_assistance",
        "key": {"id_number": person["id_number"]},
        "claims": {"family_situation": "secret"},
        "purpose": "test",
    }
    denied = client.post(f"{API}/verify", json=body, headers=auth(hub, "hrss"))
    assert denied.status_code == 403 and "family_situation" in denied.json()["error"]["message"]
    nobody = client.post(
        f"{API}/verify",
        json={
            "resource": "population_register",
            "key": {"id_number": "1"},
            "claims": {"name": "x"},
            "purpose": "test",
        },
        headers=auth(hub, "edu"),
    )
    assert nobody.status_code == 403  # no grant on population_register
    grant(hub, ["name", "id_number"])  # the key field needs entitlement too
    missing = client.post(
        f"{API}/verify",
        json={
            "resource": "population_register",
            "key": {"id_number": "1"},
            "claims": {"name": "x"},
            "purpose": "test",
        },
        headers=auth(hub, "edu"),
    ).json()
    assert missing["found"] is False and missing["matches"] == {"name": False}
    not_key = client.post(
        f"{API}/verify",
        json={
            "resource": "population_register",
            "key": {"name": "张三"},
            "claims": {"name": "x"},
            "purpose": "test",
        },
        headers=auth(hub, "edu"),
    )
    assert not_key.status_code in (403, 422)


def test_body_limit_413(hub_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESOURCE_EXCHANGE_MAX_BODY_BYTES", "2000")
    hub = make_hub()
    client = TestClient(hub.app)
    big = {"key": {"id_number": "1"}, "claims": {"name": "x" * 5000}, "purpose": "test"}
    resp = client.post(f"{API}/verify", json=big, headers=auth(hub, "edu"))
    assert resp.status_code == 413 and error_code(resp) == "payload-too-large"
    exchange_for(hub.app).flush_summaries()  # refused before authentication: in summary
    last = AuditLog(hub.store.engine).query(limit=1)[0]
    assert last["status_code"] == 413 and last["result"] == "auth-failures"


def test_rate_limit_429_with_retry_after(hub_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESOURCE_EXCHANGE_RATE_PER_SECOND", "0.5")
    monkeypatch.setenv("ONESOURCE_EXCHANGE_RATE_BURST", "3")
    hub = make_hub()
    client = TestClient(hub.app)
    codes = [client.get(f"{API}/me", headers=auth(hub, "edu")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = client.get(f"{API}/me", headers=auth(hub, "edu"))
    assert error_code(resp) == "rate-limited" and int(resp.headers["retry-after"]) >= 1
    assert client.get(f"{API}/me", headers=auth(hub, "psb")).status_code == 200


def test_unknown_paths_and_bad_json_use_the_error_body(hub: Hub, client: TestClient) -> None:
    assert error_code(client.get(f"{API}/nope", headers=auth(hub, "edu"))) == "not-found"
    bad = client.post(
        f"{API}/verify",
        content=b"{not json",
        headers={**auth(hub, "edu"), "Content-Type": "application/json"},
    )
    assert bad.status_code == 422 and error_code(bad) == "invalid-request"
