"""Download counts of open-data release files (the portal's "most downloaded").

One row per release, version and file, counted up in batches by
``onesource.web.portal.downloads``; only the table lives here.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from onesource.store.models import Base


class DownloadCount(Base):
    """Completed downloads of one file of one release version.

    A download counts when its body was sent whole: a 200, or a 206 whose range starts
    at byte 0 (a resumed download's later ranges are the same download).  HEAD and 304
    never count.  Derived files (``data.xlsx``) count under their own name.
    """

    __tablename__ = "download_counts"
    __table_args__ = (sa.CheckConstraint("count >= 0", name="count"),)

    release: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    file: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    count: Mapped[int] = mapped_column(sa.BigInteger)
