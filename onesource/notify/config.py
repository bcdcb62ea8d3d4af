"""Who gets notified, and how: ``$ONESOURCE_HOME/notify.yaml`` (or ``ONESOURCE_NOTIFY_CONFIG``).

No secret is ever in the file: the SMTP password and each webhook's signing secret are
read from the environment variables the file names (``password_env``, ``secret_env``).
Department recipients are the department's stewards in the catalog (``departments.yaml``)
unless ``use_catalog_stewards: false``, plus the addresses listed here; ``operators``
receive every alert.  Without a file nothing is sent (checks still report).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from schemas.errors import ConfigError

CONFIG_ENV = "ONESOURCE_NOTIFY_CONFIG"
# one address: no whitespace (a CR/LF would start another header), no list separators
_ADDRESS = re.compile(r"^[^@\s<>,;\"']{1,64}@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")


def _one_address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"not one e-mail address: {value[:80]!r} (like name@example.gov.cn)")
    return value


Address = Annotated[str, AfterValidator(_one_address)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpConfig(_Model):
    host: str
    port: int = 25
    sender: str = Field(
        description="From: address, e.g. 数据共享平台 <noreply@data.example.gov.cn>"
    )
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_env: str = "ONESOURCE_SMTP_PASSWORD"
    timeout: float = 10.0

    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None


class WebhookConfig(_Model):
    name: str
    url: str
    secret_env: str = Field(description="environment variable holding the HMAC secret")
    departments: list[str] | None = Field(
        None, description="only alerts of these departments (default: every alert)"
    )
    kinds: list[str] | None = Field(None, description="only these alert kinds (default: all)")
    attempts: int = Field(3, ge=1, le=10)
    backoff_seconds: float = Field(1.0, ge=0)
    timeout: float = 10.0

    def secret(self) -> bytes:
        value = os.environ.get(self.secret_env)
        if not value:
            raise ConfigError(
                f"webhook {self.name!r}: environment variable {self.secret_env} is not set",
                hint="set it to the secret shared with the receiver (never in notify.yaml)",
            )
        return value.encode()

    def wants(self, department: str | None, kind: str) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        return self.departments is None or department in self.departments


class DepartmentContacts(_Model):
    emails: list[Address] = Field(default_factory=list)


class NotifyConfig(_Model):
    smtp: SmtpConfig | None = None
    operators: list[Address] = Field(
        default_factory=list, description="e-mails that get every alert"
    )
    departments: dict[str, DepartmentContacts] = Field(default_factory=dict)
    use_catalog_stewards: bool = True
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    repeat_hours: float = Field(
        24.0, ge=0, description="send the same alert again after this long (0: never again)"
    )
    timeliness_factor: float = Field(
        1.5, gt=0, description="stale when older than the update cycle's max age times this"
    )


def config_path() -> Path:
    raw = os.environ.get(CONFIG_ENV)
    if raw:
        return Path(raw)
    from onesource.settings import get_settings

    return Path(get_settings().home) / "notify.yaml"


def load_config(path: Path | None = None) -> NotifyConfig:
    """The notification config; an empty one (nothing sent) when the default file is absent."""
    import yaml

    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    path = path or config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(f"notification config {path} does not exist")
        return NotifyConfig()
    try:
        data: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
        return NotifyConfig.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
