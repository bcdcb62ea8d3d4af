"""Data requests (数据需求) and problem reports (数据纠错) on the portal, answered via the CLI.

Attacks: a cross-site post; script in the request text, the location and the answer;
the requester's e-mail on the public page; a bot (honeypot, rate limit); oversized
fields; answering another department's request, twice, or publishing a missing dataset;
a CLI that exits 0 on failure.  The world is the repository's catalog with no release
built (nothing here reads published data).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cli.harness import REPO, Hub

HTML = {"accept": "text/html"}
EMAIL = "zhang.san@example.org"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from onesource.web.deps import reset_caches

    path = tmp_path_factory.mktemp("requests")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONESOURCE_HOME", str(path))
        mp.setenv("ONESOURCE_CATALOG", str(REPO / "catalog"))
        mp.delenv("ONESOURCE_DB_URL", raising=False)
        mp.delenv("ONESOURCE_WAREHOUSE", raising=False)
        reset_caches()
        yield path
    reset_caches()


@pytest.fixture(scope="module")
def app(home: Path):  # type: ignore[no-untyped-def]
    from onesource.web.app import create_app

    return create_app()


@pytest.fixture
def client(app, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from onesource.exchange.ratelimit import RateLimiter
    from onesource.web.portal import requests

    monkeypatch.setattr(requests, "limiter", RateLimiter(0, 1))  # off, except in its own test
    return TestClient(app)


@pytest.fixture(scope="module")
def store(home: Path):  # type: ignore[no-untyped-def]
    from onesource.store import Store

    return Store.open()


@pytest.fixture(scope="module")
def catalog(home: Path):  # type: ignore[no-untyped-def]
    from onesource.web.deps import get_catalog

    return get_catalog()


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


def _ask(client, **over: str):  # type: ignore[no-untyped-def]
    form = client.get("/requests/new", headers=HTML)
    data = {
        "text": "各街道公共厕所位置和开放时间",
        "purpose": "做一个找厕所的小程序",
        "email": EMAIL,
        "department": "",
        "csrf": _csrf(form.text),
        **over,
    }
    return client.post("/requests/new", data=data, headers=HTML)


def _report(client, **over: str):  # type: ignore[no-untyped-def]
    form = client.get("/requests/report?dataset=grid_events_open", headers=HTML)
    data = {
        "dataset": "grid_events_open",
        "location": "event_type 列",
        "text": "同一事件出现两次",
        "csrf": _csrf(form.text),
        **over,
    }
    return client.post("/requests/report", data=data, headers=HTML)


def _ids(page: str) -> tuple[str, str]:
    req = page.split('id="request-id">')[1].split("<")[0]
    token = page.split('id="request-token">')[1].split("<")[0]
    return req, token


def _status(client, req: str, token: str):  # type: ignore[no-untyped-def]
    form = client.get("/requests/status", headers=HTML)
    data = {"request": req, "token": token, "csrf": _csrf(form.text)}
    return client.post("/requests/status", data=data, headers=HTML)


def _count(store) -> int:  # type: ignore[no-untyped-def]
    from onesource.store.request_models import PortalRequest

    with store.engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(PortalRequest)) or 0)


def test_a_data_request_gets_an_id_a_token_once_and_a_status_page(client, store) -> None:  # type: ignore[no-untyped-def]
    page = _ask(client, department="grid")
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    req, token = _ids(page.text)
    assert req.startswith("rq_") and len(token) > 20
    status = _status(client, req, token)
    assert status.status_code == 200 and 'data-status="pending"' in status.text
    assert "待答复" in status.text and "网格" in status.text  # label and department, in Chinese
    assert _status(client, req, "wrong-token").status_code == 404
    en = client.get("/requests/new?lang=en", headers=HTML)
    assert "Ask for data" in en.text and "never published" in en.text


def test_a_problem_report_goes_to_the_datasets_publisher(client, store) -> None:  # type: ignore[no-untyped-def]
    from onesource.web.portal.feedback import get

    req, _ = _ids(_report(client).text)
    row = get(store, req)
    assert (row["kind"], row["department"], row["dataset"]) == (
        "problem",
        "grid",
        "grid_events_open",
    )
    assert row["email"] is None  # optional for a report
    bad = _report(client, dataset="no_such_dataset")
    assert bad.status_code == 400 and "no dataset named" in bad.text


def test_cross_site_posts_are_refused_and_store_nothing(client, store) -> None:  # type: ignore[no-untyped-def]
    before = _count(store)
    assert _ask(client, csrf="0" * 64).status_code == 403
    client.cookies.clear()
    forged = client.post(
        "/requests/report",
        data={"dataset": "grid_events_open", "text": "x", "csrf": "ab" * 32},
        headers=HTML,
    )
    assert forged.status_code == 403
    assert _count(store) == before


def test_script_in_request_and_answer_is_shown_as_text(client, store, catalog) -> None:  # type: ignore[no-untyped-def]
    from onesource.web.portal.feedback import answer

    attack = "<script>alert('x')</script>"
    req, _ = _ids(_report(client, text=attack, location='<img src=x onerror="alert(1)">').text)
    answer(store, catalog, req, text=f"已核实 {attack}", status="accepted", by="t")
    public = client.get("/requests", headers=HTML).text
    assert "<script>alert" not in public and "<img src=x" not in public
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in public


def test_the_requesters_email_is_never_public(client, store, catalog) -> None:  # type: ignore[no-untyped-def]
    from onesource.web.portal.feedback import answer, public_listing

    req, token = _ids(_ask(client, email="secret.person@example.org").text)
    answer(store, catalog, req, text="可以开放", status="accepted", by="t", department="grid")
    items = public_listing(store)
    assert any(i["id"] == req for i in items)
    assert all("email" not in i and "answered_by" not in i for i in items)
    for page in (client.get("/requests", headers=HTML), _status(client, req, token)):
        assert "secret.person" not in page.text
        assert "可以开放" in page.text


def test_working_day_deadline_and_overdue_flag(client, store, catalog) -> None:  # type: ignore[no-untyped-def]
    from onesource.web.portal.feedback import listing, submit_data_request, submit_problem

    friday = datetime(2026, 11, 27, 9, tzinfo=UTC)
    done = submit_data_request(
        store, catalog, text="t", purpose="p", email=EMAIL, department="dsj", now=friday
    )
    assert done.due_at == datetime(2026, 12, 11, 9, tzinfo=UTC)  # 10 working days
    report = submit_problem(store, catalog, dataset="hotline_tickets_monthly", text="t", now=friday)
    assert report.due_at == datetime(2026, 12, 4, 9, tzinfo=UTC)  # 5 working days
    old = datetime.now(UTC) - timedelta(days=40)
    late = submit_data_request(
        store, catalog, text="late", purpose="p", email=EMAIL, department="dsj", now=old
    )
    overdue = {r["id"] for r in listing(store, "dsj", overdue=True)}
    assert late.id in overdue and done.id not in overdue
    page = client.get("/requests", headers=HTML).text
    row = page.split("<tbody>")[1].split("</tbody>")[0]
    assert "大数据" in row and "逾期" in row  # the public sees the department is late


def test_bots_and_floods_are_turned_away(client, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from onesource.exchange.ratelimit import RateLimiter
    from onesource.web.portal import requests

    before = _count(store)
    trap = _ask(client, website="http://spam.example")
    assert trap.status_code == 400 and _count(store) == before
    too_long = _ask(client, text="长" * 2001)
    assert too_long.status_code == 422 and _count(store) == before
    monkeypatch.setattr(requests, "limiter", RateLimiter(1 / 3600, 2))
    assert [_ask(client).status_code for _ in range(3)] == [200, 200, 429]
    limited = _ask(client)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert _count(store) == before + 2


def test_answers_follow_the_rules(store, catalog) -> None:  # type: ignore[no-untyped-def]
    from onesource.web.portal.feedback import RequestError, answer, assign, submit_data_request

    req = submit_data_request(store, catalog, text="t", purpose="p", email=EMAIL).id
    with pytest.raises(RequestError, match="names no department"):
        answer(store, catalog, req, text="a", status="accepted", by="t")
    assign(store, catalog, req, department="grid", by="steward")
    with pytest.raises(RequestError, match="is for grid, not health"):
        answer(store, catalog, req, text="a", status="accepted", by="t", department="health")
    with pytest.raises(RequestError, match="needs --dataset"):
        answer(store, catalog, req, text="a", status="published", by="t")
    with pytest.raises(RequestError, match="no dataset named"):
        answer(store, catalog, req, text="a", status="published", by="t", dataset="nope")
    answer(store, catalog, req, text="will do", status="accepted", by="t")
    done = answer(
        store, catalog, req, text="now open", status="published", by="t", dataset="grid_events_open"
    )
    assert done["answer_dataset"] == "grid_events_open"
    with pytest.raises(RequestError, match="already published"):
        answer(store, catalog, req, text="again", status="rejected", by="t")


def test_cli_lists_answers_and_audits(home: Path, store, catalog) -> None:  # type: ignore[no-untyped-def]
    """Through the installed script: exit codes, the answer on record, one audit entry per act."""
    from onesource.store.exchange_models import AuditEntry
    from onesource.web.portal.feedback import get, submit_data_request

    hub = Hub.create(home, ONESOURCE_DB_URL=f"sqlite:///{home / 'onesource.db'}")
    hub.env["ONESOURCE_WAREHOUSE"] = str(home / "warehouse")
    req = submit_data_request(store, catalog, text="t", purpose="p", email=EMAIL, department="amr")
    old = submit_data_request(
        store, catalog, text="o", purpose="p", email=EMAIL, department="amr",
        now=datetime.now(UTC) - timedelta(days=40),
    )  # fmt: skip
    late = hub.run("request", "list", "--department", "amr", "--overdue", "--json")
    assert late.returncode == 1, late.stderr  # findings: overdue requests
    assert [r["id"] for r in json.loads(late.stdout) if r["department"] == "amr"] == [old.id]
    wrong = hub.run("request", "answer", req.id, "--text", "x", "--department", "health")
    assert wrong.returncode == 1 and "is for amr, not health" in wrong.stderr
    usage = hub.run("request", "answer", req.id, "--text", "x", "--status", "maybe")
    assert usage.returncode == 2
    args = ["--status", "published", "--dataset", "business_register_open", "--by", "li"]
    ok = hub.run("request", "answer", old.id, "--text", "已开放", *args)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"published {old.id} (business_register_open)"
    assert get(store, old.id)["answered_by"] == "li"
    with store.engine.connect() as conn:
        entries = conn.execute(
            sa.select(AuditEntry.result, AuditEntry.department, AuditEntry.purpose).where(
                AuditEntry.endpoint == f"portal-request:{old.id}"
            )
        ).all()
    assert entries == [("published", "amr", "published by li: 已开放")]


def test_register_status_shows_state_deadline_datasets_and_reason(client, store, catalog) -> None:  # type: ignore[no-untyped-def]
    """The restricted-data applicant's status page: what, who, by when, what was decided."""
    from onesource.web.portal.applications import refuse, submit

    done = submit(
        store, catalog, name="n", organisation="o", email=EMAIL, purpose="p",
        datasets=["appointments_research"],
    )  # fmt: skip
    form = client.get("/register/status", headers=HTML)
    data = {"application": done.id, "token": done.token, "csrf": _csrf(form.text)}
    pending = client.post("/register/status", data=data, headers=HTML).text
    assert "待审核" in pending and "市卫生健康委员会" in pending
    assert (
        "医疗机构预约就诊脱敏数据（科研版）" in pending
        and done.due_at.strftime("%Y-%m-%d") in pending
    )
    refuse(store, done.id, by="t", reason="汇总数据即可满足")
    refused = client.post("/register/status", data=data, headers=HTML).text
    assert "未获批准" in refused and "汇总数据即可满足" in refused and "决定时间" in refused


