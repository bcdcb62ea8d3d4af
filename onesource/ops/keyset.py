"""The key files a hub keeps outside its metadata DB, found without creating any.

Backups never hold these (see ``onesource.ops.backup``): a manifest records each key's
public fingerprint, so a restore can say which key is missing or is the wrong one, and
``onesource doctor`` can check they are present and private.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.errors import OneSourceError


@dataclass(frozen=True)
class KeyState:
    """One key: where it is expected, its fingerprint when readable, what is wrong."""

    name: str  # audit_chain | audit_signing | audit_public | request_signing
    where: str  # a file path, or the environment variable holding it
    fingerprint: str | None = None
    problem: str | None = None
    loose: bool = False  # a private key file readable by group or others


def _mode_loose(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRWXG | stat.S_IRWXO))


def _secret(
    name: str, env_value: str | None, named: Path | None, default: Path, env_name: str, what: str
) -> KeyState:
    from onesource.exchange.chain import key_id
    from onesource.exchange.keyfiles import secret_key

    path = named or default
    where = env_name if env_value else str(path)
    if not env_value and not path.exists():
        return KeyState(name, where, problem=f"{path} does not exist")
    try:
        key = secret_key(
            env_value=env_value, path=named, default_path=default, create=False, what=what
        )
    except OneSourceError as exc:
        return KeyState(name, where, problem=exc.message)
    except OSError as exc:
        return KeyState(name, where, problem=f"{path}: {exc.strerror or exc}")
    if key is None:
        return KeyState(name, where, problem=f"{path} does not exist")
    loose = not env_value and _mode_loose(path)
    return KeyState(name, where, key_id(key), loose=loose)


def audit_chain() -> KeyState:
    """The audit chain's HMAC key (``ONESOURCE_AUDIT_KEY`` or its file)."""
    from onesource.exchange.config import AuditSettings

    st = AuditSettings().resolved()
    return _secret(
        "audit_chain",
        st.key,
        st.key_file,
        st.default_key_file(),
        "ONESOURCE_AUDIT_KEY",
        "audit chain key",
    )


def request_signing() -> KeyState:
    """The request signing master key (``ONESOURCE_EXCHANGE_SIGNING_KEY`` or its file)."""
    from onesource.exchange.config import ExchangeSettings
    from onesource.settings import get_settings

    st = ExchangeSettings()
    return _secret(
        "request_signing",
        st.signing_key,
        st.signing_key_file,
        get_settings().home / "keys" / "request-signing.key",
        "ONESOURCE_EXCHANGE_SIGNING_KEY",
        "request signing master key",
    )


def public_fingerprint(public_key: Any) -> str:
    from onesource.exchange.checkpoints import public_key_id

    return public_key_id(public_key)


def audit_public() -> tuple[KeyState, Any]:
    """The public key ``audit verify`` trusts, and the key object (None when unusable)."""
    from onesource.exchange.config import AuditSettings
    from onesource.exchange.keyfiles import ed25519_public

    path = AuditSettings().resolved().public_key_file
    assert path is not None
    try:
        key = ed25519_public(path)
    except (OneSourceError, ValueError, OSError) as exc:
        return KeyState("audit_public", str(path), problem=str(exc)), None
    if key is None:
        return KeyState("audit_public", str(path), problem=f"{path} does not exist"), None
    return KeyState("audit_public", str(path), public_fingerprint(key)), key


def audit_signing() -> KeyState:
    """The Ed25519 key signing checkpoints (its public fingerprint; never created here)."""
    from onesource.exchange.config import AuditSettings
    from onesource.exchange.keyfiles import ed25519_private

    path = AuditSettings().resolved().signing_key_file
    assert path is not None
    try:
        key = ed25519_private(path, create=False)
    except (OneSourceError, ValueError, OSError) as exc:
        return KeyState("audit_signing", str(path), problem=str(exc))
    if key is None:
        return KeyState("audit_signing", str(path), problem=f"{path} does not exist")
    return KeyState(
        "audit_signing",
        str(path),
        public_fingerprint(key.public_key()),  # type: ignore[attr-defined]
        loose=_mode_loose(path),
    )


def signing_private() -> Any:
    """The checkpoint signing key object, or None when absent."""
    from onesource.exchange.config import AuditSettings
    from onesource.exchange.keyfiles import ed25519_private

    path = AuditSettings().resolved().signing_key_file
    assert path is not None
    return ed25519_private(path, create=False)


def all_keys() -> list[KeyState]:
    """Every key the hub uses, in a fixed order."""
    return [audit_chain(), audit_signing(), audit_public()[0], request_signing()]


def log_id_file() -> Path:
    """Where ``audit-log.id`` lives: beside the checkpoint signing key."""
    from onesource.exchange.config import AuditSettings

    path = AuditSettings().resolved().signing_key_file
    assert path is not None
    return path.with_name("audit-log.id")
