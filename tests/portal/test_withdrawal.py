"""Withdrawn releases stay withdrawn: 410 Gone on every path, the reason shown, ETags changed,
the withdrawal audited; rollback withdraws what it rolled back past."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

REPO = Path(__file__).resolve().parents[2]
NAME = "grid_events_open"
HTML = {"accept": "text/html"}
ONESOURCE = str(Path(sys.executable).parent / "onesource")


def _publish(home: Path) -> None:
    """grid_events v1 and three versions of its open release."""
    from onesource.catalog.loader import load_catalog
    from onesource.demo import datasets as ds
    from onesource.demo.people import generate_people
    from onesource.release.build import build_release
    from onesource.store import Store
    from schemas.arrow import resource_schema

    catalog = load_catalog(REPO / "catalog").raise_for_issues()
    store = Store.open()
    schema = resource_schema(catalog, catalog.resources["grid_events"])
    table = ds.grid_events(np.random.default_rng(5), generate_people(8_000, 5))
    with (
        store.begin_run("ingest", "grid_events") as run,
        store.open_writer("resource", "grid_events", run.id, schema) as w,
    ):
        w.write(table.select(schema.names).cast(schema))
        w.commit()
    for _ in range(3):
        build_release(NAME, store=store, catalog=catalog)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from onesource.web.deps import reset_caches

    home = tmp_path_factory.mktemp("withdraw")
    env = {
        "ONESOURCE_HOME": str(home),
        "ONESOURCE_CATALOG": str(REPO / "catalog"),
        "ONESOURCE_RELEASE_KEY": "w" * 40,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_caches()
    _publish(home)
    yield env
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    reset_caches()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ONESOURCE, *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def client() -> TestClient:
    from onesource.web.app import create_app
    from onesource.web.deps import reset_caches
    from onesource.web.portal import api

    reset_caches()
    for cache in (api._tables, api._too_big, api._current):
        cache.clear()  # the rows API re-reads the current version at most once a second
    return TestClient(create_app())


def gone(resp: Any, reason: str | None = None) -> None:
    assert resp.status_code == 410, (resp.status_code, resp.text[:300])
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] in ("gone", "version-withdrawn")
    if reason:
        assert reason in body["error"]["message"]
    assert "no-store" in resp.headers.get("cache-control", "")


def download(c: TestClient, version: int | None = None, file: str = "data.csv") -> Any:
    params = {"version": str(version)} if version is not None else {}
    return c.get(f"/datasets/{NAME}/download/{file}", params=params)


def test_withdraw_and_rollback_of_a_release(world: dict[str, str]) -> None:
    c = client()
    before = download(c)
    assert before.status_code == 200 and download(c, 3).status_code == 200

    # rollback withdraws what it rolled back past
    done = cli(world, "rollback", NAME, "--kind", "release", "--to", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "withdrawn: version 3" in done.stdout
    c = client()
    for file in ("data.csv", "data.json", "data.parquet", "dcat.jsonld", "checksums.sha256"):
        gone(download(c, 3, file), "rolled back to version 2")
    current = download(c)
    assert current.status_code == 200 and current.headers["etag"] != before.headers["etag"]
    assert c.get(f"/api/open/datasets/{NAME}").json()["version"] == 2
    refused = cli(world, "rollback", NAME, "--kind", "release", "--to", "3")
    assert refused.returncode == 1 and "withdrawn" in refused.stdout + refused.stderr
    assert client().get(f"/api/open/datasets/{NAME}").json()["version"] == 2

    # withdraw the current version: readers move to v1; v2 is gone on every path
    reason = "geocodes of 3 events too precise"
    out = cli(world, "release", "withdraw", NAME, "--version", "2", "--reason", reason)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "readers now see version 1" in out.stdout
    c = client()
    gone(download(c, 2), reason)
    gone(download(c, 2, "data.parquet"), reason)
    v1 = download(c)
    assert v1.status_code == 200 and v1.headers["etag"] not in (
        before.headers["etag"],
        current.headers["etag"],
    )
    assert v1.headers["etag"].startswith('"v1-')
    meta = c.get(f"/api/open/datasets/{NAME}").json()
    assert meta["version"] == 1
    assert {(w["version"], w["reason"]) for w in meta["withdrawn"]} == {
        (2, reason),
        (3, "rolled back to version 2"),
    }
    rows = c.get(f"/api/open/datasets/{NAME}/rows", params={"limit": 1}).json()
    assert rows["total"] == meta["rows"]
    page = c.get(f"/datasets/{NAME}", headers=HTML).text
    assert reason in page and "已撤回" in page
    en = c.get(f"/datasets/{NAME}?lang=en", headers=HTML).text
    assert re.search(r"withdrawn [0-9-]+ [0-9:]+: " + re.escape(reason), en)
    for d in c.get("/data.json").json()["dataset"]:
        if d["identifier"] == NAME:
            for dist in d["distribution"]:
                path = dist["downloadURL"].split("127.0.0.1:8000", 1)[1]
                assert c.get(path).headers["etag"].startswith('"v1-')
    assert re.search(r"versionInfo\W+1\b", c.get("/catalog.jsonld").text)

    # audited: in the hash chain, with the reason
    from onesource.exchange.audit import AuditLog
    from onesource.store import Store

    log = AuditLog(Store.open().engine)
    entries = log.query(resource=NAME)
    assert any(reason in (e.get("purpose") or "") for e in entries), entries
    assert any("rolled back to version 2" in (e.get("purpose") or "") for e in entries)
    assert log.verify().ok

    # withdrawing the last public version leaves nothing to serve: 410, not a stale file
    out = cli(world, "release", "withdraw", NAME, "--version", "1", "--reason", "source recalled")
    assert out.returncode == 0 and "no version is public now" in out.stdout
    c = client()
    gone(download(c))
    gone(download(c, 1), "source recalled")
    gone(c.get(f"/api/open/datasets/{NAME}/rows"))
    assert NAME not in [d["identifier"] for d in c.get("/data.json").json()["dataset"]]
    assert f"datasets/{NAME}/download" not in c.get("/catalog.jsonld").text
    assert c.get(f"/datasets/{NAME}", headers=HTML).status_code == 200
    again = cli(world, "release", "withdraw", NAME, "--version", "1", "--reason", "x")
    assert again.returncode == 0 and "already withdrawn" in again.stdout
    unknown = cli(world, "release", "withdraw", NAME, "--version", "9", "--reason", "x")
    assert unknown.returncode == 1
    usage = cli(world, "release", "withdraw", NAME, "--version", "1")
    assert usage.returncode == 2
