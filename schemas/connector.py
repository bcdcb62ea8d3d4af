"""Connector specs: how the hub pulls a dataset from its department.

The ``type`` value, the connector registry key and the model's ``Literal`` are
the same string.  Types other than the four built-in ones are plugins: their
options are checked by the plugin's own model (``PluginSpec``) at catalog load.  Credentials never appear here: ``connection`` names an
Airflow connection or an ``ONESOURCE_CONN_<ID>`` environment variable.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator

from schemas.base import ConnectionId, Model, Name


class Incremental(Model):
    """Pull only rows whose watermark column passed the stored high-water mark."""

    column: str = Field(min_length=1)
    lookback: int = Field(0, ge=0, description="re-read this many units before the watermark")


class SqlConnector(Model):
    type: Literal["sql"]
    connection: ConnectionId
    table: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
    query: str | None = None
    incremental: Incremental | None = None
    batch_rows: int = Field(100_000, ge=1_000, le=5_000_000)
    engine: Literal["auto", "adbc", "connectorx", "sqlalchemy"] = "auto"

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlConnector:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self


class FilesConnector(Model):
    type: Literal["files"]
    connection: ConnectionId = Field(description="names the drop folder or fsspec URL")
    pattern: str = Field("*", description="glob of files to take, e.g. '*.csv'")
    format: Literal["csv", "xlsx", "parquet", "jsonl"]
    encoding: Literal["auto", "utf-8", "utf-8-sig", "gbk", "gb18030"] = "auto"
    delimiter: str = Field(",", min_length=1, max_length=1)
    sheet: str | None = None
    header_row: int = Field(1, ge=1)
    columns: dict[str, Name] = Field(
        default_factory=dict, description="file header -> field name, e.g. 身份证号: id_number"
    )


class Pagination(Model):
    style: Literal["none", "page", "offset", "cursor"] = "none"
    page_param: str = "page"
    size_param: str = "page_size"
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    cursor_path: str = Field(
        "next_cursor", description="dotted path of the next cursor in a response"
    )
    page_size: int = Field(1_000, ge=1, le=100_000)
    first_page: int = Field(1, ge=0)


class HttpConnector(Model):
    type: Literal["http"]
    connection: ConnectionId = Field(description="base URL and auth header")
    path: str = Field(pattern=r"^/")
    records_path: str = Field("data", description="dotted path of the record list in a response")
    params: dict[str, str] = Field(default_factory=dict)
    pagination: Pagination = Field(default_factory=Pagination)
    timeout_s: float = Field(30.0, gt=0, le=600)
    max_retries: int = Field(5, ge=0, le=20)


PushFormat = Literal["csv", "parquet", "jsonl", "json"]
PUSH_FORMATS: tuple[PushFormat, ...] = ("csv", "parquet", "json")  # accepted when not declared


class PushConnector(Model):
    """The department pushes batches through the exchange API; nothing is pulled."""

    type: Literal["push"]
    formats: list[PushFormat] = Field(default_factory=lambda: list(PUSH_FORMATS))


class PluginConnector(Model):
    """A connector type a plugin brings (``onesource.connectors`` entry point).

    The catalog holds the options as written until the plugin's own spec model, a
    ``PluginSpec`` subclass, has checked them: the loader validates them with it
    (errors at ``file:line``) and keeps the plugin's model instance instead.
    """

    model_config = ConfigDict(extra="allow")

    # editors: a built-in type matches its own model only (the union is a oneOf)
    type: Name = Field(json_schema_extra={"not": {"enum": ["sql", "files", "http", "push"]}})


class PluginSpec(PluginConnector):
    """Base of a plugin's spec model: a ``type: Literal["<its type>"]`` and its options;
    unknown keys are errors again, as in every catalog model."""

    model_config = ConfigDict(extra="forbid")


CONNECTOR_TYPES: tuple[str, ...] = ("sql", "files", "http", "push")


def _connector_tag(value: object) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return str(kind) if kind in CONNECTOR_TYPES else "plugin"


ConnectorSpec = Annotated[
    Annotated[SqlConnector, Tag("sql")]
    | Annotated[FilesConnector, Tag("files")]
    | Annotated[HttpConnector, Tag("http")]
    | Annotated[PushConnector, Tag("push")]
    | Annotated[PluginConnector, Tag("plugin")],
    Discriminator(_connector_tag),
]
