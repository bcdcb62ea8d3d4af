"""``onesource serve`` (web app only); ``onesource up`` lives in onesource.cli.up."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from onesource.cli.common import console


def register(app: typer.Typer) -> None:
    from onesource.cli.up import up

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
    from onesource.cli.common import run_server

    run_server(
        uvicorn.Config(
            "onesource.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            access_log=access_log,
        )
    )
