"""Connection lookup: env URI, env JSON, Airflow env, connections.json, hooks; no leaked passwords."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.connection import (
    Connection,
    get_connection,
    parse_connection,
    register_lookup,
    unregister_lookup,
)
from schemas.errors import ConfigError

SECRET = "s3cr3t/p@ss"


def test_env_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ONESOURCE_CONN_PSB_DB",
        "postgresql://hub:s3cr3t%2Fp%40ss@db.psb:5433/register?sslmode=require",
    )
    conn = get_connection("psb_db")
    assert (conn.conn_type, conn.host, conn.port, conn.login, conn.password, conn.schema) == (
        "postgresql",
        "db.psb",
        5433,
        "hub",
        SECRET,
        "register",
    )
    assert conn.extra == {"sslmode": "require"}
    url = conn.sqlalchemy_url()
    assert url.drivername == "postgresql+psycopg" and url.password == SECRET
    assert url.query == {"sslmode": "require"}
    assert SECRET not in repr(conn) and SECRET not in str(url) and SECRET not in conn.describe()


def test_env_json_and_airflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {
        "conn_type": "mysql",
        "host": "db.hrss",
        "port": 3306,
        "login": "root",
        "password": SECRET,
        "schema": "hr",
        "extra": json.dumps({"charset": "utf8mb4"}),
    }
    monkeypatch.setenv("AIRFLOW_CONN_HRSS_DB", json.dumps(doc))
    conn = get_connection("hrss_db")
    assert conn.dialect == "mysql" and conn.extra == {"charset": "utf8mb4"}
    assert conn.sqlalchemy_url().drivername == "mysql+pymysql"
    # ONESOURCE_CONN_ wins over AIRFLOW_CONN_
    monkeypatch.setenv("ONESOURCE_CONN_HRSS_DB", "mysql://root@other:3306/hr")
    assert get_connection("hrss_db").host == "other"


def test_connections_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "hub"
    home.mkdir()
    monkeypatch.setenv("ONESOURCE_HOME", str(home))
    db = tmp_path / "psb.db"
    (home / "connections.json").write_text(
        json.dumps(
            {
                "psb_db": {"conn_type": "sqlite", "host": "", "schema": str(db)},
                "edu_drop": {"conn_type": "file", "schema": str(tmp_path / "drop")},
                "health_api": "http://127.0.0.1:8765",
                "dsj_api": {
                    "conn_type": "http",
                    "host": "api.dsj",
                    "schema": "https",
                    "extra": {"headers": {"Authorization": "Bearer t0k"}},
                },
            }
        ),
        encoding="utf-8",
    )
    psb = get_connection("psb_db")
    assert psb.sqlalchemy_url().database == str(db) and psb.dialect == "sqlite"
    assert get_connection("edu_drop").path_or_url() == str(tmp_path / "drop")
    assert get_connection("health_api").base_url() == "http://127.0.0.1:8765"
    dsj = get_connection("dsj_api")
    assert (
        dsj.base_url() == "https://api.dsj"
        and dsj.extra["headers"]["Authorization"] == "Bearer t0k"
    )


@pytest.mark.parametrize(
    "uri,expected",
    [
        ("memory://edu/drop", "memory://edu/drop"),
        ("s3://bucket/edu", "s3://bucket/edu"),
        ("file:///srv/drops/edu", "/srv/drops/edu"),
    ],
    ids=["memory", "s3", "file"],
)
def test_file_drop_urls(uri: str, expected: str) -> None:
    assert parse_connection("x", uri).path_or_url() == expected


def test_sqlite_uri_puts_path_in_database() -> None:
    conn = parse_connection("x", "sqlite:////abs/path/psb.db")
    assert conn.sqlalchemy_url().database == "/abs/path/psb.db"


def test_registered_lookup_is_last(monkeypatch: pytest.MonkeyPatch) -> None:
    def lookup(conn_id: str) -> Connection | None:
        return (
            Connection(id=conn_id, conn_type="postgres", host="from-hook")
            if conn_id == "amr_db"
            else None
        )

    register_lookup(lookup)
    try:
        assert get_connection("amr_db").host == "from-hook"
        monkeypatch.setenv("ONESOURCE_CONN_AMR_DB", "postgres://u@from-env/db")
        assert get_connection("amr_db").host == "from-env"
    finally:
        unregister_lookup(lookup)


def test_missing_connection_names_id_and_env_var() -> None:
    with pytest.raises(ConfigError) as err:
        get_connection("civil_db")
    assert "civil_db" in str(err.value) and "ONESOURCE_CONN_CIVIL_DB" in str(err.value)


@pytest.mark.parametrize(
    "value",
    [
        '{"conn_type": "postgres", "password": "s3cr3t/p@ss", "hots": "typo"}',
        '{"conn_type": "postgres", "password": "s3cr3t/p@ss", "port": "x"}',
        '{"conn_type": "postgres", "password": "s3cr3t/p@ss", ',
        "postgres://u:s3cr3t%2Fp%40ss@host:notaport/db",
    ],
    ids=["unknown-key", "bad-port", "bad-json", "bad-uri-port"],
)
def test_bad_values_never_show_the_password(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESOURCE_CONN_BAD", value)
    with pytest.raises(ConfigError) as err:
        get_connection("bad")
    assert "bad" in str(err.value)
    assert SECRET not in str(err.value) and "s3cr3t" not in str(err.value)
