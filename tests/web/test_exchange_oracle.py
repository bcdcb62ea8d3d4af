"""Verification is a read of a field's truth: no grant, no answer; no guessing games."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from onesource.exchange.audit import AuditLog
from onesource.exchange.grants import GrantBook
from onesource.web.exchange.runtime import exchange_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub, commit
from tests.web.test_exchange_api import auth, error_code

API = "/api/exchange"
CODES = ["10", "20", "30", "40", "60", "90"]  # GB/T 4658 top levels, as in the code list


@pytest.fixture
def graduates(hub: Hub) -> dict[str, Any]:
    person = hub.people[0]
    row = {"id_number": person["id_number"], "education_level": "40", "graduated_on": None}
    row["graduated_on"] = dt.date(2012, 7, 1)
    commit(hub.store, hub.catalog, "graduates", [row])
    return row


def _claim(row: dict[str, Any], level: str) -> dict[str, Any]:
    return {
        "resource": "graduates",
        "key": {"id_number": row["id_number"]},
        "claims": {"education_level": level},
        "purpose": "就业补贴审核",
    }


def _grant(hub: Hub, dept: str, fields: list[str]) -> None:
    book: GrantBook = exchange_for(hub.app).grants
    req = book.request(hub.catalog, dept, "graduates", fields, "就业补贴审核", "条例", 30)
    book.decide("edu", req.id, True)


def test_no_grant_no_verification(hub: Hub, client: TestClient, graduates: dict[str, Any]) -> None:
    """hrss holds no grant on graduates: trying every code must not reveal the level."""
    answers = [
        client.post(f"{API}/verify", json=_claim(graduates, c), headers=auth(hub, "hrss"))
        for c in CODES
    ]
    assert {r.status_code for r in answers} == {403}
    assert all(error_code(r) == "access-denied" for r in answers)


def test_a_verify_grant_verifies_but_never_reads(
    hub: Hub, client: TestClient, graduates: dict[str, Any]
) -> None:
    _grant(hub, "hrss", ["education_level", "id_number"])
    ok = client.post(f"{API}/verify", json=_claim(graduates, "40"), headers=auth(hub, "hrss"))
    assert ok.status_code == 200 and ok.json()["all_match"] is True
    rows = client.get(
        f"{API}/resources/graduates/rows",
        params={"fields": "education_level", "purpose": "就业补贴审核"},
        headers=auth(hub, "hrss"),
    )
    assert rows.status_code == 403  # share_method verify: verification only, never rows


def test_guessing_one_subject_is_limited_and_alerted(
    hub: Hub, client: TestClient, graduates: dict[str, Any]
) -> None:
    """Even with a grant, a department cannot walk the code list for one person."""
    _grant(hub, "hrss", ["education_level", "id_number"])
    answers = [
        client.post(f"{API}/verify", json=_claim(graduates, c), headers=auth(hub, "hrss"))
        for c in CODES
    ]
    statuses = [r.status_code for r in answers]
    limit = exchange_for(hub.app).settings.verify_distinct_claims
    assert statuses[:limit] == [200] * limit
    assert set(statuses[limit:]) == {429}
    assert error_code(answers[-1]) == "verify-limit"
    # repeating a value already claimed is not a new guess
    again = client.post(f"{API}/verify", json=_claim(graduates, "10"), headers=auth(hub, "hrss"))
    assert again.status_code == 200
    alerts = [
        e for e in AuditLog(hub.store.engine).query(limit=50) if e["result"] == "verify-limit"
    ]
    assert len(alerts) == len(CODES) - limit
    assert alerts[0]["department"] == "hrss" and alerts[0]["fields"] == ["education_level"]


@pytest.mark.parametrize("purpose", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_purpose_is_required_for_verification(
    hub: Hub, client: TestClient, graduates: dict[str, Any], purpose: str | None
) -> None:
    body = _claim(graduates, "40")
    if purpose is None:
        del body["purpose"]
    else:
        body["purpose"] = purpose
    resp = client.post(f"{API}/verify", json=body, headers=auth(hub, "edu"))
    assert resp.status_code == 422 and error_code(resp) == "invalid-request"
    assert "purpose" in resp.json()["error"]["message"]


@pytest.mark.parametrize("purpose", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_purpose_is_required_for_reads(hub: Hub, client: TestClient, purpose: str | None) -> None:
    params = {} if purpose is None else {"purpose": purpose}
    resp = client.get(
        f"{API}/resources/service_ratings/rows", params=params, headers=auth(hub, "edu")
    )
    assert resp.status_code == 422 and error_code(resp) == "invalid-request"
    assert "purpose" in resp.json()["error"]["message"]
    ok = client.get(
        f"{API}/resources/service_ratings/rows",
        params={"purpose": "满意度分析"},
        headers=auth(hub, "edu"),
    )
    assert ok.status_code == 200
    assert AuditLog(hub.store.engine).query(limit=1)[0]["purpose"] == "满意度分析"
