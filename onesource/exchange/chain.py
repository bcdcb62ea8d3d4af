"""How audit entries are chained: the canonical text of an entry and its keyed hash.

``hash = HMAC(key, prev_hash + canonical entry)`` with SHA-256 or SM3 (the operator's
choice, ``ONESOURCE_AUDIT_HASH``).  The entry covers every column, its ``seq`` and its
``chain`` marker (``hmac-<hash>:<key id>``), so an entry cannot be moved, renumbered or
re-labelled without the key.  Entries written before keyed chains (``chain`` NULL) were
hashed with plain SHA-256 and no marker; they are still checked that way, and are
protected only by the keyed entries and checkpoints that follow them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

# the same text as json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False),
# without building an encoder per call
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(entry: dict[str, Any]) -> str:
    """The exact text an entry's hash covers (sorted keys, UTC microsecond timestamps)."""
    out = dict(entry)
    at = out["at"]
    if isinstance(at, datetime):
        out["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
    return _CANONICAL.encode(out)


def legacy_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """The original unkeyed link: ``sha256(prev_hash + canonical entry)``."""
    return hashlib.sha256((prev_hash + canonical(entry)).encode()).hexdigest()


def key_id(key: bytes) -> str:
    """A short public name of a key (never the key): which key made an entry."""
    return hashlib.sha256(b"onesource-audit-key-id:" + key).hexdigest()[:12]


@dataclass(frozen=True)
class ChainKey:
    """The secret that makes the chain unforgeable without it, and its hash."""

    key: bytes
    hash: str = "sha256"

    @property
    def marker(self) -> str:
        """What an entry's ``chain`` column holds: ``hmac-sha256:<key id>``."""
        return f"hmac-{self.hash}:{key_id(self.key)}"

    def digest(self, prev_hash: str, entry: dict[str, Any]) -> str:
        """The keyed link; ``entry`` includes its ``chain`` marker."""
        return hmac.digest(self.key, (prev_hash + canonical(entry)).encode(), self.hash).hex()


def parse_marker(marker: str) -> tuple[str, str] | None:
    """``(hash, key id)`` of a marker, None if it is not one."""
    kind, _, kid = marker.partition(":")
    if not kind.startswith("hmac-") or not kid:
        return None
    return kind[5:], kid
