"""A person searching the open catalogue in headless Chromium: Chinese queries that used to
find nothing, highlighted matches, a closed resource that says so, facets, sorting, the
language switch keeping the query, the departments index; axe-core (inside the
axe-playwright-python wheel, nothing from a CDN) on each page; a 390 px screenshot of
search results in tests/_artifacts/.

The world is the repository's catalog with no release built (the request tests' fixtures):
search needs only the catalog.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser import test_requests_browser as shared
from tests.browser.test_portal_browser import ARTIFACTS

pytestmark = pytest.mark.browser
home, base_url, page = shared.home, shared.base_url, shared.page  # the module-scoped fixtures
_no_axe_violations = shared._no_axe_violations


def _search(page, base_url: str, query: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/?lang=zh")
    page.fill("input[name=q]", query)
    page.click("form.search button[type=submit]")


def test_complaints_are_found_highlighted_and_accessible_on_a_phone(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    _search(page, base_url, "投诉")
    first = page.locator("article.card").first
    assert first.get_attribute("data-key") == "dataset:hotline_tickets_monthly"
    assert first.locator(".matches mark").first.inner_text() == "投诉"
    _no_axe_violations(page)
    page.set_viewport_size({"width": 390, "height": 844})
    _search(page, base_url, "社保")
    assert page.locator("article.card h3 mark").first.inner_text() == "社会保险"
    page.screenshot(path=str(ARTIFACTS / "search-zh-phone.png"), full_page=True)
    _no_axe_violations(page)
    page.set_viewport_size({"width": 1200, "height": 900})


def test_closed_resource_facets_sort_and_language_switch(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    _search(page, base_url, "人口")
    entry = page.locator("article[data-key='entry:population_register']")
    assert "常住人口基本信息: 不予开放" in entry.inner_text()
    assert entry.locator("a[href^='/register']").count() == 1
    closed = page.locator("section[data-facet=open_class] a", has_text="不予开放")
    n = int(closed.locator("xpath=following-sibling::span").inner_text())
    closed.click()
    assert page.locator("article.card").count() == n
    page.select_option("#sort", "name")
    page.click("form.search button[type=submit]")
    page.click("#lang-switch")
    query = parse_qs(urlsplit(page.url).query)
    assert query["q"] == ["人口"] and query["open_class"] == ["closed"]
    assert query["sort"] == ["name"] and query["lang"] == ["en"]
    assert page.input_value("input[name=q]") == "人口"
    assert "not open" in page.locator("article[data-key='entry:population_register']").inner_text()
    _no_axe_violations(page)


def test_departments_index(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/departments?lang=zh")
    grid = page.locator("#dept-grid")
    assert "网格事件开放数据" in grid.inner_text()
    _no_axe_violations(page)
    grid.locator("h2 a").click()
    assert page.url.split("?")[0].endswith("/departments/grid")
