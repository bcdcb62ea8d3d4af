"""Attacks on the portal's data requests and problem reports (``/requests``) and
``onesource request``: what a stranger can put in a field, and what an officer's
terminal then shows.

The world is the repository's catalog with no release built (nothing here reads data).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.attacks.world import portal_home
from tests.cli.harness import Hub
from tests.portal.test_requests import _ask as ask

HTML = {"accept": "text/html"}


def _said(text: str) -> str:
    """``text`` on one line: rich wraps long lines at the terminal's width."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with portal_home(tmp_path_factory.mktemp("request-attacks")) as path:
        yield path


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator:  # type: ignore[type-arg]
    from fastapi.testclient import TestClient

    from onesource.exchange.ratelimit import RateLimiter
    from onesource.web.app import create_app
    from onesource.web.portal import requests

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(requests, "limiter", RateLimiter(0, 1))  # no rate limit here
        yield TestClient(create_app())


@pytest.fixture(scope="module")
def store(home: Path):  # type: ignore[no-untyped-def]
    from onesource.store import Store

    return Store.open()


def _ask(client, **over: str):  # type: ignore[no-untyped-def]
    return ask(client, **{"department": "grid", **over})


def _rows(store) -> list[tuple[str, str, str, str | None]]:  # type: ignore[no-untyped-def]
    from onesource.store.request_models import PortalRequest

    with store.engine.connect() as conn:
        q = sa.select(PortalRequest.text, PortalRequest.purpose, PortalRequest.email)
        return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]


HOSTILE = {
    "terminal escape": "x\x1b]0;owned\x07\x1b[2J\x1b[31m",  # retitles, clears an officer's terminal
    "NUL": "a\x00b",  # PostgreSQL refuses NUL in text: a 500 instead of an answer
    "bidi override": "报告\u202eexe.txt",  # text that reads differently from what it holds
    "C1 control": "a\x9bb",  # CSI in one byte for 8-bit terminals
}


@pytest.mark.parametrize("field", ["text", "purpose", "email"])
@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_control_characters_are_refused_in_every_field(client, store, field, what) -> None:  # type: ignore[no-untyped-def]
    """Attack: control characters in a request, later printed by ``onesource request list``."""
    before = _rows(store)
    value = HOSTILE[what] if field != "email" else f"li{HOSTILE[what]}@example.org"
    page = _ask(client, **{field: value})
    assert page.status_code == 400, page.text
    assert "control character" in page.text or "not an e-mail address" in page.text
    assert _rows(store) == before


def test_newlines_and_tabs_in_the_text_are_kept(client, store) -> None:  # type: ignore[no-untyped-def]
    page = _ask(client, text="第一行\r\n第二行\t完")
    assert page.status_code == 200, page.text
    assert any(t == "第一行\r\n第二行\t完" for t, _, _ in _rows(store))


def test_cli_answer_with_a_control_character_exits_1_and_stores_nothing(home, store) -> None:  # type: ignore[no-untyped-def]
    from onesource.web.deps import get_catalog
    from onesource.web.portal.feedback import get, submit_data_request

    req = submit_data_request(
        store, get_catalog(), text="t", purpose="p", email="a@example.org", department="grid"
    )
    hub = Hub.create(home, ONESOURCE_DB_URL=f"sqlite:///{home / 'onesource.db'}")
    bad = hub.run("request", "answer", req.id, "--text", "ok\x1b[8m hidden", "--by", "li")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "control character" in _said(bad.stderr)
    assert get(store, req.id)["status"] == "pending"


def test_one_ipv6_subnet_shares_one_post_limit(client, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Attack: a client given a /64 (every IPv6 customer is) posts from a fresh address
    each time and never meets the per-address limit."""
    from fastapi.testclient import TestClient

    from onesource.exchange.ratelimit import RateLimiter
    from onesource.web.portal import requests

    monkeypatch.setattr(requests, "limiter", RateLimiter(1 / 3600, 1))

    def post_from(address: str) -> int:
        return int(_ask(TestClient(client.app, client=(address, 40000))).status_code)

    before = len(_rows(store))
    assert post_from("2001:db8:7:1::1") == 200
    assert [post_from(f"2001:db8:7:1::{n:x}") for n in range(2, 5)] == [429] * 3
    assert post_from("2001:db8:7:2::1") == 200  # another /64 is another client
    assert post_from("::ffff:198.51.100.7") == 200
    assert post_from("198.51.100.7") == 429  # the same IPv4 client, however written
    assert len(_rows(store)) == before + 3


def test_cli_shows_a_stored_escape_sequence_as_text(home, store) -> None:  # type: ignore[no-untyped-def]
    """Attack: a row written before the input check (or straight into the DB) still holds
    ESC; ``request list``/``show`` must print it escaped, not drive the terminal."""
    from onesource.web.deps import get_catalog
    from onesource.web.portal.feedback import submit_data_request

    req = submit_data_request(
        store, get_catalog(), text="t", purpose="p", email="a@example.org", department="grid"
    )
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE portal_requests SET text = :t, email = :e WHERE id = :i"),
            {"t": "x\x1b]0;owned\x07\x1b[2J\x9b1m", "e": "a\x1b[8m@example.org", "i": req.id},
        )
    hub = Hub.create(home, ONESOURCE_DB_URL=f"sqlite:///{home / 'onesource.db'}")
    for args in (["list", "--department", "grid"], ["show", req.id]):
        out = hub.run("request", *args)
        assert out.returncode == 0, out.stderr
        assert req.id in out.stdout
        assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\x9b" not in out.stdout
        assert "\\x1b]0;owned" in out.stdout
