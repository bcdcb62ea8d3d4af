"""The hub with its warehouse on an S3-protocol server (moto, through s3fs), configured as an
operator would: ``ONESOURCE_WAREHOUSE=s3://bucket/prefix`` plus the standard AWS_* environment.

An ingest from a file drop (itself on S3), a release built and published, and the portal's
downloads (checksums, ETag, Range) and rows API, all reading objects from the server.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from onesource.store import Store
from schemas.identifiers import id_check_char
from tests.s3.server import new_bucket

REPO = Path(__file__).resolve().parents[2]
HEAD = "学籍号,身份证号,姓名,性别,学校,年级,入学日期,户籍区划"


def student(i: int) -> str:
    body = f"33990220100101{i:03d}"
    return f"S{i:05d},{body}{id_check_char(body)},学生{i},1,清河一小,3,2019-09-01,339902"


@pytest.fixture(scope="module")
def s3_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A hub home whose warehouse and file drop are on S3; students ingested, one release."""
    import fsspec
    import numpy as np

    from onesource.catalog.loader import load_catalog
    from onesource.demo import datasets as ds
    from onesource.demo.people import generate_people
    from onesource.pipeline.ingest import ingest
    from onesource.release.build import build_release
    from onesource.web.deps import reset_caches
    from schemas.arrow import resource_schema

    mp = pytest.MonkeyPatch()
    try:
        bucket = new_bucket(mp, "portal")
        mp.setenv("ONESOURCE_HOME", str(tmp_path_factory.mktemp("s3hub")))
        mp.setenv("ONESOURCE_CATALOG", str(REPO / "catalog"))
        mp.setenv("ONESOURCE_WAREHOUSE", f"s3://{bucket}/hub")
        mp.setenv("ONESOURCE_RELEASE_KEY", "s" * 40)
        mp.setenv("ONESOURCE_CONN_EDU_DROP", f"s3://{bucket}/drops/edu")
        reset_caches()
        catalog = load_catalog(REPO / "catalog").raise_for_issues()
        store = Store.open()
        assert store.warehouse.url == f"s3://{bucket}/hub"

        drop = fsspec.filesystem("s3")
        csv = "\n".join([HEAD, *(student(i) for i in range(6))]) + "\n"
        drop.pipe(f"{bucket}/drops/edu/students.csv", csv.encode())
        result = ingest("students", store=store, catalog=catalog)
        assert result.status == "succeeded", result.error

        folk = generate_people(2_000, 3)
        events = ds.grid_events(np.random.default_rng(3), folk)
        schema = resource_schema(catalog, catalog.resources["grid_events"])
        with (
            store.begin_run("ingest", "grid_events") as run,
            store.open_writer("resource", "grid_events", run.id, schema) as writer,
        ):
            writer.write(events.select(schema.names).cast(schema))
            writer.commit()
        build_release("grid_events_open", store=store, catalog=catalog)
        yield store
    finally:
        mp.undo()
        reset_caches()


@pytest.fixture
def s3_client(s3_hub: Store):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from onesource.web.app import create_app

    return TestClient(create_app())


def test_ingest_from_an_s3_drop_commits_a_checked_version(s3_hub: Store) -> None:
    version = s3_hub.current("resource", "students")
    assert version is not None and version.row_count == 6
    table = s3_hub.read("resource", "students")
    assert table.num_rows == 6 and table.schema.names[0] == "student_number"
    # the version, its raw landing and its quality report are objects on the server
    objects = s3_hub.warehouse.files("")
    assert f"{version.path}/data.parquet" in objects
    assert any(o.startswith(f"raw/students/{version.run_id}/") for o in objects)
    assert any(o.startswith(f"reports/students/{version.run_id}/") for o in objects)
    assert not any(o.startswith("_staging/") for o in objects)
    run = s3_hub.run(version.run_id)
    assert (run.status, run.rows_good) == ("succeeded", 6)


def test_release_is_published_to_s3_and_verifies(s3_hub: Store) -> None:
    from onesource.release.verify import verify_release

    release = s3_hub.current("release", "grid_events_open")
    assert release is not None
    files = s3_hub.files("release", "grid_events_open")
    assert {"data.csv", "data.parquet", "datapackage.json", "checksums.sha256"} <= set(files)
    for name, digest in _checksums(s3_hub).items():
        with s3_hub.open_file("release", "grid_events_open", name) as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == digest, name
    assert verify_release("grid_events_open", store=s3_hub).ok


def _checksums(store: Store) -> dict[str, str]:
    with store.open_file("release", "grid_events_open", "checksums.sha256") as fh:
        lines = fh.read().decode().splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines if line)}


def test_downloads_with_etag_and_range(s3_client, s3_hub: Store) -> None:  # type: ignore[no-untyped-def]
    url = "/datasets/grid_events_open/download/data.csv"
    whole = s3_client.get(url)
    assert whole.status_code == 200, whole.text
    assert hashlib.sha256(whole.content).hexdigest() == _checksums(s3_hub)["data.csv"]
    assert s3_client.get(url, headers={"if-none-match": whole.headers["etag"]}).status_code == 304
    size = len(whole.content)
    for header, start, end in (
        ("bytes=3-12", 3, 12),
        ("bytes=-5", size - 5, size - 1),
        (f"bytes={size - 100}-", size - 100, size - 1),
    ):
        part = s3_client.get(url, headers={"range": header})
        assert part.status_code == 206, header
        assert part.content == whole.content[start : end + 1], header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
    assert s3_client.get(url, headers={"range": f"bytes={size}-"}).status_code == 416
    parquet = s3_client.get("/datasets/grid_events_open/download/data.parquet")
    assert hashlib.sha256(parquet.content).hexdigest() == _checksums(s3_hub)["data.parquet"]


def test_rows_api_reads_the_release_from_s3(s3_client, s3_hub: Store) -> None:  # type: ignore[no-untyped-def]
    api = "/api/open/datasets/grid_events_open/rows"
    first = s3_client.get(api, params={"limit": 5})
    assert first.status_code == 200, first.text
    second = s3_client.get(api, params={"limit": 5, "offset": 5}).json()
    expected = s3_hub.read("release", "grid_events_open")
    assert first.json()["total"] == expected.num_rows
    assert len(first.json()["rows"]) == 5 and first.json()["rows"] != second["rows"]
    safety = s3_client.get(api, params={"event_type": "safety", "limit": 1000}).json()
    want = pa.compute.sum(pa.compute.equal(expected["event_type"], "safety")).as_py()
    assert safety["total"] == want and all(r["event_type"] == "safety" for r in safety["rows"])


def test_a_new_version_is_served_only_once_committed(s3_client, s3_hub: Store) -> None:  # type: ignore[no-untyped-def]
    """Objects of an uncommitted release version (copied into place, no DB row) are never
    served: the portal follows the metadata DB, not a listing of the bucket."""
    current = s3_hub.current("release", "grid_events_open")
    assert current is not None
    ghost = f"open/grid_events_open/v{current.number + 1}-GHOST"
    s3_hub.warehouse.fs.pipe(s3_hub.warehouse.full(f"{ghost}/data.csv"), b"not yet\n")
    meta = s3_client.get("/api/open/datasets/grid_events_open").json()
    assert meta["version"] == current.number
    versioned = f"/datasets/grid_events_open/download/data.csv?version={current.number + 1}"
    assert s3_client.get(versioned).status_code == 404
    assert s3_hub.gc().removed == [ghost]
    assert os.environ.get("ONESOURCE_WAREHOUSE", "").startswith("s3://")
