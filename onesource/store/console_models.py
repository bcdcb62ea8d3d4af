"""Console tables: people who sign in, their server-side sessions, and objections.

Passwords are stored as argon2 hashes only; a session row is found by the SHA-256 of
the cookie's random token, so a copy of the DB opens no session.  Access applications
are the exchange's own ``access_requests`` (one implementation of grants).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from onesource.store.models import Base


class ConsoleAccount(Base):
    """A person who signs in to the console: a local password or an OpenID Connect subject."""

    __tablename__ = "console_users"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320))  # notices (0009)
    department: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    roles: Mapped[list[Any]] = mapped_column(default=list)
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    oidc_subject: Mapped[str | None] = mapped_column(sa.String(300), unique=True)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in browser: ends at ``expires_at``, after ``idle`` without use, or at logout."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        sa.ForeignKey("console_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    address: Mapped[str | None] = mapped_column(sa.String(64))
    via: Mapped[str] = mapped_column(sa.String(16))  # password | oidc


class Objection(Base):
    """数据异议: a department says a shared value is wrong; the element's ONE source answers.

    ``status`` is ``open`` until the source department answers (``corrected`` in
    ``corrected_version``, or ``rejected`` with ``answer``) before ``due_at``.
    """

    __tablename__ = "objections"
    __table_args__ = (
        sa.CheckConstraint("status IN ('open', 'corrected', 'rejected')", name="status"),
        sa.Index("ix_objections_source_status", "source_department", "status"),
        sa.Index("ix_objections_raised_by", "raised_by"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    raised_by: Mapped[str] = mapped_column(sa.String(64))  # the objecting department
    raised_by_user: Mapped[str | None] = mapped_column(sa.String(64))
    source_department: Mapped[str] = mapped_column(sa.String(64))
    resource: Mapped[str] = mapped_column(sa.String(200))
    record_key: Mapped[dict[str, Any]] = mapped_column(default=dict)
    field: Mapped[str] = mapped_column(sa.String(200))
    element: Mapped[str | None] = mapped_column(sa.String(200))
    version: Mapped[int | None]
    observed: Mapped[str | None] = mapped_column(sa.Text)
    expected: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16))
    raised_at: Mapped[datetime]
    due_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(sa.String(64))
    answer: Mapped[str | None] = mapped_column(sa.Text)
    corrected_version: Mapped[int | None]
