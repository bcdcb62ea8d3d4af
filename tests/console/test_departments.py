"""The console for departments: catalogue, apply, review, my access, transparency.

Attacks first: another department's applications, grants, keys and audit entries by URL
(their ids) and by form tampering; an officer approving; widening a grant on approval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from tests.console.conftest import World, post

FIELDS = ["id_number", "name", "household_division"]


@dataclass
class Flow:
    request_id: str  # edu asked psb for population_register fields; psb approved 2 of 3
    grant_id: str
    pending_id: str  # edu asked civil for social_assistance; still pending


@pytest.fixture(scope="module")
def flow(world: World, clients: dict[str, TestClient]) -> Flow:
    edu, psb = clients["edu.officer"], clients["psb.approver"]
    page = "/console/apply/population_register"
    r = post(
        edu,
        page,
        {
            "fields": FIELDS,
            "purpose": "入学资格审核",
            "legal_basis": "《义务教育法》第十二条",
            "period_days": "30",
            "department": "psb",  # tampering: the department is never read from the form
            "requester": "psb",
        },
        page=page,
    )
    assert r.status_code == 303, r.text
    request_id = r.headers["location"].split("/")[-1].split("?")[0]
    r = post(
        psb,
        f"/console/review/{request_id}/approve",
        {
            "fields": ["id_number", "household_division"],
            "period_days": "20",
            "note": "仅限入学审核",
        },
    )
    assert r.status_code == 303, r.text
    grant = world.hub.app.state.onesource_exchange.grants.get_request("edu", request_id).grant
    r = post(
        edu,
        "/console/apply/social_assistance",
        {
            "fields": ["assistance_type"],
            "purpose": "资助核查",
            "legal_basis": "资助办法",
            "period_days": "10",
        },
    )
    pending_id = r.headers["location"].split("/")[-1].split("?")[0]
    return Flow(request_id, grant.id, pending_id)


def test_application_is_filed_for_the_signed_in_department(world: World, flow: Flow) -> None:
    info = world.hub.app.state.onesource_exchange.grants.get_request("edu", flow.request_id)
    assert (info.requester, info.owner) == ("edu", "psb")
    assert info.fields == FIELDS


def test_approval_may_narrow_fields_and_period(world: World, flow: Flow) -> None:
    info = world.hub.app.state.onesource_exchange.grants.get_request("psb", flow.request_id)
    assert info.status == "approved" and info.decided_by == "psb.approver"
    assert info.grant is not None and info.grant.fields == ["id_number", "household_division"]
    span = info.grant.valid_until - info.grant.valid_from
    assert span == timedelta(days=20)


def test_officer_cannot_review_or_approve(clients: dict[str, TestClient], flow: Flow) -> None:
    psb_officer = clients["psb.officer"]
    assert psb_officer.get("/console/review").status_code == 403
    r = post(psb_officer, f"/console/review/{flow.pending_id}/approve", {})
    assert r.status_code == 403


@pytest.mark.parametrize("who", ["psb.approver", "edu.approver", "steward"])
def test_others_cannot_see_or_decide_an_application_by_url(
    world: World, clients: dict[str, TestClient], flow: Flow, who: str
) -> None:
    """The pending application is addressed to civil: nobody else may decide it."""
    client = clients[who]
    expected = 403 if who == "steward" else 404  # a steward has no department role at all
    assert client.get(f"/console/review/{flow.pending_id}").status_code == expected
    for action in ("approve", "refuse"):
        r = post(client, f"/console/review/{flow.pending_id}/{action}", {"reason": "x"})
        assert r.status_code == expected
    info = world.hub.app.state.onesource_exchange.grants.get_request("civil", flow.pending_id)
    assert info.status == "pending"


def test_a_third_department_cannot_read_an_application(
    clients: dict[str, TestClient], flow: Flow
) -> None:
    r = clients["civil.officer"].get(f"/console/applications/{flow.request_id}")
    assert r.status_code == 404
    assert "入学资格审核" not in r.text
    page = clients["civil.officer"].get("/console/applications").text
    assert flow.request_id not in page


def test_approval_cannot_widen_the_request(clients: dict[str, TestClient], world: World) -> None:
    edu, psb = clients["edu.officer"], clients["psb.approver"]
    page = "/console/apply/households"
    r = post(
        edu,
        page,
        {"fields": ["division"], "purpose": "p", "legal_basis": "b", "period_days": "5"},
        page=page,
    )
    rid = r.headers["location"].split("/")[-1].split("?")[0]
    r = post(psb, f"/console/review/{rid}/approve", {"fields": ["division", "head_id_number"]})
    assert r.status_code == 422
    r = post(psb, f"/console/review/{rid}/approve", {"period_days": "6"})
    assert r.status_code == 422
    info = world.hub.app.state.onesource_exchange.grants.get_request("psb", rid)
    assert info.status == "pending" and info.grant is None
    r = post(psb, f"/console/review/{rid}/refuse", {"reason": ""})
    assert r.status_code == 422  # a refusal needs a reason
    r = post(psb, f"/console/review/{rid}/refuse", {"reason": "用途与户籍无关"})
    assert r.status_code == 303
    page_text = edu.get(f"/console/applications/{rid}").text
    assert "不予批准" in page_text and "用途与户籍无关" in page_text


def test_apply_refuses_unconditional_none_and_missing_purpose(
    clients: dict[str, TestClient],
) -> None:
    edu = clients["edu.officer"]
    page = "/console/apply/social_assistance"
    cases = [
        {"fields": ["family_situation"], "purpose": "p", "legal_basis": "b"},  # share class none
        {"fields": ["name"], "purpose": "", "legal_basis": "b"},
        {"fields": [], "purpose": "p", "legal_basis": "b"},
    ]
    for data in cases:
        r = post(edu, page, {**data, "period_days": "5"}, page=page)
        assert r.status_code == 422, data
        assert 'id="apply-errors"' in r.text


def test_an_approver_cannot_file_applications(clients: dict[str, TestClient]) -> None:
    r = post(clients["edu.approver"], "/console/apply/households", {"fields": ["division"]})
    assert r.status_code == 403


def test_catalogue_shows_classes_sources_and_what_needs_a_grant(
    clients: dict[str, TestClient], flow: Flow
) -> None:
    edu = clients["edu.officer"]
    page = edu.get("/console/catalogue", params={"q": "户籍"}).text
    assert "population_register" in page
    detail = edu.get("/console/catalogue/population_register").text
    row = re.search(r'<tr id="field-id_number">.*?</tr>', detail, re.S)
    assert row and "已获授权" in row.group(0) and "有条件共享" in row.group(0)
    assert "清河市公安局" in row.group(0)  # the element's ONE source department
    name_row = re.search(r'<tr id="field-name">.*?</tr>', detail, re.S)
    assert name_row and "需申请授权" in name_row.group(0)  # not granted: fewer fields approved
    ratings = edu.get("/console/catalogue/service_ratings").text
    assert "可直接读取" in ratings and "apply-link" not in ratings
    own = edu.get("/console/catalogue/students").text
    assert "本部门数据" in own
    assistance = edu.get("/console/catalogue/social_assistance").text
    row = re.search(r'<tr id="field-family_situation">.*?</tr>', assistance, re.S)
    assert row and "不予共享" in row.group(0)


def test_catalogue_filters_and_unknown_resource(clients: dict[str, TestClient]) -> None:
    edu = clients["edu.officer"]
    page = edu.get("/console/catalogue", params={"share": "unconditional"}).text
    assert "service_ratings" in page and "population_register" not in page
    assert edu.get("/console/catalogue/no_such_thing").status_code == 404


def test_keys_are_shown_once_and_work_on_the_exchange_api(
    world: World, clients: dict[str, TestClient]
) -> None:
    edu = clients["edu.officer"]
    r = post(edu, "/console/access/keys/issue", {}, page="/console/access")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    key = re.search(r'<code id="new-key">([^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    me = TestClient(world.app).get("/api/exchange/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["department"] == "edu"
    assert key not in edu.get("/console/access").text  # never again


def test_keys_of_another_department_cannot_be_revoked(
    world: World, clients: dict[str, TestClient]
) -> None:
    ring = world.hub.app.state.onesource_exchange.keys
    edu_key = next(k for k in ring.list("edu") if k.active)
    civil = clients["civil.officer"]
    r = post(civil, f"/console/access/keys/{edu_key.id}/revoke", {}, page="/console/access")
    assert r.status_code == 404
    assert next(k for k in ring.list("edu") if k.id == edu_key.id).active
    assert edu_key.prefix not in civil.get("/console/access").text


def test_grants_of_others_cannot_be_revoked(
    world: World, clients: dict[str, TestClient], flow: Flow
) -> None:
    for who in ("civil.officer", "civil.approver", "psb.officer"):
        r = post(clients[who], f"/console/access/grants/{flow.grant_id}/revoke", {})
        assert r.status_code == 404, who
    grants = world.hub.app.state.onesource_exchange.grants.grants("edu", "held")
    assert next(g for g in grants if g.id == flow.grant_id).status == "active"


def test_read_with_the_grant_shows_in_usage_and_owner_transparency(
    world: World, clients: dict[str, TestClient], flow: Flow
) -> None:
    api = TestClient(world.app)
    key = world.hub.keys["edu"]
    r = api.get(
        "/api/exchange/resources/population_register/rows",
        params={"fields": "id_number,household_division", "purpose": "入学资格审核"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text
    usage = clients["edu.officer"].get("/console/access").text
    assert re.search(r"<td>population_register</td><td class=\"num\">\d+</td>", usage)
    seen = clients["psb.approver"].get("/console/transparency").text
    assert "入学资格审核" in seen and "<td>edu</td>" in seen
    # another department sees nothing of it, whatever it asks for
    other = (
        clients["civil.officer"]
        .get("/console/transparency", params={"resource": "population_register"})
        .text
    )
    assert "入学资格审核" not in other


def test_approver_sees_deadlines_and_overdue_flags(
    world: World, clients: dict[str, TestClient]
) -> None:
    from onesource.store.records import utcnow

    ex = world.hub.app.state.onesource_exchange
    old = ex.grants.request(
        ex.catalog(),
        "psb",
        "students",
        ["school"],
        "转学核查",
        "规定",
        10,
        now=utcnow() - timedelta(days=30),
    )
    page = clients["edu.approver"].get("/console/review").text
    assert old.id in page and "已超期" in page
    steward = clients["steward"].get("/console/overdue").text
    assert old.id in steward
    detail = clients["psb.officer"].get(f"/console/applications/{old.id}").text
    assert "已超期" in detail


def test_console_actions_are_audited_with_the_person(world: World, flow: Flow) -> None:
    entries = world.hub.app.state.onesource_exchange.audit.query(department="psb", limit=200)
    approvals = [e for e in entries if e["endpoint"] == "console approve (psb.approver)"]
    # the flow's approval (other tests of the module approve other applications)
    assert ["id_number", "household_division"] in [e["fields"] for e in approvals]


def test_working_days_left_counts_weekdays() -> None:
    from datetime import UTC, datetime

    from onesource.exchange.grants import add_working_days
    from onesource.web.console.applications import working_days_left

    friday = datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert working_days_left(friday, add_working_days(friday, 10)) == 10
    assert working_days_left(add_working_days(friday, 3), friday) == -3


def test_catalogue_shows_quality_of_the_resource_and_the_providers_scorecard(
    world: World, clients: dict[str, TestClient]
) -> None:
    from onesource.quality.scorecard import run_scorecard

    store = world.hub.store
    scores = {"completeness": 1.0, "validity": 0.9, "uniqueness": 1.0, "timeliness": 0.8}
    with store.begin_run("ingest", "households") as run:
        store.record_quality(run.id, "households", {"scores": scores}, True)
        run.finish("succeeded")
    run_scorecard(store, world.hub.catalog)
    page = clients["edu.officer"].get("/console/catalogue/households").text
    facts = re.search(r'<dl class="facts">.*?</dl>', page, re.S)
    assert facts and facts.group(0).count("92%") == 2  # the resource's and psb's overall


def test_rotating_keys_revokes_the_older_ones(world: World, clients: dict[str, TestClient]) -> None:
    ring = world.hub.app.state.onesource_exchange.keys
    r = post(clients["civil.officer"], "/console/access/keys/rotate", {}, page="/console/access")
    assert r.status_code == 200
    new = re.search(r'<code id="new-key">os_([^_]+)_', r.text).group(1)  # type: ignore[union-attr]
    active = [k.prefix for k in ring.list("civil") if k.active]
    assert active == [new]


def test_grants_ending_soon_are_flagged_and_verifications_are_seen_by_the_owner(
    world: World, clients: dict[str, TestClient]
) -> None:
    ex = world.hub.app.state.onesource_exchange
    req = ex.grants.request(
        ex.catalog(), "civil", "population_register", ["id_number", "name"], "救助核查", "办法", 5
    )
    ex.grants.decide("psb", req.id, True, decided_by="test")
    page = clients["civil.officer"].get("/console/access").text
    row = re.search(
        r'<tr id="grant-[^"]+"><td><a href="/console/catalogue/population_register">.*?</tr>',
        page,
        re.S,
    )
    assert row and "即将到期" in row.group(0)
    person = world.hub.people[0]
    r = TestClient(world.app).post(
        "/api/exchange/verify",
        json={
            "resource": "population_register",
            "key": {"id_number": person["id_number"]},
            "claims": {"name": person["name"]},
            "purpose": "最低生活保障资格核验",
        },
        headers={"Authorization": f"Bearer {ex.keys.issue('civil').key}"},
    )
    assert r.status_code == 200, r.text
    seen = clients["psb.approver"].get("/console/transparency").text
    assert "最低生活保障资格核验" in seen and "核验" in seen


def test_the_api_narrows_an_approval_like_the_console(world: World) -> None:
    ex = world.hub.app.state.onesource_exchange
    api = TestClient(world.app)
    for body, status in [
        ({"fields": ["division", "size"]}, 422),  # size was not requested
        ({"period_days": 9}, 422),  # longer than requested
        ({"fields": ["division"], "period_days": 3, "note": "ok"}, 200),
    ]:
        req = ex.grants.request(
            ex.catalog(), "hrss", "households", ["division", "head_id_number"], "p", "b", 7
        )
        r = api.post(
            f"/api/exchange/requests/{req.id}/approve",
            json=body,
            headers={"Authorization": f"Bearer {world.hub.keys['psb']}"},
        )
        assert r.status_code == status, r.text
    grant = r.json()["grant"]
    assert grant["fields"] == ["division"]


def test_a_blank_period_approves_the_period_asked_and_words_are_refused(
    world: World, clients: dict[str, TestClient]
) -> None:
    ex = world.hub.app.state.onesource_exchange
    req = ex.grants.request(ex.catalog(), "civil", "households", ["size"], "p", "b", 12)
    psb = clients["psb.approver"]
    r = post(psb, f"/console/review/{req.id}/approve", {"period_days": "十二"})
    assert r.status_code == 422 and "期限须为天数" in r.text
    r = post(psb, f"/console/review/{req.id}/approve", {"period_days": ""})
    assert r.status_code == 303
    grant = ex.grants.get_request("psb", req.id).grant
    assert grant is not None and (grant.valid_until - grant.valid_from).days == 12


@pytest.mark.parametrize(
    ("q", "first"),
    [
        ("社保", "social_insurance"),  # a synonym the stewards keep in catalog/search.yaml
        ("101/000001", "population_register"),  # a resource code: the plain match
        ("household_division", None),  # a field name: found in several resources
        ("户籍", None),
    ],
)
def test_catalogue_search(clients: dict[str, TestClient], q: str, first: str | None) -> None:
    page = clients["edu.officer"].get("/console/catalogue", params={"q": q}).text
    found = re.findall(r'<article class="card" id="res-([a-z_]+)">', page)
    assert found, q
    if first is not None:
        assert found[0] == first, found
    else:
        assert "population_register" in found, found


def test_catalogue_pages(clients: dict[str, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    from onesource.web.console import catalogue

    monkeypatch.setattr(catalogue, "PAGE_SIZE", 5)
    edu = clients["edu.officer"]
    first = edu.get("/console/catalogue").text
    second = edu.get("/console/catalogue", params={"page": 2}).text
    ids = [re.findall(r'id="res-([a-z_]+)"', p) for p in (first, second)]
    assert len(ids[0]) == len(ids[1]) == 5 and not set(ids[0]) & set(ids[1])
    assert 'aria-current="page">2<' in second and "page=1" in second
    last = edu.get("/console/catalogue", params={"page": 999}).text  # past the end: the last page
    assert re.findall(r'id="res-([a-z_]+)"', last)
