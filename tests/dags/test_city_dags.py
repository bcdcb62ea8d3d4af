"""The DAG files ``onesource init`` writes into a city's repository build every DAG of
its catalog, with no import error."""

from __future__ import annotations

from pathlib import Path

import pytest

from onesource.scaffold import create

pytestmark = pytest.mark.airflow


def test_city_dags_folder_builds_every_dag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    city = create(tmp_path / "my-city").root
    monkeypatch.setenv("ONESOURCE_CATALOG", str(city / "catalog"))
    monkeypatch.setenv("ONESOURCE_HOME", str(city / "var"))
    bag = DagBag(dag_folder=str(city / "dags"))
    assert bag.import_errors == {}
    assert set(bag.dags) == {
        "ingest__service_points",
        "release__service_points_open",
        "quality_scorecard",
    }


def test_the_repositorys_dags_folder_is_a_citys(monkeypatch: pytest.MonkeyPatch) -> None:
    """``dags/`` at the top of this repository is the demo city's DAG folder: the files
    ``onesource init`` gives every city (no drift), building the same DAGs from
    ``catalog/`` as the sharded loader files installed with the package."""
    from airflow.dag_processing.dagbag import DagBag

    from onesource.dags import FOLDER
    from onesource.scaffold import TEMPLATE

    repo = Path(__file__).resolve().parents[2]
    ours = {p.name: p.read_bytes() for p in (repo / "dags").glob("*.py")}
    assert ours == {p.name: p.read_bytes() for p in (TEMPLATE / "dags").glob("*.py")}
    monkeypatch.setenv("ONESOURCE_CATALOG", str(repo / "catalog"))
    bag = DagBag(dag_folder=str(repo / "dags"))
    sharded = DagBag(dag_folder=str(FOLDER))
    assert bag.import_errors == {} and sharded.import_errors == {}
    assert len(bag.dags) > 20 and set(bag.dags) == set(sharded.dags)
