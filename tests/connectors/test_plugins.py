"""A connector plugin brings its own spec model through a real entry point.

The plugin is a distribution on ``sys.path`` (a package plus its ``.dist-info`` with
``entry_points.txt``), found by ``importlib.metadata`` as an installed one would be.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from connectors import registry
from connectors.base import SourceState
from connectors.errors import UnknownConnectorError
from onesource.catalog.loader import load_catalog
from schemas.arrow import resource_schema
from schemas.connector import PluginConnector, PluginSpec

REPO = Path(__file__).resolve().parents[2]
PLUGIN = """
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from connectors.base import Extraction
from schemas.base import ConnectionId
from schemas.connector import PluginSpec

SEEN = []


class DropBoxSpec(PluginSpec):
    type: Literal["drop_box"]
    connection: ConnectionId
    box: str = Field(min_length=1)
    max_files: int = Field(10, ge=1, le=100)


class DropBoxSource:
    type: ClassVar[str] = "drop_box"
    spec: ClassVar[type[PluginSpec]] = DropBoxSpec

    def extract(self, resource, schema, state):
        SEEN.append(resource.connector)

        def produce(ex):
            return iter(())

        return Extraction(schema, produce, state)


class NoSpecSource:
    type: ClassVar[str] = "no_spec"
"""
CONNECTOR = """connector:
  type: files
  connection: grid_drop
  pattern: '*.parquet'
  format: parquet
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    (root / "qinghe_dropbox").mkdir()
    (root / "qinghe_dropbox" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    info = root / "qinghe_dropbox-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: qinghe-dropbox\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[onesource.connectors]\n"
        "drop_box = qinghe_dropbox:DropBoxSource\n"
        "no_spec = qinghe_dropbox:NoSpecSource\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture
def plugin(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_loaded", {})


def catalog_with(tmp_path: Path, connector: str) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", root)
    path = root / "resources" / "grid" / "grid_events.yaml"
    text = path.read_text(encoding="utf-8")
    assert CONNECTOR in text
    path.write_text(text.replace(CONNECTOR, textwrap.dedent(connector)), encoding="utf-8")
    return root


def test_plugin_spec_checks_options_and_the_source_gets_its_model(
    plugin: None, tmp_path: Path
) -> None:
    root = catalog_with(
        tmp_path,
        """connector:
          type: drop_box
          connection: grid_drop
          box: /exports/daily
          max_files: 3
        """,
    )
    result = load_catalog(root)
    assert not result.errors, [str(i) for i in result.errors]
    spec = result.catalog.resources["grid_events"].connector
    assert type(spec).__name__ == "DropBoxSpec" and isinstance(spec, PluginSpec)
    assert (spec.box, spec.max_files) == ("/exports/daily", 3)  # type: ignore[attr-defined]
    assert "drop_box" in registry.known_types()
    res = result.catalog.resources["grid_events"]
    source = registry.get_source("drop_box")
    source.extract(res, resource_schema(result.catalog, res), SourceState()).read_all()
    import qinghe_dropbox

    assert [spec] == qinghe_dropbox.SEEN


def test_compiled_catalog_keeps_the_plugin_model(plugin: None, tmp_path: Path) -> None:
    """The JSON snapshot DAG parsing and the web app read gives the plugin's model back."""
    from onesource.catalog.compiled import load_compiled

    root = catalog_with(
        tmp_path, "connector:\n  type: drop_box\n  connection: grid_drop\n  box: /in\n"
    )
    for _ in range(2):  # compiled, then read from the cache
        spec = load_compiled(root, tmp_path / "cache").resources["grid_events"].connector
        assert type(spec).__name__ == "DropBoxSpec" and spec.model_dump()["box"] == "/in"
    assert len(list((tmp_path / "cache").glob("catalog-*.json"))) == 1


def test_plugin_option_errors_name_file_line_and_option(plugin: None, tmp_path: Path) -> None:
    root = catalog_with(
        tmp_path,
        """connector:
          type: drop_box
          connection: grid_drop
          max_files: 500
          boxx: /exports
        """,
    )
    shown = sorted(str(i) for i in load_catalog(root).errors)
    grid = [s for s in shown if "grid_events.yaml" in s]
    assert len(grid) == 3, grid  # every finding in the file, not just the first
    assert any(":25:22: connector.max_files:" in s and "100" in s for s in grid), grid
    assert any(":26:17: connector.boxx: unknown key 'boxx'" in s and "'box'" in s for s in grid)
    assert any(":22:1: connector.box: missing" in s for s in grid), grid


@pytest.mark.parametrize(
    "kind,message",
    [("ftp", "unknown connector type 'ftp'"), ("no_spec", "declares no spec model")],
    ids=["unknown", "no-spec"],
)
def test_plugin_types_without_a_model_are_refused(
    plugin: None, tmp_path: Path, kind: str, message: str
) -> None:
    root = catalog_with(tmp_path, f"connector:\n  type: {kind}\n  connection: grid_drop\n")
    [issue] = [str(i) for i in load_catalog(root).errors if "grid_events" in str(i)]
    assert "grid_events.yaml:23:" in issue and "connector.type" in issue and message in issue


def test_a_built_in_type_never_falls_back_to_a_plugin(plugin: None) -> None:
    from pydantic import TypeAdapter, ValidationError

    from schemas.connector import ConnectorSpec

    adapter: TypeAdapter[object] = TypeAdapter(ConnectorSpec)
    with pytest.raises(ValidationError, match="sql"):
        adapter.validate_python({"type": "sql", "connection": "x", "box": "/"})
    assert isinstance(adapter.validate_python({"type": "drop_box", "box": "/"}), PluginConnector)
    with pytest.raises(ValueError, match="built-in"):
        registry.spec_model("sql")
    with pytest.raises(UnknownConnectorError):
        registry.spec_model("nothing_here")
