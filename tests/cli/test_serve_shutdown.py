"""``onesource serve`` stopped with SIGTERM (systemd, Kubernetes, ``docker stop``) still
writes what it holds in memory: the pending per-address summary of unauthenticated calls
and a signed checkpoint of the newest entry.

Attack (found by review): uvicorn re-raises SIGTERM after its graceful shutdown and the
default handler kills the process, so ``atexit`` never ran: a burst of unauthenticated
calls followed by a restart left no trace in the audit log, and the newest entries stayed
unanchored (removable unnoticed).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx

from tests.cli.harness import Hub, free_port, stop, wait_for_port


def test_sigterm_writes_the_summary_and_a_final_checkpoint(tmp_path: Path) -> None:
    # no time-based checkpoint during the test: only shutdown can anchor the summary
    hub = Hub.create(tmp_path / "hub", ONESOURCE_AUDIT_CHECKPOINT_SECONDS="3600")
    issued = hub.run("dept", "key", "issue", "edu")
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip().splitlines()[-1]
    port = free_port()
    proc = hub.start("serve", "--port", str(port), "--no-access-log")
    try:
        wait_for_port(port, proc, timeout=60)
        base = f"http://127.0.0.1:{port}/api/exchange/resources"
        ok = httpx.get(base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert ok.status_code == 200, ok.text  # entry 1, checkpointed at once (first append)
        assert httpx.get(base, timeout=30).status_code == 401  # pending in memory only
    finally:
        out = stop(proc, signal.SIGTERM)
    assert proc.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM), out

    summaries = hub.run("audit", "query", "--result", "auth-failures", "--json")
    rows = [json.loads(line) for line in summaries.stdout.splitlines() if line.strip()]
    assert len(rows) == 1 and rows[0]["row_count"] == 1, (summaries.stdout, out)
    check = hub.run("audit", "verify", "--json")
    data = json.loads(check.stdout)
    assert check.returncode == 0 and data["ok"], check.stdout
    assert data["head_seq"] == rows[0]["seq"] == 2
    assert data["last_checkpoint_seq"] == data["head_seq"] and data["unanchored"] == 0, data
