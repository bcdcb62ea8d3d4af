"""The manifest of a backup archive: what it holds, with a checksum for every byte.

``MANIFEST.json`` lists every other member of the archive (path, size, SHA-256), the
current version of every resource, release and base entity (warehouse path and the
SHA-256 of each of its files), the DB revision, the audit head and the public
fingerprints of the keys the backup was made with.  ``MANIFEST.sig`` is an Ed25519
signature of it by the audit checkpoint key: a restore checks it with the public key
(held apart from backups), so an archive edited together with its manifest is refused
too, not only one whose checksums no longer match.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import IO, Any

from schemas.errors import OneSourceError

FORMAT = "onesource-backup"
FORMAT_VERSION = 1
MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
# domain separation: a manifest signature can never pass as an audit checkpoint's
_SIGNED_PREFIX = b"onesource-backup-manifest-v1\n"
CHUNK = 1 << 20


class BackupError(OneSourceError):
    """A backup could not be made, or an archive is damaged, forged or does not fit."""

    code = "backup-invalid"


def sha256_stream(fh: IO[bytes]) -> tuple[str, int]:
    """SHA-256 and size of everything ``fh`` still holds."""
    h = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: fh.read(CHUNK), b""):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


@dataclass
class Manifest:
    """What one backup holds; ``to_bytes`` is what the signature covers."""

    created_at: str
    hub_version: str
    db_backend: str
    db_revision: str | None
    log_id: str
    data: str  # none | current | all: which version folders the archive holds
    audit_head: dict[str, Any] | None  # {"seq", "hash"} of the snapshot's newest entry
    keys: dict[str, str | None]  # key name -> public fingerprint
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # member -> sha256, size
    versions: list[dict[str, Any]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        body = {"format": FORMAT, "format_version": FORMAT_VERSION, **self.__dict__}
        return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        try:
            body = json.loads(data)
            if body.pop("format") != FORMAT:
                raise ValueError("not a OneSource backup manifest")
            version = body.pop("format_version")
            if version != FORMAT_VERSION:
                raise BackupError(
                    f"backup format version {version} is not supported (this hub reads "
                    f"{FORMAT_VERSION})",
                    hint="restore it with the hub version that made it",
                )
            return cls(**body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(
                f"{MANIFEST} is not a valid manifest ({exc})",
                hint="the archive is damaged or was not made by onesource backup",
            ) from exc

    def current(self) -> list[dict[str, Any]]:
        return [v for v in self.versions if v.get("current")]


def sign(manifest_bytes: bytes, private_key: Any) -> bytes:
    """The signature member: base64 of Ed25519 over the prefixed manifest bytes."""
    return base64.b64encode(private_key.sign(_SIGNED_PREFIX + manifest_bytes)) + b"\n"


def check_signature(manifest_bytes: bytes, signature: bytes, public_key: Any) -> None:
    """Raise ``BackupError`` unless ``signature`` is the trusted key's over the manifest."""
    from cryptography.exceptions import InvalidSignature

    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        public_key.verify(raw, _SIGNED_PREFIX + manifest_bytes)
    except (InvalidSignature, ValueError) as exc:
        raise BackupError(
            "the manifest's signature does not verify with the audit public key: the "
            "archive was altered, or made by another hub",
            hint="restore an untouched copy of the archive; check "
            "ONESOURCE_AUDIT_PUBLIC_KEY_FILE names this hub's public key",
        ) from exc
