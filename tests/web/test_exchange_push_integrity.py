"""Pushed files that once lost or corrupted data silently (issue 13, attack-a).

Rows that do not decode, UTF-8 runs inside GBK lines and deeply
nested JSON: each is refused or counted, never committed as a quiet success.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from schemas.identifiers import id_check_char
from tests.exchange.fixtures import Hub

PUSH = "/api/exchange/resources/elderly_subsidies/pushes"
HEADER = b"id_number,name,month,amount"


def person_id(i: int) -> str:
    body = f"3399021940{(i // 1000) % 12 + 1:02d}{(i // 12000) % 28 + 1:02d}{i % 1000:03d}"
    return body + id_check_char(body)


def push(client: TestClient, hub: Hub, body: bytes, name: str = "b.csv") -> Any:
    headers = {"Authorization": f"Bearer {hub.keys['civil']}"}
    return client.post(PUSH, files={"file": (name, body)}, headers=headers)


def current(hub: Hub) -> list[dict[str, Any]]:
    if hub.store.current("resource", "elderly_subsidies") is None:
        return []
    return hub.store.read("resource", "elderly_subsidies").to_pylist()


def test_undecodable_rows_count_against_the_rejection_threshold(
    hub: Hub, client: TestClient
) -> None:
    lines = [HEADER]
    for i in range(18):
        enc = "gbk" if i % 9 >= 5 else "utf-8"
        lines.append(f"{person_id(i)},张{i}三,2024-05,{100 + i}".encode(enc))
    resp = push(client, hub, b"\n".join(lines) + b"\n")
    body = resp.json()
    assert body["status"] == "rejected", body
    quality = body["quality"]
    assert quality["failure_share"] > quality["rejection_threshold"]
    assert body["rows_read"] == 18 and quality["rows_unparsable"] == 8
    assert current(hub) == []


def test_utf8_run_inside_a_gbk_line_is_refused(hub: Hub, client: TestClient) -> None:
    names = ["沈敏", "王芳", "李强"]
    lines = [HEADER]
    for i, name in enumerate(names):
        lines.append(
            person_id(i).encode()
            + b","
            + name.encode("utf-8")
            + "（女）".encode("gbk")
            + b",2024-05,300"
        )
    body = push(client, hub, b"\n".join(lines) + b"\n").json()
    assert body["rows_good"] == 0, body
    assert not any("娌" in r["name"] for r in current(hub))
    reasons = [(u["line"], u["reason"]) for u in body["quality"]["unparsable"]]
    assert [line for line, _ in reasons] == [2, 3, 4]
    assert all("mixed encodings" in reason for _, reason in reasons)
