"""Exchange settings from the environment (``ONESOURCE_EXCHANGE_*``), generous by default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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
    max_push_rows: int = Field(
        2_000_000, ge=1, description="rows one pushed file may hold (413 above)"
    )
    max_push_columns: int = Field(
        500, ge=1, description="columns in a pushed file's header (422 above)"
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
    verify_distinct_claims: int = Field(
        3,
        ge=0,
        description="distinct values one department may claim for one field of one record "
        "per verify_period (0: no limit)",
    )
    verify_period: float = Field(86_400.0, gt=0, description="seconds the claim count covers")
    verify_subject_budget: int = Field(
        500_000,
        ge=0,
        description="distinct (record, field) subjects one department may verify claims about "
        "per verify_period (0: no budget); the claim limit cannot be reset past it",
    )
    signing_key: str | None = Field(
        None, description="master key deriving each API key's signing secret, hex (else file)"
    )
    signing_key_file: Path | None = Field(
        None, description="default: <home>/keys/request-signing.key, made 0600 on first use"
    )
    signature_algorithms: str = Field(
        "hmac-sha256,hmac-sm3", description="request signature algorithms accepted, comma-separated"
    )
    signature_window: float = Field(
        300.0, gt=0, description="seconds a signed request's timestamp may be off the hub's clock"
    )
    auth_failure_window: float = Field(
        60.0, gt=0, description="seconds of unauthenticated calls per address summed in one entry"
    )
    auth_failure_rate: float = Field(
        1.0, ge=0, description="failed authentications per address per second, sustained"
    )
    auth_failure_burst: float = Field(
        20.0, ge=1, description="failed authentications an address may make before 429s"
    )


@lru_cache(maxsize=1)
def get_exchange_settings() -> ExchangeSettings:
    return ExchangeSettings()


HASHES = ("sha256", "sm3")


class AuditSettings(BaseSettings):
    """Where the audit chain's keys and checkpoints live (``ONESOURCE_AUDIT_*``).

    Defaults sit under the hub's state dir (``ONESOURCE_HOME``), apart from the metadata
    DB; production points them somewhere the DB's users cannot write (see docs/operators.md).
    """

    model_config = SettingsConfigDict(env_prefix="ONESOURCE_AUDIT_", extra="ignore")

    key: str | None = Field(None, description="the chain's HMAC key as hex (else key_file)")
    key_file: Path | None = Field(None, description="default: <home>/keys/audit-chain.key")
    hash: Literal["sha256", "sm3"] = Field("sha256", description="HMAC hash of new entries")
    signing_key_file: Path | None = Field(
        None,
        description="Ed25519 key signing checkpoints; default <home>/keys/audit-checkpoint.pem",
    )
    public_key_file: Path | None = Field(
        None, description="the public key verify trusts; default: the signing key's .pub"
    )
    checkpoints: str | None = Field(
        None,
        description="an append-only file, or an fsspec URL prefix (one object per checkpoint); "
        "default <home>/audit/checkpoints.jsonl",
    )
    log_id: str | None = Field(
        None,
        description="names this audit log in checkpoints; default: a hash of the metadata DB "
        "URL (set it to keep a log's checkpoints valid after moving its database)",
    )
    checkpoint_every: int = Field(10_000, ge=1, description="entries between checkpoints")
    checkpoint_seconds: float = Field(10.0, gt=0, description="seconds between checkpoints")

    def resolved(self) -> AuditSettings:
        """These settings with every default path filled in from ``ONESOURCE_HOME``."""
        from onesource.settings import get_settings

        home = get_settings().home
        signing = self.signing_key_file or home / "keys" / "audit-checkpoint.pem"
        return self.model_copy(
            update={
                "key_file": self.key_file,
                "signing_key_file": signing,
                "public_key_file": self.public_key_file or signing.with_name(signing.name + ".pub"),
                "checkpoints": self.checkpoints or str(home / "audit" / "checkpoints.jsonl"),
            }
        )

    def default_key_file(self) -> Path:
        from onesource.settings import get_settings

        return get_settings().home / "keys" / "audit-chain.key"
