"""Start, watch and stop the processes of ``onesource up``.

Each child runs in its own process group (``start_new_session``), so a stop signal
reaches everything it started in turn (Airflow's scheduler forks task processes) and
a Ctrl+C in the terminal reaches only the supervisor, which then stops the children
in order.  Nothing is left behind: after SIGTERM and a grace period, what still runs
in a child's group gets SIGKILL, and so do descendants that left the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


class Stop(Exception):
    """Raised in the supervisor's main loop when SIGTERM/SIGHUP arrives."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.signum,))


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path | None = None


@dataclass
class Supervisor:
    """The children of one ``onesource up``."""

    children: list[Child] = field(default_factory=list)
    grace_s: float = 20.0

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        log: Path | None = None,
    ) -> Child:
        """Start ``argv`` in a new session (its own process group); output to ``log``."""
        out: IO[bytes] | int | None = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            out = open(log, "ab")  # noqa: SIM115 - the child holds it; closed below
        try:
            proc = subprocess.Popen(
                list(argv),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            if out is not None and not isinstance(out, int):
                out.close()
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def exited(self) -> Child | None:
        """The first child that is no longer running, if any."""
        return next((c for c in self.children if c.proc.poll() is not None), None)

    def pids(self) -> list[int]:
        """Every process the children started (for the record and for tests)."""
        found = [c.proc.pid for c in self.children]
        for c in self.children:
            found += _descendants(c.proc.pid)
        return found

    def stop(self) -> None:
        """SIGTERM every child's process group, wait, then SIGKILL whatever is left."""
        stray = {pid for c in self.children for pid in _descendants(c.proc.pid)}
        for c in reversed(self.children):  # the web app first, Airflow's parts after
            _signal_group(c.proc, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for c in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for c in self.children:
            _signal_group(c.proc, signal.SIGKILL)  # the group may outlive its leader
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.proc.wait(timeout=5)
        for pid in stray:  # a descendant that made its own session
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # start_new_session: the group id is the child's pid


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, read from /proc (Linux; elsewhere: none known)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def port_busy(host: str, port: int) -> bool:
    """True when something already listens on host:port (checked before a long start)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