def test_every_page_links_to_requests_and_a_dataset_page_to_a_report(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/datasets/grid_events_open", headers=HTML).text
    assert 'href="/requests/report?dataset=grid_events_open&amp;lang=zh"' in page
    assert 'id="nav-requests"' in page


@pytest.mark.services
def test_on_postgresql_two_officers_answering_at_once_move_it_once(
    pg_schema: str, catalog, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import threading

    from onesource.store import Store
    from onesource.web.portal.feedback import (
        RequestError,
        answer,
        open_counts,
        public_listing,
        submit_problem,
    )

    store = Store(pg_schema, str(tmp_path / "warehouse"))
    old = datetime.now(UTC) - timedelta(days=40)
    late = submit_problem(store, catalog, dataset="grid_events_open", text="late", now=old)
    req = submit_problem(store, catalog, dataset="grid_events_open", text="dup rows").id
    assert open_counts(store) == [{"department": "grid", "open": 2, "overdue": 1}]
    gate, outcomes = threading.Barrier(2), []

    def officer(name: str) -> None:
        gate.wait()
        try:
            answer(store, catalog, req, text=f"fixed by {name}", status="published", by=name)
            outcomes.append("ok")
        except RequestError as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=officer, args=(n,)) for n in ("li", "wang")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", f"request {req} is already published (final)"]
    [shown] = public_listing(store)
    assert shown["id"] == req and shown["answer_dataset"] == "grid_events_open"
    assert open_counts(store) == [{"department": "grid", "open": 1, "overdue": 1}]
    assert late.id != req
