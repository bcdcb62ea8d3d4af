"""Secret key material the hub keeps OUTSIDE the metadata DB.

A key is read from an environment variable (hex) when the operator sets one, else from
a file.  The default file lives under the hub's state dir (``ONESOURCE_HOME/keys/``) and
is created on first use with mode 0600 in a 0700 folder; a path the operator named is
never created behind their back (a missing one is a configuration error, since a fresh
key would silently break verification of everything made with the lost one).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from schemas.errors import ConfigError


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``, mode 0600; keeps a file another process made first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path.parent, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def secret_key(
    *, env_value: str | None, path: Path | None, default_path: Path, create: bool, what: str
) -> bytes | None:
    """A 32-byte (or longer) secret: ``env_value`` (hex), else the file, else a new default file.

    Returns None when nothing exists and ``create`` is false.
    """
    if env_value:
        try:
            key = bytes.fromhex(env_value.strip())
        except ValueError as exc:
            raise ConfigError(f"{what}: the environment value is not hex") from exc
        if len(key) < 32:
            raise ConfigError(f"{what}: the environment value must hold at least 32 bytes")
        return key
    target = path or default_path
    if not target.exists():
        if path is not None:
            raise ConfigError(
                f"{what}: key file {target} does not exist",
                hint="restore it from your backup, or unset the setting to use the default",
            )
        if not create:
            return None
        _write_new(target, secrets.token_hex(32).encode() + b"\n")
    text = target.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise ConfigError(f"{what}: key file {target} does not hold hex") from exc
    if len(key) < 32:
        raise ConfigError(f"{what}: key file {target} holds fewer than 32 bytes")
    return key


def ed25519_private(path: Path, *, create: bool) -> object | None:
    """The Ed25519 private key in PEM at ``path`` (created 0600 with its ``.pub`` if allowed)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not path.exists():
        if not create:
            return None
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_new(path, pem)
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pub_path = path.with_name(path.name + ".pub")
        if not pub_path.exists():
            pub_path.write_bytes(pub)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 private key")
    return loaded


def ed25519_public(path: Path) -> object | None:
    """The Ed25519 public key in PEM at ``path``, None if the file does not exist."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not path.exists():
        return None
    loaded = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(loaded, Ed25519PublicKey):
        raise ConfigError(f"{path} is not an Ed25519 public key")
    return loaded
