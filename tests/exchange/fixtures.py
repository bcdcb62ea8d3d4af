"""Helpers for exchange tests: a hub with curated data, department keys and an app."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from onesource.store import Store
from schemas.identifiers import id_check_char

PEOPLE = [
    ("张三", "1", dt.date(1990, 1, 1), "339901"),
    ("李四", "2", dt.date(1985, 5, 20), "339902"),
    ("王五", "1", dt.date(2012, 9, 1), "339901"),
    ("赵六", "2", dt.date(1950, 3, 3), "339903"),
]


def id_number(division: str, born: dt.date, seq: int) -> str:
    first17 = f"{division}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def people() -> list[dict[str, Any]]:
    out = []
    for i, (name, sex, born, div) in enumerate(PEOPLE):
        out.append(
            {
                "id_number": id_number(div, born, 10 + 2 * i + (sex == "1")),
                "name": name,
                "sex": sex,
                "birth_date": born,
                "household_division": div,
                "address": f"清河市某路{i + 1}号",
                "mobile": f"1390000000{i}",
                "household_number": f"H{i:05d}",
                "updated_at": dt.datetime(2024, 1, 1, 8, 0),
            }
        )
    return out


def commit(store: Store, catalog: Any, resource: str, rows: list[dict[str, Any]]) -> int:
    """Write ``rows`` as the next curated version of ``resource``."""
    from schemas.arrow import resource_schema

    schema = resource_schema(catalog, catalog.resources[resource])
    table = pa.Table.from_pylist(rows, schema=schema)
    with (
        store.begin_run("ingest", resource) as run,
        store.open_writer("resource", resource, run.id, schema) as writer,
    ):
        writer.write(table)
        info = writer.commit()
    return int(info.number)


@dataclass
class Hub:
    app: Any
    store: Store
    catalog: Any
    keys: dict[str, str]
    people: list[dict[str, Any]]


def make_hub(**env: str) -> Hub:
    """A hub on the current ``hub_home``: population, assistance and ratings data; keys."""
    from onesource.exchange.keys import KeyRing
    from onesource.web.app import create_app
    from onesource.web.deps import get_catalog, reset_caches

    reset_caches()
    from onesource.exchange.config import get_exchange_settings

    get_exchange_settings.cache_clear()
    store = Store.open()
    catalog = get_catalog()
    pop = people()
    commit(store, catalog, "population_register", pop)
    commit(
        store,
        catalog,
        "social_assistance",
        [
            {
                "id_number": pop[3]["id_number"],
                "name": pop[3]["name"],
                "assistance_type": "dibao",
                "monthly_amount": Decimal("800.00"),
                "household_division": "339903",
                "family_situation": "secret",
            }
        ],
    )
    commit(
        store,
        catalog,
        "service_ratings",
        [
            {
                "rating_number": f"R{i:04d}",
                "service_item": "入学登记",
                "channel": "app",
                "score": i % 5 + 1,
                "rated_at": dt.datetime(2024, 2, 1, 9, i),
                "division": "339901",
            }
            for i in range(25)
        ],
    )
    ring = KeyRing(store.engine)
    keys = {d: ring.issue(d).key for d in ("psb", "edu", "civil", "dsj", "hrss")}
    return Hub(create_app(), store, catalog, keys, pop)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
