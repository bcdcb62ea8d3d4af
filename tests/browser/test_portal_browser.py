"""A person using the portal in headless Chromium: search in Chinese, open, download, verify; switch language."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        reason = "Debian chromium is not installed (make test installs it with apt-get)"
        if os.environ.get("ONESOURCE_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def base_url(portal_home: Path):  # type: ignore[no-untyped-def]
    import uvicorn

    from onesource.web.app import create_app
    from onesource.web.deps import reset_caches

    _need_chromium()
    os.environ["ONESOURCE_HOME"] = str(portal_home)
    reset_caches()
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
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1200, "height": 900}
        )
        yield context.new_page()
        browser.close()


def test_search_open_download_and_checksum(page, base_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/?lang=zh")  # Chinese whatever an earlier test chose (the cookie sticks)
    page.fill("input[name=q]", "网格")
    page.click("button[type=submit]")
    page.click("text=网格事件开放数据")
    assert page.inner_text("#dataset-title") == "网格事件开放数据"
    page.screenshot(path=str(ARTIFACTS / "dataset-zh.png"), full_page=True)
    published = page.inner_text("code[data-file='data.csv']").strip()
    with page.expect_download() as info:
        page.click("a.download:text('data.csv')")
    target = tmp_path / "data.csv"
    info.value.save_as(target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == published


def test_english_switch(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/datasets/business_register_open")
    page.click("#lang-switch")
    assert page.inner_text("#dataset-title") == "Business register (open edition)"
    page.goto(base_url + "/")  # the choice sticks (cookie)
    assert "Qinghe Open Data" in page.inner_text("header")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "home-en-phone.png"), full_page=True)


def test_restricted_refuses_anonymous_download_then_allows_with_key(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    response = page.request.get(base_url + "/datasets/appointments_research/download/data.csv")
    assert response.status == 401
    page.goto(base_url + "/register?lang=zh")
    page.fill("input[name=name]", "王五")
    page.fill("input[name=organisation]", "清河大学公共卫生学院")
    page.fill("input[name=email]", "lab@example.edu")
    page.fill("textarea[name=purpose]", "候诊时间研究")
    page.check("input[value=appointments_research]")
    page.check("input[name=accept]")
    page.click("#register-submit")
    app_id = page.inner_text("#application-id").strip()
    token = page.inner_text("#application-token").strip()
    from onesource.store import Store
    from onesource.web.portal.applications import approve

    approve(Store.open(), app_id, by="browser-test")
    page.goto(base_url + "/register/status?lang=zh")
    page.fill("input[name=application]", app_id)
    page.fill("input[name=token]", token)
    page.click("#status-submit")
    key = page.inner_text("#consumer-key").strip()
    ok = page.request.get(
        base_url + "/datasets/appointments_research/download/data.csv",
        headers={"X-Consumer-Key": key},  # never ?key= (refused: URLs end up in logs)
    )
    assert ok.status == 200
