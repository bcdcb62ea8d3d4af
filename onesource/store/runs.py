"""Run bookkeeping: begin, heartbeat, finish, and reaping runs whose process died.

Each run records the host, pid and process start time of whoever began it.
A run still ``running`` whose process is gone (same host), or whose heartbeat
is older than ``stale_after`` (another host), is marked ``killed``.  A run
still ``running`` after ``max_age`` (``ONESOURCE_RUN_TIMEOUT_S``, default 24 h)
is marked ``failed`` (``run-timed-out``) even if its process lives: it is hung.
The store refuses a version from a run that is no longer ``running``, so a
reaped run can never commit afterwards.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from onesource.store.db import session
from onesource.store.errors import RunStateError
from onesource.store.models import Run
from onesource.store.records import (
    FINAL_STATUSES,
    RUN_KINDS,
    RunInfo,
    new_id,
    utcnow,
)
from schemas.errors import OneSourceError

HEARTBEAT_INTERVAL_S = 30.0
STALE_AFTER = timedelta(minutes=10)
TIMEOUT_ENV = "ONESOURCE_RUN_TIMEOUT_S"
DEFAULT_TIMEOUT = timedelta(hours=24)


def run_timeout() -> timedelta:
    """How long a run may stay ``running`` (``ONESOURCE_RUN_TIMEOUT_S`` seconds)."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        return timedelta(seconds=float(raw))
    except ValueError:
        raise RunStateError(
            f"{TIMEOUT_ENV}={raw!r} is not a number of seconds", hint="e.g. 86400 for a day"
        ) from None


def process_start(pid: int) -> int | None:
    """The kernel's start time of a process (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return None
    # fields after the parenthesised command name; starttime is field 22 overall
    return int(stat.rsplit(")", 1)[1].split()[19])


def process_alive(pid: int, started: int | None) -> bool:
    """Whether ``pid`` still runs and is the same process that began the run."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if started is None:
        return True
    now_started = process_start(pid)
    return now_started is None or now_started == started


def to_info(row: Run) -> RunInfo:
    return RunInfo(
        id=row.id,
        kind=row.kind,
        subject=row.subject,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        rows_read=row.rows_read,
        rows_good=row.rows_good,
        rows_quarantined=row.rows_quarantined,
        error_code=row.error_code,
        error_message=row.error_message,
        report_path=row.report_path,
        department=row.department,
        host=row.host,
        pid=row.pid,
        params=dict(row.params or {}),
    )


