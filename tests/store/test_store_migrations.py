"""Migrations: they build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from onesource.store import Store
from onesource.store.db import (
    HEAD_REVISION,
    alembic_config,
    current_revision,
    engine_for,
    migrate,
)
from onesource.store.models import Base

TABLES = {
    "runs",
    "versions",
    "current_versions",
    "watermarks",
    "file_manifest",
    "quality_results",
    "department_keys",
    "access_requests",
    "grants",
    "pushes",
    "audit_log",
    "consumer_keys",
    "downloads",
}


def _diff(url: str) -> list[object]:
    with engine_for(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _check_migrated(url: str) -> None:
    migrate(url)
    migrate(url)  # a second run is a no-op
    assert current_revision(url) == HEAD_REVISION
    assert set(sa.inspect(engine_for(url)).get_table_names()) >= TABLES
    assert _diff(url) == [], "models and migrations disagree: write a new migration"


def test_head_constant_matches_scripts() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_heads() == [HEAD_REVISION]


def test_migrations_match_models_on_sqlite(tmp_path: Path) -> None:
    _check_migrated(f"sqlite:///{tmp_path / 'meta.db'}")


@pytest.mark.services
def test_migrations_match_models_on_postgresql(pg_schema: str) -> None:
    _check_migrated(pg_schema)


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'meta.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'meta.db'}"
    migrate(url)
    with engine_for(url).connect() as conn:
        command.downgrade(alembic_config(url, conn), "base")
        conn.commit()
    assert not TABLES & set(sa.inspect(engine_for(url)).get_table_names())
    migrate(url)
    assert _diff(url) == []


def test_store_open_migrates_from_settings(hub_home: Path) -> None:
    store = Store.open()
    assert current_revision(store.metadata_url) == HEAD_REVISION
    assert (hub_home / "onesource.db").exists()
    assert Store.open().current("resource", "nothing") is None


@pytest.mark.slow
def test_processes_opening_a_fresh_db_at_once_all_succeed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'meta.db'}"
    code = (
        "import sys; from onesource.store import Store; "
        "Store(sys.argv[1], sys.argv[2]).runs(); print('opened')"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url, str(tmp_path / "warehouse")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _out, err in outputs]
    assert current_revision(url) == HEAD_REVISION
