"""Pushed files that once lost or corrupted data silently (issue 13, attack-a).

Lines end at CRLF, LF or a lone CR in both CSV readers; a broken record is a 422
naming the file and line, never an empty version committed as a success.
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


def cr_only(rows: int, bad: int | None, lf_header: bool) -> bytes:
    lines = [HEADER]
    for i in range(rows):
        if i == bad:
            lines.append(b"oops,this,row,has,too,many,columns")
        else:
            lines.append(f"{person_id(i)},张{i},2024-05,{100 + i % 500}".encode())
    if lf_header:
        return lines[0] + b"\r\n" + b"\r".join(lines[1:]) + b"\r"
    return b"\r".join(lines) + b"\r"


def test_cr_only_file_with_one_bad_row_keeps_every_good_row(hub: Hub, client: TestClient) -> None:
    # 4.4 MB, larger than one line limit: the exact reader used to see one long line
    resp = push(client, hub, cr_only(110_000, 11_000, lf_header=True))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] == "succeeded", body
    assert body["rows_read"] == 110_000 and body["rows_good"] == 109_999, body
    assert len(current(hub)) == 109_999
    bad = body["quality"]["unparsable"]
    assert [(u["line"], u["reason"]) for u in bad] == [(11_002, "7 columns, the header has 4")]


def test_small_cr_only_file_with_a_bad_row(hub: Hub, client: TestClient) -> None:
    resp = push(client, hub, cr_only(400, 40, lf_header=True))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["rows_good"] == 399 and body["rows_read"] == 400, body
    assert [u["line"] for u in body["quality"]["unparsable"]] == [42]


def test_cr_only_header_is_read(hub: Hub, client: TestClient) -> None:
    for bad in (None, 5):
        resp = push(client, hub, cr_only(50, bad, lf_header=False), name=f"cr{bad}.csv")
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["rows_good"] == (50 if bad is None else 49), body
    assert len(current(hub)) == 50


def test_crlf_and_cr_mixed_in_one_file(hub: Hub, client: TestClient) -> None:
    rows = [f"{person_id(i)},张{i},2024-05,{100 + i}".encode() for i in range(30)]
    data = HEADER + b"\r\n" + rows[0] + b"\r" + rows[1] + b"\n" + rows[2] + b"\r\n"
    data += b"x,y\r" + b"\r\n".join(rows[3:]) + b"\r\n"
    body = push(client, hub, data).json()
    assert body["rows_good"] == 30 and body["rows_read"] == 31, body
    assert [u["line"] for u in body["quality"]["unparsable"]] == [5]
