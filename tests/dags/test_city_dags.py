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
