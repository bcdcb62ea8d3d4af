"""Stewards' pages: only stewards see them; the data map, a broken catalog's problems
(while the portal keeps serving), and quality over time."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.console.conftest import REPO, World

PAGES = ["/console/steward", "/console/steward/map", "/console/steward/catalog",
         "/console/steward/quality"]  # fmt: skip


@pytest.mark.parametrize("who", ["edu.officer", "psb.approver"])
def test_only_stewards_see_the_steward_pages(clients: dict[str, TestClient], who: str) -> None:
    for page in PAGES:
        assert clients[who].get(page).status_code == 403, page


def test_data_map_names_source_carriers_readers_and_releases(
    world: World, clients: dict[str, TestClient]
) -> None:
    from onesource.exchange.grants import GrantBook

    book = GrantBook(world.hub.store.engine)
    req = book.request(
        world.hub.catalog, "edu", "population_register", ["name"], "入学", "条例", 30
    )
    book.decide("psb", req.id, True, None, decided_by="psb.approver")
    page = clients["steward"].get("/console/steward/map?q=person.name")
    assert page.status_code == 200
    html = page.text
    row = html[html.index('id="el-person.name"') :]
    row = row[: row.index("</tr>")]
    assert "psb" in row and "★ population_register" in row
    assert "social_assistance (civil)" in row and "students (edu)" in row
    assert "edu (population_register)" in row  # read under the grant
    grid = clients["steward"].get("/console/steward/map?q=grid_event.event_type").text
    assert "grid_events_open" in grid  # a release derived from it


def test_quality_page_charts_scores_with_a_table(
    world: World, clients: dict[str, TestClient]
) -> None:
    store = world.hub.store
    with store.begin_run("ingest", "population_register") as run:
        summary = {
            "rows_checked": 4,
            "rows_quarantined": 1,
            "scores": {"completeness": 0.9, "validity": 0.75, "uniqueness": 1.0},
        }
        store.record_quality(run.id, "population_register", summary, True)
        run.finish("succeeded")
    html = clients["steward"].get("/console/steward/quality").text
    assert '<svg viewBox="0 0 640' in html and 'role="img"' in html and "<desc" in html
    psb = html[html.index('id="sc-psb"') :]
    assert "88.3%" in psb[: psb.index("</section>")]  # overall, also as a table cell
    assert "release-risk" in html and "runs-table" in html
    assert 'id="overdue-objections"' in html


@pytest.fixture
def broken_catalog(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The app's catalog is a copy, valid once (compiled), then broken in one file."""
    from onesource.catalog.compiled import load_compiled
    from onesource.settings import get_settings

    root = tmp_path / "catalog"
    # new mtimes: a copy with the same fingerprint would reuse the repo catalog's snapshot
    shutil.copytree(REPO / "catalog", root, copy_function=shutil.copy)
    monkeypatch.setenv("ONESOURCE_CATALOG", str(root))
    get_settings.cache_clear()
    load_compiled(root)
    target = root / "resources" / "psb" / "population_register.yaml"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("update_cycle: daily", "update_cycle: hourlyish"), "utf-8")
    yield root
    monkeypatch.undo()
    get_settings.cache_clear()


def test_catalog_health_shows_problems_while_the_portal_serves(
    world: World, clients: dict[str, TestClient], broken_catalog: Path
) -> None:
    html = clients["steward"].get("/console/steward/catalog").text
    assert 'id="problems"' in html
    assert "resources/psb/population_register.yaml:" in html and "update_cycle" in html
    assert str(broken_catalog) not in html  # paths relative to the catalog folder
    assert "上一个有效目录" in html
    assert "catalog-alert" in clients["steward"].get("/console/steward").text
    assert TestClient(world.app).get("/").status_code == 200  # the portal keeps serving
