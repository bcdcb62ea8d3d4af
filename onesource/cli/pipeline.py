"""``onesource run ingest``, ``versions``, ``rollback``, ``runs``, ``gc``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from onesource.cli.common import console

run_app = typer.Typer(
    help="Run pipeline steps in-process (no Airflow needed).\n\nExample: onesource run ingest population_register",
    no_args_is_help=True,
)

KindOpt = Annotated[str, typer.Option("--kind", help="resource | release | base")]


def register(app: typer.Typer) -> None:
    app.add_typer(run_app, name="run")
    app.command()(versions)
    app.command()(rollback)
    app.command()(runs)
    app.command()(gc)


@run_app.command("ingest")
def run_ingest(
    resources: Annotated[
        list[str], typer.Argument(help="resource names; 'all' for every pulled resource")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print results as JSON")] = False,
) -> None:
    """Extract a resource from its department, check its quality and commit a new version.

    Example: onesource run ingest population_register students
    """
    from onesource.cli.common import load_valid_catalog
    from onesource.pipeline.ingest import ingest
    from onesource.pipeline.progress import rich_progress

    catalog = load_valid_catalog()
    names = (
        [n for n, r in catalog.resources.items() if r.connector.type != "push"]
        if resources == ["all"]
        else resources
    )
    results = []
    failed = False
    for name in names:
        with rich_progress(f"ingest {name}") as progress:
            result = ingest(name, catalog=catalog, progress=progress)
        results.append(result)
        failed |= result.status in ("failed", "rejected")
        if not as_json:
            console.print(result.summary(), highlight=False)
    if as_json:
        typer.echo(
            json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2, default=str)
        )
    raise typer.Exit(1 if failed else 0)


@run_app.command("base")
def run_base(
    entities: Annotated[
        list[str], typer.Argument(help="entities (person, enterprise, ...); 'all' for every one")
    ],
) -> None:
    """Build golden records: each column taken only from its element's source resource.

    Example: onesource run base person enterprise
    """
    from onesource.base import build_base
    from onesource.cli.common import load_valid_catalog
    from schemas.errors import TerminalError

    catalog = load_valid_catalog()
    names = sorted(catalog.entities()) if entities == ["all"] else entities
    for name in names:
        try:
            r = build_base(name, catalog=catalog)
        except TerminalError as exc:
            if entities != ["all"]:
                raise
            console.print(f"[yellow]skipped[/] {name}: {exc}", highlight=False)
            continue
        sources = sorted({v["resource"] for v in r.lineage.values()})
        console.print(
            f"[green]built[/] base {name} v{r.version}: {r.rows:,} rows, {len(r.lineage)} columns "
            f"from {', '.join(sources)}",
            highlight=False,
        )
        for s in r.skipped:
            console.print(f"  [dim]{s}[/]", highlight=False)


def versions(
    subject: str,
    kind: KindOpt = "resource",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the committed versions of a resource (or release/base); * marks what readers see.

    Example: onesource versions population_register
    """
    from rich.table import Table

    from onesource.store import Store

    rows = Store.open().versions(kind, subject)
    if as_json:
        typer.echo(
            json.dumps([r.__dict__ for r in rows], default=str, ensure_ascii=False, indent=2)
        )
        return
    if not rows:
        console.print(f"no versions of {kind} {subject!r} yet")
        return
    table = Table("", "version", "rows", "created", "run", "quality")
    for v in rows:
        q = v.stats.get("quality", {}) if isinstance(v.stats, dict) else {}
        table.add_row(
            "*" if v.current else "",
            str(v.number),
            f"{v.row_count:,}",
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            v.run_id,
            f"{q.get('rows_quarantined', 0):,} quarantined" if q else "",
        )
    console.print(table)


def rollback(
    subject: str,
    to: Annotated[int, typer.Option("--to", help="the version readers should see again")],
    kind: KindOpt = "resource",
) -> None:
    """Point readers back at an earlier version (recorded as a run; nothing is deleted).

    Example: onesource rollback population_register --to 3
    """
    from onesource.cli.withdraw import audit_withdrawal
    from onesource.store import Store

    store = Store.open()
    before = set(store.withdrawals.of(kind, subject))
    info = store.rollback(kind, subject, to)
    console.print(
        f"{kind} {subject}: readers now see version {info.number} ({info.row_count:,} rows)"
    )
    # the versions rolled back past are withdrawn for good (410 Gone), and audited
    gone = sorted(set(store.withdrawals.of(kind, subject)) - before)
    if gone:
        audit_withdrawal(store, kind, subject, gone, f"rolled back to version {to}", "rollback")
        console.print(f"withdrawn: version {', '.join(map(str, gone))} (410 Gone from now on)")


def runs(
    subject: Annotated[
        str | None, typer.Option("--subject", help="only runs of this resource/release")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="running | succeeded | failed | rejected | killed"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit")] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest pipeline runs with their outcome.

    Example: onesource runs --subject population_register --limit 5
    """
    from rich.table import Table

    from onesource.store import Store

    store = Store.open()
    store.reap_stale_runs()
    rows = store.runs(subject, limit, status)
    if as_json:
        typer.echo(
            json.dumps([r.__dict__ for r in rows], default=str, ensure_ascii=False, indent=2)
        )
        return
    table = Table(
        "run", "kind", "subject", "status", "started", "read", "good", "quarantined", "error"
    )
    colors = {
        "succeeded": "green",
        "failed": "red",
        "rejected": "yellow",
        "killed": "red",
        "running": "cyan",
    }
    for r in rows:
        c = colors.get(r.status, "white")
        table.add_row(
            r.id,
            r.kind,
            r.subject,
            f"[{c}]{r.status}[/]",
            r.started_at.strftime("%m-%d %H:%M:%S"),
            _n(r.rows_read),
            _n(r.rows_good),
            _n(r.rows_quarantined),
            (r.error_message or "")[:60],
        )
    console.print(table)


def _n(v: int | None) -> str:
    return "" if v is None else f"{v:,}"


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only list what would be removed")
    ] = False,
) -> None:
    """Remove what killed or failed runs left in the warehouse (never a committed version).

    Runs whose process died are marked killed first; folders of runs still running are kept.

    Example: onesource gc --dry-run
    """
    from onesource.store import Store

    store = Store.open()
    for r in store.reap_stale_runs():
        console.print(f"run {r.id} ({r.subject}) stopped beating: marked killed", highlight=False)
    report = store.gc(dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for path in report.removed:
        console.print(f"{verb} {path}", highlight=False)
    for path in report.kept_running:
        console.print(f"[dim]kept {path} (its run is still running)[/]", highlight=False)
    console.print(
        f"{verb} {len(report.removed)} folder(s); kept {len(report.kept_running)} of running runs"
    )
