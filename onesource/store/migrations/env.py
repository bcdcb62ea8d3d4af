"""Alembic environment for the metadata DB; run through ``onesource.store.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from onesource.store import (  # noqa: F401  (registers tables)
    console_models,
    download_models,
    exchange_models,
    models,
    request_models,
)
from onesource.store.db import engine_for, lock_for_migration

config = context.config
target_metadata = models.Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs copy-and-move for ALTER
        compare_type=True,
        # one transaction for the whole upgrade on every backend: Alembic commits each
        # migration on its own where it thinks DDL is not transactional (SQLite), and a
        # second process holding SQLite's write lock between two of them read the version,
        # ran the next migration too, and one of them failed ("table ... already exists")
        transactional_ddl=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            lock_for_migration(connection)
            context.run_migrations()
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    with engine_for(url).connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            lock_for_migration(conn)
            context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
