"""initial schema: pipeline tables (runs, versions, pointers, watermarks, manifest,
quality) and exchange/portal tables (keys, requests, grants, pushes, audit, downloads)

Revision ID: 0001
Revises:
Create Date: 2026-11-22 09:04:50.272512
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# literal copies of the model types, so this file never changes when models do
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "access_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("requester", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'revoked', 'expired')",
            name=op.f("ck_access_requests_status"),
        ),
        sa.CheckConstraint("period_days > 0", name=op.f("ck_access_requests_period_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_requests")),
    )
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.create_index("ix_access_requests_owner_status", ["owner", "status"], unique=False)
        batch_op.create_index("ix_access_requests_requester", ["requester"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("seq", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("endpoint", sa.String(length=500), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=True),
        sa.Column("fields", JSON, nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_department_at", ["department", "at"], unique=False)
        batch_op.create_index("ix_audit_log_resource_at", ["resource", "at"], unique=False)

    op.create_table(
        "consumer_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("terms_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_consumer_keys_key_hash")),
    )
    with op.batch_alter_table("consumer_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consumer_keys_email"), ["email"], unique=False)

    op.create_table(
        "department_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_department_keys_key_hash")),
    )
    with op.batch_alter_table("department_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_department_keys_department"), ["department"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_department_keys_key_prefix"), ["key_prefix"], unique=False
        )

    op.create_table(
        "file_manifest",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_run", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lines", sa.BigInteger(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('processed', 'quarantined')", name=op.f("ck_file_manifest_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_manifest")),
        sa.UniqueConstraint("resource", "sha256", name=op.f("uq_file_manifest_resource_sha256")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_read", sa.BigInteger(), nullable=True),
        sa.Column("rows_good", sa.BigInteger(), nullable=True),
        sa.Column("rows_quarantined", sa.BigInteger(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("report_path", sa.String(length=500), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("pid_started", sa.BigInteger(), nullable=True),
        sa.Column("params", JSON, nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'rejected', 'killed')",
            name=op.f("ck_runs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_status", ["status"], unique=False)
        batch_op.create_index("ix_runs_subject_started", ["subject", "started_at"], unique=False)

    op.create_table(
        "watermarks",
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("column_name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("resource", "column_name", name=op.f("pk_watermarks")),
    )
    op.create_table(
        "downloads",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("consumer_id", sa.String(length=32), nullable=True),
        sa.Column("release", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(length=500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["consumer_keys.id"],
            name=op.f("fk_downloads_consumer_id_consumer_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downloads")),
    )
    with op.batch_alter_table("downloads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_downloads_consumer_id"), ["consumer_id"], unique=False)
        batch_op.create_index("ix_downloads_release_at", ["release", "at"], unique=False)

    op.create_table(
        "grants",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_requests.id"],
            name=op.f("fk_grants_request_id_access_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
    )
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_grants_department_resource", ["department", "resource"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_grants_request_id"), ["request_id"], unique=False)

    op.create_table(
        "pushes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("filename", sa.String(length=500), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_pushes_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushes")),
    )
    with op.batch_alter_table("pushes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pushes_resource_created", ["resource", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_pushes_run_id"), ["run_id"], unique=False)

    op.create_table(
        "quality_results",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_quality_results_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_results")),
    )
    with op.batch_alter_table("quality_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quality_results_resource_created", ["resource", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quality_results_run_id"), ["run_id"], unique=False)

    op.create_table(
        "versions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("schema_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("stats", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('resource', 'release', 'base')", name=op.f("ck_versions_kind")
        ),
        sa.CheckConstraint("number >= 1", name=op.f("ck_versions_number_positive")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_versions_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint(
            "kind", "subject", "number", name=op.f("uq_versions_kind_subject_number")
        ),
        sa.UniqueConstraint("path", name=op.f("uq_versions_path")),
    )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_versions_run_id"), ["run_id"], unique=False)

    op.create_table(
        "current_versions",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["kind", "subject", "number"],
            ["versions.kind", "versions.subject", "versions.number"],
            name="fk_current_versions_version",
        ),
        sa.PrimaryKeyConstraint("kind", "subject", name=op.f("pk_current_versions")),
    )


def downgrade() -> None:
    op.drop_table("current_versions")
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_versions_run_id"))

    op.drop_table("versions")
    with op.batch_alter_table("quality_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_results_run_id"))
        batch_op.drop_index("ix_quality_results_resource_created")

    op.drop_table("quality_results")
    with op.batch_alter_table("pushes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pushes_run_id"))
        batch_op.drop_index("ix_pushes_resource_created")

    op.drop_table("pushes")
    with op.batch_alter_table("grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grants_request_id"))
        batch_op.drop_index("ix_grants_department_resource")

    op.drop_table("grants")
    with op.batch_alter_table("downloads", schema=None) as batch_op:
        batch_op.drop_index("ix_downloads_release_at")
        batch_op.drop_index(batch_op.f("ix_downloads_consumer_id"))

    op.drop_table("downloads")
    op.drop_table("watermarks")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_subject_started")
        batch_op.drop_index("ix_runs_status")

    op.drop_table("runs")
    op.drop_table("file_manifest")
    with op.batch_alter_table("department_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_department_keys_key_prefix"))
        batch_op.drop_index(batch_op.f("ix_department_keys_department"))

    op.drop_table("department_keys")
    with op.batch_alter_table("consumer_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consumer_keys_email"))

    op.drop_table("consumer_keys")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_resource_at")
        batch_op.drop_index("ix_audit_log_department_at")

    op.drop_table("audit_log")
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_access_requests_requester")
        batch_op.drop_index("ix_access_requests_owner_status")

    op.drop_table("access_requests")
