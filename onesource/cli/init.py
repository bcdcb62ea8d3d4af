"""``onesource init``: start a city's own catalog repository."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from onesource.cli.common import console


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    folder: Annotated[Path, typer.Argument(help="the new repository's folder, e.g. my-city")],
    city: Annotated[
        str | None, typer.Option("--city", help="the city's name in README (default: folder)")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="write into a non-empty folder; existing files are kept, never overwritten, "
            "and symbolic links in it never followed",
        ),
    ] = False,
) -> None:
    """Create a city's catalog repository: departments, one resource, one release, a sample
    file drop, Airflow DAG files, a CI check and a README. It validates and ingests as is.

    A non-empty folder is refused (exit 1) unless --force; no existing file is overwritten.

    Example: onesource init my-city && cd my-city && onesource catalog validate
    """
    from onesource.scaffold import create

    done = create(folder, city=city, force=force)
    for rel in done.kept:
        console.print(f"kept existing {rel}", highlight=False)
    console.print(
        f"created {len(done.written)} files in {done.root}\n"
        "next:\n"
        f"  cd {folder}\n"
        "  onesource catalog validate\n"
        "  onesource run ingest service_points\n"
        "  git init && git add . && git commit -m 'catalog skeleton'",
        highlight=False,
    )
