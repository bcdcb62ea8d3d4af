"""A typo in one catalog file while the web app runs: the hub keeps serving the last valid
catalog, tells stewards and operators where the problem is, and picks up the fix."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

REPO = Path(__file__).resolve().parents[2]
BROKEN = "resources/grid/grid_events.yaml"
HTML = {"accept": "text/html"}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """A copy of the catalog and an empty hub home, in the environment."""
    from onesource.web import deps

    root = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", root)
    home = tmp_path / "hub"
    monkeypatch.setenv("ONESOURCE_CATALOG", str(root))
    monkeypatch.setenv("ONESOURCE_HOME", str(home))
    monkeypatch.setattr(deps, "CATALOG_RECHECK_SECONDS", 0.0)  # see every edit at once
    deps.reset_caches()
    yield root, home
    deps.reset_caches()


def break_file(root: Path) -> str:
    path = root / BROKEN
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("update_cycle: daily", "update_cycle: dayly"), encoding="utf-8")
    return text


def fix_file(root: Path, text: str) -> None:
    path = root / BROKEN
    path.write_text(text, encoding="utf-8")
    st = path.stat()  # a new mtime even within the filesystem's timestamp granularity
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def no_server_paths(text: str, root: Path, home: Path) -> None:
    for secret in (str(root), str(home), str(root.parent), "/work/", "/tmp/"):
        assert secret not in text, f"{secret} leaked: {text[:300]}"


def exchange_key(home: Path) -> str:
    from onesource.exchange.keys import KeyRing
    from onesource.store import Store

    return KeyRing(Store.open().engine).issue("edu").key


def test_a_typo_leaves_the_hub_on_the_last_valid_catalog(world: tuple[Path, Path]) -> None:
    from onesource.web.app import create_app

    root, home = world
    client = TestClient(create_app())
    key = {"Authorization": f"Bearer {exchange_key(home)}"}
    assert client.get("/healthz").json()["catalog"]["status"] == "ok"
    before = client.get("/api/open/datasets").json()
    resources_before = client.get("/api/exchange/resources", headers=key)
    assert resources_before.status_code == 200

    original = break_file(root)

    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["catalog"]["status"] == "stale"
    assert health.json()["catalog"]["problems"] == 1
    # the public and departments see the last valid catalog, no errors, no paths
    for path, headers in (
        ("/", HTML),
        ("/datasets/grid_events_open", HTML),
        ("/api", HTML),
        ("/api/open/datasets", {}),
        ("/data.json", {}),
        ("/catalog.jsonld", {}),
    ):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
        no_server_paths(resp.text, root, home)
        assert "dayly" not in resp.text
    assert client.get("/api/open/datasets").json() == before
    resources = client.get("/api/exchange/resources", headers=key)
    assert resources.status_code == 200 and resources.json() == resources_before.json()
    # stewards see file:line (relative to the catalog folder) on the status page
    status = client.get("/status/catalog").json()
    assert status["status"] == "stale" and len(status["problems"]) == 1
    assert status["problems"][0].startswith(f"{BROKEN}:")
    assert "'dayly'" in status["problems"][0]
    page = client.get("/status/catalog", headers=HTML)
    assert page.status_code == 200 and f"{BROKEN}:" in page.text
    no_server_paths(page.text + str(status), root, home)

    fix_file(root, original)
    assert client.get("/healthz").json()["catalog"]["status"] == "ok"
    assert client.get("/status/catalog").json()["problems"] == []


def test_the_fix_is_picked_up(world: tuple[Path, Path]) -> None:
    """An edit made while broken (a new title) shows once the catalog validates again."""
    from onesource.web.app import create_app

    root, _home = world
    client = TestClient(create_app())
    assert client.get("/datasets/grid_events_open", headers=HTML).status_code == 200
    original = break_file(root)
    release = root / "releases" / "grid_events_open.yaml"
    text = release.read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    release.write_text(text.replace(title, "title: 网格事件（新标题）"), encoding="utf-8")
    assert "新标题" not in client.get("/datasets/grid_events_open", headers=HTML).text
    fix_file(root, original)
    assert "新标题" in client.get("/datasets/grid_events_open", headers=HTML).text


def test_no_valid_catalog_ever_is_503_without_paths(world: tuple[Path, Path]) -> None:
    from onesource.web.app import create_app

    root, home = world
    break_file(root)
    client = TestClient(create_app(), raise_server_exceptions=False)
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["catalog"]["status"] == "invalid"
    for path, headers in (("/api/open/datasets", {}), ("/data.json", {}), ("/", HTML)):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 503, (path, resp.status_code, resp.text[:300])
        no_server_paths(resp.text, root, home)
        assert "dayly" not in resp.text
    body = client.get("/api/open/datasets").json()
    assert body["error"]["code"] == "catalog-unavailable"
