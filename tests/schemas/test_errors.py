"""Errors cross process boundaries intact (the fork pool, Airflow task results)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pickle
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

import connectors
import onesource
import schemas
from schemas.errors import CatalogError, NotFoundError, OneSourceError


def _exception_modules() -> list[str]:
    """Modules that define an exception class, read with ``ast`` (importing every module,
    Airflow's included, would cost seconds): a class is one when a base is a builtin
    exception or, transitively, a class found so."""
    import builtins

    known = {
        n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)
    }
    classes: list[tuple[str, str, list[str]]] = []  # module, class, base names
    for package in (schemas, connectors, onesource):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            module = ".".join((package.__name__, *path.relative_to(root).with_suffix("").parts))
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                    classes.append((module.removesuffix(".__init__"), node.name, bases))
    grew = True
    while grew:
        before = len(known)
        known |= {name for _, name, bases in classes if known.intersection(bases)}
        grew = len(known) > before
    return sorted({module for module, name, _ in classes if name in known})


def _all_exception_classes() -> list[type[BaseException]]:
    """Every exception class defined in schemas, connectors and onesource."""
    found: set[type[BaseException]] = set()
    for name in _exception_modules():
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
            ):
                found.add(obj)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _sample(name: str, annotation: str) -> Any:
    """An argument value for a constructor parameter, from its name and annotation."""
    if "Response" in annotation:
        request = httpx.Request("GET", "https://dept.example/api?page=2")
        return httpx.Response(503, headers={"Retry-After": "5"}, json={}, request=request)
    if name == "signum":
        return int(signal.SIGTERM)
    if annotation.startswith(("int", "float")):
        return 7
    if annotation.startswith(("list", "Sequence")):
        return ["a.yaml:1:2: first", "b.yaml:3:4: second"]
    return f"{name} value"


def _instance(cls: type[BaseException]) -> BaseException:
    try:
        params = inspect.signature(cls).parameters.values()
    except ValueError:  # Exception's own __init__: any message
        return cls("message")
    args, kwargs = [], {}
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is not param.empty and param.name != "hint":
            continue
        value = _sample(param.name, str(param.annotation))
        if param.kind is param.KEYWORD_ONLY:
            kwargs[param.name] = value
        else:
            args.append(value)
    return cls(*args, **kwargs)


def _state(err: BaseException) -> dict[str, Any]:
    return {
        k: (v.status_code, dict(v.headers)) if isinstance(v, httpx.Response) else v
        for k, v in vars(err).items()
    }


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


CLASSES = _all_exception_classes()


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_exception_class_survives_pickle(cls: type[BaseException]) -> None:
    """One real instance of every exception class (built through its own ``__init__``)
    round-trips through pickle: same type, message, code and attributes."""
    err = _instance(cls)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert str(back) == str(err) and back.args == err.args
    assert _state(back) == _state(err)
    assert getattr(back, "code", None) == getattr(err, "code", None)


def test_every_module_was_searched() -> None:
    names = {c.__qualname__ for c in CLASSES}
    assert len(CLASSES) >= 69
    # classes with their own __init__ (the ones default pickling breaks), from every layer
    assert {"CatalogError", "HttpStatusError", "RetryableAnswer", "YamlProblem", "Stop"} <= names
    assert {"UnknownApplicationError", "ExchangeRateLimited", "VersionWithdrawnError"} <= names
