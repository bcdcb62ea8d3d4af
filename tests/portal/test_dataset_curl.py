"""Against a live server whose public URL is its own address: the dataset page's curl
examples run as shown and answer 200; ``curl -OJ`` saves the versioned file name."""

from __future__ import annotations

import hashlib
import html
import os
import re
import shlex
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="curl is not installed on this machine")


@pytest.fixture(scope="module")
def live(portal_home: Path) -> Iterator[str]:
    import uvicorn

    from onesource.web.app import create_app
    from onesource.web.deps import reset_caches

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONESOURCE_HOME", str(portal_home))
        mp.setenv("ONESOURCE_PUBLIC_URL", base)
        reset_caches()
        server = uvicorn.Server(
            uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield base
        server.should_exit = True
        thread.join(10)
    reset_caches()


def _curl(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert CURL is not None
    return subprocess.run(
        [CURL, "--fail", "--silent", "--show-error", "-w", "%{http_code}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_curl_oj_saves_the_versioned_file_name(live: str, tmp_path: Path) -> None:
    done = _curl(["-OJ", f"{live}/datasets/grid_events_open/download/data.csv"], tmp_path)
    assert done.returncode == 0 and done.stdout.endswith("200"), done.stderr
    saved = tmp_path / "grid_events_open-v1-data.csv"
    assert [p.name for p in tmp_path.iterdir()] == [saved.name]
    sums = _curl(["-s", f"{live}/datasets/grid_events_open/download/checksums.sha256"], tmp_path)
    line = next(x for x in sums.stdout.splitlines() if x.endswith("  data.csv"))
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == line.split()[0]


def test_the_pages_curl_examples_run_as_shown(live: str, tmp_path: Path) -> None:
    page = _curl(["-s", f"{live}/datasets/grid_events_open?lang=zh"], tmp_path).stdout
    shown = re.search(r'id="api-curl"[^>]*><code>(.*?)</code>', page, re.S)
    assert shown is not None
    lines = html.unescape(shown.group(1)).splitlines()
    assert len(lines) >= 3 and all(live in line for line in lines)  # the serving host
    for i, line in enumerate(lines):
        args = shlex.split(line)
        assert args[0] == "curl"
        where = tmp_path / f"example-{i}"
        where.mkdir()
        done = _curl(args[1:], where)
        assert done.returncode == 0 and done.stdout.endswith("200"), (line, done.stderr)
        if "-OJ" in args:
            (saved,) = where.iterdir()
            assert saved.name.startswith("grid_events_open-v1-data"), saved.name
    assert os.path.exists(tmp_path / "example-3" / "grid_events_open-v1-data.xlsx")
