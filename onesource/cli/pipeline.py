"""``onesource run ingest``, ``versions``, ``rollback``, ``runs``, ``gc``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from onesource.cli.common import Kind, RunStatus, console

run_app = typer.Typer(
    help="Run pipeline steps in-process (no Airflow needed).\n\nExample: onesource run ingest population_register",
    no_args_is_help=True,
)

KindOpt = Annotated[Kind, typer.Option("--kind", help="what the name is")]
StatusOpt = Annotated[
    RunStatus | None, typer.Option("--status", help="only runs with this outcome")
]


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
    """Extract resources from their departments, check their quality and commit new versions.

    Every named resource is attempted, whatever happened to the ones before; one summary
    table follows; the exit code is 1 if any run failed or was rejected.

    Example: onesource run ingest population_register students
    """
    from onesource.cli.common import load_valid_catalog
    from schemas.errors import NotFoundError

    catalog = load_valid_catalog()
    if resources == ["all"]:
        names = [n for n, r in catalog.resources.items() if r.connector.type != "push"]
    else:
        names = list(dict.fromkeys(resources))
        unknown = [n for n in names if n not in catalog.resources]
        if unknown:
            raise NotFoundError("resource", ", ".join(unknown), list(catalog.resources))
    with _retries_shown():
        results = [_ingest_one(name, catalog, quiet=as_json) for name in names]
    failed = [r for r in results if r.status in ("failed", "rejected")]
    if as_json:
        typer.echo(
            json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2, default=str)
        )
    else:
        _summary_table(results)
    raise typer.Exit(1 if failed else 0)


def _ingest_one(name: str, catalog: object, *, quiet: bool):  # type: ignore[no-untyped-def]
    """One resource's ingest; a failure becomes a failed result, never stops the others."""
    from onesource.cli.common import state
    from onesource.pipeline.ingest import IngestResult, ingest
    from onesource.pipeline.progress import rich_progress

    try:
        with rich_progress(f"ingest {name}") as progress:
            result = ingest(name, catalog=catalog, progress=progress)  # type: ignore[arg-type]
    except Exception as exc:
        if state.debug:
            raise
        from schemas.errors import OneSourceError

        error = str(exc) if isinstance(exc, OneSourceError) else f"{type(exc).__name__}: {exc}"
        result = IngestResult(resource=name, run_id=_last_run_id(name), status="failed")
        result.error = error
    if not quiet:
        console.print(result.summary(), highlight=False)
    return result


def _last_run_id(name: str) -> str:
    """The id of the run a failed ingest recorded (if it got that far)."""
    from onesource.store import Store

    try:
        runs = Store.open().runs(name, 1)
    except Exception:
        return "-"
    return runs[0].id if runs and runs[0].status == "failed" else "-"


def _summary_table(results: list) -> None:  # type: ignore[type-arg]
    from rich.table import Table

    table = Table(
        "resource",
        "status",
        "run",
        "version",
        "read",
        "good",
        "quarantined",
        "unparsable",
        "error",
        title="ingest summary",
    )
    table.columns[2].no_wrap = True
    colours = {"succeeded": "green", "unchanged": "cyan", "rejected": "yellow"}
    for r in results:
        c = colours.get(r.status, "red")
        table.add_row(
            r.resource,
            f"[{c}]{r.status}[/]",
            r.run_id,
            "" if r.version is None else str(r.version),
            f"{r.rows_read:,}",
            f"{r.rows_good:,}",
            f"{r.rows_quarantined:,}",
            f"{r.rows_unparsed:,}",
            (r.error or "").splitlines()[0][:80] if r.error else "",
        )
    console.print(table)
    bad = sum(r.status in ("failed", "rejected") for r in results)
    console.print(
        f"{len(results)} resource(s): {len(results) - bad} ok, {bad} failed or rejected",
        highlight=False,
    )


