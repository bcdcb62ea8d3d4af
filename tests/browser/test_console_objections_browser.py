"""Objections and stewards' pages in headless Chromium, axe-core on every page.

An education officer raises an objection (数据异议) on a population register record's
name; it reaches the public security approver (an e-mail arrives at the local SMTP
server started here), who answers "corrected in version N" once version N is
committed; the officer sees the answer.  A steward sees the data map and quality, then
a broken catalog file's problems as file:line while the portal keeps serving.
Screenshots go to tests/_artifacts/ (console-objection-*.png, console-steward-*.png)
for docs/departments.md and docs/stewards.md.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_console_browser import PASSWORD, _no_axe_violations, _shot
from tests.browser.test_console_browser import _sign_in as _keyboard_sign_in
from tests.browser.test_portal_browser import ARTIFACTS, CHROMIUM, _need_chromium
from tests.exchange.fixtures import commit, make_hub, serve
from tests.notify.servers import smtp_server

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]
OFFICER_MAIL = "wang.li@edu.qinghe.example.gov.cn"
APPROVER_MAIL = "zhang.wei@psb.qinghe.example.gov.cn"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, migrated_db: Path) -> Iterator[dict[str, Any]]:
    from onesource.notify.recipients import set_email
    from onesource.settings import get_settings
    from onesource.store import Store
    from onesource.web.console.accounts import AccountBook, _dummy_hash, _hasher
    from onesource.web.console.settings import get_console_settings

    _need_chromium()
    home = tmp_path_factory.mktemp("objections-browser")
    shutil.copyfile(migrated_db, home / "onesource.db")
    catalog = home / "catalog"  # a copy the test breaks later (new mtimes: its own snapshot)
    shutil.copytree(REPO / "catalog", catalog, copy_function=shutil.copy)
    with smtp_server() as (port, box):
        notify = home / "notify.yaml"
        notify.write_text(
            f"smtp: {{host: 127.0.0.1, port: {port}, sender: hub@qinghe.example.gov.cn}}\n",
            encoding="utf-8",
        )
        env = {
            "ONESOURCE_HOME": str(home),
            "ONESOURCE_CATALOG": str(catalog),
            "ONESOURCE_CONSOLE_PASSWORD_PROFILE": "CHEAPEST",
            "ONESOURCE_NOTIFY_CONFIG": str(notify),
        }
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        caches = (get_settings, get_console_settings, _hasher, _dummy_hash)
        for cache in caches:
            cache.cache_clear()
        hub = make_hub()
        engine = Store.open().engine
        book = AccountBook(engine)
        book.add("wang.li", ["officer"], "edu", password=PASSWORD, display_name="王丽")
        book.add("zhang.wei", ["approver"], "psb", password=PASSWORD, display_name="张伟")
        book.add("zhao.qing", ["steward"], None, password=PASSWORD, display_name="赵青")
        set_email(engine, "wang.li", OFFICER_MAIL)
        set_email(engine, "zhang.wei", APPROVER_MAIL)
        with hub.store.begin_run("ingest", "population_register") as run:  # a scorecard point
            scores = {"completeness": 0.98, "validity": 0.95, "uniqueness": 1.0}
            summary = {"rows_checked": 4, "rows_quarantined": 0, "scores": scores}
            hub.store.record_quality(run.id, "population_register", summary, True)
            run.finish("succeeded")
        try:
            with serve(hub.app) as url:
                yield {"url": url, "hub": hub, "box": box, "catalog": catalog}
        finally:
            hub.app.state.onesource_exchange.audit.close()
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            for cache in caches:
                cache.cache_clear()


@pytest.fixture(scope="module")
def browser(world: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        yield b
        b.close()


def _sign_in(browser: Any, base: str, name: str) -> Any:
    tab = _keyboard_sign_in(browser, base, name)
    tab.wait_for_url(lambda url: "/login" not in url)  # the sign-in's redirect has landed
    return tab


def test_raise_reaches_the_source_which_answers_corrected(
    browser: Any, world: dict[str, Any]
) -> None:
    base, hub = world["url"], world["hub"]
    person = hub.people[1]
    officer = _sign_in(browser, base, "wang.li")
    # from a record's field: the link prefills resource, field and key
    officer.goto(
        f"{base}/console/objections/new?resource=population_register&field=name"
        f"&key.id_number={person['id_number']}"
    )
    _no_axe_violations(officer)
    assert officer.input_value("#key-id_number") == person["id_number"]
    officer.fill("#observed", person["name"])
    officer.fill("#expected", "李泗")
    officer.fill("#reason", "学籍登记与户籍姓名不一致，经家长核实应为“李泗”")
    _shot(officer, "objection-raise")
    officer.focus("#reason")
    officer.keyboard.press("Tab")  # to the submit button, keyboard only
    with officer.expect_navigation():
        officer.keyboard.press("Enter")
    oid = re.search(r"/console/objections/(\w+)$", officer.url)
    assert oid, officer.url
    facts = officer.inner_text("#objection")
    assert "psb" in facts and "待答复" in facts
    _no_axe_violations(officer)
    mails = [m for rcpts, m in world["box"].messages if APPROVER_MAIL in rcpts]
    assert mails and oid.group(1) in mails[-1].get_content()

    # public security corrects the register: version 2, then answers
    fixed = [dict(p) for p in hub.people]
    fixed[1]["name"] = "李泗"
    new = commit(hub.store, hub.catalog, "population_register", fixed)
    approver = _sign_in(browser, base, "zhang.wei")
    approver.goto(base + "/console/objections")
    assert "1 件待答复" in approver.inner_text("#incoming-h")
    _no_axe_violations(approver)
    _shot(approver, "objection-incoming")
    approver.click(f"#incoming a[href='/console/objections/{oid.group(1)}']")
    approver.check("#st-corrected")
    approver.select_option("#version", str(new))
    approver.fill("#text", f"已核实并更正户籍姓名，见版本 {new}")
    _no_axe_violations(approver)
    _shot(approver, "objection-answer")
    with approver.expect_navigation():
        approver.click("form[action$='/answer'] button[type=submit]")
    assert f"v{new}" in approver.inner_text("#objection-status")

    officer.goto(f"{base}/console/objections/{oid.group(1)}")
    assert "已更正" in officer.inner_text("#objection-status")
    assert any(OFFICER_MAIL in rcpts for rcpts, _ in world["box"].messages)
    _shot(officer, "objection-answered")


def test_steward_sees_the_map_quality_and_a_broken_catalog(
    browser: Any, world: dict[str, Any]
) -> None:
    base = world["url"]
    steward = _sign_in(browser, base, "zhao.qing")
    steward.goto(base + "/console/steward/map?q=person")
    row = steward.inner_text("[id='el-person.name']")
    assert "psb" in row and "population_register" in row and "students" in row
    _no_axe_violations(steward)
    _shot(steward, "steward-map")
    steward.goto(base + "/console/steward/quality")
    assert steward.locator("#sc-psb ~ figure svg[role=img]").count() == 1
    _no_axe_violations(steward)
    _shot(steward, "steward-quality")

    target = world["catalog"] / "resources" / "psb" / "population_register.yaml"
    text = target.read_text(encoding="utf-8")
    target.write_text(
        text.replace("share_class: conditional", "share_class: sometimes", 1), "utf-8"
    )
    steward.goto(base + "/console/steward/catalog")
    problems = steward.inner_text("#problems")
    assert re.search(r"resources/psb/population_register\.yaml:\d+:\d+", problems), problems
    assert "上一个有效目录" in steward.inner_text("#catalog-status")
    _no_axe_violations(steward)
    _shot(steward, "steward-catalog")
    portal = steward.goto(base + "/?lang=zh")  # the public portal keeps serving
    assert portal is not None and portal.status == 200 and steward.locator("main").count()
