"""The sharing console in headless Chromium, keyboard first, axe-core on every page.

An education officer signs in, finds the population register (a conditional resource)
in the sharing catalogue and applies for two fields; the public security approver
approves within the deadline; the officer issues a key in the console and reads the
granted fields through the exchange API with it; the owner sees that read on its
transparency page.  Screenshots go to tests/_artifacts/ (console-*.png) for
docs/departments.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_portal_browser import ARTIFACTS, CHROMIUM, _need_chromium
from tests.console.conftest import PASSWORD, console_home
from tests.exchange.fixtures import serve

pytestmark = pytest.mark.browser


def _no_axe_violations(tab: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(tab)  # the axe.min.js inside the package: nothing from a CDN
    assert results.violations_count == 0, results.generate_report()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> Iterator[str]:
    _need_chromium()
    home = tmp_path_factory.mktemp("console-browser")
    people = {"wang.li": ("edu", ["officer"]), "zhang.wei": ("psb", ["approver"])}
    labels = {"wang.li": "王丽", "zhang.wei": "张伟"}
    with console_home(home, migrated_db, people, labels) as world, serve(world.app) as url:
        yield url


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        yield b
        b.close()


def _sign_in(browser: Any, base_url: str, name: str) -> Any:
    """A new browser context, signed in with the keyboard only."""
    tab = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    tab.goto(base_url + "/console/review")  # not signed in: sent to the login page
    assert "/console/login?next=/console/review" in tab.url
    _no_axe_violations(tab)
    tab.focus("#name")
    tab.keyboard.type(name)
    tab.keyboard.press("Tab")
    tab.keyboard.type(PASSWORD)
    with tab.expect_navigation():
        tab.keyboard.press("Enter")
    return tab


def _shot(tab: Any, name: str) -> None:
    tab.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def test_apply_approve_read_and_see_the_read(browser: Any, base_url: str) -> None:
    import httpx

    officer = _sign_in(browser, base_url, "wang.li")
    assert officer.url.endswith("/console/review")  # back where it was sent from ...
    assert "没有权限" in officer.inner_text("main")  # ... which an officer may not see
    officer.goto(base_url + "/console/catalogue")
    officer.fill("#q", "户籍")
    with officer.expect_navigation():
        officer.keyboard.press("Enter")
    _no_axe_violations(officer)
    _shot(officer, "catalogue")
    with officer.expect_navigation():
        officer.click("#res-population_register h2 a")
    assert "需申请授权" in officer.inner_text("#field-name")
    _no_axe_violations(officer)
    _shot(officer, "resource")
    with officer.expect_navigation():
        officer.click("#apply-link")
    officer.check("#f-id_number")
    officer.check("#f-household_division")
    officer.fill("#purpose", "义务教育入学资格审核")
    officer.fill("#period_days", "30")
    _no_axe_violations(officer)
    with officer.expect_navigation():
        officer.click("#apply-submit")
    assert "待审核" in officer.inner_text("#application-status")
    deadline = officer.inner_text("#deadline")
    assert "10" in deadline and "个工作日" in deadline  # 10 working days, counting down
    _no_axe_violations(officer)
    _shot(officer, "application")
    application_url = officer.url.split("?")[0]

    approver = _sign_in(browser, base_url, "zhang.wei")
    assert "义务教育入学资格审核" in approver.inner_text("#pending")
    _no_axe_violations(approver)
    _shot(approver, "review")
    with approver.expect_navigation():
        approver.click("#pending a")
    approver.fill("#note", "仅限本学期入学审核")
    _no_axe_violations(approver)
    approver.focus("#approve-submit")
    with approver.expect_navigation():
        approver.keyboard.press("Enter")
    assert "已批准" in approver.inner_text("#application-status")

    officer.goto(application_url)
    assert "id_number, household_division" in officer.inner_text("#granted-fields")
    officer.goto(base_url + "/console/access")
    with officer.expect_navigation():
        officer.click("#issue-key")
    key = officer.inner_text("#new-key").strip()
    _no_axe_violations(officer)
    rows = httpx.get(
        base_url + "/api/exchange/resources/population_register/rows",
        params={"fields": "id_number,household_division", "purpose": "义务教育入学资格审核"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert rows.status_code == 200, rows.text
    assert rows.json()["rows"], rows.text
    officer.goto(base_url + "/console/access")  # the key is never shown again
    assert key not in officer.content()
    assert "population_register" in officer.inner_text("#usage-resource")
    _shot(officer, "access")

    approver.goto(base_url + "/console/transparency")
    reads = approver.inner_text("#reads")
    assert "edu" in reads and "义务教育入学资格审核" in reads
    _no_axe_violations(approver)
    _shot(approver, "transparency")


def test_english_switch_and_phone_width(browser: Any, base_url: str) -> None:
    tab = _sign_in(browser, base_url, "wang.li")
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(base_url + "/console/catalogue?lang=en")
    assert "Sharing catalogue" in tab.inner_text("h1")
    _no_axe_violations(tab)
    _shot(tab, "catalogue-en-phone")
