"""Run the installed ``onesource`` console script the way users and CI do.

Every call is a subprocess of ``.venv/bin/onesource`` (the console script, not the
Typer app in-process) in a scratch home whose ``ONESOURCE_*`` settings point at a
temporary warehouse and metadata DB.  The documented commands come from the fenced
``sh``/``bash``/``console`` blocks of README.md and docs/*.md, so the docs and the
tests read the same lines.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
SHELL_LANGS = {"sh", "bash", "shell", "console"}
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


def onesource_bin() -> str:
    """The installed console script beside this interpreter (else the one on PATH)."""
    candidate = Path(sys.executable).parent / "onesource"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("onesource")
    if found is None:
        raise RuntimeError("the onesource console script is not installed (make setup)")
    return found


def strip_comment(line: str) -> str:
    """A shell line without its trailing ``# comment`` and a ``$ `` prompt."""
    line = line.strip()
    if line.startswith("$ "):
        line = line[2:]
    line = re.split(r"\s+#\s", line, maxsplit=1)[0]
    return " ".join(line.split())


def documented_commands() -> dict[str, list[str]]:
    """Every ``onesource ...`` line of the docs' shell blocks -> where it appears."""
    found: dict[str, list[str]] = {}
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for m in _FENCE.finditer(text):
            if m.group(1) not in SHELL_LANGS:
                continue
            line_no = text[: m.start(2)].count("\n") + 1
            for i, raw in enumerate(m.group(2).splitlines()):
                cmd = strip_comment(raw)
                if cmd.startswith("onesource ") or cmd == "onesource":
                    where = f"{path.relative_to(REPO)}:{line_no + i}"
                    found.setdefault(cmd, []).append(where)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Until something accepts on 127.0.0.1:port (bounded); fails if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f} s")


@dataclass
class Hub:
    """A scratch hub home and the environment the console script runs with."""

    home: Path
    catalog: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, home: Path, catalog: Path | None = None, **extra: str) -> Hub:
        home.mkdir(parents=True, exist_ok=True)
        catalog = catalog or REPO / "catalog"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ONESOURCE_", "AIRFLOW")) and k != "COLUMNS"
        }
        env.update(
            {
                "ONESOURCE_HOME": str(home),
                "ONESOURCE_CATALOG": str(catalog),
                "ONESOURCE_WAREHOUSE": str(home / "warehouse"),
                "ONESOURCE_DB_URL": f"sqlite:///{home / 'onesource.db'}",
                "ONESOURCE_RELEASE_KEY": "hex:" + "5a" * 32,
                "PYTHONUNBUFFERED": "1",
                **extra,
            }
        )
        return cls(home=home, catalog=catalog, env=env)

    def run(
        self, *args: str, timeout: float = 300, cwd: Path | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``onesource *args`` to completion; stdout and stderr captured as text.

        Standard input is ``input`` (a password for ``--password-stdin``), else empty:
        never the terminal the tests run in.
        """
        return subprocess.run(
            [onesource_bin(), *args],
            env=self.env,
            cwd=cwd or self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=input if input is not None else "",
        )

    def start(self, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
        """``onesource *args`` in the background, in its own process group, with Ctrl+C
        (SIGINT) handled as in a terminal: an ignored SIGINT is inherited, and libraries
        that tests run in-process (Airflow's task runner) may have left it ignored here."""
        return subprocess.Popen(
            [onesource_bin(), *args],
            env=self.env,
            cwd=cwd or self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_terminal_signals,
        )


def _terminal_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Python installs its Ctrl+C handler again


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGINT, timeout: float = 30) -> str:
    """Send ``sig`` to a started command, wait (bounded), return its output."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"did not stop within {timeout:.0f} s after signal {sig}") from None
    return out or ""


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        return _proc_descendants(pid)
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _proc_descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pids: list[int]) -> list[int]:
    """The pids still running (zombies count as gone)."""
    live = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            live.append(pid)
    return live


def lines(text: str) -> Iterator[str]:
    yield from (line.rstrip() for line in text.splitlines())
