"""data requests and dataset problem reports from the portal (数据需求)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 02:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # reserved: filled in by the change that needs these tables


def downgrade() -> None:
    pass
