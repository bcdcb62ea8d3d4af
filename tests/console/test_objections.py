"""数据异议 in the console: the attacks first (seeing, routing, answering what is not
one's own), then raising, answering "corrected in version N", the scorecard's counts
and a consistency mismatch turned into an objection in one step."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from tests.console.conftest import World, post
from tests.exchange.fixtures import commit

POP = "population_register"


def _objections(world: World) -> list[Any]:
    from onesource.store.console_models import Objection
    from onesource.store.db import session

    with session(world.hub.store.engine) as ses:
        return list(ses.scalars(sa.select(Objection).order_by(Objection.raised_at)))


def _raise(client: TestClient, world: World, person: int, **extra: str) -> Any:
    data = {
        "resource": POP,
        "field": "name",
        "key.id_number": world.hub.people[person]["id_number"],
        "reason": "姓名与学籍登记不一致",
        **extra,
    }
    return post(client, "/console/objections", data, page="/console/objections/new")


def _id(response: Any) -> str:
    assert response.status_code == 303, response.text[:2000]
    found = re.search(r"/console/objections/([0-9A-Z]+)$", response.headers["location"])
    assert found
    return found.group(1)


# the version of population_register each module-wide objection was raised against (tests
# run in any order, and some commit newer versions)
_RAISED_AT: dict[str, int] = {}


@pytest.fixture(scope="module")
def raised(world: World, clients: dict[str, TestClient]) -> str:
    """edu (holds a copy of person.name) objects to psb's name of person 0; stays open:
    tests that answer an objection raise their own."""
    version = world.hub.store.current("resource", POP).number
    oid = _id(_raise(clients["edu.officer"], world, 0, observed="tampered"))
    _RAISED_AT[oid] = version
    return oid


# attacks


def test_routing_ignores_a_department_named_in_the_form(
    world: World, clients: dict[str, TestClient]
) -> None:
    oid = _id(
        _raise(clients["edu.officer"], world, 1, source_department="civil", department="hrss")
    )
    row = next(o for o in _objections(world) if o.id == oid)
    assert (row.raised_by, row.source_department) == ("edu", "psb")
    assert row.observed is None  # edu holds a copy but reads no psb value: nothing recorded


def test_an_element_is_objected_to_on_its_source_resource(
    world: World, clients: dict[str, TestClient]
) -> None:
    r = post(
        clients["edu.officer"],
        "/console/objections",
        {
            "resource": "social_assistance",
            "field": "name",
            "key.id_number": world.hub.people[3]["id_number"],
            "key.assistance_type": "dibao",
            "reason": "x",
        },
    )
    assert r.status_code == 422 and "population_register" in r.text


def test_the_source_department_cannot_object_to_its_own_data(
    world: World, clients: dict[str, TestClient]
) -> None:
    before = len(_objections(world))
    r = _raise(clients["psb.officer"], world, 0)
    assert r.status_code == 403 and len(_objections(world)) == before


def test_a_department_neither_reading_nor_holding_the_field_cannot_object(
    world: World, clients: dict[str, TestClient]
) -> None:
    before = len(_objections(world))
    r = post(
        clients["psb.officer"],
        "/console/objections",
        {
            "resource": "social_assistance",
            "field": "monthly_amount",
            "key.id_number": world.hub.people[3]["id_number"],
            "key.assistance_type": "dibao",
            "reason": "x",
        },
    )
    assert r.status_code in (404, 422) and len(_objections(world)) == before


def test_other_departments_neither_see_nor_answer(
    world: World, clients: dict[str, TestClient], raised: str
) -> None:
    civil = clients["civil.approver"]
    assert civil.get(f"/console/objections/{raised}").status_code == 404
    assert raised not in civil.get("/console/objections").text
    r = post(civil, f"/console/objections/{raised}/answer", {"status": "rejected", "text": "no"})
    assert r.status_code == 404
    assert next(o for o in _objections(world) if o.id == raised).status == "open"


def test_the_raiser_sees_its_objection_but_cannot_answer_it(
    world: World, clients: dict[str, TestClient], raised: str
) -> None:
    page = clients["edu.approver"].get(f"/console/objections/{raised}")
    assert page.status_code == 200 and "/answer" not in page.text
    r = post(
        clients["edu.approver"],
        f"/console/objections/{raised}/answer",
        {"status": "rejected", "text": "our own objection, dismissed"},
    )
    assert r.status_code == 403
    assert next(o for o in _objections(world) if o.id == raised).status == "open"


def test_an_officer_of_the_source_cannot_answer(
    world: World, clients: dict[str, TestClient], raised: str
) -> None:
    assert clients["psb.officer"].get(f"/console/objections/{raised}").status_code == 200
    r = post(clients["psb.officer"], f"/console/objections/{raised}/answer", {"status": "rejected"})
    assert r.status_code == 403


def test_a_post_without_csrf_changes_nothing(
    world: World, clients: dict[str, TestClient], raised: str
) -> None:
    r = clients["psb.approver"].post(
        f"/console/objections/{raised}/answer",
        data={"status": "rejected", "text": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert next(o for o in _objections(world) if o.id == raised).status == "open"


# the work


def test_routed_to_the_source_and_listed_on_both_sides(
    world: World, clients: dict[str, TestClient], raised: str
) -> None:
    incoming = clients["psb.approver"].get("/console/objections").text
    assert raised[-8:] in incoming and "edu" in incoming
    assert raised[-8:] in clients["edu.officer"].get("/console/objections").text
    row = next(o for o in _objections(world) if o.id == raised)
    assert row.version == _RAISED_AT[raised]
    assert row.element == "person.name" and row.due_at > row.raised_at


def test_answer_corrected_needs_a_newer_version_that_changed_the_value(
    world: World, clients: dict[str, TestClient]
) -> None:
    psb = clients["psb.approver"]
    oid = _id(_raise(clients["edu.officer"], world, 0, field="household_division"))
    url = f"/console/objections/{oid}/answer"
    page = f"/console/objections/{oid}"
    row = next(o for o in _objections(world) if o.id == oid)
    for version, words in ((99, "no version 99"), (row.version, "not newer")):
        r = post(psb, url, {"status": "corrected", "version": str(version)}, page)
        assert r.status_code == 422 and words in r.text
    assert post(psb, url, {"status": "rejected", "text": " "}, page).status_code == 422
    # a new version that corrects the household's division
    people = [dict(p) for p in world.hub.people]
    people[0]["household_division"] = "339902"
    new = commit(world.hub.store, world.hub.catalog, POP, people)
    state_ex = world.app.state.onesource_exchange
    state_ex.refresh()
    r = post(psb, url, {"status": "corrected", "version": str(new), "text": "已更正"}, page)
    assert r.status_code == 303, r.text[:1000]
    done = next(o for o in _objections(world) if o.id == oid)
    assert (done.status, done.corrected_version, done.answered_by) == (
        "corrected",
        new,
        "psb.approver",
    )
    again = post(psb, url, {"status": "rejected", "text": "twice"}, page)
    assert again.status_code == 409
    shown = clients["edu.officer"].get(page).text
    assert "已更正" in shown and f"v{new}" in shown


def test_a_correction_that_changed_nothing_is_refused(
    world: World, clients: dict[str, TestClient]
) -> None:
    from onesource.exchange.objections import ObjectionBook
    from onesource.store.records import utcnow

    ex = world.app.state.onesource_exchange
    b = ObjectionBook(ex)
    key = {"id_number": world.hub.people[2]["id_number"]}
    info = b.raise_objection("edu", POP, key, "name", "wrong", observed=world.hub.people[2]["name"])
    new = commit(world.hub.store, world.hub.catalog, POP, world.hub.people)  # same names
    ex.refresh()
    from onesource.exchange.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="still"):
        b.answer("psb", info.id, "corrected", None, version=new, now=utcnow())
    done = b.answer("psb", info.id, "rejected", "the register is right")
    assert done.status == "rejected" and done.answer == "the register is right"


def test_every_action_is_audited(world: World, clients: dict[str, TestClient]) -> None:
    from onesource.store.db import session
    from onesource.store.exchange_models import AuditEntry

    oid = _id(_raise(clients["edu.officer"], world, 1, field="household_division"))
    answer = {"status": "rejected", "text": "户籍登记无误"}
    r = post(clients["psb.approver"], f"/console/objections/{oid}/answer", answer)
    assert r.status_code == 303, r.text[:1000]

    with session(world.hub.store.engine) as ses:
        endpoints = [e for (e,) in ses.execute(sa.select(AuditEntry.endpoint)) if "objection" in e]
    assert any(e.startswith("console objection-raise (edu.officer)") for e in endpoints)
    assert any(e.startswith("console objection-answer (psb.approver)") for e in endpoints)


def test_scorecard_counts_open_and_overdue_objections(world: World) -> None:
    from datetime import timedelta

    from onesource.exchange.objections import ObjectionBook
    from onesource.quality.scorecard import Scorecard, objection_counts, with_objections
    from onesource.store.records import utcnow

    ex = world.app.state.onesource_exchange
    key = {"id_number": world.hub.people[3]["id_number"]}
    ObjectionBook(ex).raise_objection(
        "edu", POP, key, "sex", "late", now=utcnow() - timedelta(days=30)
    )
    counts = objection_counts(world.hub.store.engine)
    assert counts["psb"]["overdue"] >= 1 and counts["psb"]["open"] >= counts["psb"]["overdue"]
    card = with_objections(Scorecard(), world.hub.store.engine).to_dict()
    psb = next(r for r in card["rows"] if r["department"] == "psb")
    assert psb["objections_overdue"] == counts["psb"]["overdue"]
    assert "psb" in card["objections"]


def test_a_consistency_mismatch_becomes_an_objection_in_one_step(
    world: World, clients: dict[str, TestClient]
) -> None:
    import pyarrow as pa

    from onesource.pipeline.outputs import consistency_report
    from schemas.arrow import resource_schema

    store, catalog = world.hub.store, world.hub.catalog
    res = catalog.resources["social_assistance"]
    person = world.hub.people[3]
    copy = pa.Table.from_pylist(
        [
            {
                "id_number": person["id_number"],
                "name": "赵陆",  # civil's copy disagrees with psb's 赵六
                "assistance_type": "dibao",
                "monthly_amount": None,
                "household_division": "339903",
                "family_situation": "x",
            }
        ],
        schema=resource_schema(catalog, res),
    )
    report = consistency_report(store, catalog, res, copy)
    assert report and report["elements"]
    with store.begin_run("ingest", "social_assistance") as run:
        store.record_quality(run.id, "social_assistance", {"consistency": report}, True)
        run.finish("succeeded")
    civil = clients["civil.officer"]
    page = civil.get("/console/objections/mismatches")
    assert page.status_code == 200 and "赵陆" in page.text, page.text[-3000:]
    # another department cannot use civil's mismatch
    form = {
        "copy_resource": "social_assistance",
        "element": "person.name",
        "key": person["id_number"],
    }
    assert (
        post(clients["edu.officer"], "/console/objections/from-consistency", form).status_code
        == 404
    )
    oid = _id(post(civil, "/console/objections/from-consistency", form))
    row = next(o for o in _objections(world) if o.id == oid)
    assert (row.raised_by, row.source_department, row.resource) == ("civil", "psb", POP)
    assert row.record_key == {"id_number": person["id_number"]}
    # civil holds a copy but no grant on psb's name: psb's value (赵六) is not civil's to see
    assert (row.expected, row.observed) == ("赵陆", None)
    assert "赵六" not in page.text


def test_the_form_is_prefilled_from_a_record_field_link(
    world: World, clients: dict[str, TestClient]
) -> None:
    number = world.hub.people[0]["id_number"]
    page = clients["edu.officer"].get(
        f"/console/objections/new?resource={POP}&field=name&key.id_number={number}"
    )
    assert page.status_code == 200
    assert f'name="key.id_number" required value="{number}"' in page.text, page.text[-3000:]
    assert '<option value="name" selected>name · 姓名 (person.name)' in page.text


def test_a_second_open_objection_on_the_same_field_is_refused(
    world: World, clients: dict[str, TestClient]
) -> None:
    before = len(_objections(world))
    first = _raise(clients["edu.officer"], world, 2, field="sex")
    assert first.status_code == 303
    again = _raise(clients["edu.approver"], world, 2, field="sex")
    assert again.status_code == 409 and "still open" in again.text
    assert len(_objections(world)) == before + 1


def test_a_readable_field_records_the_hubs_value_and_needs_the_record(
    world: World, clients: dict[str, TestClient]
) -> None:
    edu = clients["edu.officer"]
    base = {"resource": "service_ratings", "field": "score", "reason": "评分录入错误"}
    page = "/console/objections/new"
    missing = post(edu, "/console/objections", {**base, "key.rating_number": "R9999"}, page)
    assert missing.status_code == 422 and "no record" in missing.text
    oid = _id(
        post(
            edu,
            "/console/objections",
            {**base, "key.rating_number": "R0003", "observed": "1"},
            page,
        )
    )
    row = next(o for o in _objections(world) if o.id == oid)
    assert (row.source_department, row.observed) == ("dsj", "4")  # the hub's value, not the form's


def test_the_catalogue_links_a_resource_to_the_objection_form(
    clients: dict[str, TestClient],
) -> None:
    page = clients["edu.officer"].get(f"/console/catalogue/{POP}").text
    assert f'href="/console/objections/new?resource={POP}"' in page
    own = clients["psb.officer"].get(f"/console/catalogue/{POP}").text
    assert 'id="objection-link"' not in own  # its own data: nothing to object to
