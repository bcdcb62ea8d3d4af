"""The demo world: the fictional city of Qinghe and its departments' sources.

``seed(home)`` writes every catalog resource's source as its connector
describes (SQLite databases, a GBK CSV drop, xlsx drops, a UTF-8-with-BOM
CSV, Parquet and JSON-lines drops, data for two HTTP APIs, a push sample),
``connections.json`` pointing at them, and ``defects.json`` with the exact
counts of every planted defect.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from onesource.demo import datasets as ds
from onesource.demo import writers as w
from onesource.demo.people import generate_people

HEADERS_GBK = {
    "学籍号": "student_number",
    "身份证号": "id_number",
    "姓名": "name",
    "性别": "sex",
    "学校": "school",
    "年级": "grade",
    "入学日期": "enrolled_on",
    "户籍区划": "household_division",
}


@dataclass
class SeedSummary:
    home: Path
    people: int
    rows: dict[str, int] = field(default_factory=dict)
    defects: dict[str, dict[str, Any]] = field(default_factory=dict)

    def table(self) -> Any:
        from rich.table import Table

        t = Table(
            "resource",
            "rows",
            "planted defects",
            title=f"demo sources under {self.home / 'sources'}",
        )
        for name, n in self.rows.items():
            t.add_row(
                name, f"{n:,}", ", ".join(f"{k}={v}" for k, v in self.defects.get(name, {}).items())
            )
        return t


def _catalog_headers(catalog_root: Path) -> dict[str, dict[str, str]]:
    from onesource.catalog.loader import load_catalog

    cat = load_catalog(catalog_root).raise_for_issues()
    return {r.name: dict(getattr(r.connector, "columns", {}) or {}) for r in cat.resources.values()}


def seed(
    home: Path,
    *,
    people: int = 50_000,
    seed: int = 42,
    postgres_url: str | None = None,
    mariadb_url: str | None = None,
    catalog_root: Path = Path("catalog"),
    api_port: int = 8765,
    progress: Callable[[str], None] | None = None,
) -> SeedSummary:
    """Write the demo departments' sources under ``<home>/sources``."""
    say = progress or (lambda step: None)
    home = Path(home).resolve()
    src = home / "sources"
    if src.exists():
        shutil.rmtree(src)
    headers = _catalog_headers(catalog_root)
    rng = np.random.default_rng(seed)
    defects: dict[str, dict[str, Any]] = {}
    summary = SeedSummary(home, people)
    say("residents")
    folk = generate_people(people, seed)
    say("departments")
    pop = ds.population(rng, folk, defects)
    firms = ds.businesses(rng, folk, defects)
    ok_firms = firms.filter(
        pa.array(
            np.isin(
                firms["credit_code"].to_numpy(zero_copy_only=False), _bad_codes(firms), invert=True
            )
        )
    )
    jobs = ds.employment(rng, folk, ok_firms, defects)
    tables: dict[str, pa.Table] = {
        "population_register": pop,
        "households": ds.households(folk, defects),
        "marriage_registrations": ds.marriages(rng, folk, defects),
        "students": ds.students(rng, folk, defects),
        "graduates": ds.graduates(rng, folk),
        "business_register": firms,
        "employment_records": jobs,
        "social_insurance": ds.insurance(rng, jobs),
        "social_assistance": ds.assistance(rng, folk),
        "properties": ds.properties(rng, folk, ok_firms, defects),
        "appointments": ds.appointments(rng, folk, defects),
        "service_ratings": ds.ratings(rng, folk),
        "hotline_tickets": ds.tickets(rng, folk),
        "grid_events": ds.grid_events(rng, folk),
        "abnormal_operations": ds.abnormal(rng, ok_firms),
        "property_companies": ds.property_companies(rng, ok_firms),
    }
    conns = _write(src, tables, headers, defects, postgres_url, mariadb_url, api_port, say)
    w.write_json(home / "connections.json", conns)
    w.write_json(src / "defects.json", defects)
    summary.rows = {name: t.num_rows for name, t in tables.items()}
    summary.defects = defects
    return summary


def _bad_codes(firms: pa.Table) -> np.ndarray:
    from onesource.quality.domain import credit_code_valid

    codes = firms["credit_code"]
    bad: np.ndarray = np.asarray(codes.to_numpy(zero_copy_only=False))[~credit_code_valid(codes)]
    return bad


