"""Eight departments' clerks push disjoint months at once over HTTP: every 201 keeps its rows."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from schemas.identifiers import id_check_char
from tests.exchange.fixtures import Hub, serve

PUSHES = 8


def month_csv(month: int) -> bytes:
    rows = []
    for i in range(12):
        body = f"33990219500101{i:03d}"
        rows.append(f"{body + id_check_char(body)},钱{i},2026-{month:02d},{100 + i}")
    return ("id_number,name,month,amount\n" + "\n".join(rows) + "\n").encode()


@pytest.mark.slow
def test_concurrent_http_pushes_lose_nothing(hub: Hub) -> None:
    statuses: list[tuple[int, str]] = []
    barrier = threading.Barrier(PUSHES)
    with serve(hub.app) as url:

        def push(month: int) -> None:
            barrier.wait(timeout=30)
            resp = httpx.post(
                f"{url}/api/exchange/resources/elderly_subsidies/pushes",
                files={"file": (f"m{month}.csv", month_csv(month))},
                headers={"Authorization": f"Bearer {hub.keys['civil']}"},
                timeout=120,
            )
            statuses.append((resp.status_code, resp.json().get("status", resp.text)))

        threads = [threading.Thread(target=push, args=(m,)) for m in range(1, PUSHES + 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    assert statuses == [(201, "succeeded")] * PUSHES
    months = hub.store.read("resource", "elderly_subsidies")["month"].to_pylist()
    assert sorted(set(months)) == [f"2026-{m:02d}" for m in range(1, PUSHES + 1)]
    assert len(months) == 12 * PUSHES
