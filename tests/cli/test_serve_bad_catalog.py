"""With ``onesource serve`` running, a typo in a catalog file leaves the portal and the
exchange on the last valid catalog and shows the problem to stewards; a fix is picked up.

Runs the installed console script as an operator does (a real server process)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx

from tests.cli.harness import REPO, Hub, free_port, stop, wait_for_port

BROKEN = "resources/grid/grid_events.yaml"


def _until(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.5)


def test_typo_while_serving(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", catalog)
    hub = Hub.create(tmp_path / "hub", catalog=catalog)
    issued = hub.run("dept", "key", "issue", "edu")
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip().splitlines()[-1].split()[-1]
    port = free_port()
    proc = hub.start("serve", "--port", str(port), "--no-access-log")
    try:
        wait_for_port(port, proc, timeout=120)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as web:
            assert web.get("/healthz").json()["catalog"]["status"] == "ok"
            before = web.get("/api/open/datasets").json()
            auth = {"Authorization": f"Bearer {key}"}
            assert web.get("/api/exchange/resources", headers=auth).status_code == 200

            path = catalog / BROKEN
            good = path.read_text(encoding="utf-8")
            path.write_text(good.replace("update_cycle: daily", "update_cycle: dayly"), "utf-8")
            _until(lambda: web.get("/healthz").json()["catalog"]["status"] == "stale")

            # the public and departments are served from the last valid catalog, no paths leak
            page = web.get("/api/open/datasets")
            assert page.status_code == 200 and page.json() == before
            assert web.get("/", headers={"accept": "text/html"}).status_code == 200
            resources = web.get("/api/exchange/resources", headers=auth)
            assert resources.status_code == 200, resources.text
            for text in (page.text, resources.text):
                assert str(tmp_path) not in text and "dayly" not in text
            # stewards see where the problem is
            status = web.get("/status/catalog").json()
            assert status["status"] == "stale"
            assert any(p.startswith(BROKEN) and "dayly" in p for p in status["problems"]), status

            path.write_text(good, encoding="utf-8")
            st = path.stat()
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            _until(lambda: web.get("/healthz").json()["catalog"]["status"] == "ok")
    finally:
        out = stop(proc)
    assert "Traceback" not in out, out[-3000:]