@contextmanager
def _retries_shown() -> Iterator[None]:
    """Show source retries while they wait: what failed, attempt n of m, next try in s."""
    import logging

    from onesource.cli.common import console_err

    class _Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            console_err.print(f"[yellow]retry[/] {record.getMessage()}", highlight=False)

    logger = logging.getLogger("connectors.retry")
    handler, level, propagate = _Echo(logging.WARNING), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


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
    kind: KindOpt = Kind.resource,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the committed versions of a resource (or release/base); * marks what readers see.

    Example: onesource versions population_register
    """
    from rich.table import Table

    from onesource.store import Store

    kind_name = Kind(kind).value
    rows = Store.open().versions(kind_name, subject)
    if not rows:  # a name the catalog does not know is an error, not an empty history
        from onesource.cli.common import require_subject

        require_subject(kind_name, subject)
    if as_json:
        typer.echo(
            json.dumps([r.__dict__ for r in rows], default=str, ensure_ascii=False, indent=2)
        )
        return
    if not rows:
        console.print(f"no versions of {kind_name} {subject!r} yet")
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
            (
                f"{q.get('rows_quarantined', 0):,} quarantined, "
                f"{q.get('unparsed_rows', 0) or 0:,} unparsable"
            )
            if q
            else "",
        )
    console.print(table)


def rollback(
    subject: str,
    to: Annotated[int, typer.Option("--to", help="the version readers should see again")],
    kind: KindOpt = Kind.resource,
) -> None:
    """Point readers back at an earlier version (recorded as a run; nothing is deleted).

    Example: onesource rollback population_register --to 3
    """
    from onesource.cli.withdraw import audit_withdrawal
    from onesource.store import Store

    kind_name = Kind(kind).value
    store = Store.open()
    before = set(store.withdrawals.of(kind_name, subject))
    info = store.rollback(kind_name, subject, to)
    console.print(
        f"{kind_name} {subject}: readers now see version {info.number} ({info.row_count:,} rows)"
    )
    # the versions rolled back past are withdrawn for good (410 Gone), and audited
    gone = sorted(set(store.withdrawals.of(kind_name, subject)) - before)
    if gone:
        audit_withdrawal(
            store, kind_name, subject, gone, f"rolled back to version {to}", "rollback"
        )
        console.print(f"withdrawn: version {', '.join(map(str, gone))} (410 Gone from now on)")


def runs(
    subject: Annotated[
        str | None, typer.Option("--subject", help="only runs of this resource/release")
    ] = None,
    status: StatusOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 30,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest pipeline runs with their outcome.

    Example: onesource runs --subject population_register --limit 5
    """
    from rich.table import Table

    from onesource.store import Store

    store = Store.open()
    store.reap_stale_runs()
    rows = store.runs(subject, limit, RunStatus(status).value if status else None)
    if subject and not rows and not store.runs(subject, 1):
        _require_any_subject(subject)
    if as_json:
        typer.echo(
            json.dumps([r.__dict__ for r in rows], default=str, ensure_ascii=False, indent=2)
        )
        return
    table = Table("run", "kind", "subject", "status", "started", "read", "good", "quarantined")
    table.add_column("unparsable")
    table.add_column("error")
    # ids are printed whole: `quality report --run` takes them (or a unique prefix)
    table.columns[0].no_wrap = True
    table.columns[0].min_width = max((len(r.id) for r in rows), default=3)
    colors = {
        "succeeded": "green",
        "failed": "red",
        "rejected": "yellow",
        "killed": "red",
        "running": "cyan",
    }
    unparsable = _unparsable(store, rows)
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
            _n(unparsable.get(r.id)),
            (r.error_message or "")[:60],
        )
    console.print(table)


def _unparsable(store: object, rows: list) -> dict[str, int]:  # type: ignore[type-arg]
    """Unparsable rows per checked run, from the quality results (the runs table has none)."""
    found: dict[str, int] = {}
    wanted = {r.id for r in rows if r.kind in ("ingest", "push")}
    for subject in sorted({r.subject for r in rows if r.id in wanted}):
        for q in store.quality(subject, 200):  # type: ignore[attr-defined]
            if q["run_id"] in wanted:
                found[q["run_id"]] = int((q["summary"] or {}).get("unparsed_rows") or 0)
    return found


def _require_any_subject(name: str) -> None:
    from onesource.cli.common import known_subjects
    from schemas.errors import NotFoundError

    known = [n for kind in Kind for n in known_subjects(kind.value)]
    if name not in known:
        raise NotFoundError("resource, release or base entity", name, known)


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
    for key in report.aborted_uploads:  # S3: parts of a file a killed writer never finished
        aborted = "would abort" if dry_run else "aborted"
        console.print(f"{aborted} the incomplete upload of {key}", highlight=False)
    console.print(
        f"{verb} {len(report.removed)} folder(s); kept {len(report.kept_running)} of running runs"
    )