def _write(
    src: Path,
    t: dict[str, pa.Table],
    headers: dict[str, dict[str, str]],
    defects: dict[str, Any],
    postgres_url: str | None,
    mariadb_url: str | None,
    api_port: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    drops = src / "drops"
    conns: dict[str, Any] = {}

    def sqlite(conn_id: str, db: str, tables: dict[str, pa.Table]) -> None:
        say(f"writing {conn_id}")
        path = src / f"{db}.db"
        for name, table in tables.items():
            w.sqlite_table(path, name, table)
        conns[conn_id] = {"conn_type": "sqlite", "host": "", "schema": str(path)}

    def folder(conn_id: str) -> Path:
        say(f"writing {conn_id}")
        conns[conn_id] = {"conn_type": "file", "schema": str(drops / conn_id)}
        return drops / conn_id

    sqlite("psb_db", "psb", {"population": t["population_register"], "households": t["households"]})
    sqlite("civil_db", "civil", {"marriage_registration": t["marriage_registrations"]})
    sqlite("housing_db", "housing", {"property": t["properties"]})
    sqlite("amr_db", "amr", {"enterprise": t["business_register"]})
    sqlite("hrss_db", "hrss", {"employment": t["employment_records"]})
    if postgres_url:
        say("writing hrss_db (PostgreSQL)")
        w.sql_table(postgres_url, "employment", t["employment_records"])
        conns["hrss_db"] = _conn_from_url(postgres_url, "postgres")
    if mariadb_url:
        say("writing amr_db (MariaDB)")
        w.sql_table(mariadb_url, "enterprise", t["business_register"])
        conns["amr_db"] = _conn_from_url(mariadb_url, "mysql")
    # a malformed row (wrong column count) in the schools' GBK export
    w.csv_file(
        folder("edu_drop") / "students_2026_autumn.csv",
        t["students"],
        HEADERS_GBK,
        "gbk",
        extra_lines=["G339902201001010000,339902201001010000,缺列的行"],
    )
    w.parquet_file(folder("edu_parquet") / "graduates_2026.parquet", t["graduates"])
    w.parquet_file(folder("hrss_drop") / "insurance_2026_10.parquet", t["social_insurance"])
    w.xlsx_file(
        folder("civil_drop") / "救助对象_2026_10.xlsx",
        t["social_assistance"],
        headers["social_assistance"],
        "救助对象",
    )
    w.xlsx_file(
        folder("amr_drop") / "经营异常名录_2026_47.xlsx",
        t["abnormal_operations"],
        headers["abnormal_operations"],
        "Sheet1",
    )
    w.csv_file(
        folder("housing_drop") / "物业企业_2026_10.csv",
        t["property_companies"],
        headers["property_companies"],
        "utf-8-sig",
    )
    tickets = t["hotline_tickets"]
    w.jsonl_file(
        folder("dsj_drop") / "tickets_2026_11_21.jsonl",
        tickets,
        extra_lines=['{"ticket_number": "T-broken", '],
    )
    defects["hotline_tickets"] = {"malformed_jsonl_lines": 1}
    # the late file: yesterday's grid events arrive after today's; the next run picks them up
    grid = t["grid_events"]
    late = max(1, grid.num_rows // 20)
    w.parquet_file(
        folder("grid_drop") / "events_2026_11_21.parquet", grid.slice(0, grid.num_rows - late)
    )
    w.parquet_file(
        src / "late" / "grid_drop" / "events_2026_11_20.parquet", grid.slice(grid.num_rows - late)
    )
    defects["grid_events"] = {
        "late_file_rows": late,
        "late_file": str(src / "late" / "grid_drop" / "events_2026_11_20.parquet"),
        "late_means": "not in the drop folder at seed time; `onesource demo late` moves it in",
    }
    say("writing health_api, dsj_api")
    w.parquet_file(src / "api" / "appointments.parquet", t["appointments"])
    w.parquet_file(src / "api" / "ratings.parquet", t["service_ratings"])
    base = f"http://127.0.0.1:{api_port}"
    conns["health_api"] = base
    conns["dsj_api"] = base
    say("writing push sample")
    push = t["population_register"].slice(0, 20).select(["id_number", "name"])
    push = push.append_column("month", pa.array(["2026-10"] * push.num_rows)).append_column(
        "amount", pa.array([300.0] * push.num_rows)
    )
    w.csv_file(src / "push" / "elderly_subsidies.csv", push, {}, "utf-8")
    return conns


def _conn_from_url(url: str, conn_type: str) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return {
        "conn_type": conn_type,
        "host": u.host or "127.0.0.1",
        "port": u.port,
        "login": u.username or "",
        "password": u.password or "",
        "schema": u.database or "",
    }


def deliver_late_files(home: Path) -> list[Path]:
    """Move the late drop files into their folders (what a late department upload does)."""
    late = Path(home) / "sources" / "late"
    moved = []
    for path in sorted(late.rglob("*")) if late.exists() else []:
        if path.is_file():
            target = Path(home) / "sources" / "drops" / path.relative_to(late)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), target)
            moved.append(target)
    return moved


__all__ = ["SeedSummary", "deliver_late_files", "generate_people", "seed"]
