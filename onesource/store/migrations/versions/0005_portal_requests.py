"""data requests and dataset problem reports from the portal (数据需求)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 02:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("dataset", sa.String(length=200), nullable=True),
        sa.Column("location", sa.String(length=500), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answer_dataset", sa.String(length=200), nullable=True),
        sa.CheckConstraint("kind IN ('data', 'problem')", name=op.f("ck_portal_requests_kind")),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected', 'published')",
            name=op.f("ck_portal_requests_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_requests")),
    )
    op.create_index(
        "ix_portal_requests_department_status", "portal_requests", ["department", "status"]
    )
    op.create_index(
        "ix_portal_requests_status_answered_at", "portal_requests", ["status", "answered_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_portal_requests_status_answered_at", "portal_requests")
    op.drop_index("ix_portal_requests_department_status", "portal_requests")
    op.drop_table("portal_requests")
