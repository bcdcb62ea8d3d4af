"""Pipeline tables of the metadata DB: runs, versions, the current pointer,
watermarks, the file manifest and quality results.

Readers consult ``current_versions`` only; a version becomes visible when its
pointer moves, in the same transaction that inserts the version row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere
Json = sa.JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements an INTEGER PRIMARY KEY
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: Json, list[Any]: Json}


class Run(Base):
    """One execution of a pipeline step (ingest, push, release, ...)."""

    __tablename__ = "runs"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'rejected', 'killed')", name="status"
        ),
        sa.Index("ix_runs_subject_started", "subject", "started_at"),
        sa.Index("ix_runs_status", "status"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    subject: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    rows_read: Mapped[int | None] = mapped_column(sa.BigInteger)
    rows_good: Mapped[int | None] = mapped_column(sa.BigInteger)
    rows_quarantined: Mapped[int | None] = mapped_column(sa.BigInteger)
    error_code: Mapped[str | None] = mapped_column(sa.String(64))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    report_path: Mapped[str | None] = mapped_column(sa.String(500))
    department: Mapped[str | None] = mapped_column(sa.String(64))
    # where the run executes, so a reaper can tell a dead process from a slow one
    host: Mapped[str | None] = mapped_column(sa.String(255))
    pid: Mapped[int | None]
    pid_started: Mapped[int | None] = mapped_column(sa.BigInteger)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Version(Base):
    """An immutable, committed version of a resource, release or base entity."""

    __tablename__ = "versions"
    __table_args__ = (
        sa.UniqueConstraint("kind", "subject", "number"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
        sa.CheckConstraint("kind IN ('resource', 'release', 'base')", name="kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    subject: Mapped[str] = mapped_column(sa.String(200))
    number: Mapped[int]
    run_id: Mapped[str] = mapped_column(sa.ForeignKey("runs.id"), index=True)
    path: Mapped[str] = mapped_column(sa.String(500), unique=True)
    row_count: Mapped[int] = mapped_column(sa.BigInteger)
    bytes: Mapped[int] = mapped_column(sa.BigInteger)
    schema_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class CurrentVersion(Base):
    """The one pointer readers follow: (kind, subject) -> version number."""

    __tablename__ = "current_versions"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["kind", "subject", "number"],
            ["versions.kind", "versions.subject", "versions.number"],
            name="fk_current_versions_version",
        ),
    )

    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    number: Mapped[int]
    run_id: Mapped[str | None] = mapped_column(sa.String(32))  # the run that moved it
    updated_at: Mapped[datetime]


class Watermark(Base):
    """The high-water mark of an incremental extraction."""

    __tablename__ = "watermarks"

    resource: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    column_name: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)
    run_id: Mapped[str | None] = mapped_column(sa.String(32))
    updated_at: Mapped[datetime]


class FileManifest(Base):
    """Each source file a resource has seen, by content hash."""

    __tablename__ = "file_manifest"
    __table_args__ = (
        sa.UniqueConstraint("resource", "sha256"),
        sa.CheckConstraint("status IN ('processed', 'quarantined')", name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resource: Mapped[str] = mapped_column(sa.String(200))
    source: Mapped[str] = mapped_column(sa.String(1000))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    first_seen_run: Mapped[str | None] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))
    lines: Mapped[int | None] = mapped_column(sa.BigInteger)
    processed_at: Mapped[datetime]


class QualityResult(Base):
    """The quality summary of one run's check step."""

    __tablename__ = "quality_results"
    __table_args__ = (sa.Index("ix_quality_results_resource_created", "resource", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.ForeignKey("runs.id"), index=True)
    resource: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    passed: Mapped[bool]
    created_at: Mapped[datetime]


class Withdrawal(Base):
    """A version taken out of public view for good (``onesource release withdraw``, rollback).

    Readers answer 410 Gone for it on every path; the pointer never returns to it.
    """

    __tablename__ = "withdrawals"
    __table_args__ = (
        sa.UniqueConstraint("kind", "subject", "number"),
        sa.ForeignKeyConstraint(
            ["kind", "subject", "number"],
            ["versions.kind", "versions.subject", "versions.number"],
            name="fk_withdrawals_version",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    subject: Mapped[str] = mapped_column(sa.String(200))
    number: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.Text)
    withdrawn_at: Mapped[datetime]
    run_id: Mapped[str | None] = mapped_column(sa.String(32))  # the rollback or withdraw run


class ConsumerApplication(Base):
    """An application for a key to restricted (有条件开放) datasets of one publisher.

    The publishing department approves (all or some datasets) or refuses it within
    ``due_at``.  ``token_hash`` is the hash of the applicant's status-page token and
    ``seal_public`` an X25519 public key derived from it; on approval ``key_sealed``
    holds the new key encrypted to that public key (only the token opens it) until
    the applicant's status page shows it once (then it is cleared).
    """

    __tablename__ = "consumer_applications"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'approved', 'refused')", name="status"),
        sa.Index("ix_consumer_applications_department_status", "department", "status"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    organisation: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(320))
    purpose: Mapped[str] = mapped_column(sa.Text)
    department: Mapped[str] = mapped_column(sa.String(64))
    datasets: Mapped[list[Any]] = mapped_column(default=list)
    granted: Mapped[list[Any] | None]
    status: Mapped[str] = mapped_column(sa.String(16))
    submitted_at: Mapped[datetime]
    due_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(sa.String(200))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    consumer_id: Mapped[str | None] = mapped_column(sa.ForeignKey("consumer_keys.id"))
    seal_public: Mapped[str] = mapped_column(sa.String(64))
    key_sealed: Mapped[str | None] = mapped_column(sa.String(256))


class ConsumerGrant(Base):
    """One restricted dataset a consumer key may read (no row: 403)."""

    __tablename__ = "consumer_grants"

    consumer_id: Mapped[str] = mapped_column(sa.ForeignKey("consumer_keys.id"), primary_key=True)
    release: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    application_id: Mapped[str] = mapped_column(sa.ForeignKey("consumer_applications.id"))
    granted_at: Mapped[datetime]


class AlertSent(Base):
    """One alert delivered to one target (an e-mail address or a webhook): the dedupe record.

    ``key`` names the occurrence (``run-failed:ingest:<resource>:<run id>``,
    ``stale:<resource>:<last update>``, ...), so a new failure is a new alert while the
    same one is sent again only after ``repeat_hours`` (``onesource.notify``).
    """

    __tablename__ = "alerts_sent"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    target: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    subject: Mapped[str] = mapped_column(sa.String(200))
    department: Mapped[str | None] = mapped_column(sa.String(64))
    first_sent_at: Mapped[datetime]
    last_sent_at: Mapped[datetime]
    sends: Mapped[int] = mapped_column(default=1)
