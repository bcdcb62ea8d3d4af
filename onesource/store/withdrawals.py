"""Withdrawn versions: taken out of public view for good, with the reason.

A release is rolled back because a version must not be public; a resource because
a bad batch must not be read.  Withdrawal records that in the ledger's DB
(``withdrawals``), in the same transaction that moves the current pointer off
the version, so readers never see a withdrawn version as current.  Readers ask
``WithdrawalBook.get`` before serving a version by number (downloads with
``?version=``, rows cursors) and answer 410 Gone; the pointer never returns to a
withdrawn version (``rollback --to`` refuses it).  Nothing is deleted: the files
stay in the warehouse for the record, ``onesource versions`` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from onesource.store.db import session
from onesource.store.errors import StoreError, VersionNotFoundError
from onesource.store.models import CurrentVersion, Version, Withdrawal
from onesource.store.records import utcnow


class VersionWithdrawnError(StoreError):
    """The version was withdrawn (answered 410 Gone)."""

    code = "version-withdrawn"

    def __init__(self, kind: str, subject: str, number: int, reason: str) -> None:
        super().__init__(f"{kind} {subject!r} version {number} was withdrawn: {reason}")
        self.kind = kind
        self.subject = subject
        self.number = number
        self.reason = reason


@dataclass(frozen=True)
class WithdrawalInfo:
    kind: str
    subject: str
    number: int
    reason: str
    withdrawn_at: datetime
    run_id: str | None


def _info(row: Withdrawal) -> WithdrawalInfo:
    return WithdrawalInfo(
        row.kind, row.subject, row.number, row.reason, row.withdrawn_at, row.run_id
    )


class WithdrawalBook:
    """The ``withdrawals`` table and the pointer moves that go with it."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def get(self, kind: str, subject: str, number: int) -> WithdrawalInfo | None:
        """The withdrawal of one version, or None while it may be read."""
        with session(self.engine) as ses:
            row = ses.scalar(
                sa.select(Withdrawal).where(
                    Withdrawal.kind == kind,
                    Withdrawal.subject == subject,
                    Withdrawal.number == number,
                )
            )
            return _info(row) if row is not None else None

    def of(self, kind: str, subject: str) -> dict[int, WithdrawalInfo]:
        """Every withdrawn version of a subject, by number."""
        with session(self.engine) as ses:
            rows = ses.scalars(
                sa.select(Withdrawal).where(Withdrawal.kind == kind, Withdrawal.subject == subject)
            )
            return {r.number: _info(r) for r in rows}

    def check(self, kind: str, subject: str, number: int) -> None:
        """Raise ``VersionWithdrawnError`` when the version was withdrawn."""
        found = self.get(kind, subject, number)
        if found is not None:
            raise VersionWithdrawnError(kind, subject, number, found.reason)

    def withdraw(
        self,
        kind: str,
        subject: str,
        numbers: list[int] | None,
        reason: str,
        run_id: str | None,
        *,
        point_to: int | None = None,
    ) -> tuple[int | None, int | None]:
        """Withdraw ``numbers`` and, in the same transaction, move the pointer off them.

        ``point_to``: the version readers see next (a rollback's target); by default the
        newest version not withdrawn, or no current version at all.  ``numbers=None``:
        every version after ``point_to`` (read in the transaction, so a version committed
        meanwhile is withdrawn too).  Returns
        ``(previous current, new current)``.
        """
        with session(self.engine, write=True) as ses:
            known = list(
                ses.scalars(
                    sa.select(Version.number)
                    .where(Version.kind == kind, Version.subject == subject)
                    .order_by(Version.number)
                )
            )
            if numbers is None:
                numbers = [n for n in known if point_to is not None and n > point_to]
            for n in [*numbers, *([point_to] if point_to is not None else [])]:
                if n not in known:
                    raise VersionNotFoundError(kind, subject, n, known)
            done = set(
                ses.scalars(
                    sa.select(Withdrawal.number).where(
                        Withdrawal.kind == kind, Withdrawal.subject == subject
                    )
                )
            )
            if point_to is not None and point_to in done:
                raise StoreError(
                    f"{kind} {subject!r} version {point_to} was withdrawn; it cannot be "
                    "made current again",
                    hint=f"roll back to a version that was not withdrawn "
                    f"({', '.join(str(n) for n in known if n not in done) or 'none'})",
                )
            now = utcnow()
            for n in sorted(set(numbers) - done):
                ses.add(
                    Withdrawal(
                        kind=kind,
                        subject=subject,
                        number=n,
                        reason=reason,
                        withdrawn_at=now,
                        run_id=run_id,
                    )
                )
            gone = done | set(numbers)
            pointer = ses.scalar(
                sa.select(CurrentVersion).where(
                    CurrentVersion.kind == kind, CurrentVersion.subject == subject
                )
            )
            previous = pointer.number if pointer is not None else None
            target = point_to
            if target is None:
                if previous is not None and previous not in gone:
                    target = previous  # an older version was withdrawn: the current stays
                else:
                    target = max((n for n in known if n not in gone), default=None)
            if pointer is not None and target is None:
                ses.delete(pointer)  # nothing left to read
            elif pointer is not None and target is not None:
                pointer.number, pointer.run_id, pointer.updated_at = target, run_id, now
            elif target is not None:
                ses.add(
                    CurrentVersion(
                        kind=kind, subject=subject, number=target, run_id=run_id, updated_at=now
                    )
                )
            ses.flush()
        return previous, target
