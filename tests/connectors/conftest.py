"""Fixtures for connector tests: the demo catalog and resources re-pointed at test sources."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from schemas.arrow import resource_schema
from schemas.catalog import Catalog
from schemas.resource import Resource

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    from onesource.catalog.loader import load_catalog

    return load_catalog(REPO / "catalog").raise_for_issues()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No connections.json or connection env vars leak in from the machine."""
    import os

    for key in list(os.environ):
        if key.startswith(("ONESOURCE_CONN_", "AIRFLOW_CONN_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ONESOURCE_HOME", str(tmp_path / "home"))
    yield


def with_connector(catalog: Catalog, name: str, **changes: Any) -> tuple[Resource, pa.Schema]:
    """A copy of a demo resource whose connector has ``changes`` applied."""
    res = catalog.resources[name]
    connector = res.connector.model_copy(update=changes)
    copy = res.model_copy(update={"connector": connector})
    return copy, resource_schema(catalog, copy)


@pytest.fixture
def retarget(catalog: Catalog) -> Any:
    """``retarget(name, **connector_changes) -> (resource, schema)``."""
    return lambda name, **changes: with_connector(catalog, name, **changes)
