"""Exchange settings from the environment (``ONESOURCE_EXCHANGE_*``), generous by default."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ExchangeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONESOURCE_EXCHANGE_", extra="ignore")

    max_body_bytes: int = Field(
        1_000_000, ge=1, description="largest JSON body accepted (413 above)"
    )
    max_push_bytes: int = Field(
        64_000_000, ge=1, description="largest pushed file accepted (413 above)"
    )
    rate_per_second: float = Field(
        200.0, ge=0, description="sustained calls per department per second; 0 disables the limit"
    )
    rate_burst: float = Field(400.0, ge=1, description="calls a department may make in a burst")
    max_page: int = Field(10_000, ge=1, description="largest page of rows one read returns")
    default_page: int = Field(100, ge=1)
    cache_seconds: float = Field(
        2.0,
        ge=0,
        description="how long keys, grants, catalog and current versions are cached per process; "
        "changes made through this process apply at once, others within this delay",
    )
    request_deadline_working_days: int = Field(10, ge=1, description="days an owner has to answer")


@lru_cache(maxsize=1)
def get_exchange_settings() -> ExchangeSettings:
    return ExchangeSettings()
