"""Engines and migrations for the metadata DB (SQLite by default, PostgreSQL in production).

SQLite runs in WAL mode with a busy timeout and foreign keys on.  Its driver's
own transaction handling is switched off so that write transactions can start
with ``BEGIN IMMEDIATE`` (take the write lock first, then read) instead of
failing when a read transaction tries to upgrade.

The connection pool is sized to the concurrency the web app allows (its worker
threads plus a few connections of its own: the event loop, the audit writer and
its checkpointer), so that no request ever waits for a connection; a caller that
still finds the pool empty waits at most ``ONESOURCE_DB_POOL_TIMEOUT`` seconds
and gets ``StoreBusyError`` (answered 503 with ``Retry-After``), never a 30 s stall.
"""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import Session

from onesource.store.errors import StoreBusyError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# the newest migration; a test keeps it equal to the scripts' head, so an
# up-to-date DB is recognised with one query instead of loading Alembic
HEAD_REVISION = "0009"
SQLITE_BUSY_TIMEOUT_MS = 30_000

_migrated: set[str] = set()
_migrate_lock = threading.Lock()

# connections the web process takes besides its worker threads: the event loop (exchange
# keys, grants and current versions when their short caches expire), the audit writer,
# its WAL checkpointer, and slack for in-process background work
RESERVED_CONNECTIONS = 8


class PoolSettings(BaseSettings):
    """Connection pool of the metadata DB (``ONESOURCE_WEB_THREADS``, ``ONESOURCE_DB_POOL_*``)."""

    model_config = SettingsConfigDict(env_prefix="ONESOURCE_", extra="ignore")

    web_threads: int = Field(
        40, ge=1, description="worker threads of the web app (sync endpoints, file and DB work)"
    )
    db_pool_size: int | None = Field(
        None,
        ge=1,
        description="connections kept per process (default: web_threads + 8, so that no "
        "request waits for one)",
    )
    db_max_overflow: int = Field(0, ge=0, description="extra connections beyond the pool size")
    db_pool_timeout: float = Field(
        2.0, gt=0, description="seconds to wait for a free connection before answering 503"
    )

    @property
    def pool_size(self) -> int:
        return self.db_pool_size or self.web_threads + RESERVED_CONNECTIONS


@lru_cache(maxsize=1)
def pool_settings() -> PoolSettings:
    """The pool settings, read once per process."""
    return PoolSettings()


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
    cfg = pool_settings()
    pool: dict[str, Any] = {
        "pool_size": cfg.pool_size,
        "max_overflow": cfg.db_max_overflow,
        "pool_timeout": cfg.db_pool_timeout,
    }
    if parsed.get_backend_name() == "sqlite":
        on_disk = bool(parsed.database) and parsed.database != ":memory:"
        if on_disk:
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **(pool if on_disk else {}),  # in memory: one connection per thread, no queue
        )
        _sqlite_setup(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **pool)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _exhausted(pool: Any) -> bool:
    """Every connection a ``QueuePool`` may open is checked out (other pools: never)."""
    if not isinstance(pool, sa.pool.QueuePool) or pool._max_overflow < 0:
        return False
    return pool.checkedout() >= pool.size() + pool._max_overflow


def connect(engine: sa.Engine) -> sa.Connection:
    """A pooled connection; ``StoreBusyError`` when none frees up within the pool timeout.

    On an event loop (the web app's cached lookups when their caches expire) an exhausted
    pool fails at once: waiting there would stall every request of the process.
    """
    if _exhausted(engine.pool) and _on_event_loop():
        raise StoreBusyError(0)
    try:
        return engine.connect()
    except sa.exc.TimeoutError as exc:
        raise StoreBusyError(pool_settings().db_pool_timeout) from exc


@contextmanager
def session(engine: sa.Engine, *, write: bool = False) -> Iterator[Session]:
    """An ORM session in one transaction, committed on a clean exit.

    ``write=True`` on SQLite starts with ``BEGIN IMMEDIATE`` so that
    read-then-write transactions queue on the busy timeout instead of failing.
    """
    with connect(engine) as conn:
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
