"""The exchange's wire models are defined once (``schemas.exchange``): the hub's routes
declare them, the department SDK parses every answer with them.  Built without a store:
only the routers' declarations and the OpenAPI schema are read."""

from __future__ import annotations

import typing
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

import connectors.client as sdk
import schemas.exchange as wire
from connectors.client import ExchangeBadAnswer, ExchangeClient


@pytest.fixture(scope="module")
def app() -> FastAPI:
    from onesource.web.exchange import grants, pushes, resources, verify

    app = FastAPI()
    for module in (resources, verify, grants, pushes):
        app.include_router(module.router)
    return app


def _response_models(app: FastAPI) -> dict[str, type[Any]]:
    found = {}
    for route in app.routes:
        if isinstance(route, APIRoute) and route.response_model is not None:
            model = route.response_model
            if typing.get_origin(model) is list:
                (model,) = typing.get_args(model)
            found[f"{sorted(route.methods)[0]} {route.path}"] = model
    return found


def test_routes_answer_with_the_models_the_sdk_parses(app: FastAPI) -> None:
    models = _response_models(app)
    assert len(models) >= 14
    for route, model in models.items():
        assert getattr(wire, model.__name__) is model, f"{route}: {model} not from schemas.exchange"
    sdk_models = {sdk.ResourceAccess, sdk.AccessRequest, sdk.PushResult, sdk.Grant}
    assert sdk_models <= set(models.values())
    assert {wire.Me, wire.VerifyOut, wire.RowsOut} <= set(models.values())


def test_openapi_shapes_are_the_models_shapes(app: FastAPI) -> None:
    components = app.openapi()["components"]["schemas"]
    for model in set(_response_models(app).values()):
        published = components[model.__name__]
        own = model.model_json_schema(mode="serialization")
        assert set(published["properties"]) == set(own["properties"]), model.__name__
        assert set(published.get("required", [])) == set(own.get("required", [])), model
        for name, prop in own["properties"].items():
            assert published["properties"][name].get("type") == prop.get("type"), (model, name)


GRANT = {
    "id": "g1",
    "request_id": "r1",
    "department": "edu",
    "owner": "psb",
    "resource": "population_register",
    "fields": ["name"],
    "valid_from": "2026-11-30T00:00:00Z",
    "valid_until": "2027-11-30T00:00:00Z",
    "revoked_at": None,
    "status": "active",
}


def _hub(body: Any) -> ExchangeClient:
    return ExchangeClient(
        "http://hub",
        "os_x_y",
        retries=0,
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=body)),
    )


def test_sdk_ignores_fields_a_newer_hub_adds() -> None:
    [grant] = _hub([{**GRANT, "new_field": 1}]).grants()
    assert isinstance(grant, wire.GrantOut) and grant.fields == ["name"]
    assert grant.valid_until.year == 2027  # typed, not a string


def test_sdk_refuses_an_answer_that_drifted() -> None:
    missing = {k: v for k, v in GRANT.items() if k != "valid_until"}
    with pytest.raises(ExchangeBadAnswer, match=r"not a GrantOut.*valid_until"):
        _hub(missing).revoke("g1")
    with pytest.raises(ExchangeBadAnswer, match="not a list"):
        _hub({"grants": []}).grants()


def test_approval_exposes_its_grant_id() -> None:
    request = {
        "id": "r1",
        "requester": "edu",
        "owner": "psb",
        "resource": "population_register",
        "fields": ["name"],
        "purpose": "入学审核",
        "legal_basis": "义务教育法",
        "period_days": 30,
        "status": "approved",
        "requested_at": "2026-11-30T00:00:00Z",
        "due_at": "2026-12-14T00:00:00Z",
        "overdue": False,
        "decided_at": "2026-11-30T01:00:00Z",
        "decided_by": "psb-officer",
        "note": None,
        "grant": GRANT,
    }
    approved = _hub(request).approve("r1")
    assert approved.grant_id == "g1" and approved.status == "approved"
