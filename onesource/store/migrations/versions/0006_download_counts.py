"""download counts per release file

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 02:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "download_counts",
        sa.Column("release", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_download_counts_count")),
        sa.PrimaryKeyConstraint("release", "version", "file", name=op.f("pk_download_counts")),
    )


def downgrade() -> None:
    op.drop_table("download_counts")
