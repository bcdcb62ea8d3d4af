"""Parse the DAG folder as Airflow does (parse-only: no metadata DB)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow
REPO = Path(__file__).resolve().parents[2]


def _bag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "onesource" / "dags"))


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    mp = pytest.MonkeyPatch()
    mp.setenv("ONESOURCE_HOME", str(tmp_path_factory.mktemp("hub")))
    mp.setenv("ONESOURCE_CATALOG", str(REPO / "catalog"))
    from onesource.settings import get_settings

    get_settings.cache_clear()
    try:
        yield _bag()
    finally:
        mp.undo()
        get_settings.cache_clear()


def test_no_import_errors(bag) -> None:  # type: ignore[no-untyped-def]
    assert bag.import_errors == {}


def test_expected_dag_ids(bag) -> None:  # type: ignore[no-untyped-def]
    resources = {p.stem for p in (REPO / "catalog" / "resources").rglob("*.yaml")}
    releases = {p.stem for p in (REPO / "catalog" / "releases").glob("*.yaml")}
    expected = (
        {f"ingest__{r}" for r in resources}
        | {f"release__{r}" for r in releases}
        | {"quality_scorecard"}
    )
    assert set(bag.dags) == expected


@pytest.mark.parametrize(
    "dag_id,task_id,schedule",
    [
        ("ingest__population_register", "ingest", "@daily"),
        ("ingest__properties", "ingest", "@weekly"),
        ("ingest__students", "ingest", "0 0 1 1,4,7,10 *"),  # UpdateCycle.quarterly.cron
        ("ingest__elderly_subsidies", "announce", None),
        ("quality_scorecard", "scorecard", "@daily"),
    ],
    ids=["daily", "weekly", "quarterly", "push", "scorecard"],
)
def test_tasks_and_cron_schedules(bag, dag_id: str, task_id: str, schedule: str | None) -> None:  # type: ignore[no-untyped-def]
    dag = bag.dags[dag_id]
    assert [t.task_id for t in dag.tasks] == [task_id]
    assert dag.schedule == schedule
    assert dag.catchup is False


def test_ingest_retries_only_for_transient_errors(bag) -> None:  # type: ignore[no-untyped-def]
    task = bag.dags["ingest__population_register"].get_task("ingest")
    assert task.retries == 3
    assert task.retry_exponential_backoff
    assert [o.uri for o in task.outlets] == ["onesource://curated/population_register"]


def test_release_is_scheduled_on_its_input_assets(bag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import Asset

    dag = bag.dags["release__business_register_open"]
    assert dag.timetable.asset_condition == Asset(
        uri="onesource://curated/business_register", group="onesource-curated"
    )
    assert [o.uri for o in dag.get_task("build_release").outlets] == [
        "onesource://open/business_register_open"
    ]


def test_release_with_two_inputs_waits_for_both() -> None:
    from airflow.sdk.definitions.asset import AssetAll

    from onesource.orchestration.airflow_dags import release_dag
    from onesource.orchestration.plan import ReleasePlan

    dag = release_dag(ReleasePlan("joined", "amr", "t", ("a", "b")))
    cond = dag.timetable.asset_condition
    assert isinstance(cond, AssetAll)
    assert {a.uri for a in cond.objects} == {"onesource://curated/a", "onesource://curated/b"}


def test_worker_builds_only_the_dag_it_runs(
    monkeypatch: pytest.MonkeyPatch, hub_home: Path
) -> None:
    from onesource.orchestration.airflow_dags import build_ingest_dags
    from onesource.orchestration.plan import SHARDS, load_plan

    plan = load_plan()
    shard = max(range(SHARDS), key=lambda n: len(plan.shard(n)))
    items = plan.shard(shard)
    assert len(items) > 1
    assert len(build_ingest_dags(shard)) == len(items)
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", items[-1].dag_id)
    assert list(build_ingest_dags(shard)) == [items[-1].dag_id]


def test_broken_catalog_is_one_import_error_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", root)
    path = root / "resources" / "grid" / "grid_events.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("update_cycle: daily", "update_cycle: dayly"), encoding="utf-8")
    monkeypatch.setenv("ONESOURCE_CATALOG", str(root))
    monkeypatch.setenv("ONESOURCE_HOME", str(tmp_path / "hub"))
    from onesource.settings import get_settings

    get_settings.cache_clear()
    bag = _bag()
    get_settings.cache_clear()
    assert list(bag.import_errors) == [str(REPO / "onesource" / "dags" / "onesource_catalog.py")]
    error = next(iter(bag.import_errors.values()))
    assert "grid_events.yaml:17:" in error
    assert "'dayly'" in error
    assert error.count("grid_events.yaml:17:") == 1  # once, not once per loader file
    assert set(bag.dags) == {"quality_scorecard"}  # needs no catalog
