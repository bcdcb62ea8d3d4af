"""Unauthenticated garbage is counted per client address, not logged call by call."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import sqlalchemy as sa
from starlette.testclient import TestClient

from onesource.exchange.audit import AuditLog
from onesource.web.exchange.runtime import exchange_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub
from tests.web.test_exchange_api import auth

API = "/api/exchange"


def _count(hub: Hub) -> int:
    with hub.store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one())


def test_random_key_flood_does_not_grow_the_log(hub: Hub, client: TestClient) -> None:
    assert client.get(f"{API}/me", headers=auth(hub, "edu")).status_code == 200
    before = _count(hub)
    statuses = set()
    for _ in range(400):
        key = f"os_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"
        resp = client.get(f"{API}/resources", headers={"Authorization": f"Bearer {key}"})
        statuses.add(resp.status_code)
    assert statuses <= {401, 429} and 429 in statuses  # the address is throttled
    assert _count(hub) - before <= 2, "unauthenticated calls must be summarized per address"
    # a department calling from the same address is still served, and audited one by one
    assert client.get(f"{API}/me", headers=auth(hub, "edu")).status_code == 200
    exchange_for(hub.app).flush_summaries()
    rows = AuditLog(hub.store.engine).query(limit=10)
    summary = [r for r in rows if r["result"] == "auth-failures"]
    assert len(summary) == 1 and summary[0]["row_count"] == 400
    assert "testclient" in summary[0]["purpose"]
    assert [r for r in rows if r["department"] == "edu"]
    assert AuditLog(hub.store.engine).verify().ok


def test_throttled_garbage_never_reaches_the_key_table(hub: Hub, client: TestClient) -> None:
    for _ in range(100):
        client.get(f"{API}/resources", headers={"X-API-Key": f"os_{secrets.token_hex(4)}_x"})
    lookups: list[str] = []

    def listener(*args: object) -> None:
        lookups.append(str(args[2]))

    sa.event.listen(hub.store.engine, "before_cursor_execute", listener)
    try:
        resp = client.get(f"{API}/resources", headers={"X-API-Key": f"os_{secrets.token_hex(4)}_x"})
    finally:
        sa.event.remove(hub.store.engine, "before_cursor_execute", listener)
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    assert not [s for s in lookups if "department_keys" in s]
