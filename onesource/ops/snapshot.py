"""Consistent snapshots of the metadata DB, and what a snapshot says is current.

SQLite: the online backup API (``sqlite3.Connection.backup`` in one step) copies the
database under one read transaction while writers go on (WAL).  PostgreSQL: the
pointers are read in a REPEATABLE READ transaction whose snapshot ``pg_dump
--snapshot`` then dumps, so the dump and the manifest describe the same instant.
Restoring: SQLite files are renamed into place; ``pg_restore --single-transaction``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from onesource.ops.manifest import BackupError

BACKENDS = ("sqlite", "postgresql")
DB_MEMBER = {"sqlite": "db/onesource.sqlite", "postgresql": "db/onesource.pgdump"}


@dataclass
class DbState:
    """What one snapshot holds: its revision, versions and the audit head."""

    revision: str | None
    versions: list[dict[str, Any]]
    audit_head: dict[str, Any] | None


def backend(url: str) -> str:
    name = sa.make_url(url).get_backend_name()
    if name not in BACKENDS:
        raise BackupError(
            f"metadata DB backend {name!r} cannot be backed up",
            hint="backups support SQLite and PostgreSQL metadata databases",
        )
    return name


def sqlite_path(url: str) -> Path:
    database = sa.make_url(url).database
    if not database or database == ":memory:":
        raise BackupError(f"{url} is an in-memory database: nothing to back up")
    return Path(database)


@contextmanager
def null_engine(url: str) -> Iterator[sa.Engine]:
    """An engine outside the hub's cached pools (a restore replaces the file under them)."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def connected(url: str) -> Iterator[sa.Connection]:
    """One connection of a ``null_engine``."""
    with null_engine(url) as engine, engine.connect() as conn:
        yield conn


def read_state(conn: sa.Connection, every_version: bool) -> DbState:
    """Revision, versions (current ones, or all) and the audit head, in ``conn``'s snapshot."""
    names = set(sa.inspect(conn).get_table_names())
    revision = None
    if "alembic_version" in names:
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    versions: list[dict[str, Any]] = []
    if {"versions", "current_versions"} <= names:
        rows = conn.execute(
            sa.text(
                "SELECT v.kind, v.subject, v.number, v.path, v.row_count, "
                "CASE WHEN c.number = v.number THEN 1 ELSE 0 END AS is_current "
                "FROM versions v LEFT JOIN current_versions c "
                "ON c.kind = v.kind AND c.subject = v.subject "
                "ORDER BY v.kind, v.subject, v.number"
            )
        ).all()
        versions = [
            {
                "kind": r.kind,
                "subject": r.subject,
                "number": int(r.number),
                "path": r.path,
                "rows": int(r.row_count),
                "current": bool(r.is_current),
            }
            for r in rows
            if every_version or r.is_current
        ]
    head = None
    if "audit_log" in names:
        row = conn.execute(
            sa.text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        ).first()
        if row is not None:
            head = {"seq": int(row.seq), "hash": str(row.hash)}
    return DbState(revision, versions, head)


def tables_with_rows(url: str) -> list[str]:
    """Tables of the DB at ``url`` holding at least one row (alembic's own aside)."""
    if backend(url) == "sqlite" and not sqlite_path(url).exists():
        return []
    with connected(url) as conn:
        found = []
        for name in sa.inspect(conn).get_table_names():
            if name == "alembic_version":
                continue
            table = sa.table(name)
            if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                found.append(name)
        return found


# SQLite


def sqlite_snapshot(url: str, dest: Path, every_version: bool) -> DbState:
    """Copy the live SQLite DB to ``dest`` (one consistent read) and read its state."""
    source = sqlite_path(url)
    if not source.exists():
        raise BackupError(f"the metadata DB {source} does not exist", hint="check ONESOURCE_DB_URL")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)  # pages=-1: everything in one step, under one read transaction
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal
    finally:
        dst.close()
        src.close()
    with connected(f"sqlite:///{dest}") as conn:
        return read_state(conn, every_version)


# PostgreSQL


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"PostgreSQL backups and restores need {name} on PATH, and it was not found",
            hint="install the PostgreSQL client tools of the server's major version "
            "(Debian/Ubuntu: apt install postgresql-client)",
        )
    return found


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for ``url`` (no password in it: that goes in PGPASSWORD) and the env."""
    parsed = sa.make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-1500:]
        raise BackupError(f"{what} failed (exit {done.returncode}): {tail}")


def pg_snapshot(url: str, dest: Path, every_version: bool) -> DbState:
    """``pg_dump -Fc`` of the snapshot the manifest's pointers were read in."""
    tool = require_tool("pg_dump")
    uri, env = libpq(url)
    with connected(url) as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            state = read_state(conn, every_version)
            _run(
                [tool, "--format=custom", f"--snapshot={snapshot}", "--file", str(dest), uri],
                env,
                "pg_dump",
            )
    return state


def pg_dump_plain(url: str, dest: Path) -> None:
    """A custom-format dump of the DB as it is (kept before ``restore --force`` replaces it)."""
    uri, env = libpq(url)
    _run([require_tool("pg_dump"), "--format=custom", "--file", str(dest), uri], env, "pg_dump")


def pg_restore(url: str, dump: Path) -> None:
    """Load ``dump`` into the DB at ``url`` in one transaction (all or nothing)."""
    tool = require_tool("pg_restore")
    uri, env = libpq(url)
    _run(
        [
            tool,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            uri,
            str(dump),
        ],
        env,
        "pg_restore",
    )
