"""A citizen asks for data in headless Chromium, the department answers with the CLI, the
answer appears on the public page; axe-core (shipped in a wheel, nothing from a CDN)
finds no violation on the request pages; a 390 px wide screenshot goes to tests/_artifacts/.

The world is the repository's catalog with no release built: nothing here reads data.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.test_portal_browser import ARTIFACTS, CHROMIUM, _need_chromium
from tests.cli.harness import REPO, Hub

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from onesource.web.deps import reset_caches

    _need_chromium()
    path = tmp_path_factory.mktemp("requests-browser")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONESOURCE_HOME", str(path))
        mp.setenv("ONESOURCE_CATALOG", str(REPO / "catalog"))
        mp.delenv("ONESOURCE_DB_URL", raising=False)
        mp.delenv("ONESOURCE_WAREHOUSE", raising=False)
        reset_caches()
        yield path
    reset_caches()


@pytest.fixture(scope="module")
def base_url(home: Path) -> Iterator[str]:
    import uvicorn

    from onesource.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


@pytest.fixture(scope="module")
def page(base_url: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        yield context.new_page()
        browser.close()


def _no_axe_violations(page) -> None:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)  # injects the axe.min.js inside the package
    assert results.violations_count == 0, results.generate_report()


def test_citizen_asks_department_answers_answer_is_public(page, base_url: str, home: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/requests?lang=zh")
    page.click("#new-request")
    _no_axe_violations(page)
    page.fill("textarea[name=text]", "各街道网格事件按月统计")
    page.fill("textarea[name=purpose]", "社区治理课程作业")
    page.fill("input[name=email]", "student@example.edu")
    page.select_option("select[name=department]", "grid")
    page.click("#request-submit")
    req = page.inner_text("#request-id").strip()
    assert req.startswith("rq_") and page.inner_text("#request-token").strip()

    answered = Hub.create(home).run(
        "request", "answer", req, "--department", "grid", "--status", "published",
        "--dataset", "grid_events_open", "--text", "已开放：网格事件开放数据按月更新", "--by", "grid-officer",
    )  # fmt: skip
    assert answered.returncode == 0, answered.stderr

    page.goto(base_url + "/requests?lang=zh")
    card = page.locator(f"#request-{req}")
    assert "已开放：网格事件开放数据按月更新" in card.inner_text()
    assert card.locator("a.answer-dataset").inner_text() == "网格事件开放数据"
    assert "student@example.edu" not in page.content() and "grid-officer" not in page.content()
    _no_axe_violations(page)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "requests-zh-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1200, "height": 900})


def test_problem_report_form_in_english_is_accessible(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/requests/report?dataset=grid_events_open&lang=en")
    assert page.input_value("select[name=dataset]") == "grid_events_open"
    _no_axe_violations(page)
    page.fill("textarea[name=text]", "The same event appears twice")
    page.click("#request-submit")
    assert page.inner_text("#request-due")
