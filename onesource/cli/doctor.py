"""``onesource doctor``: check a deployment (see onesource.ops.doctor)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from onesource.cli.common import console

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    strict: Annotated[bool, typer.Option("--strict", help="warnings fail too (exit 1)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
) -> None:
    """Check this deployment: metadata DB reachable and migrated, warehouse writable, keys
    present and private, checkpoint store, catalog, Airflow (ONESOURCE_AIRFLOW_URL), clock
    (against PostgreSQL), free disk. Exit 0 when nothing failed, 1 otherwise.

    Example: onesource doctor --json
    """
    from rich.table import Table

    from onesource.ops.doctor import run_checks

    results = run_checks()
    failed = [r for r in results if r.status == "fail" or (strict and r.status == "warn")]
    if as_json:
        typer.echo(
            json.dumps(
                {"ok": not failed, "checks": [r.as_dict() for r in results]}, ensure_ascii=False
            )
        )
    else:
        table = Table(show_header=True, header_style="bold")
        table.add_column("check")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        for r in results:
            table.add_row(r.name, f"[{_STYLE[r.status]}]{r.status}[/]", r.detail)
        console.print(table)
        worst = "failed" if failed else "ok"
        console.print(
            f"doctor: {worst} ({sum(r.status == 'fail' for r in results)} failed, "
            f"{sum(r.status == 'warn' for r in results)} warnings)",
            highlight=False,
        )
    if failed:
        raise typer.Exit(1)
