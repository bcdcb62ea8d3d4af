"""A dataset page in headless Chromium: charts and the API tab of a statistical release,
an xlsx download read back with openpyxl, axe-core (from its wheel) finds no violation,
a 390 px wide screenshot goes to tests/_artifacts/."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.browser.test_portal_browser import ARTIFACTS, base_url, page  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def _no_axe_violations(tab) -> None:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(tab)  # injects the axe.min.js inside the package
    assert results.violations_count == 0, results.generate_report()


def test_statistical_page_chart_and_api_tab(page, base_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(base_url + "/datasets/hotline_tickets_monthly?lang=zh")
    charts = page.locator("#charts svg[role=img]")
    assert charts.count() == 3
    assert charts.first.is_visible()
    assert "诉求类别" in page.inner_text("#charts figcaption >> nth=0")
    page.click("nav.tabs a[href='#api']")
    assert page.evaluate("location.hash") == "#api"
    from onesource.web.hosts import public_url

    curl = page.inner_text("#api-curl")  # built from the configured public URL, never Host
    assert public_url() + "/api/open/datasets/hotline_tickets_monthly/rows" in curl
    _no_axe_violations(page)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base_url + "/datasets/hotline_tickets_monthly?lang=zh")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(ARTIFACTS / "dataset-chart-phone.png"), full_page=True)
    _no_axe_violations(page)


def test_xlsx_download_keeps_text_as_text(page, base_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from openpyxl import load_workbook

    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(base_url + "/datasets/business_register_open?lang=zh")
    with page.expect_download() as info:
        page.click("a.download[href$='data.xlsx']")
    download = info.value
    assert download.suggested_filename.endswith("-v1-data.xlsx")
    target = tmp_path / "data.xlsx"
    download.save_as(target)
    book = load_workbook(io.BytesIO(target.read_bytes()), read_only=True)
    rows = list(book.worksheets[0].iter_rows(max_row=20))
    header = [c.value for c in rows[0]]
    division = header.index("登记机关区划")
    assert all(r[division].data_type == "s" and len(r[division].value) == 6 for r in rows[1:])
    _no_axe_violations(page)
