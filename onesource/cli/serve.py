"""``onesource up`` (Airflow + web app, embedded) and ``onesource serve`` (web app only)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from onesource.cli.common import console


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("serve")(serve)


def _web_command(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "onesource.web.app:create_app",
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
    ]


def serve(
    host: Annotated[str, typer.Option("--host", help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port of the portal and exchange API")] = 8000,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="uvicorn's line per request (exchange calls are in the audit log either way; "
            "off serves ~15% more requests)",
        ),
    ] = True,
) -> None:
    """Serve the open-data portal and the exchange API (no Airflow).

    Example: onesource serve --host 0.0.0.0 --port 8000 --no-access-log
    """
    import uvicorn

    from onesource.web.hosts import serving_default

    os.environ.setdefault("ONESOURCE_PUBLIC_URL", serving_default(host, port))
    console.print(f"portal: http://{host}:{port}/   exchange API docs: http://{host}:{port}/docs")
    uvicorn.run(
        "onesource.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        access_log=access_log,
    )


def _admin_password(ahome: Path) -> tuple[Path, str]:
    """The Airflow UI's admin password, generated once per hub home."""
    path = ahome / "passwords.json"
    if path.exists():
        return path, str(json.loads(path.read_text(encoding="utf-8"))["admin"])
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(json.dumps({"admin": password}), encoding="utf-8")
    path.chmod(0o600)
    return path, password


def up(
    host: Annotated[str, typer.Option("--host", help="interface for the web app")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port of the portal and exchange API")] = 8000,
    airflow_port: Annotated[int, typer.Option("--airflow-port", help="Airflow UI/API port")] = 8080,
    parallelism: Annotated[
        int, typer.Option("--parallelism", help="tasks Airflow runs at once (2 cores: 4)")
    ] = 4,
) -> None:
    """Start Airflow (standalone: scheduler, DAG processor, API server; SQLite) and the web app.

    Example: onesource up --port 8000 --airflow-port 8080
    """
    from onesource.orchestration.environment import airflow_env, airflow_home
    from onesource.settings import get_settings
    from onesource.web.hosts import serving_default

    home = get_settings().home.resolve()
    ahome = airflow_home(home)
    env = airflow_env(home, parallelism=parallelism, api_port=airflow_port)
    pw_file, password = _admin_password(ahome)
    env.update(
        {
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
        }
    )
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)  # standalone starts its parts as `airflow ...`
    child_env = {**os.environ, **env, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    airflow_bin = str(Path(bin_dir) / "airflow")
    logs = ahome / "standalone.log"
    console.print(f"starting Airflow (log: {logs}) and the web app ...")
    with open(logs, "ab") as log:
        procs = [
            subprocess.Popen([airflow_bin, "standalone"], env=child_env, stdout=log, stderr=log),
            subprocess.Popen(
                _web_command(host, port),
                env={"ONESOURCE_PUBLIC_URL": serving_default(host, port), **child_env},
            ),
        ]
    console.print(
        f"\nportal:            http://{host}:{port}/\n"
        f"exchange API docs: http://{host}:{port}/docs\n"
        f"Airflow UI:        http://127.0.0.1:{airflow_port}/  "
        f"(login admin / {password}; ready in ~15 s; new DAGs start paused)\n"
        f"hub home:          {home}\nstop with Ctrl+C",
        highlight=False,
    )
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        failed = next(p for p in procs if p.poll() is not None)
        console.print(f"a process exited with code {failed.returncode}; stopping (see {logs})")
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
