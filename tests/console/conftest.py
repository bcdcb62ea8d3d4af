"""The console's world: the exchange test hub (tests/exchange/fixtures.py) with people.

Built once per test module: a home copied from the session's migrated DB, curated data,
department keys, and console accounts in several departments and roles.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the shared helpers under tests/
from tests.exchange.fixtures import Hub, make_hub  # noqa: E402

PASSWORD = "correct horse battery"
# name -> (department, roles)
PEOPLE: dict[str, tuple[str | None, list[str]]] = {
    "edu.officer": ("edu", ["officer"]),
    "edu.approver": ("edu", ["approver"]),
    "psb.officer": ("psb", ["officer"]),
    "psb.approver": ("psb", ["approver"]),
    "civil.officer": ("civil", ["officer"]),
    "civil.approver": ("civil", ["approver"]),
    "steward": (None, ["steward"]),
}
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class World:
    hub: Hub
    home: Path

    @property
    def app(self) -> Any:
        return self.hub.app


@contextmanager
def console_home(
    home: Path,
    migrated_db: Path,
    people: dict[str, tuple[str | None, list[str]]],
    display_names: dict[str, str] | None = None,
    **env: str,
) -> Iterator[World]:
    """A hub in ``home`` (tests/exchange/fixtures.py make_hub) with console ``people``
    (name -> department, roles; password ``PASSWORD``), its settings in the environment
    while it lasts; cheap argon2 hashes (the full cost is 0.5 s a sign-in)."""
    from onesource.settings import get_settings
    from onesource.store import Store
    from onesource.web.console.accounts import AccountBook, _dummy_hash, _hasher
    from onesource.web.console.settings import get_console_settings
    from onesource.web.exchange.runtime import exchange_for

    caches = (get_settings, get_console_settings, _hasher, _dummy_hash)
    shutil.copyfile(migrated_db, home / "onesource.db")
    env = {
        "ONESOURCE_HOME": str(home),
        "ONESOURCE_CATALOG": str(REPO / "catalog"),
        "ONESOURCE_CONSOLE_PASSWORD_PROFILE": "CHEAPEST",
        **env,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    for cache in caches:
        cache.cache_clear()
    hub = None
    try:
        hub = make_hub()
        book = AccountBook(Store.open().engine)
        for name, (dept, roles) in people.items():
            label = (display_names or {}).get(name)
            book.add(name, roles, dept, password=PASSWORD, display_name=label)
        exchange_for(hub.app)  # app.state.onesource_exchange and .onesource_console exist
        TestClient(hub.app).get("/console/login")  # from the start, whatever test runs first
        yield World(hub, home)
    finally:
        ex = getattr(hub.app.state, "onesource_exchange", None) if hub else None
        if ex is not None:
            ex.audit.close()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for cache in caches:
            cache.cache_clear()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> Iterator[World]:
    home = tmp_path_factory.mktemp("console")
    limits = {"ONESOURCE_CONSOLE_LOGIN_BURST": "1000", "ONESOURCE_CONSOLE_ADDRESS_BURST": "1000"}
    with console_home(home, migrated_db, PEOPLE, **limits) as world:
        yield world


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(app: Any, name: str, password: str = PASSWORD) -> TestClient:
    """A browser-like client signed in as ``name``."""
    client = TestClient(app)
    page = client.get("/console/login")
    r = client.post(
        "/console/login",
        data={"csrf": csrf_of(page.text), "name": name, "password": password, "next": "/console"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def post(client: TestClient, url: str, data: dict[str, Any], page: str | None = None) -> Any:
    """POST a console form with the CSRF token of ``page`` (default: the console home)."""
    token = csrf_of(client.get(page or "/console").text)
    return client.post(url, data={"csrf": token, **data}, follow_redirects=False)


@pytest.fixture(scope="module")
def clients(world: World) -> dict[str, TestClient]:
    return {name: login(world.app, name) for name in PEOPLE}
