"""Console settings (``ONESOURCE_CONSOLE_*``): session lifetimes, sign-in throttles, SSO."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.errors import ConfigError


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONESOURCE_CONSOLE_", extra="ignore")

    session_hours: float = Field(8.0, gt=0, description="a session ends this long after sign-in")
    idle_minutes: float = Field(30.0, gt=0, description="... or after this long without use")
    login_rate_per_minute: float = Field(
        2.0, ge=0, description="sign-in attempts refilled per minute, per account and per address"
    )
    login_burst: int = Field(5, ge=1, description="sign-in attempts allowed at once")
    address_burst: int = Field(20, ge=1, description="attempts from one address at once")
    password_profile: Literal["RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY", "CHEAPEST"] = Field(
        "RFC_9106_LOW_MEMORY",
        description="argon2 parameters of new hashes (CHEAPEST: tests only; a hash keeps its own)",
    )
    oidc_issuer: str | None = Field(None, description="OpenID Connect issuer URL (enables SSO)")
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid profile email"
    oidc_authorize_url: str | None = Field(
        None, description="default: from the issuer's /.well-known/openid-configuration"
    )
    oidc_token_url: str | None = None
    oidc_jwks_url: str | None = None
    oidc_name_claim: str = "preferred_username"
    oidc_department_claim: str = "department"
    oidc_roles_claim: str = "roles"

    @property
    def sso_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    def check_sso(self) -> None:
        """Refuse a half-configured or plain-http identity provider."""
        if not self.oidc_issuer:
            return
        missing = [
            f"ONESOURCE_CONSOLE_OIDC_{n.upper()}"
            for n in ("client_id", "client_secret")
            if not getattr(self, f"oidc_{n}")
        ]
        if missing:
            raise ConfigError(
                "single sign-on is half configured: " + ", ".join(missing) + " not set",
                hint="set them from the identity provider's client registration, "
                "or unset ONESOURCE_CONSOLE_OIDC_ISSUER",
            )
        for name in ("issuer", "authorize_url", "token_url", "jwks_url"):
            url = getattr(self, f"oidc_{name}")
            if url is None:
                continue
            parts = urlsplit(url)
            local = parts.hostname in ("127.0.0.1", "localhost", "::1")
            if parts.scheme != "https" and not (parts.scheme == "http" and local):
                raise ConfigError(
                    f"ONESOURCE_CONSOLE_OIDC_{name.upper()} must be an https URL: {url!r}",
                    hint="plain http is accepted only for an identity provider on this machine",
                )


@lru_cache(maxsize=1)
def get_console_settings() -> ConsoleSettings:
    settings = ConsoleSettings()
    settings.check_sso()
    return settings
