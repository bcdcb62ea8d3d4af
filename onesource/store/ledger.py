"""Versions and the current-version pointer.

Commit protocol (the only way a version becomes visible):

1. the writer has finished its files in ``_staging/<run>.<token>/``;
2. in one DB transaction: take the next number N, rename the staging folder
   to ``<area>/<subject>/v<N>-<run>/``, insert the version row and move the
   ``current_versions`` pointer; commit.  On object stores (no rename: a copy
   of every object) the folder is copied to the expected N *before* the
   transaction, so that its locks are not held while a large version copies;
3. if another writer took N first, the unique constraint on
   (kind, subject, number) refuses the insert: rename to N+1 and retry.

Compare-and-swap: a writer whose rows were built on version B (a merge of B
with new rows) passes ``base=B``.  Inside the transaction the pointer row is
locked (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
serializes writers) and compared with B before anything is renamed; when
another writer moved it meanwhile the commit raises ``StaleBaseError`` and
the caller rebuilds its rows on the new current version.  Without ``base``
(full snapshots) the last commit wins, as before.

The same transaction refuses a version from a run that is no longer
``running`` (reaped as killed or timed out), so a hung writer that wakes up
late cannot commit.

A crash before step 2 leaves a staging folder, during it an unreferenced
version folder; readers never see either, and ``gc()`` removes both.
"""

from __future__ import annotations

import os
import random
import re
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from onesource.store.db import session
from onesource.store.errors import (
    CommitConflictError,
    RunStateError,
    StaleBaseError,
    StoreError,
    VersionNotFoundError,
)
from onesource.store.models import CurrentVersion, Run, Version
from onesource.store.records import AREA_OF_KIND, SUBJECT_KINDS, VersionInfo, utcnow
from onesource.store.warehouse import Warehouse

MAX_ATTEMPTS = 20
SUBJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
VERSION_DIR_RE = re.compile(r"^v(?P<number>\d+)-(?P<run>[0-9A-Za-z]+)$")
PAUSE_ENV = "ONESOURCE_STORE_PAUSE_AT"
PAUSE_MARKER_ENV = "ONESOURCE_STORE_PAUSE_MARKER"


class _AnyBase:
    """Sentinel: commit whatever the current version is (full snapshots)."""

    def __repr__(self) -> str:
        return "ANY_BASE"


ANY_BASE: Any = _AnyBase()


def check_subject(kind: str, subject: str) -> None:
    """Refuse kinds and names that would not make a safe warehouse path."""
    if kind not in SUBJECT_KINDS:
        raise StoreError(
            f"unknown subject kind {kind!r}", hint=f"use one of {', '.join(SUBJECT_KINDS)}"
        )
    if not SUBJECT_RE.match(subject):
        raise StoreError(
            f"{kind} name {subject!r} cannot be a warehouse folder",
            hint="use letters, digits, '_', '.', '-' (no '/'), at most 200 characters",
        )


def pause_point(name: str) -> None:
    """Test hook: stop here (forever) when ONESOURCE_STORE_PAUSE_AT names this point.

    Used by the SIGKILL tests to kill a writer at an exact step of the commit.  The marker
    file (ONESOURCE_STORE_PAUSE_MARKER) is created when a process stops here; while it
    exists no other process stops (the cluster test kills the first writer and lets its
    retry through).
    """
    if os.environ.get(PAUSE_ENV) != name:
        return
    marker = os.environ.get(PAUSE_MARKER_ENV)
    if marker:
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as fh:
            fh.write(name)
    while True:
        time.sleep(3600)


def to_info(row: Version, current: int | None) -> VersionInfo:
    return VersionInfo(
        kind=row.kind,
        subject=row.subject,
        number=row.number,
        run_id=row.run_id,
        path=row.path,
        row_count=row.row_count,
        bytes=row.bytes,
        schema_fingerprint=row.schema_fingerprint,
        stats=dict(row.stats or {}),
        created_at=row.created_at,
        current=row.number == current,
    )


