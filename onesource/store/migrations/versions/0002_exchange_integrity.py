"""exchange integrity: the audit chain's version marker (keyed chains) and per-department
authentication settings (signed requests required)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL: an entry of the original unkeyed SHA-256 chain (reported as such by audit verify)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain", sa.String(length=40), nullable=True))
    op.create_table(
        "department_auth",
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("require_signature", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("department", name=op.f("pk_department_auth")),
    )


def downgrade() -> None:
    op.drop_table("department_auth")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("chain")
