"""``onesource demo seed``, ``serve-api`` and ``late`` (``run`` is added by onesource.cli.demo_run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from onesource.cli.common import console

app = typer.Typer(
    help="The demo city of Qinghe (清河市, fictional).\n\nExample: onesource demo seed --people 100000",
    no_args_is_help=True,
)


def _home(home: Path | None) -> Path:
    from onesource.settings import get_settings

    return (home or get_settings().home).resolve()


@app.command()
def seed(
    people: Annotated[
        int, typer.Option("--people", min=100, max=10_000_000, help="residents to generate")
    ] = 50_000,
    seed: Annotated[int, typer.Option("--seed", help="random seed: same seed, same data")] = 42,
    home: Annotated[
        Path | None, typer.Option("--home", help="hub home (default: $ONESOURCE_HOME or ./var)")
    ] = None,
    postgres: Annotated[
        str | None, typer.Option("--postgres", help="also write hrss_db to this PostgreSQL URL")
    ] = None,
    mariadb: Annotated[
        str | None, typer.Option("--mariadb", help="also write amr_db to this MariaDB URL")
    ] = None,
    api_port: Annotated[
        int, typer.Option("--api-port", help="port the demo departments' APIs will listen on")
    ] = 8765,
) -> None:
    """Write every demo department's source (SQLite, CSV, xlsx, Parquet, JSON lines, API data) with planted defects.

    Example: onesource demo seed --people 200000 --postgres postgresql+psycopg://postgres@127.0.0.1/test
    """
    from rich.status import Status

    from onesource.demo import seed as run_seed
    from onesource.settings import get_settings

    target = _home(home)
    with Status("seeding", console=console) as status:
        summary = run_seed(
            target,
            catalog_root=get_settings().catalog,
            people=people,
            seed=seed,
            postgres_url=postgres,
            mariadb_url=mariadb,
            api_port=api_port,
            progress=lambda step: status.update(f"seeding: {step}"),
        )
    console.print(summary.table())
    console.print(
        f"connections: {target / 'connections.json'}\ndefects: {target / 'sources' / 'defects.json'}"
    )


@app.command("serve-api")
def serve_api(
    port: Annotated[int, typer.Option("--port")] = 8765,
    home: Annotated[Path | None, typer.Option("--home")] = None,
) -> None:
    """Serve the demo health and data-administration APIs the http connectors pull from.

    Example: onesource demo serve-api --port 8765
    """
    import uvicorn

    from onesource.cli.common import run_server
    from onesource.demo.api import create_app

    console.print(
        f"demo department APIs on http://127.0.0.1:{port}/api/appointments and /api/ratings"
    )
    run_server(
        uvicorn.Config(create_app(_home(home)), host="127.0.0.1", port=port, log_level="warning")
    )


@app.command()
def late(home: Annotated[Path | None, typer.Option("--home")] = None) -> None:
    """Deliver the late drop files (a department uploading yesterday's file today).

    Example: onesource demo late && onesource run ingest grid_events
    """
    from onesource.demo import deliver_late_files

    moved = deliver_late_files(_home(home))
    for path in moved:
        console.print(f"delivered {path}")
    if not moved:
        console.print("no late files waiting")