class VersionLedger:
    """The ``versions`` and ``current_versions`` tables."""

    def __init__(self, engine: sa.Engine, warehouse: Warehouse) -> None:
        self.engine = engine
        self.warehouse = warehouse

    def commit(
        self,
        kind: str,
        subject: str,
        *,
        run_id: str,
        staging: str,
        row_count: int,
        schema_fingerprint: str,
        stats: dict[str, Any],
        base: int | None | _AnyBase = ANY_BASE,
    ) -> VersionInfo:
        """Publish ``staging`` as the next version and make it current (see module doc).

        ``base``: the version number the rows were built on (None: built on
        nothing); the commit raises ``StaleBaseError`` when the pointer moved.
        """
        check_subject(kind, subject)
        size = self.warehouse.size(staging)
        self.warehouse.seal(staging)  # fsync outside the transaction that holds the lock
        placed = staging
        if not self.warehouse.local:
            placed = self._place_early(kind, subject, run_id, staging)
        for attempt in range(MAX_ATTEMPTS):
            try:
                with session(self.engine, write=True) as ses:
                    self._check_run(ses, run_id)
                    if not isinstance(base, _AnyBase):
                        self._check_base(ses, kind, subject, base)
                    pause_point("after-base-check")
                    number = self._next_number(ses, kind, subject)
                    rel = f"{AREA_OF_KIND[kind]}/{subject}/v{number}-{run_id}"
                    if placed != rel:
                        self.warehouse.publish(placed, rel, seal=False)
                        placed = rel
                    pause_point("after-rename")
                    now = utcnow()
                    row = Version(
                        kind=kind,
                        subject=subject,
                        number=number,
                        run_id=run_id,
                        path=rel,
                        row_count=row_count,
                        bytes=size,
                        schema_fingerprint=schema_fingerprint,
                        stats=stats,
                        created_at=now,
                    )
                    ses.add(row)
                    ses.flush()
                    self._point(ses, kind, subject, number, run_id)
                return to_info(row, number)
            except (StaleBaseError, RunStateError):
                if placed != staging:  # renamed on an earlier attempt: not a version
                    self.warehouse.remove(placed)
                raise
            except (IntegrityError, OperationalError) as exc:
                if isinstance(exc, OperationalError) and not _is_contention(exc):
                    raise
                # another writer took this number (or the pointer row) first
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise CommitConflictError(
            f"could not commit a version of {kind} {subject!r} after {MAX_ATTEMPTS} attempts",
            hint=f"too many concurrent writers; the files wait at {self.warehouse.uri(placed)}",
        )

    def _place_early(self, kind: str, subject: str, run_id: str, staging: str) -> str:
        """Copy the staged objects to the number the commit will most likely take.

        Object stores have no rename: publishing copies every object.  Done inside the
        transaction, the copy of a large version held the DB's write lock (SQLite) or the
        subject's lock (PostgreSQL) all along; done here, the transaction only checks and
        inserts.  If another writer takes that number first, the loop copies once more.
        """
        with session(self.engine) as ses:
            number = self._next_number(ses, kind, subject)
        rel = f"{AREA_OF_KIND[kind]}/{subject}/v{number}-{run_id}"
        try:
            self.warehouse.publish(staging, rel, seal=False)
        except BaseException:
            self.warehouse.remove(rel)  # a copy cut short; the staged objects are intact
            raise
        return rel

    @staticmethod
    def _check_run(ses: Any, run_id: str) -> None:
        # a run reaped as killed or timed out (its process hung, then woke) must not commit
        status = ses.scalar(sa.select(Run.status).where(Run.id == run_id))
        if status != "running":
            raise RunStateError(
                f"run {run_id} is {status or 'unknown'}, not running: its version is not committed",
                hint="the run was reaped (killed or timed out); start a new run",
            )

    @staticmethod
    def _check_base(ses: Any, kind: str, subject: str, base: int | None) -> None:
        if ses.get_bind().dialect.name == "postgresql":
            # FOR UPDATE below locks nothing while the subject has no pointer row yet (its
            # first version): two first commits both saw "no version", and the later one,
            # numbered 2, dropped the rows of version 1.  A transaction-scoped advisory lock
            # per subject serializes the check and the commit whether or not the row exists;
            # the SELECT after it sees whatever the previous holder committed.
            ses.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:subject, 0))"),
                {"subject": f"onesource-version/{kind}/{subject}"},
            )
        # lock the pointer row so that no other writer moves it until we commit
        now = ses.scalar(
            sa.select(CurrentVersion.number)
            .where(CurrentVersion.kind == kind, CurrentVersion.subject == subject)
            .with_for_update()
        )
        if now != base:
            raise StaleBaseError(kind, subject, base, now)

    @staticmethod
    def _next_number(ses: Any, kind: str, subject: str) -> int:
        top = ses.scalar(
            sa.select(sa.func.max(Version.number)).where(
                Version.kind == kind, Version.subject == subject
            )
        )
        return int(top or 0) + 1

    @staticmethod
    def _point(ses: Any, kind: str, subject: str, number: int, run_id: str | None) -> None:
        moved = ses.execute(
            sa.update(CurrentVersion)
            .where(CurrentVersion.kind == kind, CurrentVersion.subject == subject)
            .values(number=number, run_id=run_id, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 0:
            ses.add(
                CurrentVersion(
                    kind=kind, subject=subject, number=number, run_id=run_id, updated_at=utcnow()
                )
            )
            ses.flush()

    # reads: each opens ONE session and does all its work in it.  A read that opened a
    # second session while holding the first needed two pooled connections; with N readers
    # at once and fewer than 2N connections they all waited on each other until the pool
    # timed out (the web app's 500s under load, tests/store/test_ledger_reads.py).

    @staticmethod
    def _current_in(ses: Any, kind: str, subject: str) -> int | None:
        number: int | None = ses.scalar(
            sa.select(CurrentVersion.number).where(
                CurrentVersion.kind == kind, CurrentVersion.subject == subject
            )
        )
        return number

    @staticmethod
    def _numbers_in(ses: Any, kind: str, subject: str) -> list[int]:
        return list(
            ses.scalars(
                sa.select(Version.number)
                .where(Version.kind == kind, Version.subject == subject)
                .order_by(Version.number)
            )
        )

    def current_number(self, kind: str, subject: str) -> int | None:
        """The number of the version readers see now, or None."""
        with session(self.engine) as ses:
            return self._current_in(ses, kind, subject)

    def current(self, kind: str, subject: str) -> VersionInfo | None:
        """The version readers see now, or None when nothing was committed."""
        with session(self.engine) as ses:
            row = ses.execute(
                sa.select(Version)
                .join(
                    CurrentVersion,
                    sa.and_(
                        CurrentVersion.kind == Version.kind,
                        CurrentVersion.subject == Version.subject,
                        CurrentVersion.number == Version.number,
                    ),
                )
                .where(Version.kind == kind, Version.subject == subject)
            ).scalar_one_or_none()
            return to_info(row, row.number) if row is not None else None

    def get(self, kind: str, subject: str, number: int | None) -> VersionInfo:
        """One version (``number=None``: the current one); raises when absent."""
        if number is None:
            info = self.current(kind, subject)
            if info is None:
                raise VersionNotFoundError(kind, subject, None, [])
            return info
        with session(self.engine) as ses:
            row = ses.scalar(
                sa.select(Version).where(
                    Version.kind == kind, Version.subject == subject, Version.number == number
                )
            )
            if row is None:
                known = self._numbers_in(ses, kind, subject)
                raise VersionNotFoundError(kind, subject, number, known)
            return to_info(row, self._current_in(ses, kind, subject))

    def all_of(self, kind: str, subject: str) -> list[VersionInfo]:
        """Every committed version of a subject, oldest first."""
        with session(self.engine) as ses:
            current = self._current_in(ses, kind, subject)
            rows = ses.scalars(
                sa.select(Version)
                .where(Version.kind == kind, Version.subject == subject)
                .order_by(Version.number)
            )
            return [to_info(r, current) for r in rows]

    def subjects(self) -> list[tuple[str, str]]:
        """(kind, subject) of everything with a current version."""
        with session(self.engine) as ses:
            query = sa.select(CurrentVersion.kind, CurrentVersion.subject)
            return [(kind, subject) for kind, subject in ses.execute(query)]

    def paths(self) -> set[str]:
        """Warehouse paths of every committed version (what gc must keep)."""
        with session(self.engine) as ses:
            return set(ses.scalars(sa.select(Version.path)))

    def move_pointer(
        self, kind: str, subject: str, number: int, run_id: str
    ) -> tuple[int | None, VersionInfo]:
        """Point readers at an existing version; returns (previous number, new current)."""
        with session(self.engine, write=True) as ses:
            exists = ses.scalar(
                sa.select(Version.number).where(
                    Version.kind == kind, Version.subject == subject, Version.number == number
                )
            )
            if exists is None:
                known = list(
                    ses.scalars(
                        sa.select(Version.number)
                        .where(Version.kind == kind, Version.subject == subject)
                        .order_by(Version.number)
                    )
                )
                raise VersionNotFoundError(kind, subject, number, known)
            previous = ses.scalar(
                sa.select(CurrentVersion.number).where(
                    CurrentVersion.kind == kind, CurrentVersion.subject == subject
                )
            )
            self._point(ses, kind, subject, number, run_id)
        return previous, self.get(kind, subject, number)


def _is_contention(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "locked" in text or "busy" in text or "deadlock" in text or "serializ" in text
