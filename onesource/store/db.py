"""Engines and migrations for the metadata DB (SQLite by default, PostgreSQL in production).

SQLite runs in WAL mode with a busy timeout and foreign keys on.  Its driver's
own transaction handling is switched off so that write transactions can start
with ``BEGIN IMMEDIATE`` (take the write lock first, then read) instead of
failing when a read transaction tries to upgrade.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# the newest migration; a test keeps it equal to the scripts' head, so an
# up-to-date DB is recognised with one query instead of loading Alembic
HEAD_REVISION = "0002"
SQLITE_BUSY_TIMEOUT_MS = 30_000

_migrated: set[str] = set()
_migrate_lock = threading.Lock()


def _sqlite_setup(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@lru_cache(maxsize=16)
def engine_for(url: str) -> sa.Engine:
    """The (cached) engine for a metadata DB URL."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _sqlite_setup(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


@contextmanager
def session(engine: sa.Engine, *, write: bool = False) -> Iterator[Session]:
    """An ORM session in one transaction, committed on a clean exit.

    ``write=True`` on SQLite starts with ``BEGIN IMMEDIATE`` so that
    read-then-write transactions queue on the busy timeout instead of failing.
    """
    with engine.connect() as conn:
        if write and engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_immediate=True)
        with Session(bind=conn, expire_on_commit=False) as ses, ses.begin():
            yield ses


def lock_for_migration(conn: sa.Connection) -> None:
    """Serialize concurrent migrators (two Airflow tasks starting on a fresh DB)."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(b"onesource-store-migrate")
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def alembic_config(url: str, connection: sa.Connection | None = None) -> Any:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    cfg.attributes["url"] = url
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the metadata DB at ``url`` to ``revision`` (default: the newest)."""
    from alembic import command

    engine = engine_for(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_immediate=True)
        command.upgrade(alembic_config(url, conn), revision)
        if conn.in_transaction():
            conn.commit()
    if revision == "head":
        _migrated.add(url)


def ensure_migrated(url: str) -> None:
    """Migrate ``url`` once per process; later calls cost a set lookup."""
    if url in _migrated:
        return
    with _migrate_lock:
        if url in _migrated:
            return
        if _at_head(url):
            _migrated.add(url)
            return
        migrate(url)


def _at_head(url: str) -> bool:
    try:
        with engine_for(url).connect() as conn:
            found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    except sa.exc.DBAPIError:
        return False  # no version table yet
    return found == [HEAD_REVISION]


def current_revision(url: str) -> str | None:
    """The Alembic revision the DB is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine_for(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
