"""Applications for restricted (有条件开放) data: submit, decide, status.

A visitor applies (name, organisation, e-mail, purpose, restricted datasets of one
publishing department).  Nothing is granted at submission: the publishing
department approves (all or some of the datasets) or refuses within
``DECISION_WORKING_DAYS`` working days (Monday to Friday; public holidays are
not modelled).  Approval creates a consumer key (stored hashed) whose grants name
exactly the approved datasets; every decision is written to the audit log.

The applicant gets an application id and a secret token at submission; the
status page needs both.  Only the token's hash is stored, with an X25519 public
key derived from the token.  On approval the key is encrypted to that public key
(ephemeral X25519, SHAKE-256 keystream), so neither the DB nor the server's
secrets can open it: only the applicant's token does, once, on the status page;
the sealed copy is then wiped.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from onesource.exchange.grants import add_working_days
from onesource.store import Store
from onesource.store.db import session
from onesource.store.exchange_models import ConsumerKey
from onesource.store.models import ConsumerApplication, ConsumerGrant
from schemas.errors import TerminalError

DECISION_WORKING_DAYS = 10
ID_PREFIX = "ca_"


class ApplicationError(TerminalError):
    """A bad application or decision (unknown datasets, wrong state, ...)."""

    code = "consumer-application-invalid"


class UnknownApplicationError(ApplicationError):
    code = "consumer-application-unknown"

    def __init__(self, app_id: str) -> None:
        super().__init__(f"no consumer application {app_id!r}")


@dataclass(frozen=True, slots=True)
class Submitted:
    """What the applicant is told once: the id and the secret status token."""

    id: str
    token: str
    due_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _private(token: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    seed = hashlib.sha256(b"onesource-key-seal\n" + token.encode()).digest()
    return X25519PrivateKey.from_private_bytes(seed)


def _raw(public: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization as ser

    return public.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)  # type: ignore[no-any-return]


def _xor(data: bytes, shared: bytes, app_id: str) -> bytes:
    pad = hashlib.shake_256(b"onesource-key-seal\n" + app_id.encode() + shared).digest(len(data))
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


def _seal(key: str, public_hex: str, app_id: str) -> str:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    eph = X25519PrivateKey.generate()
    shared = eph.exchange(X25519PublicKey.from_public_bytes(bytes.fromhex(public_hex)))
    return (_raw(eph.public_key()) + _xor(key.encode(), shared, app_id)).hex()


def _unseal(sealed: str, token: str, app_id: str) -> str:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    raw = bytes.fromhex(sealed)
    shared = _private(token).exchange(X25519PublicKey.from_public_bytes(raw[:32]))
    return _xor(raw[32:], shared, app_id).decode()


def submit(
    store: Store,
    catalog: Any,
    *,
    name: str,
    organisation: str,
    email: str,
    purpose: str,
    datasets: list[str],
    now: datetime | None = None,
) -> Submitted:
    """Record a pending application; raises ``ApplicationError`` on bad input."""
    from schemas.vocab import OpenClass

    name, organisation, email, purpose = (
        name.strip(),
        organisation.strip(),
        email.strip(),
        purpose.strip(),
    )
    if not name or not organisation or not purpose or "@" not in email:
        raise ApplicationError("name, organisation, a valid e-mail and a purpose are required")
    wanted = sorted(set(datasets))
    if not wanted:
        raise ApplicationError("choose at least one restricted dataset")
    bad = [
        d
        for d in wanted
        if d not in catalog.releases or catalog.releases[d].open_class is not OpenClass.restricted
    ]
    if bad:
        raise ApplicationError(f"not restricted datasets of this portal: {', '.join(bad)}")
    publishers = {catalog.releases[d].publisher for d in wanted}
    if len(publishers) != 1:
        raise ApplicationError(
            "the datasets belong to several departments "
            f"({', '.join(sorted(publishers))}): submit one application per department"
        )
    now = now or datetime.now(UTC)
    app_id = ID_PREFIX + secrets.token_urlsafe(12)
    token = secrets.token_urlsafe(24)
    due = add_working_days(now, DECISION_WORKING_DAYS)
    with session(store.engine, write=True) as ses:
        ses.add(
            ConsumerApplication(
                id=app_id,
                token_hash=_token_hash(token),
                seal_public=_raw(_private(token).public_key()).hex(),
                name=name,
                organisation=organisation,
                email=email,
                purpose=purpose,
                department=publishers.pop(),
                datasets=wanted,
                granted=None,
                status="pending",
                submitted_at=now,
                due_at=due,
                decided_at=None,
                decided_by=None,
                reason=None,
                consumer_id=None,
                key_sealed=None,
            )
        )
    return Submitted(app_id, token, due)


def _row_dict(row: ConsumerApplication, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "organisation": row.organisation,
        "email": row.email,
        "purpose": row.purpose,
        "department": row.department,
        "datasets": list(row.datasets),
        "granted": list(row.granted) if row.granted is not None else None,
        "status": row.status,
        "submitted_at": row.submitted_at.isoformat(),
        "due_at": row.due_at.isoformat(),
        "overdue": row.status == "pending" and now > row.due_at,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "decided_by": row.decided_by,
        "reason": row.reason,
    }


def listing(
    store: Store, department: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Applications (oldest first), each flagged ``overdue`` when pending past its due date."""
    now = now or datetime.now(UTC)
    with session(store.engine) as ses:
        q = sa.select(ConsumerApplication).order_by(ConsumerApplication.submitted_at)
        if department:
            q = q.where(ConsumerApplication.department == department)
        return [_row_dict(r, now) for r in ses.scalars(q)]


