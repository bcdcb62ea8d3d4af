"""Notices reach the right people: console users of the right department and role, by
e-mail (a local SMTP server started here) and by the department's webhook; once each."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.console.conftest import World, post
from tests.notify.servers import Receiver, smtp_server, webhook_server

SECRET = "console-hook-secret"
EMAILS = {
    "psb.approver": "approver@psb.example.gov.cn",
    "psb.officer": "officer@psb.example.gov.cn",
    "edu.officer": "officer@edu.example.gov.cn",
    "edu.approver": "approver@edu.example.gov.cn",
    "civil.approver": "approver@civil.example.gov.cn",
    "civil.officer": "officer@civil.example.gov.cn",
}


@pytest.fixture(scope="module")
def channels(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """SMTP and a psb webhook configured in notify.yaml; the accounts' e-mails set."""
    from onesource.notify.recipients import set_email

    for name, address in EMAILS.items():
        set_email(world.hub.store.engine, name, address)
    receiver = Receiver(SECRET.encode())
    mp = pytest.MonkeyPatch()
    with smtp_server() as (port, box), webhook_server(receiver) as url:
        cfg = tmp_path_factory.mktemp("notify") / "notify.yaml"
        cfg.write_text(
            f"smtp: {{host: 127.0.0.1, port: {port}, sender: hub@example.gov.cn}}\n"
            "operators: [ops@example.gov.cn]\n"
            "webhooks:\n"
            f"  - {{name: psb-hook, url: '{url}', secret_env: ONESOURCE_TEST_PSB_HOOK,"
            " departments: [psb], attempts: 1}\n",
            encoding="utf-8",
        )
        mp.setenv("ONESOURCE_NOTIFY_CONFIG", str(cfg))
        mp.setenv("ONESOURCE_TEST_PSB_HOOK", SECRET)
        try:
            yield {"box": box, "hook": receiver, "config": cfg, "port": port}
        finally:
            mp.undo()


def _to(box: Any, kind_words: str) -> set[str]:
    """Everyone who got a message whose subject contains ``kind_words``."""
    return {
        rcpt for rcpts, msg in box.messages if kind_words in str(msg["Subject"]) for rcpt in rcpts
    }


def _raise(client: TestClient, world: World, person: int) -> str:
    r = post(
        client,
        "/console/objections",
        {
            "resource": "population_register",
            "field": "name",
            "key.id_number": world.hub.people[person]["id_number"],
            "reason": "姓名有误",
        },
        page="/console/objections/new",
    )
    assert r.status_code == 303, r.text[:1000]
    found = re.search(r"/console/objections/(\w+)$", r.headers["location"])
    assert found
    return found.group(1)


def test_a_new_objection_reaches_the_source_approvers_and_webhook_only(
    world: World, clients: dict[str, TestClient], channels: dict[str, Any]
) -> None:
    oid = _raise(clients["edu.officer"], world, 0)
    got = _to(channels["box"], "new objection")
    assert got == {EMAILS["psb.approver"]}  # not psb's officers, not edu, not operators
    # this objection's message (other tests of the module raise objections too)
    mine = [m for _, m in channels["box"].messages if oid in m.get_content()]
    assert len(mine) == 1 and "new objection" in str(mine[0]["Subject"])
    assert "population_register" in mine[0].get_content()
    hooks = [h for h in channels["hook"].received if h["body"]["alert"]["subject"] == oid]
    assert [(h["valid"], h["body"]["alert"]["kind"]) for h in hooks] == [(True, "objection-new")]


def test_an_answer_reaches_the_raisers_officers(
    world: World, clients: dict[str, TestClient], channels: dict[str, Any]
) -> None:
    oid = _raise(clients["edu.officer"], world, 1)
    r = post(
        clients["psb.approver"],
        f"/console/objections/{oid}/answer",
        {"status": "rejected", "text": "户籍登记无误"},
        page=f"/console/objections/{oid}",
    )
    assert r.status_code == 303
    assert _to(channels["box"], "objection rejected") == {EMAILS["edu.officer"]}


def test_applications_and_decisions_and_expiring_grants(
    world: World, channels: dict[str, Any]
) -> None:
    from onesource.exchange.grants import GrantBook
    from onesource.notify.notices import deliver, for_request, pending_notices
    from onesource.store.records import utcnow

    engine = world.hub.store.engine
    book = GrantBook(engine)
    req = book.request(
        world.hub.catalog, "civil", "population_register", ["name"], "救助", "办法", 5
    )
    deliver(for_request(engine, req.id), engine)
    assert _to(channels["box"], "new application") == {EMAILS["psb.approver"]}
    book.decide("psb", req.id, True, None, decided_by="psb.approver")
    deliver(for_request(engine, req.id), engine)
    assert _to(channels["box"], "application approved") == {EMAILS["civil.officer"]}
    expiring = [
        a for a in pending_notices(engine, utcnow(), expiring_days=14) if a.kind == "grant-expiring"
    ]
    assert [(a.department, a.roles) for a in expiring] == [("civil", ("officer",))]
    assert not [
        a
        for a in pending_notices(engine, utcnow() + timedelta(days=30))
        if a.kind == "grant-expiring"
    ]


