"""``POST /api/exchange/verify`` on its fast path: same answers, errors, audit and docs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from onesource.exchange.audit import AuditLog
from onesource.web.exchange.models import VerifyOut
from onesource.web.exchange.runtime import exchange_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub, make_hub
from tests.web.test_exchange_api import auth, error_code, grant

URL = "/api/exchange/verify"


def body(hub: Hub, i: int = 0, **claims: str) -> dict[str, Any]:
    person = hub.people[i]
    return {
        "resource": "population_register",
        "key": {"id_number": person["id_number"]},
        "claims": claims or {"name": person["name"], "household_division": "339901"},
        "purpose": "入学审核",
    }


def last_entry(hub: Hub) -> dict[str, Any]:
    return AuditLog(hub.store.engine).query(limit=1)[0]


def test_answer_has_the_documented_shape_and_is_audited(hub: Hub, client: TestClient) -> None:
    grant(hub, ["name", "household_division", "id_number"])
    resp = client.post(URL, json=body(hub), headers=auth(hub, "edu"))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    out = VerifyOut.model_validate_json(resp.content)
    assert out.all_match and out.found and out.matches == {"name": True, "household_division": True}
    assert [s.resource for s in out.sources] == ["population_register"]
    entry = last_entry(hub)
    assert entry["endpoint"] == URL and entry["method"] == "POST"
    assert entry["department"] == "edu" and entry["status_code"] == 200
    assert entry["result"] == "match" and entry["row_count"] == 0
    assert entry["fields"] == ["name", "household_division"]
    assert entry["purpose"] == "入学审核" and entry["resource"] == "population_register"

    wrong = client.post(URL, json=body(hub, name="nobody"), headers=auth(hub, "edu"))
    assert wrong.json()["matches"] == {"name": False} and last_entry(hub)["result"] == "mismatch"
    missing = body(hub)
    missing["key"] = {"id_number": "1"}
    gone = client.post(URL, json=missing, headers={"X-API-Key": hub.keys["edu"]})
    assert gone.json()["found"] is False and last_entry(hub)["result"] == "no-record"
    assert AuditLog(hub.store.engine).verify().ok


def test_elements_without_resource(hub: Hub, client: TestClient) -> None:
    person = hub.people[1]
    resp = client.post(
        URL,
        json={
            "key": {"person.id_number": person["id_number"]},
            "claims": {"person.name": person["name"]},
            "purpose": "p",
        },
        headers=auth(hub, "psb"),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["matches"] == {"person.name": True}
    assert last_entry(hub)["resource"] == "population_register"


@pytest.mark.parametrize(
    "headers,content,status,code,audit_result",
    [
        (
            {},
            b'{"key": {"id_number": "1"}, "claims": {"name": "x"}, "purpose": "p"}',
            401,
            "auth-required",
            None,
        ),
        (
            {"Authorization": "Bearer os_deadbeef_nope"},
            b'{"key": {"id_number": "1"}, "claims": {"name": "x"}, "purpose": "p"}',
            401,
            "auth-invalid",
            None,
        ),
        ({"Authorization": "Basic abc"}, b"{}", 401, "auth-required", None),
        ("edu", b"{not json", 422, "invalid-request", "invalid"),
        ("edu", b"", 422, "invalid-request", "invalid"),
        ("edu", b"[1, 2]", 422, "invalid-request", "invalid"),
        ("edu", b'{"key": {"id_number": "1"}}', 422, "invalid-request", "invalid"),
        (
            "edu",
            b'{"key": {"id_number": "1"}, "claims": {"name": "x"}, "extra": 1}',
            422,
            "invalid-request",
            "invalid",
        ),
        (
            "edu",
            b'{"key": {"id_number": 1}, "claims": {"name": "x"}, "purpose": "p"}',
            422,
            "invalid-request",
            "invalid",
        ),
        (
            "edu",
            b'{"key": {}, "claims": {"name": "x"}, "purpose": "p"}',
            422,
            "invalid-request",
            "invalid",
        ),
        (
            "edu",
            b'{"key": {"id_number": ""}, "claims": {"name": "x"}, "purpose": "p"}',
            422,
            "invalid-request",
            "invalid",
        ),
        (
            "edu",
            b'{"key": {"id_number": "1\\u0000"}, "claims": {"name": "x"}, "purpose": "p"}',
            422,
            "invalid-request",
            "invalid",
        ),
        (
            "edu",
            b'{"resource": "nope", "key": {"id_number": "1"}, "claims": {"name": "x"}, "purpose": "p"}',
            404,
            "not-found",
            "not-found",
        ),
        (
            "hrss",
            b'{"resource": "social_assistance", "key": {"id_number": "1"},'
            b' "claims": {"family_situation": "x"}, "purpose": "p"}',
            403,
            "access-denied",
            "denied",
        ),
    ],
    ids=[
        "no-key",
        "unknown-key",
        "basic-scheme",
        "bad-json",
        "empty",
        "not-an-object",
        "no-claims",
        "extra-field",
        "non-string-value",
        "empty-key",
        "blank-key-value",
        "control-char-key-value",
        "unknown-resource",
        "none-field",
    ],
)
def test_refusals_are_clear_4xx_and_audited(
    hub: Hub,
    client: TestClient,
    headers: dict[str, str] | str,
    content: bytes,
    status: int,
    code: str,
    audit_result: str | None,
) -> None:
    sent = auth(hub, headers) if isinstance(headers, str) else headers
    resp = client.post(URL, content=content, headers={**sent, "Content-Type": "application/json"})
    assert resp.status_code == status, resp.text
    assert error_code(resp) == code
    if status == 401:
        assert resp.headers["www-authenticate"] == "Bearer"
        # no department to hold to account: counted per address, audited in summary
        assert exchange_for(hub.app).flush_summaries() == 1
        entry = last_entry(hub)
        assert entry["result"] == "auth-failures" and entry["fields"] == [URL]
        assert entry["status_code"] == 401 and entry["row_count"] == 1
        return
    entry = last_entry(hub)
    assert entry["endpoint"] == URL and entry["status_code"] == status
    assert entry["result"] == (audit_result or "unauthenticated")


def test_validation_messages_name_the_field(hub: Hub, client: TestClient) -> None:
    resp = client.post(
        URL,
        json={"key": {"id_number": "1"}, "claims": {"name": "x"}, "extra": 1},
        headers=auth(hub, "edu"),
    )
    assert "extra" in resp.json()["error"]["message"]
    text = client.post(
        URL,
        content=b'{"key": {"id_number": "1"}, "claims": {"name": "x"}, "purpose": "p"}',
        headers={**auth(hub, "edu"), "Content-Type": "text/plain"},
    )
    assert text.status_code == 422 and "application/json" in text.json()["error"]["message"]
    ok = client.post(
        URL,
        content=json.dumps(body(hub)).encode(),
        headers={**auth(hub, "psb"), "Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200


def test_streamed_body_over_the_limit_is_413(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONESOURCE_EXCHANGE_MAX_BODY_BYTES", "2000")
    hub = make_hub()
    client = TestClient(hub.app)

    def chunks() -> Any:  # no Content-Length: the limit applies while reading
        yield b'{"key": {"id_number": "1"}, "claims": {"name": "'
        yield b"x" * 5000
        yield b'"}}'

    resp = client.post(
        URL, content=chunks(), headers={**auth(hub, "psb"), "Content-Type": "application/json"}
    )
    assert resp.status_code == 413 and error_code(resp) == "payload-too-large"
    assert last_entry(hub)["status_code"] == 413


def test_rate_limit_applies(hub_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # one token back every 1,000 s: a slow machine cannot refill the bucket mid-test
    monkeypatch.setenv("ONESOURCE_EXCHANGE_RATE_PER_SECOND", "0.001")
    monkeypatch.setenv("ONESOURCE_EXCHANGE_RATE_BURST", "2")
    hub = make_hub()
    client = TestClient(hub.app)
    codes = [
        client.post(URL, json=body(hub), headers=auth(hub, "psb")).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    resp = client.post(URL, json=body(hub), headers=auth(hub, "psb"))
    assert error_code(resp) == "rate-limited" and int(resp.headers["retry-after"]) >= 1
    assert last_entry(hub)["result"] == "rate-limited"


def test_other_methods_and_a_root_path(hub: Hub) -> None:
    client = TestClient(hub.app)
    assert error_code(client.get(URL, headers=auth(hub, "psb"))) == "not-found"
    mounted = TestClient(hub.app, root_path="/hub")
    resp = mounted.post("/hub" + URL, json=body(hub), headers=auth(hub, "psb"))
    assert resp.status_code == 200 and resp.json()["all_match"] is True
    entry = last_entry(hub)  # audited under the mount point too, with the route's path
    assert entry["endpoint"] == URL and entry["result"] == "match"


def test_route_answers_the_same_without_the_middleware(hub: Hub) -> None:
    """The declared route (reached when the middleware does not take the call) works too."""
    from fastapi import FastAPI

    from onesource.web.exchange import verify

    app = FastAPI()
    app.include_router(verify.router)
    client = TestClient(app)
    resp = client.post(URL, json=body(hub), headers=auth(hub, "psb"))
    assert resp.status_code == 200 and resp.json()["all_match"] is True
    bad = client.post(
        URL, content=b"{", headers={**auth(hub, "psb"), "Content-Type": "application/json"}
    )
    assert bad.status_code == 422 and error_code(bad) == "invalid-request"


def test_openapi_describes_body_responses_and_security(hub: Hub) -> None:
    spec = TestClient(hub.app).get("/openapi.json").json()
    op = spec["paths"][URL]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert op["requestBody"]["required"] is True
    assert set(schema["properties"]) == {"resource", "key", "claims", "purpose"}
    assert (
        schema["required"] == ["key", "claims", "purpose"]
        and schema["additionalProperties"] is False
    )
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/VerifyOut"}
    assert {"401", "403", "404", "413", "422", "429"} <= set(op["responses"])
    assert op["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])


def test_no_answer_without_an_audit_entry(
    hub: Hub, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.web.exchange.runtime import exchange_for

    log = exchange_for(hub.app).audit

    def broken(*args: object) -> list[int]:
        raise OSError("disk full")

    monkeypatch.setattr(log, "append_many", broken)
    monkeypatch.setattr(log, "_append_sqlite", broken)
    resp = client.post(URL, json=body(hub), headers=auth(hub, "psb"))
    assert resp.status_code == 503 and error_code(resp) == "audit-unavailable"
    assert "all_match" not in resp.text
    monkeypatch.undo()
    assert client.post(URL, json=body(hub), headers=auth(hub, "psb")).status_code == 200
    assert AuditLog(hub.store.engine).verify().ok
