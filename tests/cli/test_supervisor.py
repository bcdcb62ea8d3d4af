"""The supervisor behind ``onesource up`` leaves nothing running after ``stop()``."""

from __future__ import annotations

import os
import time

from onesource.orchestration.supervisor import Supervisor, port_busy
from tests.cli.harness import alive, descendants, free_port


def _wait_for_children(pid: int, n: int) -> list[int]:
    deadline = time.monotonic() + 10
    while len(kids := descendants(pid)) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return kids


def test_stop_ends_children_and_grandchildren() -> None:
    sup = Supervisor(grace_s=5)
    env = dict(os.environ)
    a = sup.start("forks", ["sh", "-c", "sleep 300 & sleep 300 & wait"], env)
    b = sup.start("stubborn", ["sh", "-c", "trap '' TERM; sleep 300 & wait; sleep 300"], env)
    grandchildren = _wait_for_children(a.proc.pid, 2) + _wait_for_children(b.proc.pid, 1)
    everyone = [a.proc.pid, b.proc.pid, *grandchildren]
    assert len(everyone) >= 5
    sup.stop()
    time.sleep(0.2)
    assert alive(everyone) == []


def test_stop_reaches_a_descendant_that_left_the_group() -> None:
    sup = Supervisor(grace_s=2)
    child = sup.start("escapes", ["sh", "-c", "setsid sleep 300 & wait"], dict(os.environ))
    escaped = _wait_for_children(child.proc.pid, 1)
    assert escaped
    deadline = time.monotonic() + 30  # the forked shell runs setsid a moment after it appears
    while os.getpgid(escaped[0]) == child.proc.pid and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.getpgid(escaped[0]) != child.proc.pid
    sup.stop()
    time.sleep(0.2)
    assert alive([child.proc.pid, *escaped]) == []


def test_port_busy() -> None:
    import socket

    port = free_port()
    assert not port_busy("127.0.0.1", port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert port_busy("127.0.0.1", port)
