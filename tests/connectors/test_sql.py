"""SqlSource against SQLite (always), PostgreSQL and MariaDB (services)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors.base import SourceState
from connectors.errors import ColumnDriftError
from connectors.sql import SqlSource, watermark_value
from schemas.arrow import resource_schema
from schemas.catalog import Catalog
from schemas.connector import Incremental
from schemas.errors import SourceUnavailableError

START = dt.datetime(2024, 3, 1, 8, 0, 0)


def people(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id_number": f"3301021990010{i:05d}",
            "name": f"居民{i}",
            "sex": 1 + i % 2,
            "birth_date": dt.date(1990, 1, 1) + dt.timedelta(days=i),
            "household_division": "330102",
            "address": None if i % 3 else f"清河路{i}号",
            "mobile": "13800000000",
            "household_number": f"H{i:06d}",
            "updated_at": START + dt.timedelta(hours=i),
        }
        for i in range(n)
    ]


def make_table(url: str, name: str, rows: list[dict[str, Any]], **overrides: Any) -> sa.Table:
    cols = {
        "id_number": sa.String(18),
        "name": sa.Text(),
        "sex": sa.SmallInteger(),  # a code stored as a number: cast to text
        "birth_date": sa.Date(),
        "household_division": sa.String(6),
        "address": sa.Text(),
        "mobile": sa.String(11),
        "household_number": sa.String(16),
        "updated_at": sa.DateTime(),
    }
    for old, new in overrides.items():
        if isinstance(new, tuple):  # rename
            cols[new[0]] = cols.pop(old) if new[1] is None else new[1]
        else:
            cols[old] = new
    meta = sa.MetaData()
    table = sa.Table(name, meta, *[sa.Column(k, v) for k, v in cols.items()])
    engine = sa.create_engine(url)
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(table.insert(), rows)
    engine.dispose()
    return table


def drop_table(url: str, name: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.execute(sa.text(f"DROP TABLE IF EXISTS {engine.dialect.identifier_preparer.quote(name)}"))
    engine.dispose()


def extract(catalog: Catalog, state: SourceState | None = None, **connector: Any) -> Any:
    res = catalog.resources["population_register"]
    res = res.model_copy(update={"connector": res.connector.model_copy(update=connector)})
    schema = resource_schema(catalog, res)
    ex = SqlSource().extract(res, schema, state or SourceState())
    return ex, ex.read_all(), schema


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'psb.db'}"
    monkeypatch.setenv("ONESOURCE_CONN_T_DB", url)
    return url


@pytest.mark.parametrize("engine", ["auto", "sqlalchemy"], ids=["adbc", "sqlalchemy"])
def test_sqlite_full_and_incremental(catalog: Catalog, sqlite_url: str, engine: str) -> None:
    make_table(sqlite_url, "population", people(10))
    progress: list[int] = []
    ex, table, schema = extract(
        catalog,
        SourceState(progress=progress.append),
        connection="t_db",
        table="population",
        engine=engine,
    )
    assert table.schema == schema and table.num_rows == 10 and sum(progress) == 10
    first = table.slice(0, 1).to_pylist()[0]
    assert first["sex"] == "1" and first["birth_date"] == dt.date(1990, 1, 1)
    assert ex.new_watermark == START + dt.timedelta(hours=9) and not ex.rejects

    # incremental: the stored watermark comes back as text (as the pipeline keeps it)
    state = SourceState(watermark=(START + dt.timedelta(hours=6)).isoformat())
    ex, table, _ = extract(catalog, state, connection="t_db", table="population", engine=engine)
    assert table.column("updated_at").to_pylist() == [
        START + dt.timedelta(hours=h) for h in (7, 8, 9)
    ]


def test_sqlite_query_source_and_lookback(catalog: Catalog, sqlite_url: str) -> None:
    make_table(sqlite_url, "population", people(10))
    state = SourceState(watermark=(START + dt.timedelta(hours=8)).isoformat())
    _, table, _ = extract(
        catalog,
        state,
        connection="t_db",
        table=None,
        query="SELECT * FROM population WHERE household_division = '330102'",
        incremental=Incremental(column="updated_at", lookback=3600),
    )
    assert table.num_rows == 2  # hours 8 and 9: one hour of lookback re-reads hour 8


def test_sqlite_bad_values_are_rejects(catalog: Catalog, sqlite_url: str) -> None:
    rows = people(6)
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as c:  # SQLite takes any text in any column
        c.execute(
            sa.text(
                "CREATE TABLE population (id_number, name, sex, birth_date, household_division, address, mobile, household_number, updated_at)"
            )
        )
        for r in rows:
            r = {**r, "birth_date": str(r["birth_date"]), "updated_at": str(r["updated_at"])}
            c.execute(
                sa.text(
                    "INSERT INTO population VALUES (:id_number, :name, :sex, :birth_date, :household_division, :address, :mobile, :household_number, :updated_at)"
                ),
                r,
            )
        c.execute(
            sa.text("UPDATE population SET birth_date = '1990-02-30' WHERE id_number LIKE '%03'")
        )
    ex, table, _ = extract(catalog, connection="t_db", table="population")
    assert table.num_rows == 5
    assert len(ex.rejects) == 1 and "1990-02-30" in ex.rejects[0].reason
    assert "330102199001000003" in ex.rejects[0].raw


def test_renamed_column_is_drift(catalog: Catalog, sqlite_url: str) -> None:
    rows = [{**r, "birth_day": r.pop("birth_date")} for r in people(3)]
    make_table(sqlite_url, "population", rows, birth_date=("birth_day", None))
    with pytest.raises(ColumnDriftError) as err:
        extract(catalog, connection="t_db", table="population")
    e = err.value
    assert (e.resource, e.column, e.expected, e.found) == (
        "population_register",
        "birth_date",
        "date32[day]",
        "no such column",
    )
    assert "birth_day" in str(e) and not e.transient


def test_retyped_column_is_drift(catalog: Catalog, sqlite_url: str) -> None:
    rows = [{**r, "birth_date": "unknown"} for r in people(8)]
    make_table(sqlite_url, "population", rows, birth_date=sa.Text())
    with pytest.raises(ColumnDriftError) as err:
        extract(catalog, connection="t_db", table="population")
    assert err.value.column == "birth_date" and "unknown" in str(err.value)


@pytest.mark.parametrize(
    "uri,host",
    [
        ("postgresql://hub:s3cr3t@127.0.0.1:1/psb", "127.0.0.1"),
        ("mysql://hub:s3cr3t@127.0.0.1:1/psb", "127.0.0.1"),
        ("sqlite:////nonexistent/psb.db", "/nonexistent/psb.db"),
    ],
    ids=["postgresql-adbc", "mysql-connectorx", "sqlite-missing-file"],
)
def test_dead_database_is_transient(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, uri: str, host: str
) -> None:
    monkeypatch.setenv("ONESOURCE_CONN_DEAD_DB", uri)
    with pytest.raises(SourceUnavailableError) as err:
        extract(catalog, connection="dead_db", table="population")
    text = str(err.value)
    assert err.value.transient and "dead_db" in text and host in text
    assert "population_register" in text and "s3cr3t" not in text


def test_watermark_values() -> None:
    assert watermark_value("2024-01-02T03:04:05", pa.timestamp("us"), 5) == dt.datetime(
        2024, 1, 2, 3, 4
    )
    assert watermark_value("2024-01-02", pa.date32(), 1) == dt.date(2024, 1, 1)
    assert watermark_value("41", pa.int64(), 1) == 40


@pytest.fixture
def pg_table(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    name = f"t_pop_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ONESOURCE_CONN_T_PG", postgres_url)
    yield postgres_url, name
    drop_table(postgres_url, name)


@pytest.fixture
def maria_table(mariadb_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    name = f"t_pop_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ONESOURCE_CONN_T_MARIA", mariadb_url)
    yield mariadb_url, name
    drop_table(mariadb_url, name)


@pytest.mark.services
@pytest.mark.parametrize("engine", ["auto", "sqlalchemy"], ids=["adbc", "sqlalchemy"])
def test_postgres_full_and_incremental(
    catalog: Catalog, pg_table: tuple[str, str], engine: str
) -> None:
    url, name = pg_table
    make_table(url, name, people(10))
    ex, table, schema = extract(catalog, connection="t_pg", table=name, engine=engine)
    assert table.schema == schema and table.num_rows == 10
    assert table.column("sex").to_pylist()[:2] == ["1", "2"]
    state = SourceState(watermark=(START + dt.timedelta(hours=7)).isoformat())
    ex, table, _ = extract(catalog, state, connection="t_pg", table=name, engine=engine)
    assert table.num_rows == 2 and ex.new_watermark == START + dt.timedelta(hours=9)


@pytest.mark.services
def test_postgres_retyped_column_is_drift(catalog: Catalog, pg_table: tuple[str, str]) -> None:
    url, name = pg_table
    rows = [{**r, "birth_date": 19900101} for r in people(3)]
    make_table(url, name, rows, birth_date=sa.Integer())
    with pytest.raises(ColumnDriftError) as err:
        extract(catalog, connection="t_pg", table=name)
    assert (err.value.column, err.value.expected, err.value.found) == (
        "birth_date",
        "date32[day]",
        "int32",
    )


@pytest.mark.services
@pytest.mark.parametrize("engine", ["auto", "sqlalchemy"], ids=["connectorx", "sqlalchemy"])
def test_mariadb_full_and_incremental(
    catalog: Catalog, maria_table: tuple[str, str], engine: str
) -> None:
    url, name = maria_table
    make_table(url, name, people(10))
    ex, table, schema = extract(catalog, connection="t_maria", table=name, engine=engine)
    assert table.schema == schema and table.num_rows == 10
    assert table.column("birth_date").to_pylist()[0] == dt.date(1990, 1, 1)
    state = SourceState(watermark=(START + dt.timedelta(hours=8)).isoformat())
    ex, table, _ = extract(catalog, state, connection="t_maria", table=name, engine=engine)
    assert table.column("id_number").to_pylist() == ["330102199001000009"]
