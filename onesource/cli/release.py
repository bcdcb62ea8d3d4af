"""``onesource release build|verify|list``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from onesource.cli.common import console

app = typer.Typer(
    help="Open-data releases.\n\nExample: onesource release build business_register_open",
    no_args_is_help=True,
)


@app.command()
def build(
    names: Annotated[list[str], typer.Argument(help="release names; 'all' for every release")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """De-identify, run the leak gate and publish the next version of a release.

    Every named release is attempted; the exit code is 1 if any was refused or failed.

    Example: ONESOURCE_RELEASE_KEY_APPOINTMENTS_RESEARCH=... onesource release build appointments_research
    """
    from onesource.cli.common import load_valid_catalog
    from onesource.release.build import build_release
    from schemas.errors import NotFoundError, OneSourceError

    catalog = load_valid_catalog()
    names = list(catalog.releases) if names == ["all"] else names
    unknown = [n for n in names if n not in catalog.releases]
    if unknown:
        raise NotFoundError("release", ", ".join(unknown), list(catalog.releases))
    results = []
    failed: list[str] = []
    for name in names:
        try:  # every release is attempted; one refused release does not stop the others
            r = build_release(name, catalog=catalog)
        except OneSourceError as exc:
            failed.append(name)
            results.append({"release": name, "error": str(exc)})
            console.print(f"[red]failed[/] {name}: {exc}", highlight=False)
            continue
        results.append(r.to_dict())
        if not as_json:
            k = r.risk.get("k_reached")
            console.print(
                f"[green]published[/] {name} v{r.version}: {r.rows:,} rows"
                + (f", k reached {k}" if k is not None else "")
                + f"  ({r.path})",
                highlight=False,
            )
    if as_json:
        typer.echo(json.dumps(results, ensure_ascii=False, indent=2, default=str))
    elif len(names) > 1:
        console.print(
            f"{len(names)} release(s): {len(names) - len(failed)} published, {len(failed)} failed"
            + (f" ({', '.join(failed)})" if failed else ""),
            highlight=False,
        )
    raise typer.Exit(1 if failed else 0)


@app.command()
def verify(
    name: str,
    version: Annotated[
        int | None, typer.Option("--version", help="default: the current version")
    ] = None,
) -> None:
    """Recompute checksums and risk figures from the published files; exit 1 on any mismatch.

    Example: onesource release verify appointments_research
    """
    from onesource.release.verify import verify_release

    rep = verify_release(name, version)
    for problem in rep.problems:
        console.print(f"[red]FAIL[/] {problem}", highlight=False)
    if rep.ok:
        console.print(
            f"[green]ok[/] {name} v{rep.version}: {len(rep.checked)} files match their checksums; "
            "risk figures recomputed",
            highlight=False,
        )
    raise typer.Exit(0 if rep.ok else 1)


@app.command("list")
def list_releases(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every release in the catalog with its current version.

    Example: onesource release list
    """
    from rich.table import Table

    from onesource.cli.common import load_valid_catalog
    from onesource.store import Store

    catalog, store = load_valid_catalog(), Store.open()
    rows = []
    for name, rel in catalog.releases.items():
        cur = store.current("release", name)
        rows.append(
            {
                "release": name,
                "kind": rel.kind.value,
                "open_class": rel.open_class.value,
                "version": cur.number if cur else None,
                "rows": cur.row_count if cur else None,
                "built_at": cur.created_at.isoformat(timespec="seconds") if cur else None,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("release", "kind", "open", "version", "rows", "built")
    for r in rows:
        table.add_row(
            r["release"],
            r["kind"],
            r["open_class"],
            str(r["version"] or "-"),
            f"{r['rows']:,}" if r["rows"] is not None else "-",
            r["built_at"] or "-",
        )
    console.print(table)


from onesource.cli.withdraw import withdraw  # noqa: E402 - its own module, registered here

app.command()(withdraw)
