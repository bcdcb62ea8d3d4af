"""``onesource demo run``: what ``make demo`` does, end to end.

1. seed the fictional city's department sources (once; ``--reseed`` to redo),
2. serve the demo departments' HTTP APIs (the health and data-administration sources),
3. run every ingest DAG, then every release DAG, through Airflow in-process,
4. serve the portal and the exchange API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from onesource.cli.common import console


def register(demo_app: typer.Typer) -> None:
    demo_app.command("run")(run)


def run(
    people: Annotated[
        int, typer.Option("--people", help="synthetic residents to generate")
    ] = 50_000,
    reseed: Annotated[
        bool, typer.Option("--reseed", help="regenerate the sources even if present")
    ] = False,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="serve the portal at the end")
    ] = True,
    port: Annotated[int, typer.Option("--port", help="portal port")] = 8000,
    api_port: Annotated[
        int, typer.Option("--api-port", help="port of the demo departments' APIs")
    ] = 8765,
) -> None:
    """Seed the demo city, run its pipelines through Airflow, serve the portal.

    Example: onesource demo run --people 20000 --port 8000
    """
    from onesource.settings import get_settings

    settings = get_settings()
    _ports_free([("--port", port)] if serve else [], api_port)
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]OneSource demo: 清河市 (Qinghe, a fictional city)")
    _demo_release_key(home)
    _seed(home, people, reseed, api_port)
    api = _start_department_apis(home, api_port)
    try:
        console.rule("[bold]pipelines through Airflow")
        import os

        # task logs stay in Airflow's log folder; the console shows the summary
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
        from onesource.orchestration.demo_run import run_demo_pipelines

        summary = run_demo_pipelines(home)
        console.print(str(summary), highlight=False)
        if getattr(summary, "failed", None):
            raise typer.Exit(1)
    finally:
        api.should_exit = True
    from onesource.base import build_base
    from onesource.quality.scorecard import run_scorecard

    for entity in ("person", "enterprise", "property"):
        base = build_base(entity)
        console.print(
            f"golden records: {entity} v{base.version}, {base.rows:,} rows from "
            f"{', '.join(sorted({v['resource'] for v in base.lineage.values()}))}",
            highlight=False,
        )

    card = run_scorecard()
    console.print(
        f"quality scorecard: {len(card.rows)} department-days (onesource quality scorecard)"
    )
    console.print("exchange API: onesource dept key issue edu   # then see docs/departments.md")
    console.print(f"\nwarehouse: {settings.warehouse_root}\nmetadata DB: {settings.metadata_url}")
    if serve:
        _serve(port)


def _ports_free(portal: list[tuple[str, int]], api_port: int) -> None:
    """Refuse at once, not after the long run, when a port the demo needs is taken."""
    from onesource.orchestration.supervisor import port_busy
    from schemas.errors import ConfigError

    for option, number in [*portal, ("--api-port", api_port)]:
        if port_busy("127.0.0.1", number):
            make_var = "PORT" if option == "--port" else "API_PORT"
            raise ConfigError(
                f"port {number} on 127.0.0.1 is already in use ({option})",
                hint=f"stop what uses it, or choose another: onesource demo run {option} "
                f"{number + 1} (make demo {make_var}={number + 1})",
            )


def _demo_release_key(home: Path) -> None:
    """Pseudonym keys come from the environment; the demo makes a random one under its home."""
    import os
    import secrets

    if os.environ.get("ONESOURCE_RELEASE_KEY"):
        return
    path = home / "secrets" / "release.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    os.environ["ONESOURCE_RELEASE_KEY"] = "hex:" + path.read_text(encoding="utf-8").strip()
    console.print(
        f"demo pseudonym key: {path} (production: set ONESOURCE_RELEASE_KEY_<RELEASE> from a secret store)"
    )


def _seed(home: Path, people: int, reseed: bool, api_port: int) -> None:
    marker = home / "sources" / "defects.json"
    if marker.exists() and not reseed:
        console.print(f"sources already seeded under {home / 'sources'} (--reseed to regenerate)")
        return
    from onesource.demo import seed

    console.print(f"seeding {people:,} residents and their departments' data ...")
    from onesource.settings import get_settings

    summary = seed(home, people=people, api_port=api_port, catalog_root=get_settings().catalog)
    console.print(
        str(summary) if not hasattr(summary, "table") else summary.table(), highlight=False
    )


def _start_department_apis(home: Path, port: int):  # type: ignore[no-untyped-def]
    """Serve the demo health and data-administration APIs in a background thread."""
    import threading
    import time

    import uvicorn

    from onesource.demo.api import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(home), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True, name="demo-department-apis").start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        from schemas.errors import ConfigError

        server.should_exit = True
        raise ConfigError(
            f"the demo departments' APIs did not start on 127.0.0.1:{port}",
            hint="choose another port: onesource demo run --api-port N (make demo API_PORT=N)",
        )
    return server


def _serve(port: int) -> None:
    import uvicorn

    console.rule("[bold]portal")
    console.print(
        f"open data portal:  http://127.0.0.1:{port}/\n"
        f"exchange API docs: http://127.0.0.1:{port}/docs\nstop with Ctrl+C"
    )
    from onesource.cli.common import run_server

    run_server(
        uvicorn.Config(
            "onesource.web.app:create_app",
            factory=True,
            host="127.0.0.1",
            port=port,
            log_level="info",
        )
    )