class RunRegistry:
    """The ``runs`` table."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def begin(
        self,
        kind: str,
        subject: str,
        department: str | None = None,
        params: dict[str, Any] | None = None,
        status: str = "running",
    ) -> RunInfo:
        if kind not in RUN_KINDS:
            raise RunStateError(
                f"unknown run kind {kind!r}", hint=f"use one of {', '.join(RUN_KINDS)}"
            )
        now = utcnow()
        pid = os.getpid()
        row = Run(
            id=new_id(),
            kind=kind,
            subject=subject,
            status=status,
            started_at=now,
            heartbeat_at=now,
            finished_at=now if status in FINAL_STATUSES else None,
            department=department,
            host=socket.gethostname(),
            pid=pid,
            pid_started=process_start(pid),
            params=dict(params or {}),
        )
        with session(self.engine, write=True) as ses:
            ses.add(row)
        return to_info(row)

    def get(self, run_id: str) -> RunInfo:
        with session(self.engine) as ses:
            row = ses.get(Run, run_id)
            if row is None:
                raise RunStateError(
                    f"unknown run {run_id!r}", hint="runs are created by begin_run()"
                )
            return to_info(row)

    def require_running(self, run_id: str) -> RunInfo:
        info = self.get(run_id)
        if info.status != "running":
            raise RunStateError(
                f"run {run_id} is {info.status}, not running",
                hint="begin a new run with begin_run() to write again",
            )
        return info

    def heartbeat(self, run_id: str) -> None:
        with session(self.engine, write=True) as ses:
            ses.execute(
                sa.update(Run)
                .where(Run.id == run_id, Run.status == "running")
                .values(heartbeat_at=utcnow())
            )

    def finish(
        self,
        run_id: str,
        status: str,
        *,
        rows_read: int | None = None,
        rows_good: int | None = None,
        rows_quarantined: int | None = None,
        error: BaseException | str | None = None,
        report_path: str | None = None,
        rows_unparsable: int | None = None,
    ) -> RunInfo:
        if status not in FINAL_STATUSES:
            raise RunStateError(
                f"cannot finish run {run_id} as {status!r}",
                hint=f"use one of {', '.join(FINAL_STATUSES)}",
            )
        code, message = _error_fields(error)
        extra: dict[str, Any] = {}
        with session(self.engine, write=True) as ses:
            if rows_unparsable is not None:  # kept in params: no column of its own (yet)
                params = ses.scalar(sa.select(Run.params).where(Run.id == run_id)) or {}
                extra["params"] = {**params, "rows_unparsable": rows_unparsable}
            done = ses.execute(
                sa.update(Run)
                .where(Run.id == run_id, Run.status == "running")
                .values(
                    **extra,
                    status=status,
                    finished_at=utcnow(),
                    rows_read=rows_read,
                    rows_good=rows_good,
                    rows_quarantined=rows_quarantined,
                    error_code=code,
                    error_message=message,
                    report_path=report_path,
                )
            )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            current = self.get(run_id)  # raises when unknown
            raise RunStateError(
                f"run {run_id} is already {current.status}",
                hint="a run is finished once; was it reaped as killed while still working?",
            )
        return self.get(run_id)

    def recent(
        self, subject: str | None = None, limit: int = 50, status: str | None = None
    ) -> list[RunInfo]:
        query = sa.select(Run).order_by(Run.started_at.desc(), Run.id.desc()).limit(limit)
        if subject is not None:
            query = query.where(Run.subject == subject)
        if status is not None:
            query = query.where(Run.status == status)
        with session(self.engine) as ses:
            return [to_info(r) for r in ses.scalars(query)]

    def running_ids(self) -> set[str]:
        with session(self.engine) as ses:
            return set(ses.scalars(sa.select(Run.id).where(Run.status == "running")))

    def reap(
        self, stale_after: timedelta = STALE_AFTER, max_age: timedelta | None = None
    ) -> list[RunInfo]:
        """Mark runs whose process is gone (or silent too long) as ``killed``, hung ones ``failed``."""
        host = socket.gethostname()
        now = utcnow()
        max_age = run_timeout() if max_age is None else max_age
        reaped: list[str] = []
        with session(self.engine, write=True) as ses:
            for run in ses.scalars(sa.select(Run).where(Run.status == "running")).all():
                reason = _dead_reason(run, host, now, stale_after)
                status, code = "killed", "run-killed"
                if reason is None and now - run.started_at > max_age:
                    reason = (
                        f"still running after {now - run.started_at} (more than "
                        f"{max_age}, {TIMEOUT_ENV}); its process {run.host}:{run.pid} "
                        "is hung or too slow"
                    )
                    status, code = "failed", "run-timed-out"
                if reason is None:
                    continue
                run.status = status
                run.finished_at = now
                run.error_code = code
                run.error_message = reason
                reaped.append(run.id)
        return [self.get(r) for r in reaped]


def _dead_reason(run: Run, host: str, now: datetime, stale_after: timedelta) -> str | None:
    if run.host == host and run.pid is not None:
        if not process_alive(run.pid, run.pid_started):
            return f"process {run.pid} on {host} is gone (killed or crashed)"
        return None
    last = run.heartbeat_at or run.started_at
    if now - last > stale_after:
        return f"no heartbeat from {run.host}:{run.pid} since {last.isoformat()}"
    return None


def _error_fields(error: BaseException | str | None) -> tuple[str | None, str | None]:
    if error is None:
        return None, None
    if isinstance(error, str):
        return "error", error
    if isinstance(error, OneSourceError):
        return error.code, str(error)
    return type(error).__name__, str(error) or repr(error)


class RunHandle:
    """A running run; as a context manager it beats and finishes the run.

    ``with store.begin_run("ingest", "population") as run:`` marks the run
    ``succeeded`` on a clean exit (unless finished already) and ``failed``
    with the error's code on an exception.
    """

    def __init__(self, registry: RunRegistry, info: RunInfo) -> None:
        self.registry = registry
        self.info = info
        self.id = info.id
        self.kind = info.kind
        self.subject = info.subject
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.result: RunInfo | None = None

    def __repr__(self) -> str:
        return f"RunHandle({self.id!r}, {self.kind!r}, {self.subject!r})"

    def finish(self, status: str = "succeeded", **kwargs: Any) -> RunInfo:
        """Record the outcome (see ``Store.finish_run``)."""
        self._stop.set()
        self.result = self.registry.finish(self.id, status, **kwargs)
        return self.result

    def __enter__(self) -> RunHandle:
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.id}", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self.result is not None:
            return
        if exc is None:
            self.finish("succeeded")
        else:
            self.finish("failed", error=exc)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL_S):
            # a missed beat is harmless; the next one retries
            with contextlib.suppress(Exception):
                self.registry.heartbeat(self.id)
