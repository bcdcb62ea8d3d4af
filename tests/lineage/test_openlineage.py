"""OpenLineage: one ingest and one release emit START/COMPLETE naming department -> release."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from onesource import lineage


def events(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_ingest_and_release_name_their_datasets(
    hub_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.catalog.compiled import load_compiled
    from onesource.demo import datasets as ds
    from onesource.demo.people import generate_people
    from onesource.pipeline.ingest import ingest
    from onesource.release.build import build_release
    from onesource.settings import get_settings

    drop = tmp_path / "drop"
    drop.mkdir()
    pq.write_table(
        ds.grid_events(np.random.default_rng(3), generate_people(400, 3)), drop / "a.parquet"
    )
    monkeypatch.setenv("ONESOURCE_CONN_GRID_DROP", f"file://{drop}")
    monkeypatch.setenv("ONESOURCE_RELEASE_KEY", "hex:" + "5a" * 32)
    out = tmp_path / "lineage.jsonl"
    monkeypatch.setenv("ONESOURCE_LINEAGE", f"file:{out}")
    catalog = load_compiled(get_settings().catalog)

    ingested = ingest("grid_events", catalog=catalog)
    assert ingested.status == "succeeded", ingested.summary()
    released = build_release("grid_events_open", catalog=catalog)

    got = events(out)
    assert [(e["eventType"], e["job"]["name"]) for e in got] == [
        ("START", "ingest.grid_events"),
        ("COMPLETE", "ingest.grid_events"),
        ("START", "release.grid_events_open"),
        ("COMPLETE", "release.grid_events_open"),
    ]
    ingest_done, release_done = got[1], got[3]
    assert got[0]["run"]["runId"] == ingest_done["run"]["runId"] != release_done["run"]["runId"]
    provider = catalog.resources["grid_events"].provider
    assert [(d["namespace"], d["name"]) for d in ingest_done["inputs"]] == [
        (f"department://{provider}", "grid_events")
    ]
    assert [(d["namespace"], d["name"]) for d in ingest_done["outputs"]] == [
        ("onesource", "curated/grid_events")
    ]
    assert ingest_done["outputs"][0]["facets"]["version"]["datasetVersion"] == str(ingested.version)
    # the release reads what the ingest wrote: the chain department -> curated -> open
    assert ("onesource", "curated/grid_events") in [
        (d["namespace"], d["name"]) for d in release_done["inputs"]
    ]
    assert [(d["namespace"], d["name"]) for d in release_done["outputs"]] == [
        ("onesource", "open/grid_events_open")
    ]
    assert release_done["outputs"][0]["facets"]["version"]["datasetVersion"] == str(
        released.version
    )


def test_failure_is_a_fail_event_and_off_emits_nothing(
    hub_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.release.build import build_release
    from schemas.errors import OneSourceError

    out = tmp_path / "lineage.jsonl"
    monkeypatch.setenv("ONESOURCE_LINEAGE", f"file:{out}")
    with pytest.raises(OneSourceError):
        build_release("no_such_release")
    kinds = [e["eventType"] for e in events(out)]
    assert kinds == ["START", "FAIL"]
    assert "no_such_release" in events(out)[1]["run"]["facets"]["errorMessage"]["message"]

    monkeypatch.setenv("ONESOURCE_LINEAGE", "off")
    assert lineage.client() is None
    monkeypatch.setenv("ONESOURCE_LINEAGE", "kafka")
    with pytest.raises(OneSourceError, match="not a lineage transport"):
        lineage.client()
