"""``onesource gc``: an operator removes what failed runs left, never a committed version."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from typer.testing import CliRunner

from onesource.cli.main import app
from onesource.store import Store


def test_gc_command_removes_orphans_and_keeps_versions(hub_home: Path) -> None:
    store = Store.open()
    data = pa.table({"id": [1, 2, 3]})
    with (
        store.begin_run("ingest", "people") as run,
        store.open_writer("resource", "people", run.id, data.schema) as writer,
    ):
        writer.write(data)
        writer.commit()
    # a run that died after writing: its staging folder stays behind, its run is failed
    failed = store.begin_run("ingest", "people")
    orphan = store.open_writer("resource", "people", failed.id, data.schema)
    orphan.write(data)
    store.finish_run(failed.id, "failed", error="worker lost")
    assert store.warehouse.listdir("_staging") != []

    dry = CliRunner().invoke(app, ["gc", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would remove {orphan.staging}" in dry.output
    assert store.warehouse.listdir("_staging") != []

    done = CliRunner().invoke(app, ["gc"])
    assert done.exit_code == 0, done.output
    assert "removed 1 folder(s)" in done.output
    assert store.warehouse.listdir("_staging") == []
    assert store.read("resource", "people").equals(data)
