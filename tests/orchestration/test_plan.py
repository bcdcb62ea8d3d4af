"""The DAG plan: what DAGs the demo catalog asks for, its cache, and shards."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from onesource.orchestration.plan import (
    MAX_DAGS_PER_FILE,
    SHARDS,
    DagPlan,
    airflow_schedule,
    load_plan,
    shard_of,
)
from schemas.errors import CatalogError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def plan(tmp_path: Path) -> DagPlan:
    return load_plan(REPO / "catalog", tmp_path / "cache")


def test_one_ingest_per_resource_and_one_release_dag_per_release(plan: DagPlan) -> None:
    assert len(plan.ingests) == len(list((REPO / "catalog" / "resources").rglob("*.yaml")))
    assert {r.dag_id for r in plan.releases} == {
        f"release__{p.stem}" for p in (REPO / "catalog" / "releases").glob("*.yaml")
    }


@pytest.mark.parametrize(
    "resource,schedule,connector",
    [
        ("population_register", "@daily", "sql"),
        ("graduates", "@yearly", "files"),
        (
            "students",
            "0 0 1 1,4,7,10 *",
            "files",
        ),  # quarterly, spelled out (Airflow 3 has no @quarterly)
        ("service_ratings", "@daily", "http"),
        ("elderly_subsidies", None, "push"),  # pushed through the exchange API
    ],
    ids=["sql-daily", "files-yearly", "quarterly", "http", "push-unscheduled"],
)
def test_schedule_follows_update_cycle(
    plan: DagPlan, resource: str, schedule: str | None, connector: str
) -> None:
    item = plan.ingest(resource)
    assert (item.schedule, item.connector) == (schedule, connector)
    assert item.dag_id == f"ingest__{resource}"
    assert item.asset_uri == f"onesource://curated/{resource}"


@pytest.mark.parametrize(
    "cron,expected",
    [("*/15 * * * *", "*/15 * * * *"), ("@quarterly", "0 0 1 */3 *"), (None, None)],
    ids=["realtime", "quarterly", "irregular"],
)
def test_airflow_schedule(cron: str | None, expected: str | None) -> None:
    assert airflow_schedule(cron) == expected


def test_release_inputs_are_curated_assets(plan: DagPlan) -> None:
    rel = next(r for r in plan.releases if r.release == "business_register_open")
    assert rel.input_asset_uris == ("onesource://curated/business_register",)
    assert rel.asset_uri == "onesource://open/business_register_open"


def test_shards_partition_the_ingests(plan: DagPlan) -> None:
    seen = [i.resource for n in range(SHARDS) for i in plan.shard(n)]
    assert sorted(seen) == sorted(i.resource for i in plan.ingests)
    assert all(shard_of(i.resource) == n for n in range(SHARDS) for i in plan.shard(n))


def test_thousand_resources_fit_the_per_file_limit() -> None:
    counts = [0] * SHARDS
    for r in range(1_000):
        counts[shard_of(f"res{r:05d}")] += 1
    assert max(counts) <= MAX_DAGS_PER_FILE


def test_cached_plan_round_trips_and_edits_invalidate_it(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", root)
    cache = tmp_path / "cache"
    first = load_plan(root, cache)
    assert [p.name for p in cache.glob("dagplan-*.json")] == [f"dagplan-{first.fingerprint}.json"]
    assert DagPlan.from_json(first.to_json()) == first
    assert load_plan(root, cache) == first
    path = root / "resources" / "grid" / "grid_events.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("update_cycle: daily", "update_cycle: weekly"),
        encoding="utf-8",
    )
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    second = load_plan(root, cache)
    assert second.fingerprint != first.fingerprint
    assert second.ingest("grid_events").schedule == "@weekly"
    assert len(list(cache.glob("dagplan-*.json"))) == 1


def test_broken_catalog_raises_with_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", root)
    path = root / "resources" / "grid" / "grid_events.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("update_cycle: daily", "update_cycle: dayly"),
        encoding="utf-8",
    )
    with pytest.raises(CatalogError) as info:
        load_plan(root, tmp_path / "cache")
    assert "grid_events.yaml:" in str(info.value)
    assert not list((tmp_path / "cache").glob("dagplan-*.json"))
