"""The lazy connector registry: built-ins, entry points, unknown types, missing drivers."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from connectors import registry
from connectors.errors import DriverMissingError, UnknownConnectorError
from connectors.files import FilesSource
from connectors.sql import SqlSource


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registered", {})
    monkeypatch.setattr(registry, "_loaded", {})


@pytest.mark.parametrize(
    "type_,cls", [("sql", SqlSource), ("files", FilesSource)], ids=["sql", "files"]
)
def test_builtin_types(type_: str, cls: type) -> None:
    assert isinstance(registry.get_source(type_), cls)


def test_unknown_type_lists_known_ones() -> None:
    with pytest.raises(UnknownConnectorError) as err:
        registry.get_source("ftp")
    text = str(err.value)
    assert "'ftp'" in text and all(t in text for t in ("files", "http", "push", "sql"))
    assert "onesource.connectors" in text


def test_entry_point_connector(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint(
        name="ftp", value="connectors.files:FilesSource", group=registry.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group=None: [ep])
    assert "ftp" in registry.known_types()
    assert isinstance(registry.get_source("ftp"), FilesSource)


def test_missing_driver_breaks_only_its_connector() -> None:
    registry.register_lazy("oracle", "onesource_no_such_driver.source:OracleSource")
    with pytest.raises(DriverMissingError) as err:
        registry.get_source("oracle")
    assert "onesource_no_such_driver" in str(err.value) and "'oracle'" in str(err.value)
    assert isinstance(registry.get_source("sql"), SqlSource)
