"""Connections: resolve the id a catalog connector names to host, credentials and options.

Lookup order, first hit wins:

1. ``ONESOURCE_CONN_<ID>`` environment variable,
2. ``AIRFLOW_CONN_<ID>`` environment variable (what Airflow itself reads),
3. ``$ONESOURCE_HOME/connections.json`` (home defaults to ``var``; the demo seeder writes it),
4. lookups registered with ``register_lookup`` (e.g. an adapter over Airflow's secrets backend).

Values are Airflow's URI form (``postgresql://user:pass@host:5432/db?sslmode=require``)
or its JSON form (``{"conn_type": "postgres", "host": ..., "password": ...}``).
Passwords never appear in ``repr``, error messages or rendered URLs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from schemas.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

Lookup = Callable[[str], "Connection | None"]

_JSON_KEYS = {"conn_type", "host", "port", "login", "password", "schema", "extra", "description"}
# Airflow conn_type -> SQLAlchemy driver name; anything else is passed through as given
_DRIVERS = {
    "sqlite": "sqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "mssql": "mssql+pyodbc",
    "oracle": "oracle+oracledb",
}
# extra keys that configure the hub, not the database driver
_NOT_URL_QUERY = {"headers", "base_url", "url", "path", "verify"}
_FILE_TYPES = {"file", "fs", "local"}

_lookups: list[Lookup] = []


@dataclass(frozen=True)
class Connection:
    """One resolved connection. ``password`` is kept out of ``repr``."""

    id: str
    conn_type: str
    host: str = ""
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    origin: str = ""

    @property
    def dialect(self) -> str:
        """The database family: sqlite, postgresql, mysql, ... (mariadb counts as mysql)."""
        name = _DRIVERS.get(self.conn_type, self.conn_type).split("+")[0]
        return "mysql" if name == "mariadb" else name

    def sqlalchemy_url(self) -> URL:
        """A SQLAlchemy URL; for SQLite the file path is in ``database``."""
        from sqlalchemy.engine import URL

        driver = _DRIVERS.get(self.conn_type, self.conn_type)
        query = {
            k: str(v)
            for k, v in self.extra.items()
            if k not in _NOT_URL_QUERY and isinstance(v, str | int | float | bool)
        }
        if driver == "sqlite":
            path = self.schema or self.host
            return URL.create("sqlite", database=path or None, query=query)
        return URL.create(
            driver,
            username=self.login or None,
            password=self.password or None,
            host=self.host or None,
            port=self.port,
            database=self.schema or None,
            query=query,
        )

    def base_url(self) -> str:
        """Base URL of an HTTP API (``extra.base_url`` wins; Airflow's ``schema`` may be the scheme)."""
        if self.extra.get("base_url"):
            return str(self.extra["base_url"]).rstrip("/")
        scheme = self.conn_type if self.conn_type in ("http", "https") else "http"
        path = self.schema
        if path in ("http", "https"):  # Airflow's HTTP connections keep the scheme here
            scheme, path = path, ""
        host = self.host
        if "://" in host:  # a full URL typed into the host field
            return host.rstrip("/") + (f"/{path.strip('/')}" if path else "")
        port = f":{self.port}" if self.port else ""
        return f"{scheme}://{host}{port}" + (f"/{path.strip('/')}" if path else "")

    def path_or_url(self) -> str:
        """Folder or fsspec URL of a file drop (``extra.url`` / ``extra.path`` win)."""
        for key in ("url", "path"):
            if self.extra.get(key):
                return str(self.extra[key])
        if self.conn_type in _FILE_TYPES:
            return self.schema or self.host
        tail = "/".join(p.strip("/") for p in (self.host, self.schema) if p)
        return f"{self.conn_type}://{tail}"

    def describe(self) -> str:
        """A safe one-line description for messages: id, type and host, never the password."""
        where = self.host or self.schema or "-"
        if self.port:
            where += f":{self.port}"
        return f"connection {self.id!r} ({self.conn_type} at {where})"


def register_lookup(fn: Lookup) -> None:
    """Add a lookup consulted after env vars and connections.json (e.g. Airflow secrets)."""
    if fn not in _lookups:
        _lookups.append(fn)


def unregister_lookup(fn: Lookup) -> None:
    """Remove a lookup added with ``register_lookup``."""
    if fn in _lookups:
        _lookups.remove(fn)


def connections_file() -> Path:
    """Where the JSON file of connections lives: ``$ONESOURCE_HOME/connections.json``."""
    return Path(os.environ.get("ONESOURCE_HOME", "var")) / "connections.json"


def get_connection(conn_id: str) -> Connection:
    """Resolve ``conn_id``; ``ConfigError`` names the id and where it was looked for."""
    var = f"ONESOURCE_CONN_{conn_id.upper()}"
    for name in (var, f"AIRFLOW_CONN_{conn_id.upper()}"):
        value = os.environ.get(name)
        if value:
            return parse_connection(conn_id, value, origin=f"env {name}")
    path = connections_file()
    if path.is_file():
        entries = _read_file(path)
        if conn_id in entries:
            return parse_connection(conn_id, entries[conn_id], origin=str(path))
    for fn in list(_lookups):
        found = fn(conn_id)
        if found is not None:
            return found
    raise ConfigError(
        f"connection {conn_id!r} is not defined",
        hint=(
            f"set {var} (a URI like postgresql://user:pass@host:5432/db or Airflow's JSON form), "
            f"define the Airflow connection {conn_id!r}, or add it to {path}"
        ),
    )


def parse_connection(
    conn_id: str, value: str | Mapping[str, Any], *, origin: str = ""
) -> Connection:
    """Parse Airflow's URI or JSON form (a string or an already-decoded mapping)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                decoded = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"connection {conn_id!r} from {origin}: invalid JSON at position {exc.pos}",
                    hint='use {"conn_type": "postgres", "host": "...", "login": "...", ...}',
                ) from None
            return _from_json(conn_id, decoded, origin)
        return _from_uri(conn_id, text, origin)
    return _from_json(conn_id, value, origin)


def _from_json(conn_id: str, data: Any, origin: str) -> Connection:
    if not isinstance(data, Mapping):
        raise ConfigError(f"connection {conn_id!r} from {origin}: expected a JSON object")
    unknown = sorted(set(data) - _JSON_KEYS)
    if unknown:
        raise ConfigError(
            f"connection {conn_id!r} from {origin}: unknown keys {', '.join(unknown)}",
            hint=f"known keys: {', '.join(sorted(_JSON_KEYS))}",
        )
    if not data.get("conn_type"):
        raise ConfigError(f"connection {conn_id!r} from {origin}: 'conn_type' is required")
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra) if extra.strip() else {}
        except json.JSONDecodeError:
            raise ConfigError(
                f"connection {conn_id!r} from {origin}: 'extra' is not valid JSON"
            ) from None
    port = data.get("port")
    try:
        port = int(port) if port not in (None, "") else None
    except (TypeError, ValueError):
        raise ConfigError(
            f"connection {conn_id!r} from {origin}: port {port!r} is not a number"
        ) from None
    return Connection(
        id=conn_id,
        conn_type=str(data["conn_type"]).replace("-", "_"),
        host=str(data.get("host") or ""),
        port=port,
        login=data.get("login") or None,
        password=data.get("password") or None,
        schema=str(data.get("schema") or ""),
        extra=dict(extra),
        origin=origin,
    )


def _from_uri(conn_id: str, uri: str, origin: str) -> Connection:
    if "://" not in uri:
        raise ConfigError(
            f"connection {conn_id!r} from {origin}: not a URI or JSON object",
            hint="use scheme://login:password@host:port/schema?key=value or a JSON object",
        )
    parts = urlsplit(uri)
    conn_type = parts.scheme.replace("-", "_")
    extra: dict[str, Any] = {}
    for key, val in parse_qsl(parts.query, keep_blank_values=True):
        if key == "__extra__":  # Airflow's way of carrying nested JSON extras in a URI
            extra.update(json.loads(val))
        else:
            extra[key] = val
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(
            f"connection {conn_id!r} from {origin}: the port is not a number"
        ) from None
    path = unquote(parts.path)
    # Airflow drops the first slash of the path; file drops keep the whole path
    schema = path if conn_type in _FILE_TYPES else path[1:] if path.startswith("/") else path
    return Connection(
        id=conn_id,
        conn_type=conn_type,
        host=unquote(parts.hostname or ""),
        port=port,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        schema=schema,
        extra=extra,
        origin=origin,
    )


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"cannot read connections from {path}: {type(exc).__name__}",
            hint='the file holds {"<id>": {"conn_type": ..., ...} or "<uri>", ...}',
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object of connection id -> connection")
    return data


def to_uri(conn: Connection, *, hide_password: bool = True) -> str:
    """Airflow URI form of a connection (password masked unless asked)."""
    auth = ""
    if conn.login:
        auth = quote(conn.login, safe="")
        if conn.password:
            auth += ":" + ("***" if hide_password else quote(conn.password, safe=""))
        auth += "@"
    port = f":{conn.port}" if conn.port else ""
    return f"{conn.conn_type}://{auth}{quote(conn.host, safe='')}{port}/{quote(conn.schema)}"
