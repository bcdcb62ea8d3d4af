"""Consumers of restricted-open releases: keys (hashed), their grants, and the download log.

A key is issued only when the publishing department approves an application
(``onesource.web.portal.applications``), and reaches only the datasets that
approval granted (``consumer_grants``); any other restricted dataset answers 403.
Keys issued before applications existed have no grants and so reach nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa

from onesource.store import Store
from onesource.store.db import session
from onesource.store.exchange_models import ConsumerKey, Download
from onesource.store.models import ConsumerGrant


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh consumer key and its stored hash (the key itself is never stored)."""
    key = "oc_" + secrets.token_urlsafe(24)
    return key, _hash(key)


def consumer_for(store: Store, key: str | None) -> str | None:
    """The consumer id of a valid, unrevoked key with accepted terms, else None.

    A valid key is not yet permission: check ``granted`` for the dataset.
    """
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


def granted(store: Store, consumer_id: str, release: str) -> bool:
    """Whether the publishing department granted this consumer this restricted dataset."""
    with session(store.engine) as ses:
        return ses.get(ConsumerGrant, (consumer_id, release)) is not None
