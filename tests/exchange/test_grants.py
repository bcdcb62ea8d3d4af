"""Requests and grants: deadlines, validation, decisions, expiry, revocation, scoping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from onesource.exchange.errors import ConflictError, InvalidRequestError, UnknownError
from onesource.exchange.grants import GrantBook, add_working_days
from onesource.store import Store
from onesource.web.deps import get_catalog
from schemas.catalog import Catalog


@pytest.mark.parametrize(
    "start,days,due",
    [
        (datetime(2026, 1, 5, tzinfo=UTC), 10, datetime(2026, 1, 19, tzinfo=UTC)),  # Monday
        (datetime(2026, 1, 9, tzinfo=UTC), 1, datetime(2026, 1, 12, tzinfo=UTC)),  # Friday
        (datetime(2026, 1, 10, tzinfo=UTC), 5, datetime(2026, 1, 16, tzinfo=UTC)),  # Saturday
    ],
    ids=["monday-10", "friday-1", "saturday-5"],
)
def test_working_days_skip_weekends(start: datetime, days: int, due: datetime) -> None:
    assert add_working_days(start, days) == due


@pytest.fixture
def book(hub_home: Path) -> tuple[GrantBook, Catalog]:
    return GrantBook(Store.open().engine, cache_seconds=60), get_catalog()


def _ask(book: GrantBook, catalog: Catalog, fields: list[str], now: datetime | None = None):  # type: ignore[no-untyped-def]
    return book.request(
        catalog, "edu", "population_register", fields, "入学审核", "义务教育法", 30, now=now
    )


@pytest.mark.parametrize(
    "resource,fields,message",
    [
        ("population_register", ["nosuch"], "not a field"),
        ("social_assistance", ["family_situation"], "not shared"),
        ("service_ratings", ["score"], "unconditionally"),
        ("graduates", ["education_level"], "owns"),
    ],
    ids=["unknown-field", "none-field", "unconditional-field", "own-resource"],
)
def test_bad_requests_are_refused(
    book: tuple[GrantBook, Catalog], resource: str, fields: list[str], message: str
) -> None:
    gb, catalog = book
    with pytest.raises(InvalidRequestError, match=message):
        gb.request(catalog, "edu", resource, fields, "p", "b", 10)


def test_approve_grants_fields_until_expiry(book: tuple[GrantBook, Catalog]) -> None:
    gb, catalog = book
    past = datetime.now(UTC) - timedelta(days=40)
    req = _ask(gb, catalog, ["name"], now=past)
    assert req.due_at == add_working_days(past, 10)
    assert [r.id for r in gb.requests("psb", "incoming", "pending")] == [req.id]
    assert gb.requests("psb", "incoming", "pending")[0].overdue
    gb.decide("psb", req.id, True, "ok", now=past)
    assert gb.get_request("edu", req.id).status == "expired"  # 30 days, from 40 days ago
    assert gb.active_fields("edu", "population_register")[0] == frozenset()
    fresh = gb.decide("psb", _ask(gb, catalog, ["name", "household_division"]).id, True)
    assert gb.active_fields("edu", "population_register")[0] == {"name", "household_division"}
    assert fresh.status == "approved"
    with pytest.raises(ConflictError):
        gb.decide("psb", req.id, False)


def test_ids_are_scoped_to_departments(book: tuple[GrantBook, Catalog]) -> None:
    gb, catalog = book
    req = _ask(gb, catalog, ["name"])
    with pytest.raises(UnknownError):
        gb.decide("civil", req.id, True)  # not the owner
    with pytest.raises(UnknownError):
        gb.decide("edu", req.id, True)  # the requester cannot approve itself
    with pytest.raises(UnknownError):
        gb.get_request("hrss", req.id)
    grant = gb.decide("psb", req.id, True).grant
    assert grant is not None
    with pytest.raises(UnknownError):
        gb.revoke("hrss", grant.id)
    revoked = gb.revoke("psb", grant.id)
    assert revoked.status == "revoked"
    assert gb.active_fields("edu", "population_register")[0] == frozenset()
    assert gb.get_request("edu", req.id).status == "revoked"


def test_deny_gives_no_grant(book: tuple[GrantBook, Catalog]) -> None:
    gb, catalog = book
    denied = gb.decide("psb", _ask(gb, catalog, ["name"]).id, False, "no legal basis")
    assert denied.status == "denied" and denied.grant is None
    assert gb.requests("edu", "outgoing")[0].note == "no legal basis"
