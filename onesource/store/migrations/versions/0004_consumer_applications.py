"""consumer applications: restricted-data keys approved by the publishing department

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 00:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "consumer_applications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("datasets", JSON, nullable=False),
        sa.Column("granted", JSON, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("consumer_id", sa.String(length=32), nullable=True),
        sa.Column("seal_public", sa.String(length=64), nullable=False),
        sa.Column("key_sealed", sa.String(length=256), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'refused')",
            name=op.f("ck_consumer_applications_status"),
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["consumer_keys.id"],
            name=op.f("fk_consumer_applications_consumer_id_consumer_keys"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer_applications")),
    )
    op.create_index(
        "ix_consumer_applications_department_status",
        "consumer_applications",
        ["department", "status"],
        unique=False,
    )
    op.create_table(
        "consumer_grants",
        sa.Column("consumer_id", sa.String(length=32), nullable=False),
        sa.Column("release", sa.String(length=200), nullable=False),
        sa.Column("application_id", sa.String(length=32), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["consumer_applications.id"],
            name=op.f("fk_consumer_grants_application_id_consumer_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["consumer_keys.id"],
            name=op.f("fk_consumer_grants_consumer_id_consumer_keys"),
        ),
        sa.PrimaryKeyConstraint("consumer_id", "release", name=op.f("pk_consumer_grants")),
    )


def downgrade() -> None:
    op.drop_table("consumer_grants")
    op.drop_index("ix_consumer_applications_department_status", "consumer_applications")
    op.drop_table("consumer_applications")
