"""Portal request tables: data requests (数据需求) and dataset problem reports (数据纠错).

Only the table lives here; ``onesource.web.portal.feedback`` owns the logic.
The requester's e-mail is kept for the department only and never published;
``token_hash`` is the hash of the requester's status-page token.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from onesource.store.models import Base


class PortalRequest(Base):
    """A citizen's or researcher's data request or problem report, and the answer.

    ``kind`` is ``data`` (data that is not published) or ``problem`` (an error in a
    published dataset).  ``department`` answers by ``due_at``; a data request may
    arrive without one (the data administration assigns it).  The answer, its
    status and ``answer_dataset`` (the dataset that now publishes the data) are
    public once given; ``email`` never is.
    """

    __tablename__ = "portal_requests"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('data', 'problem')", name="kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected', 'published')", name="status"
        ),
        sa.Index("ix_portal_requests_department_status", "department", "status"),
        sa.Index("ix_portal_requests_status_answered_at", "status", "answered_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64))
    department: Mapped[str | None] = mapped_column(sa.String(64))
    dataset: Mapped[str | None] = mapped_column(sa.String(200))  # a problem report's dataset
    location: Mapped[str | None] = mapped_column(sa.String(500))  # field / rows concerned
    text: Mapped[str] = mapped_column(sa.Text)  # what data is wanted / what is wrong
    purpose: Mapped[str | None] = mapped_column(sa.Text)
    email: Mapped[str | None] = mapped_column(sa.String(320))
    status: Mapped[str] = mapped_column(sa.String(16))
    submitted_at: Mapped[datetime]
    due_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(sa.String(200))
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answer_dataset: Mapped[str | None] = mapped_column(sa.String(200))
