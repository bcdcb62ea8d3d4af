"""``onesource up`` supervises what it starts: a stop signal leaves no process behind.

Starts the real thing (Airflow's scheduler, DAG processor, triggerer and API server, the
web app, and the demo departments' APIs since the home is seeded) in a subprocess, waits
for its readiness line (bounded), checks every listening socket is on 127.0.0.1, sends
SIGTERM or SIGINT (Ctrl+C), then asserts the exit code and that no child survives.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import threading
import time

import psutil
import pytest

from tests.cli.harness import Hub, alive, descendants, free_port

READY_WITHIN_S = 420  # Airflow's first start on a busy 2-core machine


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Hub:
    hub = Hub.create(tmp_path_factory.mktemp("up-hub"))
    r = hub.run("demo", "seed", "--people", "100", "--api-port", str(free_port()))
    assert r.returncode == 0, r.stderr
    return hub


def _listening_hosts(pids: list[int]) -> set[str]:
    hosts = set()
    for pid in pids:
        try:
            conns = psutil.Process(pid).net_connections(kind="inet")
        except psutil.Error:
            continue
        hosts |= {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN}
    return hosts


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_up_stops_every_process_it_started(seeded: Hub, sig: int, code: int) -> None:
    web, airflow = free_port(), free_port()
    proc = seeded.start("up", "--port", str(web), "--airflow-port", str(airflow))
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True
    )
    reader.start()
    deadline = time.monotonic() + READY_WITHIN_S
    while not any(line.startswith("ready at ") for line in lines):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("up did not get ready:\n" + "".join(lines[-50:]))
        time.sleep(1)
    ready = next(line for line in lines if line.startswith("ready at "))
    assert re.match(r"ready at \d\d:\d\d:\d\d \(after \d+ s\)", ready), ready
    time.sleep(5)  # let the scheduler fork its executor workers
    started = descendants(proc.pid)
    assert len(started) >= 6, (
        started
    )  # scheduler, dag-processor, triggerer, api-server, web, demo APIs
    assert _listening_hosts(started) <= {"127.0.0.1"}, _listening_hosts(started)
    proc.send_signal(sig)
    try:
        proc.wait(timeout=180)  # 20 s grace, then SIGKILL; slow only on an overloaded machine
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *alive(started)]:  # leave nothing behind for the next case
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
        reader.join(timeout=5)
        pytest.fail("up did not stop within 180 s:\n" + "".join(lines[-40:]))
    reader.join(timeout=5)
    assert proc.returncode == code, "".join(lines[-30:])
    time.sleep(1)
    assert alive(started) == [], f"orphaned: {alive(started)}\n" + "".join(lines[-30:])
