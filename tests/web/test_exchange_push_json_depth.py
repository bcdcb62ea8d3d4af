"""Pushed files that once lost or corrupted data silently (issue 13, attack-a).

Deeply nested JSON and JSON lines answer 422 naming the file and line, never a 500.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub

PUSH = "/api/exchange/resources/elderly_subsidies/pushes"


def push(client: TestClient, hub: Hub, body: bytes, name: str) -> Any:
    headers = {"Authorization": f"Bearer {hub.keys['civil']}"}
    return client.post(PUSH, files={"file": (name, body)}, headers=headers)


def test_deeply_nested_json_is_a_422(hub: Hub, client: TestClient) -> None:
    files = [
        ("deep.json", b"[" * 200_000 + b"]" * 200_000),
        ("deep.jsonl", b'{"id_number":' + b"[" * 200_000 + b"]" * 200_000 + b"}\n"),
        (
            "deep2.json",
            b'[{"id_number":"x","name":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}]",
        ),
    ]
    for name, data in files:
        resp = push(client, hub, data, name=name)
        assert resp.status_code == 422, (name, resp.text[:300])
        message = resp.json()["error"]["message"]
        assert name in message and "nest" in message, message
