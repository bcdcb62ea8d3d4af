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


def proxy_settings() -> tuple[bool, str]:
    """(proxy_headers, forwarded_allow_ips) for uvicorn, from ``ONESOURCE_TRUSTED_PROXIES``.

    Unset (the default) trusts no proxy: ``X-Forwarded-For``/``-Proto`` are ignored and
    the client address is the connection's, so nobody can choose the address that
    per-address failure counting and throttling see.  uvicorn's own default trusts them
    from 127.0.0.1, which any local process (or a proxy passing them through) can forge.
    Set it to the reverse proxy's addresses (comma-separated IPs or CIDRs) to trust
    those headers from the proxy alone.
    """
    trusted = ",".join(
        p.strip() for p in os.environ.get("ONESOURCE_TRUSTED_PROXIES", "").split(",") if p.strip()
    )
    return bool(trusted), trusted


def uvicorn_flags() -> list[str]:
    """The same proxy settings as uvicorn command-line flags."""
    proxy, trusted = proxy_settings()
    if not proxy:
        return ["--no-proxy-headers"]
    return ["--proxy-headers", "--forwarded-allow-ips", trusted]


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
        *uvicorn_flags(),
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

    from onesource.web.hosts import serving_default

    os.environ.setdefault("ONESOURCE_PUBLIC_URL", serving_default(host, port))
    console.print(f"portal: http://{host}:{port}/   exchange API docs: http://{host}:{port}/docs")
    from onesource.cli.common import run_server

    run_server(server_config(host, port, access_log))


def server_config(host: str, port: int, access_log: bool = True) -> object:
    """The ``uvicorn.Config`` of ``onesource serve`` (proxy headers: ``proxy_settings``)."""
    import uvicorn

    proxy, trusted = proxy_settings()
    return uvicorn.Config(
        "onesource.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        access_log=access_log,
        proxy_headers=proxy,
        forwarded_allow_ips=trusted or "",
    )
