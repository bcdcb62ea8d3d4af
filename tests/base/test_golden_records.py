"""Golden records take each column from its element's source only, with lineage."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from onesource.base import build_base
from onesource.catalog.loader import load_catalog
from onesource.store import Store
from schemas.arrow import resource_schema
from schemas.identifiers import id_check_char

CATALOG = load_catalog("catalog").raise_for_issues()


def pid(i: int) -> str:
    first = f"33990219800101{i:03d}"
    return first + id_check_char(first)


def commit(store: Store, name: str, rows: list[dict]) -> int:
    schema = resource_schema(CATALOG, CATALOG.resources[name])
    table = pa.Table.from_pylist(
        rows, schema=pa.schema([f.with_nullable(True) for f in schema])
    ).cast(schema)
    with (
        store.begin_run("ingest", name) as run,
        store.open_writer("resource", name, run.id, schema) as w,
    ):
        w.write(table)
        return w.commit().number


def test_each_column_from_its_source_with_lineage(hub_home) -> None:  # type: ignore[no-untyped-def]
    store = Store.open()
    people = [
        dict(
            id_number=pid(i),
            name=f"居民{i}",
            sex="1",
            birth_date=dt.date(1980, 1, 1),
            household_division="339902",
            address="清源路1号",
            mobile="13800000000",
            household_number="H1",
            updated_at=dt.datetime(2026, 11, 1),
        )
        for i in range(5)
    ]
    v_pop = commit(store, "population_register", people)
    # edu's copy of the household division disagrees for person 0: it must not win
    students = [
        dict(
            student_number=f"G{pid(0)}",
            id_number=pid(0),
            name="居民0",
            sex="1",
            school="一中",
            grade=3,
            enrolled_on=dt.date(2024, 9, 1),
            household_division="339905",
        )
    ]
    commit(store, "students", students)
    commit(
        store,
        "graduates",
        [dict(id_number=pid(1), education_level="20", graduated_on=dt.date(2002, 7, 1))],
    )
    result = build_base("person", store=store, catalog=CATALOG)
    table = store.read("base", "person")
    rows = {r["id_number"]: r for r in table.to_pylist()}
    assert rows[pid(0)]["household_division"] == "339902"  # psb's value, not edu's copy
    assert rows[pid(1)]["education_level"] == "20" and rows[pid(0)]["education_level"] is None
    assert result.lineage["household_division"] == {
        "element": "person.household_division",
        "resource": "population_register",
        "version": v_pop,
        "field": "household_division",
    }
    assert result.lineage["education_level"]["resource"] == "graduates"
    assert b"lineage" in table.schema.metadata
    assert any("marital_status" in s for s in result.skipped)  # its source has no version yet


def test_missing_key_source_is_a_clear_error(hub_home) -> None:  # type: ignore[no-untyped-def]
    from schemas.errors import NotFoundError, TerminalError

    with pytest.raises(TerminalError, match="population_register"):
        build_base("person", store=Store.open(), catalog=CATALOG)
    with pytest.raises(NotFoundError, match="known entitys|known entity"):
        build_base("persn", store=Store.open(), catalog=CATALOG)
