"""Errors cross process boundaries intact (the fork pool, Airflow task results)."""

from __future__ import annotations

import importlib
import pickle
import pkgutil

import pytest

import connectors
import onesource
import schemas
from schemas.errors import CatalogError, NotFoundError, OneSourceError


def _all_error_classes() -> list[type[OneSourceError]]:
    for package in (schemas, connectors, onesource):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".web" in info.name or ".demo" in info.name or "migrations" in info.name:
                continue
            try:
                importlib.import_module(info.name)
            except ImportError:
                continue
    seen: list[type[OneSourceError]] = []
    todo: list[type[OneSourceError]] = [OneSourceError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("resource", "populaton", known=["population_register"]),
        CatalogError(["a.yaml:1:2: bad", "b.yaml:3:4: worse"]),
        OneSourceError("plain", hint="do this"),
    ],
    ids=["not-found", "catalog", "root"],
)
def test_errors_with_own_init_survive_pickle(error: OneSourceError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.__dict__ == error.__dict__
    assert back.code == error.code


def test_every_error_class_survives_pickle() -> None:
    """Each OneSourceError subclass, built without its __init__, round-trips with its state."""
    classes = _all_error_classes()
    assert len(classes) > 10
    for cls in classes:
        err = cls.__new__(cls, "message")
        err.args = ("message",)
        err.message = "message"
        err.hint = None
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is cls and str(back) == str(err), cls
