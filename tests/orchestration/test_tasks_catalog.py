"""Airflow tasks run on the last valid catalog while the working one is broken."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from onesource.orchestration import tasks
from schemas.errors import TerminalError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def catalog_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from onesource.settings import get_settings

    root = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", root)
    monkeypatch.setenv("ONESOURCE_CATALOG", str(root))
    monkeypatch.setenv("ONESOURCE_HOME", str(tmp_path / "hub"))
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


def test_ingest_task_runs_on_the_last_valid_catalog(
    catalog_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onesource.pipeline.ingest as ingest_module
    from onesource.catalog.compiled import load_serving

    seen: dict[str, Any] = {}

    def fake_ingest(resource: str, *, trigger: str, catalog: Any) -> Any:
        seen["catalog"] = catalog
        raise TerminalError("stopped after the catalog was loaded")

    load_serving(catalog_root)  # the hub compiled a valid catalog once
    path = catalog_root / "resources" / "grid" / "grid_events.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("update_cycle: daily", "update_cycle: dayly"),
        encoding="utf-8",
    )
    monkeypatch.setattr(ingest_module, "ingest", fake_ingest)
    outcome = tasks.run_ingest("grid_events")
    assert "grid_events" in seen["catalog"].resources  # the last valid one, not a CatalogError
    assert seen["catalog"].resources["grid_events"].update_cycle.value == "daily"
    assert "stopped after the catalog was loaded" in outcome.message
