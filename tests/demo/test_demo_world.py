"""The demo world: sources in their departments' formats, exact defect counts, and every ingest succeeds."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from onesource.catalog.loader import load_catalog
from onesource.demo import deliver_late_files, seed
from onesource.quality.domain import credit_code_valid, id_number_valid

CATALOG = load_catalog("catalog").raise_for_issues()
PEOPLE = 3000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    home = tmp_path_factory.mktemp("demo")
    port = free_port()
    seed(home, people=PEOPLE, api_port=port)
    return home, port


def test_sql_tables_have_exactly_the_resource_fields(world: tuple[Path, int]) -> None:
    home, _ = world
    conns = json.loads((home / "connections.json").read_text(encoding="utf-8"))
    for res in CATALOG.resources.values():
        conn = res.connector
        if conn.type != "sql":
            continue
        con = sqlite3.connect(conns[conn.connection]["schema"])
        cols = [r[1] for r in con.execute(f'PRAGMA table_info("{conn.table}")')]
        con.close()
        assert cols == list(res.fields), res.name


def test_every_connection_resolves(
    world: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.connection import get_connection

    home, _ = world
    monkeypatch.setenv("ONESOURCE_HOME", str(home))
    used = {
        r.connector.connection
        for r in CATALOG.resources.values()
        if hasattr(r.connector, "connection")
    }
    for conn_id in used:
        assert get_connection(conn_id).id == conn_id


def test_defect_counts_match_the_data(world: tuple[Path, int]) -> None:
    home, _ = world
    defects = json.loads((home / "sources" / "defects.json").read_text(encoding="utf-8"))
    con = sqlite3.connect(home / "sources" / "psb.db")
    ids = [r[0] for r in con.execute("SELECT id_number FROM population")]
    con.close()
    divisions = CATALOG.code_lists["divisions"].codes
    bad = int((~id_number_valid(pa.array(ids), divisions)).sum())
    assert bad == defects["population_register"]["bad_id_check_digit"]
    assert len(ids) - len(set(ids)) == defects["population_register"]["duplicate_rows"]
    con = sqlite3.connect(home / "sources" / "amr.db")
    codes = [r[0] for r in con.execute("SELECT credit_code FROM enterprise")]
    con.close()
    assert (
        int((~credit_code_valid(pa.array(codes))).sum())
        == defects["business_register"]["bad_credit_code"]
    )


def test_gbk_drop_is_gbk(world: tuple[Path, int]) -> None:
    home, _ = world
    raw = next((home / "sources" / "drops" / "edu_drop").glob("*.csv")).read_bytes()
    text = raw.decode("gbk")
    assert text.replace('"', "").startswith("学籍号,身份证号,姓名")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_xlsx_drop_has_the_sheet_and_headers(world: tuple[Path, int]) -> None:
    from openpyxl import load_workbook

    home, _ = world
    wb = load_workbook(
        next((home / "sources" / "drops" / "civil_drop").glob("*.xlsx")), read_only=True
    )
    header = next(wb["救助对象"].iter_rows(values_only=True))
    assert list(header)[:3] == ["身份证号", "姓名", "救助类型"]


def test_determinism(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    seed(a, people=500, seed=7)
    seed(b, people=500, seed=7)
    for rel in (
        "sources/api/appointments.parquet",
        "sources/drops/grid_drop/events_2026_11_21.parquet",
    ):
        assert pq.read_table(a / rel).equals(pq.read_table(b / rel))


def test_every_pulled_resource_ingests_and_catches_the_planted_defects(
    world: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from onesource.demo.api import create_app
    from onesource.pipeline.ingest import ingest
    from onesource.settings import get_settings
    from onesource.store import Store

    home, port = world
    monkeypatch.setenv("ONESOURCE_HOME", str(home))
    get_settings.cache_clear()
    server = uvicorn.Server(
        uvicorn.Config(create_app(home), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        store = Store.open()
        defects = json.loads((home / "sources" / "defects.json").read_text(encoding="utf-8"))
        order = ["population_register", "households", "business_register"]
        order += [
            n for n, r in CATALOG.resources.items() if n not in order and r.connector.type != "push"
        ]
        results = {name: ingest(name, store=store, catalog=CATALOG) for name in order}
        for name, r in results.items():
            assert r.status == "succeeded", (name, r.error)
        pop = defects["population_register"]
        assert (
            results["population_register"].rows_quarantined
            == pop["bad_id_check_digit"] + pop["duplicate_rows"]
        )
        assert (
            results["business_register"].rows_quarantined
            == defects["business_register"]["bad_credit_code"]
        )
        assert (
            results["students"].rows_unparsed == 1 and results["hotline_tickets"].rows_unparsed == 1
        )

        def disagreements(name: str, element: str) -> tuple[int, str, str]:
            e = next(
                e
                for e in results[name].report["consistency"]["elements"]
                if e["element"] == element
            )
            return e["disagreements"], e["copy_department"], e["source_department"]

        assert disagreements("students", "person.household_division") == (
            defects["students"]["household_division_disagrees_with_psb"],
            "edu",
            "psb",
        )
        assert (
            disagreements("employment_records", "enterprise.name")[0]
            == (defects["employment_records"]["employer_name_disagrees_with_amr"])
        )
        assert (
            disagreements("properties", "person.name")[0]
            == defects["properties"]["owner_name_disagrees_with_psb"]
        )
        assert (
            disagreements("appointments", "person.sex")[0]
            == defects["appointments"]["sex_disagrees_with_psb"]
        )
        # the late file: nothing new until it arrives, then only its rows
        assert ingest("grid_events", store=store, catalog=CATALOG).status == "unchanged"
        deliver_late_files(home)
        late = ingest("grid_events", store=store, catalog=CATALOG)
        assert (
            late.status == "succeeded"
            and late.rows_read == defects["grid_events"]["late_file_rows"]
        )
        assert (
            store.current("resource", "grid_events").row_count
            == results["grid_events"].rows_good + late.rows_read
        )
    finally:
        server.should_exit = True
        get_settings.cache_clear()


def test_people_generation_is_vectorized_and_valid() -> None:
    from onesource.demo.people import generate_people

    people = generate_people(20_000, seed=3)
    assert people.num_rows == 20_000
    assert id_number_valid(people["id_number"], CATALOG.code_lists["divisions"].codes).all()
    assert len(set(people["id_number"].to_pylist())) == 20_000
    sex = np.asarray(people["sex"].to_numpy(zero_copy_only=False))
    seq_digit = np.array([int(i[16]) for i in people["id_number"].to_pylist()])
    assert ((seq_digit % 2 == 1) == (sex == "1")).all()