def _audit(store: Store, row: ConsumerApplication, result: str, code: int, note: str) -> None:
    from onesource.exchange.audit import AuditLog, AuditRecord

    AuditLog(store.engine).append(
        AuditRecord(
            department=row.department,
            endpoint=f"consumer-application:{row.id}",
            method="CLI",
            result=result,
            status_code=code,
            resource=",".join(row.granted or row.datasets)[:200],
            fields=list(row.granted or row.datasets),
            purpose=note[:2000],
        )
    )


def get(store: Store, app_id: str) -> dict[str, Any]:
    """One application (for staff); raises ``UnknownApplicationError``."""
    with session(store.engine) as ses:
        row = ses.get(ConsumerApplication, app_id)
        if row is None:
            raise UnknownApplicationError(app_id)
        return _row_dict(row, datetime.now(UTC))


def _pending(ses: Any, app_id: str) -> ConsumerApplication:
    # locked: two staff deciding at once cannot both issue (PostgreSQL; SQLite's
    # write transaction already holds the database lock)
    row: ConsumerApplication | None = ses.get(ConsumerApplication, app_id, with_for_update=True)
    if row is None:
        raise UnknownApplicationError(app_id)
    if row.status != "pending":
        raise ApplicationError(f"application {app_id} is already {row.status}")
    return row


def approve(
    store: Store, app_id: str, *, by: str, datasets: list[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """Approve (all or ``datasets`` of) a pending application; returns the new key (once)."""
    from onesource.web.portal.consumers import new_key

    now = datetime.now(UTC)
    with session(store.engine, write=True) as ses:
        row = _pending(ses, app_id)
        granted = sorted(set(datasets)) if datasets else list(row.datasets)
        extra = [d for d in granted if d not in row.datasets]
        if extra or not granted:
            raise ApplicationError(
                f"can grant only datasets applied for ({', '.join(row.datasets)}); "
                f"not: {', '.join(extra) or '(none given)'}"
            )
        key, key_hash = new_key()
        consumer = ConsumerKey(
            id=secrets.token_hex(8),
            name=f"{row.name} ({row.organisation})"[:200],
            email=row.email,
            key_hash=key_hash,
            terms_accepted_at=row.submitted_at,
            created_at=now,
            revoked_at=None,
        )
        ses.add(consumer)
        ses.flush()
        for d in granted:
            ses.add(
                ConsumerGrant(
                    consumer_id=consumer.id, release=d, application_id=row.id, granted_at=now
                )
            )
        row.status, row.granted, row.decided_at, row.decided_by = "approved", granted, now, by
        row.consumer_id = consumer.id
        row.key_sealed = _seal(key, row.seal_public, row.id)
        info = _row_dict(row, now)
    _audit(store, row, "approved", 200, f"approved by {by}")
    return key, info


def refuse(store: Store, app_id: str, *, by: str, reason: str) -> dict[str, Any]:
    """Refuse a pending application with a reason the applicant sees."""
    if not reason.strip():
        raise ApplicationError("a refusal needs a reason")
    now = datetime.now(UTC)
    with session(store.engine, write=True) as ses:
        row = _pending(ses, app_id)
        row.status, row.decided_at, row.decided_by, row.reason = "refused", now, by, reason
        info = _row_dict(row, now)
    _audit(store, row, "refused", 403, f"refused by {by}: {reason}")
    return info


def status(store: Store, app_id: str, token: str) -> tuple[dict[str, Any], str | None] | None:
    """The application and, the first time after approval only, its key; None if id/token wrong."""
    if not app_id.startswith(ID_PREFIX) or len(app_id) > 32 or not token or len(token) > 100:
        return None
    now = datetime.now(UTC)
    with session(store.engine, write=True) as ses:
        row = ses.get(ConsumerApplication, app_id)
        if row is None or not hmac.compare_digest(row.token_hash, _token_hash(token)):
            return None
        key = None
        if row.key_sealed is not None:
            key = _unseal(row.key_sealed, token, row.id)
            row.key_sealed = None
        return _row_dict(row, now), key