def test_a_notice_is_sent_once_and_a_mail_outage_loses_nothing(
    world: World, clients: dict[str, TestClient], channels: dict[str, Any], tmp_path: Path
) -> None:
    from onesource.notify.config import load_config
    from onesource.notify.dispatch import dispatch
    from onesource.notify.notices import pending_notices
    from onesource.store.records import utcnow

    engine = world.hub.store.engine
    down = tmp_path / "down.yaml"  # a port nothing listens on
    down.write_text(
        "smtp: {host: 127.0.0.1, port: 9, sender: hub@example.gov.cn, timeout: 2}\n", "utf-8"
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("ONESOURCE_NOTIFY_CONFIG", str(down))
    try:
        oid = _raise(clients["edu.officer"], world, 2)  # the action succeeds regardless
    finally:
        mp.undo()
    box = channels["box"]
    assert not [m for _, m in box.messages if oid in m.get_content()]
    cfg = load_config(channels["config"])
    first = dispatch(pending_notices(engine, utcnow()), cfg, engine)  # the cron catch-up
    assert ("objection-new:" + oid, "email:" + EMAILS["psb.approver"]) in first.sent
    again = dispatch(pending_notices(engine, utcnow()), cfg, engine)
    assert not again.sent and again.skipped  # once per recipient, never twice


def test_a_disabled_account_gets_nothing(
    world: World, clients: dict[str, TestClient], channels: dict[str, Any]
) -> None:
    from onesource.notify.dispatch import console_emails
    from onesource.web.console.accounts import AccountBook

    engine = world.hub.store.engine
    assert console_emails(engine, "civil", ["approver"]) == [EMAILS["civil.approver"]]
    AccountBook(engine).disable("civil.approver")
    assert console_emails(engine, "civil", ["approver"]) == []
    assert console_emails(engine, "psb", ["approver"]) == [EMAILS["psb.approver"]]


def test_console_application_and_decision_send_their_notices(
    world: World, clients: dict[str, TestClient], channels: dict[str, Any]
) -> None:
    box = channels["box"]
    before = len(box.messages)
    page = "/console/apply/population_register"
    r = post(
        clients["edu.officer"],
        page,
        {
            "fields": ["sex"],
            "purpose": "入学资格审核",
            "legal_basis": "义务教育法",
            "period_days": 30,
        },
        page=page,
    )
    assert r.status_code == 303, r.text[:500]
    new = box.messages[before:]
    assert [rcpts for rcpts, m in new if "new application" in str(m["Subject"])] == [
        [EMAILS["psb.approver"]]
    ]
    req_id = r.headers["location"].split("/")[-1].split("?")[0]
    r = post(
        clients["psb.approver"],
        f"/console/review/{req_id}/refuse",
        {"reason": "用途与字段不符"},
        page=f"/console/review/{req_id}",
    )
    assert r.status_code == 303
    assert EMAILS["edu.officer"] in _to(box, "application denied")


def test_an_overdue_objection_alerts_the_source_approvers_and_the_operators(
    world: World, channels: dict[str, Any]
) -> None:
    from onesource.exchange.objections import ObjectionBook
    from onesource.notify.checks import overdue_objections
    from onesource.notify.config import load_config
    from onesource.notify.dispatch import dispatch
    from onesource.store.records import utcnow

    ex = world.app.state.onesource_exchange
    key = {"id_number": world.hub.people[3]["id_number"]}
    late = ObjectionBook(ex).raise_objection(
        "edu", "population_register", key, "sex", "性别有误",
        now=utcnow() - timedelta(days=30),
    )  # fmt: skip
    alerts = [
        a for a in overdue_objections(world.hub.store.engine, utcnow()) if a.subject == late.id
    ]
    sent = dispatch(alerts, load_config(channels["config"]), world.hub.store.engine)
    assert {t for _, t in sent.sent} >= {
        "email:" + EMAILS["psb.approver"],
        "email:ops@example.gov.cn",
        "webhook:psb-hook",
    }
    assert "email:" + EMAILS["edu.officer"] not in {t for _, t in sent.sent}
