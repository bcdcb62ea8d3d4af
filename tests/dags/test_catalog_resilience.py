"""A typo in the catalog while Airflow runs: the DAGs stay, built from the last valid catalog,
and one import error on the status file names file:line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow
REPO = Path(__file__).resolve().parents[2]
STATUS_FILE = str(REPO / "onesource" / "dags" / "onesource_catalog.py")


def _bag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "onesource" / "dags"))


def test_dags_keep_the_last_valid_catalog_while_it_is_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", root)
    monkeypatch.setenv("ONESOURCE_CATALOG", str(root))
    monkeypatch.setenv("ONESOURCE_HOME", str(tmp_path / "hub"))
    from onesource.settings import get_settings

    get_settings.cache_clear()
    valid = _bag()
    assert valid.import_errors == {}
    assert "ingest__grid_events" in valid.dags and len(valid.dags) > 10

    path = root / "resources" / "grid" / "grid_events.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("update_cycle: daily", "update_cycle: dayly"), encoding="utf-8")
    broken = _bag()
    assert list(broken.import_errors) == [STATUS_FILE]
    error = broken.import_errors[STATUS_FILE]
    assert error.count("resources/grid/grid_events.yaml:17:") == 1 and "'dayly'" in error
    assert "last valid catalog" in error
    assert set(broken.dags) == set(valid.dags)  # every DAG still there, none half-built

    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    fixed = _bag()
    get_settings.cache_clear()
    assert fixed.import_errors == {} and set(fixed.dags) == set(valid.dags)
