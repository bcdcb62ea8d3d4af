"""Issue 13 (second round): /verify cannot bloat the audit log, exhaust the claim watch's
memory, reset the per-record claim limit, or turn a lookup key into an oracle."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from onesource.exchange.audit import AuditLog, AuditRecord
from onesource.web.exchange.runtime import exchange_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub
from tests.web.test_exchange_api import auth, error_code, grant

URL = "/api/exchange/verify"


def _entries(hub: Hub) -> list[dict[str, Any]]:
    return AuditLog(hub.store.engine).query(limit=1000)


def test_huge_claim_names_are_refused_naming_the_limit(hub: Hub, client: TestClient) -> None:
    """The attack: 64 claim names of 14,000 characters wrote ~0.9 MB into one audit entry."""
    claims = {f"f{j}_" + "Z" * 14_000: "x" for j in range(64)}
    body = {
        "resource": "service_ratings",
        "key": {"rating_number": "R0001"},
        "claims": claims,
        "purpose": "p",
    }
    resp = client.post(URL, json=body, headers=auth(hub, "hrss"))
    assert resp.status_code == 422 and error_code(resp) == "invalid-request"
    assert "200" in resp.json()["error"]["message"]
    assert len(resp.content) < 20_000  # the error does not echo the names either
    for entry in _entries(hub):
        assert len(json.dumps(entry["fields"] or [])) < 20_000


def test_long_key_and_claim_values_are_refused(hub: Hub, client: TestClient) -> None:
    person = hub.people[0]
    for key, claims in [
        ({"id_number": "1" * 201}, {"name": "x"}),
        ({"id_number": person["id_number"]}, {"name": "x" * 2001}),
        ({"id_number": person["id_number"]}, {"name": ""}),
        ({"": person["id_number"]}, {"name": "x"}),
    ]:
        body = {"resource": "population_register", "key": key, "claims": claims, "purpose": "p"}
        resp = client.post(URL, json=body, headers=auth(hub, "edu"))
        assert resp.status_code == 422, (key, claims)
        assert error_code(resp) == "invalid-request"


def test_refused_verify_with_many_unknown_names_stays_small(hub: Hub, client: TestClient) -> None:
    """Names within the limit but unknown: refused, and the audit entry stays bounded."""
    claims = {f"n{j}_" + "Z" * 190: "x" for j in range(64)}
    body = {"resource": "service_ratings", "key": {"rating_number": "R1"}, "claims": claims}
    body["purpose"] = "p"
    resp = client.post(URL, json=body, headers=auth(hub, "hrss"))
    assert resp.status_code == 422
    entry = next(e for e in _entries(hub) if e["endpoint"] == URL)
    assert entry["fields"] is not None and len(json.dumps(entry["fields"])) < 64 * 220


def test_audit_entry_caps_fields_with_a_marker(hub: Hub) -> None:
    log = AuditLog(hub.store.engine)
    log.append(
        AuditRecord(
            "edu",
            "/x",
            "POST",
            "refused",
            422,
            fields=["A" * 50_000] + [f"f{i}" for i in range(500)],
            purpose="P" * 100_000,
        )
    )
    entry = log.query(limit=1)[0]
    assert len(entry["fields"]) == 65
    assert entry["fields"][0].endswith("…") and len(entry["fields"][0]) <= 200
    assert entry["fields"][-1] == "…(+437 more)"
    assert len(entry["purpose"]) <= 2000 and entry["purpose"].endswith("…")
    assert log.verify().ok


def test_claims_about_missing_records_are_not_kept(hub: Hub, client: TestClient) -> None:
    """A key that names no record costs the claim watch nothing (it held ~1.2 MB per call)."""
    grant(hub, ["name", "id_number"])
    watch = exchange_for(hub.app).claims
    for i in range(50):
        body = {
            "resource": "population_register",
            "key": {"id_number": f"X{i:017d}"},
            "claims": {"name": "y" * 2000},
            "purpose": "p",
        }
        resp = client.post(URL, json=body, headers=auth(hub, "edu"))
        assert resp.status_code == 200 and resp.json()["found"] is False
    assert len(watch) == 0


def test_lookup_key_needs_entitlement(hub: Hub, client: TestClient) -> None:
    """A grant on name only: id_number may not serve as the key (else it is recovered by
    enumerating keys against a known name)."""
    grant(hub, ["name"])
    person = hub.people[0]
    body = {
        "resource": "population_register",
        "key": {"id_number": person["id_number"]},
        "claims": {"name": person["name"]},
        "purpose": "入学审核",
    }
    resp = client.post(URL, json=body, headers=auth(hub, "edu"))
    assert resp.status_code == 403 and error_code(resp) == "access-denied"
    assert "id_number" in resp.json()["error"]["message"]
    rows = client.get(
        "/api/exchange/resources/population_register/rows",
        params={"fields": "name", "eq": f"id_number:{person['id_number']}", "purpose": "p"},
        headers=auth(hub, "edu"),
    )
    assert rows.status_code == 403
    # with the key field granted too, the same call is answered
    grant(hub, ["name", "id_number"])
    ok = client.post(URL, json=body, headers=auth(hub, "edu"))
    assert ok.status_code == 200 and ok.json()["all_match"] is True
