"""``onesource up``: embedded Airflow (scheduler, DAG processor, triggerer, API server) + the web app.

The components are started directly rather than through ``airflow standalone``, so that
every one of them binds 127.0.0.1 unless configured otherwise (standalone's log servers
listen on every interface, and its API server on 0.0.0.0), and so that this process
supervises them: Ctrl+C or SIGTERM stops every process it started.
Exit codes: 130 after Ctrl+C, 143 after SIGTERM, 1 when a component exits on its own.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from onesource.cli.common import console

READY_TIMEOUT_S = 180


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


def _web_command(host: str, port: int) -> list[str]:
    from onesource.cli.serve import uvicorn_flags

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
        *uvicorn_flags(),  # trust no proxy headers unless ONESOURCE_TRUSTED_PROXIES says so
    ]


def up(
    host: Annotated[str, typer.Option("--host", help="interface for the web app")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port of the portal and exchange API")] = 8000,
    airflow_host: Annotated[
        str, typer.Option("--airflow-host", help="interface for the Airflow UI/API server")
    ] = "127.0.0.1",
    airflow_port: Annotated[int, typer.Option("--airflow-port", help="Airflow UI/API port")] = 8080,
    parallelism: Annotated[
        int, typer.Option("--parallelism", help="tasks Airflow runs at once (2 cores: 4)")
    ] = 4,
    demo_apis: Annotated[
        bool,
        typer.Option(
            "--demo-apis/--no-demo-apis",
            help="also serve the demo departments' HTTP APIs when the hub home holds the demo "
            "(default: yes if seeded)",
        ),
    ] = True,
) -> None:
    """Start Airflow (scheduler, DAG processor, triggerer, API server; SQLite) and the web app.

    Everything listens on 127.0.0.1 unless --host/--airflow-host say otherwise.
    Stop with Ctrl+C (exit 130) or SIGTERM (exit 143): every process started is stopped.

    Example: onesource up --port 8000 --airflow-port 8080
    """
    from onesource.orchestration.environment import airflow_env, airflow_home
    from onesource.orchestration.supervisor import Stop, Supervisor, listening, port_busy
    from onesource.settings import get_settings

    home = get_settings().home.resolve()
    ahome = airflow_home(home)
    demo_port = _demo_api_port(home) if demo_apis else None
    wanted = [(host, port, "--port"), (airflow_host, airflow_port, "--airflow-port")]
    if demo_port is not None:
        wanted.append(
            ("127.0.0.1", demo_port, "the demo APIs' port (onesource demo seed --api-port)")
        )
    for h, p, what in wanted:
        if port_busy(h, p):
            raise typer.BadParameter(f"{h}:{p} is already in use", param_hint=what)
    env = airflow_env(home, parallelism=parallelism, api_port=airflow_port)
    pw_file, password = _admin_password(ahome)
    env.update(
        {
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
            "AIRFLOW__CORE__EXECUTOR": os.environ.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
            "AIRFLOW__API__HOST": airflow_host,
        }
    )
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    bin_dir = str(Path(sys.executable).parent)
    child_env = {**os.environ, **env, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    airflow = str(Path(bin_dir) / "airflow")
    logs = ahome / "logs" / "up"
    started = time.monotonic()

    stop_signal: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stop_signal.append(signum)
        raise Stop(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    sup = Supervisor()
    code = 0
    try:
        console.print(f"preparing the Airflow database (log: {logs / 'db-migrate.log'}) ...")
        migrate = sup.start(
            "db-migrate", [airflow, "db", "migrate"], child_env, logs / "db-migrate.log"
        )
        if migrate.proc.wait() != 0:
            console.print(f"[red]airflow db migrate failed[/] (see {migrate.log})")
            raise typer.Exit(1)
        sup.children.remove(migrate)
        if demo_port is not None:  # the demo's http DAGs pull from these: never a failing start
            console.print(
                f"demo home: the demo departments' APIs are served on 127.0.0.1:{demo_port}"
            )
            sup.start(
                "demo-apis",
                [
                    sys.executable,
                    "-m",
                    "onesource.cli.main",
                    "demo",
                    "serve-api",
                    "--port",
                    str(demo_port),
                ],
                child_env,
                logs / "demo-apis.log",
            )
        for name, argv in [
            ("scheduler", [airflow, "scheduler", "--skip-serve-logs"]),
            ("dag-processor", [airflow, "dag-processor"]),
            ("triggerer", [airflow, "triggerer", "--skip-serve-logs"]),
            (
                "api-server",
                [airflow, "api-server", "--host", airflow_host, "--port", str(airflow_port)],
            ),
        ]:
            sup.start(name, argv, child_env, logs / f"{name}.log")
        from onesource.web.hosts import serving_default

        sup.start(
            "web",
            _web_command(host, port),
            {"ONESOURCE_PUBLIC_URL": serving_default(host, port), **child_env},
            logs / "web.log",
        )
        console.print(f"starting Airflow and the web app (logs: {logs}) ...")
        deadline = time.monotonic() + READY_TIMEOUT_S
        ports = [port, airflow_port] + ([demo_port] if demo_port else [])
        while not all(listening(p) for p in ports):
            if (dead := sup.exited()) is not None:
                console.print(
                    f"[red]{dead.name} exited with code {dead.proc.returncode}[/] (see {dead.log})"
                )
                raise typer.Exit(1)
            if time.monotonic() > deadline:
                console.print(f"[red]not ready after {READY_TIMEOUT_S} s[/] (see {logs})")
                raise typer.Exit(1)
            time.sleep(0.5)
        took = time.monotonic() - started
        console.print(
            f"\nready at {datetime.now().astimezone():%H:%M:%S} (after {took:.0f} s)\n"
            f"portal:            http://{host}:{port}/\n"
            f"exchange API docs: http://{host}:{port}/docs\n"
            f"Airflow UI:        http://{airflow_host}:{airflow_port}/  (login admin / {password}; "
            "new DAGs start paused)\n"
            + (f"demo APIs:         http://127.0.0.1:{demo_port}/\n" if demo_port else "")
            + f"hub home:          {home}\n"
            f"processes:         {', '.join(f'{c.name} {c.proc.pid}' for c in sup.children)}\n"
            "stop with Ctrl+C",
            highlight=False,
        )
        while (dead := sup.exited()) is None:
            time.sleep(0.5)
        console.print(
            f"[red]{dead.name} exited with code {dead.proc.returncode}[/]; stopping (see {dead.log})"
        )
        code = 1
    except KeyboardInterrupt:
        code = 130
    except Stop as exc:
        code = 128 + exc.signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_IGN if s in stop_signal else handler)
        console.print("stopping ...")
        sup.stop()
        console.print("stopped every process onesource up started")
    raise typer.Exit(code)


def _demo_api_port(home: Path) -> int | None:
    """The demo departments' API port, when this hub home holds the seeded demo."""
    import re

    conns = home / "connections.json"
    if not (home / "sources" / "defects.json").exists() or not conns.exists():
        return None
    m = re.search(r"http://127\.0\.0\.1:(\d+)", conns.read_text(encoding="utf-8"))
    return int(m.group(1)) if m else None
