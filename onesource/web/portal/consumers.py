"""Registered consumers of restricted-open releases: keys (hashed) and download log."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa

from onesource.store import Store
from onesource.store.db import session
from onesource.store.exchange_models import ConsumerKey, Download


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def register(store: Store, name: str, email: str) -> str:
    """Create a consumer who accepted the terms; returns the key (shown once, stored hashed)."""
    key = "oc_" + secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    with session(store.engine, write=True) as ses:
        ses.add(
            ConsumerKey(
                id=secrets.token_hex(8),
                name=name,
                email=email,
                key_hash=_hash(key),
                terms_accepted_at=now,
                created_at=now,
                revoked_at=None,
            )
        )
    return key


def consumer_for(store: Store, key: str | None) -> str | None:
    """The consumer id of a valid, unrevoked key with accepted terms, else None."""
    if not key or not key.startswith("oc_") or len(key) > 100:
        return None
    with session(store.engine) as ses:
        row = ses.scalar(sa.select(ConsumerKey).where(ConsumerKey.key_hash == _hash(key)))
        if row is None or row.revoked_at is not None or row.terms_accepted_at is None:
            return None
        return row.id


def log_download(store: Store, consumer: str | None, release: str, version: int, file: str) -> None:
    with session(store.engine, write=True) as ses:
        ses.add(
            Download(
                consumer_id=consumer,
                release=release,
                version=version,
                file=file,
                at=datetime.now(UTC),
            )
        )


def downloads(store: Store, release: str) -> int:
    with session(store.engine) as ses:
        return int(
            ses.scalar(
                sa.select(sa.func.count()).select_from(Download).where(Download.release == release)
            )
            or 0
        )


def consumer_active(store: Store, consumer_id: str) -> bool:
    """Whether a consumer (by id) still holds an unrevoked key with accepted terms."""
    with session(store.engine) as ses:
        row = ses.get(ConsumerKey, consumer_id)
        return row is not None and row.revoked_at is None and row.terms_accepted_at is not None
