"""Pushed files past the documented limits answer 413/422 naming the limit, in milliseconds
for malformed headers (no row is parsed), and the hub stays answerable meanwhile."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from schemas.identifiers import id_check_char
from tests.exchange.fixtures import Hub

API = "/api/exchange"
PUSH = f"{API}/resources/elderly_subsidies/pushes"


def auth(hub: Hub) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.keys['civil']}"}


def person_id(i: int) -> str:
    body = f"33990219500101{i:03d}"
    return body + id_check_char(body)


def push(client: TestClient, hub: Hub, body: bytes, name: str = "b.csv") -> Any:
    return client.post(PUSH, files={"file": (name, body)}, headers=auth(hub))


def error(resp: Any) -> dict[str, str]:
    body = resp.json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_repeated_headers_answer_422_naming_them(hub: Hub, client: TestClient) -> None:
    # 8 kB, 2,000 identical names: 10 s of server CPU before; now refused from the header alone
    resp = push(client, hub, (",".join(["name"] * 2000) + "\n").encode())
    assert resp.status_code == 422, resp.text
    err = error(resp)
    assert err["code"] == "invalid-request"
    assert "2,000 columns" in err["message"]
    assert "ONESOURCE_EXCHANGE_MAX_PUSH_COLUMNS=500" in err["message"]


def test_repeated_header_within_the_column_limit(hub: Hub, client: TestClient) -> None:
    resp = push(client, hub, b"id_number,name,month,amount,name\n")
    assert (
        resp.status_code == 422
        and "repeated header names: 'name' in columns 2, 5" in error(resp)["message"]
    )


def test_too_many_columns_answer_422_naming_the_limit(hub: Hub, client: TestClient) -> None:
    header = ",".join(f"c{i}" for i in range(501))
    resp = push(client, hub, (header + "\n").encode())
    assert resp.status_code == 422 and "limit of 500" in error(resp)["message"]


def test_too_many_rows_answer_413_naming_the_limit(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.exchange.fixtures import make_hub

    monkeypatch.setenv("ONESOURCE_EXCHANGE_MAX_PUSH_ROWS", "5")
    hub = make_hub()
    client = TestClient(hub.app)
    rows = "".join(f"{person_id(i)},张{i},2026-01,100\n" for i in range(6))
    resp = push(client, hub, ("id_number,name,month,amount\n" + rows).encode())
    assert resp.status_code == 413, resp.text
    assert error(resp)["code"] == "payload-too-large"
    assert "ONESOURCE_EXCHANGE_MAX_PUSH_ROWS=5" in error(resp)["message"]
    assert hub.store.current("resource", "elderly_subsidies") is None
