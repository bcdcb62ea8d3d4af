"""Lazy connector registry keyed by the catalog's connector ``type``.

Built-in sources are named by ``module:Class`` and imported on first use, so
a missing optional driver breaks only its own connector.  Departments add
connectors (plugins) through the ``onesource.connectors`` entry point group::

    [project.entry-points."onesource.connectors"]
    ftp = "qinghe_ftp.source:FtpSource"

A plugin's source class names its spec model in ``spec`` (a
``schemas.connector.PluginSpec`` subclass with ``type: Literal["ftp"]``): the
catalog loader checks the resource's ``connector:`` options with it
(``spec_model``), so a plugin's options get the same ``file:line`` errors as
the built-in connectors'.
"""

from __future__ import annotations

import importlib
from typing import Any

from connectors.base import Source
from connectors.errors import DriverMissingError, UnknownConnectorError
from schemas.connector import CONNECTOR_TYPES, PluginSpec

ENTRY_POINT_GROUP = "onesource.connectors"

_BUILTIN: dict[str, str] = {
    "sql": "connectors.sql:SqlSource",
    "files": "connectors.files:FilesSource",
    "http": "connectors.http:HttpSource",
    "push": "connectors.push:PushSource",
}
_registered: dict[str, str | type[Any]] = {}
_loaded: dict[str, type[Any]] = {}


def register_lazy(type_: str, target: str | type[Any]) -> None:
    """Register a connector class (or ``"module:Class"`` to import on first use)."""
    _registered[type_] = target
    _loaded.pop(type_, None)


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_types() -> list[str]:
    """Every connector type available: built-in, registered and from entry points."""
    return sorted({*_BUILTIN, *_registered, *_entry_points()})


def get_source_class(type_: str) -> type[Any]:
    """The connector class for ``type_``, imported on first use."""
    if type_ in _loaded:
        return _loaded[type_]
    target: str | type[Any] | None = _registered.get(type_) or _BUILTIN.get(type_)
    if target is None:
        ep = _entry_points().get(type_)
        if ep is None:
            raise UnknownConnectorError(
                f"unknown connector type {type_!r}",
                hint=f"known types: {', '.join(known_types())}; third-party connectors register "
                f"an entry point in the {ENTRY_POINT_GROUP!r} group",
            )
        target = ep.value
    cls = _import(type_, target) if isinstance(target, str) else target
    _loaded[type_] = cls
    return cls


def spec_model(type_: str) -> type[PluginSpec]:
    """The spec model a plugin connector declares (its source class's ``spec``)."""
    if type_ in CONNECTOR_TYPES:
        raise ValueError(f"{type_!r} is a built-in connector; its model is in schemas.connector")
    cls = get_source_class(type_)
    model = getattr(cls, "spec", None)
    if not (isinstance(model, type) and issubclass(model, PluginSpec)):
        raise UnknownConnectorError(
            f"connector {type_!r} ({cls.__module__}.{cls.__qualname__}) declares no spec model",
            hint="give the source class `spec: ClassVar[type[PluginSpec]] = <its options model>`",
        )
    literal = model.model_fields["type"].annotation
    if type_ not in getattr(literal, "__args__", ()):
        raise UnknownConnectorError(
            f"connector {type_!r}: {model.__qualname__}.type is {literal!r}",
            hint=f'declare `type: Literal["{type_}"]`: the type, the entry point and the model '
            "name the same string",
        )
    return model


def get_source(type_: str) -> Source:
    """An instance of the connector for ``type_`` (``sql``, ``files``, ``http``, ...)."""
    source: Source = get_source_class(type_)()
    return source


def _import(type_: str, target: str) -> type[Any]:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise DriverMissingError(
            f"connector {type_!r} needs the Python package {exc.name!r}, which is not installed",
            hint=f"install it (uv pip install {exc.name}); other connectors are unaffected",
        ) from exc
    try:
        cls: type[Any] = getattr(module, attr)
    except AttributeError:
        raise UnknownConnectorError(
            f"connector {type_!r}: {module_name} has no {attr!r}",
            hint=f"fix the entry point {target!r}",
        ) from None
    return cls
