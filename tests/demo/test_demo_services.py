"""The demo world on real servers: hrss_db on PostgreSQL, amr_db on MariaDB, ingested from there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from onesource.catalog.loader import load_catalog
from onesource.demo import seed

pytestmark = pytest.mark.services
CATALOG = load_catalog("catalog").raise_for_issues()


def test_seed_and_ingest_from_postgres_and_mariadb(
    hub_home: Path, postgres_url: str, mariadb_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.pipeline.ingest import ingest
    from onesource.store import Store

    summary = seed(
        hub_home, people=1500, seed=9, postgres_url=postgres_url, mariadb_url=mariadb_url
    )
    conns = json.loads((hub_home / "connections.json").read_text(encoding="utf-8"))
    assert conns["hrss_db"]["conn_type"] == "postgres" and conns["amr_db"]["conn_type"] == "mysql"
    try:
        store = Store.open()
        jobs = ingest("employment_records", store=store, catalog=CATALOG)
        firms = ingest("business_register", store=store, catalog=CATALOG)
        assert jobs.status == firms.status == "succeeded", (jobs.error, firms.error)
        assert jobs.rows_read == summary.rows["employment_records"]
        assert firms.rows_read == summary.rows["business_register"]
        assert firms.rows_quarantined == summary.defects["business_register"]["bad_credit_code"]
    finally:
        for url, table in ((postgres_url, "employment"), (mariadb_url, "enterprise")):
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
            engine.dispose()
