"""Shared fixtures: temporary hub homes and the local database services.

A test that needs PostgreSQL, MariaDB or Redis asks for ``postgres_url``,
``mariadb_url`` or ``redis_url``.  When the service is absent the test skips
with the reason, unless ``ONESOURCE_REQUIRE_SERVICES=1`` (CI), where it fails.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

REPO = Path(__file__).resolve().parents[1]
REQUIRE_SERVICES = os.environ.get("ONESOURCE_REQUIRE_SERVICES") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    """Skip (or fail under ONESOURCE_REQUIRE_SERVICES=1) when a service is down."""
    if _reachable(host, port):
        return
    reason = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} and ONESOURCE_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    return os.environ.get(
        "ONESOURCE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


@pytest.fixture(scope="session")
def mariadb_url() -> str:
    need_service("MariaDB", "127.0.0.1", 3306)
    return os.environ.get("ONESOURCE_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")


@pytest.fixture(scope="session")
def redis_url() -> str:
    need_service("Redis", "127.0.0.1", 6379)
    return os.environ.get("ONESOURCE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test; yields a URL whose search_path is it."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    url = sa.engine.make_url(postgres_url).update_query_dict({"options": f"-csearch_path={name}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite metadata DB at the newest migration, made once per session (per worker).

    Fresh homes start from a copy: Alembic's upgrade costs ~0.3 s a home, hundreds of
    times.  The migrations themselves are tested in tests/store/test_store_migrations.py.
    """
    import sqlite3

    from onesource.store.db import engine_for, migrate

    path = tmp_path_factory.mktemp("migrated") / "onesource.db"
    url = f"sqlite:///{path}"
    migrate(url)
    engine_for(url).dispose()
    with sqlite3.connect(path) as conn:  # fold the WAL into the file before it is copied
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def hub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_db: Path) -> Path:
    """An empty hub home (warehouse + SQLite metadata DB at the newest migration) for one test."""
    import shutil

    home = tmp_path / "hub"
    home.mkdir()
    shutil.copyfile(migrated_db, home / "onesource.db")
    monkeypatch.setenv("ONESOURCE_HOME", str(home))
    monkeypatch.setenv("ONESOURCE_CATALOG", str(REPO / "catalog"))
    from onesource.settings import get_settings

    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


# the portal's world: the demo's curated inputs and every demo release published (session-wide)


def publish_demo_releases(home: Path) -> None:
    from onesource.demo import datasets as ds
    from onesource.demo.people import generate_people
    from onesource.quality.domain import credit_code_valid
    from onesource.release.build import build_release
    from onesource.store import Store
    from schemas.arrow import resource_schema

    catalog = _catalog()
    rng = np.random.default_rng(11)
    folk = generate_people(30_000, 11)
    firms = ds.businesses(rng, folk, {})
    firms = firms.filter(pa.array(credit_code_valid(firms["credit_code"])))
    tables = {
        "appointments": ds.appointments(rng, folk, {}),
        "service_ratings": ds.ratings(rng, folk),
        "hotline_tickets": ds.tickets(rng, folk),
        "grid_events": ds.grid_events(rng, folk),
        "properties": ds.properties(rng, folk, firms, {}),
        "abnormal_operations": ds.abnormal(rng, firms),
        "business_register": firms,
    }
    store = Store.open()
    for name, table in tables.items():
        schema = resource_schema(catalog, catalog.resources[name])
        with (
            store.begin_run("ingest", name) as run,
            store.open_writer("resource", name, run.id, schema) as w,
        ):
            w.write(table.select(schema.names).cast(schema))
            w.commit()
    for name in catalog.releases:
        build_release(name, store=store, catalog=catalog)


@pytest.fixture(scope="session")
def portal_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from onesource.web.deps import reset_caches

    home = tmp_path_factory.mktemp("portal")
    old = {
        k: os.environ.get(k)
        for k in ("ONESOURCE_HOME", "ONESOURCE_RELEASE_KEY", "ONESOURCE_CATALOG")
    }
    os.environ.update(
        ONESOURCE_HOME=str(home),
        ONESOURCE_RELEASE_KEY="p" * 40,
        ONESOURCE_CATALOG=str(REPO / "catalog"),
    )
    reset_caches()
    publish_demo_releases(home)
    yield home
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    reset_caches()


@pytest.fixture
def client(portal_home: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from onesource.web.app import create_app
    from onesource.web.deps import reset_caches

    monkeypatch.setenv("ONESOURCE_HOME", str(portal_home))  # restored after the test
    reset_caches()
    return TestClient(create_app())


def _catalog():  # type: ignore[no-untyped-def]
    from onesource.catalog.loader import load_catalog

    return load_catalog(REPO / "catalog").raise_for_issues()
