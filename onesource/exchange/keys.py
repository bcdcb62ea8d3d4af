"""Department API keys: ``os_<prefix>_<secret>``, stored as a SHA-256 hash only.

The secret carries 256 random bits, so a fast hash is enough (scrypt protects
guessable passwords, not random keys) and keeps authentication cheap on the
hot path.  The prefix finds the row; the hash is compared in constant time.
Lookups are cached for ``cache_seconds``; revocations made through the same
``KeyRing`` apply at once, those made by another process within that delay.
Known keys and unknown prefixes are cached apart, each in a bounded TTL cache
(cachetools): a flood of guessed prefixes only evicts other guesses.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from cachetools import TTLCache

from onesource.exchange.errors import AuthInvalidError, UnknownError
from onesource.metrics import CACHE_HIT, CACHE_MISS
from onesource.store.db import session
from onesource.store.exchange_models import DepartmentKey
from onesource.store.records import new_id, utcnow

KEY_SCHEME = "os"
TOUCH_EVERY = timedelta(minutes=1)
KNOWN_CACHE_SIZE = 50_000  # real keys: far more than a city's departments hold
UNKNOWN_CACHE_SIZE = 4_096  # guessed prefixes, remembered briefly so repeats skip the DB


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed: never the secret."""

    id: str
    department: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedKey:
    """A newly issued key; ``key`` is shown once and never stored."""

    info: KeyInfo
    key: str


@dataclass
class _Cached:
    department: str | None
    key_hash: str | None
    key_id: str | None
    fetched: float
    touched: datetime | None
    noted_good: bool = False


def hash_secret(prefix: str, secret: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(f"{prefix}:{secret}".encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed key, else None."""
    parts = key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or not parts[1] or not parts[2]:
        return None
    if len(parts[1]) > 16 or not parts[1].isalnum() or len(parts[2]) > 128:
        return None
    return parts[1], parts[2]


def _info(row: DepartmentKey) -> KeyInfo:
    return KeyInfo(
        id=row.id,
        department=row.department,
        prefix=row.key_prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


class KeyRing:
    """Issue, list, rotate, revoke and check department keys."""

    def __init__(self, engine: sa.Engine, cache_seconds: float = 2.0) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        ttl = max(cache_seconds, 1e-6)
        self._known: TTLCache[str, _Cached] = TTLCache(KNOWN_CACHE_SIZE, ttl)
        self._unknown: TTLCache[str, _Cached] = TTLCache(UNKNOWN_CACHE_SIZE, ttl)
        self._good: TTLCache[str, str] = TTLCache(KNOWN_CACHE_SIZE, 3600)
        self._lock = threading.Lock()

    def issue(self, department: str) -> IssuedKey:
        """Create a key for ``department``; the returned ``key`` is the only copy."""
        prefix = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        row = DepartmentKey(
            id=new_id(),
            department=department,
            key_prefix=prefix,
            key_hash=hash_secret(prefix, secret),
            created_at=utcnow(),
            revoked_at=None,
            last_used_at=None,
        )
        with session(self.engine, write=True) as ses:
            ses.add(row)
        self._forget(prefix)
        return IssuedKey(_info(row), f"{KEY_SCHEME}_{prefix}_{secret}")

    def list(self, department: str | None = None) -> list[KeyInfo]:
        """Keys (active and revoked), newest first."""
        stmt = sa.select(DepartmentKey).order_by(DepartmentKey.created_at.desc())
        if department is not None:
            stmt = stmt.where(DepartmentKey.department == department)
        with session(self.engine) as ses:
            return [_info(r) for r in ses.scalars(stmt)]

    def revoke(self, department: str, key: str) -> KeyInfo:
        """Revoke one key of ``department`` by id or prefix."""
        with session(self.engine, write=True) as ses:
            row = ses.scalars(
                sa.select(DepartmentKey).where(
                    DepartmentKey.department == department,
                    sa.or_(DepartmentKey.id == key, DepartmentKey.key_prefix == key),
                )
            ).first()
            if row is None:
                known = [k.prefix for k in self.list(department)]
                raise UnknownError(
                    f"department {department!r} has no key {key!r}",
                    hint="known key prefixes: " + (", ".join(known) or "none"),
                )
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            info = _info(row)
        self._forget(info.prefix)
        return info

    def rotate(self, department: str) -> tuple[IssuedKey, builtins.list[KeyInfo]]:
        """Issue a new key and revoke every older active key of ``department``."""
        issued = self.issue(department)
        revoked = []
        for old in self.list(department):
            if old.active and old.id != issued.info.id:
                revoked.append(self.revoke(department, old.id))
        return issued, revoked

    def authenticate(self, key: str) -> str:
        """The department a presented key belongs to; raises ``AuthInvalidError``."""
        parts = split_key(key)
        if parts is None:
            raise AuthInvalidError(
                "malformed API key",
                hint="keys look like os_<prefix>_<secret>; ask your hub operator",
            )
        prefix, secret = parts
        entry = self._lookup(prefix)
        presented = hash_secret(prefix, secret)
        if entry.key_hash is None or not hmac.compare_digest(presented, entry.key_hash):
            raise AuthInvalidError("unknown or revoked API key", hint="ask for a new key")
        assert entry.department is not None
        if not entry.noted_good:
            entry.noted_good = True
            with self._lock:
                self._good[prefix] = entry.key_hash
        self._touch(entry)
        return entry.department

    def recently_good(self, key: str) -> bool:
        """Whether ``key`` authenticated in this process within the last hour (no DB access).

        Not an authentication (a revocation is not seen here): it only lets a department
        through a throttle meant for garbage, to the real check.
        """
        parts = split_key(key)
        if parts is None:
            return False
        with self._lock:
            good = self._good.get(parts[0])
        return good is not None and hmac.compare_digest(hash_secret(*parts), good)

    def _lookup(self, prefix: str) -> _Cached:
        now = time.monotonic()
        with self._lock:
            entry = self._known.get(prefix) or self._unknown.get(prefix)
        if entry is not None and self.cache_seconds > 0:
            CACHE_HIT["keys"].inc()
            return entry
        CACHE_MISS["keys"].inc()
        with session(self.engine) as ses:
            row = ses.scalars(
                sa.select(DepartmentKey).where(
                    DepartmentKey.key_prefix == prefix, DepartmentKey.revoked_at.is_(None)
                )
            ).first()
        if row is None:
            entry = _Cached(None, None, None, now, None)
        else:
            entry = _Cached(row.department, row.key_hash, row.id, now, row.last_used_at)
        if self.cache_seconds > 0:
            with self._lock:
                (self._known if entry.department is not None else self._unknown)[prefix] = entry
        return entry

    def _touch(self, entry: _Cached) -> None:
        now = utcnow()
        if entry.touched is not None and now - entry.touched < TOUCH_EVERY:
            return
        entry.touched = now
        with session(self.engine, write=True) as ses:
            ses.execute(
                sa.update(DepartmentKey)
                .where(DepartmentKey.id == entry.key_id)
                .values(last_used_at=now)
            )

    def _forget(self, prefix: str) -> None:
        with self._lock:
            self._known.pop(prefix, None)
            self._unknown.pop(prefix, None)
