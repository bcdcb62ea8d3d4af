"""Exchange and open-data portal tables: department keys, access requests,
grants, pushes, the hash-chained audit log, consumer keys and downloads.

Only the tables live here; the exchange API and the portal own the logic.
Keys are stored as hashes, never in clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from onesource.store.models import Base, BigId


class DepartmentKey(Base):
    """An API key a department uses to call the exchange (hash only)."""

    __tablename__ = "department_keys"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    department: Mapped[str] = mapped_column(sa.String(64), index=True)
    key_prefix: Mapped[str] = mapped_column(sa.String(16), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AccessRequest(Base):
    """A department's request for fields of a conditional resource."""

    __tablename__ = "access_requests"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'revoked', 'expired')", name="status"
        ),
        sa.CheckConstraint("period_days > 0", name="period_positive"),
        sa.Index("ix_access_requests_owner_status", "owner", "status"),
        sa.Index("ix_access_requests_requester", "requester"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    requester: Mapped[str] = mapped_column(sa.String(64))
    owner: Mapped[str] = mapped_column(sa.String(64))
    resource: Mapped[str] = mapped_column(sa.String(200))
    fields: Mapped[list[Any]] = mapped_column(default=list)
    purpose: Mapped[str] = mapped_column(sa.Text)
    legal_basis: Mapped[str] = mapped_column(sa.Text)
    period_days: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(16))
    requested_at: Mapped[datetime]
    due_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.Text)


class Grant(Base):
    """A time-limited, field-level permission that an approved request yields."""

    __tablename__ = "grants"
    __table_args__ = (sa.Index("ix_grants_department_resource", "department", "resource"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(sa.ForeignKey("access_requests.id"), index=True)
    department: Mapped[str] = mapped_column(sa.String(64))
    resource: Mapped[str] = mapped_column(sa.String(200))
    fields: Mapped[list[Any]] = mapped_column(default=list)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Push(Base):
    """A batch a department pushed for a resource it owns."""

    __tablename__ = "pushes"
    __table_args__ = (sa.Index("ix_pushes_resource_created", "resource", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    department: Mapped[str] = mapped_column(sa.String(64))
    resource: Mapped[str] = mapped_column(sa.String(200))
    run_id: Mapped[str | None] = mapped_column(sa.ForeignKey("runs.id"), index=True)
    filename: Mapped[str | None] = mapped_column(sa.String(500))
    format: Mapped[str] = mapped_column(sa.String(16))
    rows: Mapped[int | None] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """One exchange call; ``hash`` chains over ``prev_hash`` so edits show."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_department_at", "department", "at"),
        sa.Index("ix_audit_log_resource_at", "resource", "at"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    department: Mapped[str | None] = mapped_column(sa.String(64))
    endpoint: Mapped[str] = mapped_column(sa.String(500))
    method: Mapped[str] = mapped_column(sa.String(8))
    resource: Mapped[str | None] = mapped_column(sa.String(200))
    fields: Mapped[list[Any] | None]
    purpose: Mapped[str | None] = mapped_column(sa.Text)
    result: Mapped[str] = mapped_column(sa.String(32))
    status_code: Mapped[int]
    row_count: Mapped[int | None] = mapped_column(sa.BigInteger)
    duration_ms: Mapped[float | None] = mapped_column(sa.Float)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # how ``hash`` was made, e.g. ``hmac-sha256:<key id>``; NULL for the original unkeyed chain
    chain: Mapped[str | None] = mapped_column(sa.String(40))


class DepartmentAuth(Base):
    """How a department must authenticate (absent row: bearer keys suffice)."""

    __tablename__ = "department_auth"

    department: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    require_signature: Mapped[bool]
    updated_at: Mapped[datetime]


class ConsumerKey(Base):
    """A registered open-data consumer's API key (hash only)."""

    __tablename__ = "consumer_keys"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(320), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    terms_accepted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Download(Base):
    """One download of an open-data release file."""

    __tablename__ = "downloads"
    __table_args__ = (sa.Index("ix_downloads_release_at", "release", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    consumer_id: Mapped[str | None] = mapped_column(sa.ForeignKey("consumer_keys.id"), index=True)
    release: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[int]
    file: Mapped[str] = mapped_column(sa.String(500))
    at: Mapped[datetime]
