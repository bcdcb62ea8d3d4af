"""Runtime settings, read once from the environment (``ONESOURCE_*``).

The embedded default needs nothing: a folder ``var/`` beside the catalog holds
the warehouse and a SQLite metadata DB.  Production points ``ONESOURCE_DB_URL``
at PostgreSQL and ``ONESOURCE_WAREHOUSE`` at object storage.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from onesource import defaults
from schemas.errors import ConfigError

DEV_SECRET = "dev-only-not-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONESOURCE_", extra="ignore")

    env: str = Field("development", description="development | production")
    home: Path = Field(
        Path(defaults.HOME), description="local state: warehouse, metadata DB, sources"
    )
    catalog: Path = Field(Path(defaults.CATALOG), description="folder holding the catalog YAML")
    warehouse: str | None = Field(None, description="warehouse root: a path or an fsspec URL")
    db_url: str | None = Field(None, description="SQLAlchemy URL of the metadata DB")
    secret_key: str = Field(DEV_SECRET, description="signs sessions and consumer keys")
    public_url: str | None = Field(
        None,
        description="the hub's public base URL; every absolute link uses it "
        "(default http://127.0.0.1:<port of onesource serve>, else :8000)",
    )
    trusted_hosts: str = Field(
        "",
        description="comma-separated Host header values accepted besides the public URL's "
        "host, localhost and 127.0.0.1 ('*' accepts any: only behind a proxy that checks it)",
    )

    @property
    def warehouse_root(self) -> str:
        return self.warehouse or str((self.home / "warehouse").resolve())

    @property
    def metadata_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.home / 'onesource.db').resolve()}"

    def check(self) -> None:
        """Refuse the development secret outside development."""
        if self.env != "development" and self.secret_key == DEV_SECRET:
            raise ConfigError(
                "ONESOURCE_SECRET_KEY is the development default",
                hint="set ONESOURCE_SECRET_KEY to a long random value in production",
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = Settings()
    settings.check()
    return settings
