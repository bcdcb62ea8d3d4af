"""Errors raised by connectors, each with a stable ``code``.

They subclass the hub's roots in ``schemas.errors`` so a scheduler retries
only the transient ones.
"""

from __future__ import annotations

from schemas.errors import ConfigError, SchemaDriftError, TerminalError


class ColumnDriftError(SchemaDriftError):
    """A source column is missing, renamed or of a type the catalog cannot take."""

    code = "column-drift"

    def __init__(
        self, resource: str, column: str, expected: str, found: str, *, detail: str = ""
    ) -> None:
        message = f"resource {resource!r}: column {column!r} expected {expected}, found {found}" + (
            f"; {detail}" if detail else ""
        )
        super().__init__(
            message,
            hint="fix the source, or update the field (type or connector 'columns:') in the catalog",
        )
        self.resource = resource
        self.column = column
        self.expected = expected
        self.found = found


class DriverMissingError(ConfigError):
    """An optional database driver or library needed by one connector is not installed."""

    code = "driver-missing"


class UnknownConnectorError(ConfigError):
    """No connector is registered for a catalog ``type``."""

    code = "connector-unknown"


class SourceQueryError(TerminalError):
    """The source answered but refused the query (missing table, bad SQL, no permission)."""

    code = "source-query-failed"


class HttpStatusError(TerminalError):
    """A department API answered with a 4xx status that retrying will not fix."""

    code = "http-status"

    def __init__(self, url: str, status: int, body: str = "") -> None:
        detail = f": {body[:200]}" if body else ""
        super().__init__(
            f"GET {url} answered HTTP {status}{detail}",
            hint="check the connector's path and params and the connection's credentials",
        )
        self.url = url
        self.status = status
