"""``onesource quality report`` and ``onesource quality scorecard``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from onesource.cli.common import console

app = typer.Typer(
    help="Quality reports and department scorecards.\n\nExample: onesource quality report students",
    no_args_is_help=True,
)


@app.command()
def report(
    resource: str,
    run: Annotated[
        str | None,
        typer.Option(
            "--run", help="a run id or a unique prefix of one (default: the newest checked run)"
        ),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="also write the HTML report to this file")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON report")] = False,
) -> None:
    """Show what failed in a resource's quality check, how many, and examples.

    Example: onesource quality report population_register --html report.html
    """
    from onesource.quality import render_html
    from onesource.store import Store
    from schemas.errors import TerminalError

    store = Store.open()
    results = store.quality(resource, 5_000 if run else 1)
    if not results:
        from onesource.cli.common import require_subject

        require_subject("resource", resource)
        raise TerminalError(
            f"resource {resource!r} has no quality report yet",
            hint=f"run: onesource run ingest {resource}",
        )
    if run:
        results = _match_run(resource, run, results)
    data = results[0]["summary"]
    unparsed = (
        _unparsed_rows(store, resource, results[0]["run_id"]) if data.get("unparsed_rows") else []
    )
    if as_json:
        typer.echo(
            json.dumps({**data, "unparsed": unparsed}, ensure_ascii=False, indent=2, default=str)
        )
    else:
        _print(data)
        for row in unparsed[:20]:
            console.print(
                f"unparsable: {row.get('source')}:{row.get('line')}: {row.get('reason')}",
                highlight=False,
                markup=False,
            )
        if len(unparsed) > 20:
            console.print(f"... and {len(unparsed) - 20:,} more unparsable rows (--json lists all)")
    if html:
        html.write_text(render_html(data), encoding="utf-8")
        console.print(f"wrote {html}")
    raise typer.Exit(1 if data.get("rejected") else 0)


def _unparsed_rows(store: object, resource: str, run_id: str) -> list[dict]:  # type: ignore[type-arg]
    """The run's rows that could not be parsed: source file, line, reason, raw text."""
    rel = f"reports/{resource}/{run_id}/unparsed_rows.json"
    try:
        with store.warehouse.open(rel, "rb") as fh:  # type: ignore[attr-defined]
            rows = json.loads(fh.read())
    except (OSError, ValueError):
        return []
    return rows if isinstance(rows, list) else []


def _match_run(resource: str, run: str, results: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    """The result of run ``run``: a full run id or a unique prefix of one (as `runs` prints)."""
    from schemas.errors import NotFoundError

    wanted = run.strip().upper()  # ULIDs are upper case; accept a pasted lower-case id
    exact = [r for r in results if r["run_id"] == wanted]
    if exact:
        return exact
    matches = [r for r in results if r["run_id"].startswith(wanted)] if wanted else []
    if len(matches) > 1:
        ids = ", ".join(sorted(r["run_id"] for r in matches)[:5])
        raise typer.BadParameter(
            f"{run!r} is the start of {len(matches)} runs of {resource} ({ids}); give more characters",
            param_hint="--run",
        )
    if not matches:
        raise NotFoundError(f"checked run of {resource}", run, [r["run_id"] for r in results[:20]])
    return matches


def _print(d: dict) -> None:  # type: ignore[type-arg]
    from rich.table import Table

    verdict = (
        "[red]rejected[/]: " + str(d.get("rejection_reason"))
        if d.get("rejected")
        else "[green]accepted[/]"
    )
    console.print(
        f"[bold]{d.get('title')}[/] ({d.get('resource')}) run {d.get('run_id')}: {verdict}",
        highlight=False,
    )
    checked, unparsable = d.get("rows_checked", 0), d.get("unparsed_rows", 0) or 0
    # the same four numbers as the ingest summary, `runs` and `versions`
    console.print(
        f"{checked + unparsable:,} read, {0 if d.get('rejected') else d.get('rows_passed', 0):,} good, "
        f"{d.get('rows_quarantined', 0):,} quarantined, {unparsable:,} unparsable"
        + (
            f"  (rejected: nothing committed; {d.get('rows_passed', 0):,} rows passed the checks)"
            if d.get("rejected")
            else ""
        ),
        highlight=False,
    )
    table = Table("check", "severity", "failed", "sample keys")
    for c in d.get("checks", []):
        if c["failed"]:
            table.add_row(
                c["id"], c["severity"], f"{c['failed']:,}", ", ".join(c["sample_keys"][:3])
            )
    console.print(table)
    for e in (d.get("consistency") or {}).get("elements", []):
        if e["disagreements"]:
            console.print(
                f"copy of [bold]{e['element']}[/] held by {e['copy_department']} disagrees with "
                f"{e['source_department']}/{e['source_resource']} on {e['disagreements']:,} of "
                f"{e['compared']:,} rows",
                highlight=False,
            )
            for sample in e.get("samples", [])[:3]:
                console.print(
                    f"  {sample['key']}: copy {sample['copy']!r} ≠ source {sample['source']!r}",
                    highlight=False,
                )


@app.command()
def scorecard(
    as_json: Annotated[bool, typer.Option("--json", help="print the scorecard as JSON")] = False,
) -> None:
    """Compute every department's scorecard (completeness, validity, uniqueness, timeliness, consistency).

    The newest row of each department also counts the objections (数据异议) to its data
    that are open and, of those, overdue.

    Example: onesource quality scorecard --json > scorecard.json
    """
    from rich.table import Table

    from onesource.quality.scorecard import DIMENSIONS, run_scorecard

    card = run_scorecard()
    if as_json:
        typer.echo(json.dumps(card.to_dict(), ensure_ascii=False, indent=2))
        return
    table = Table("department", "day", "resources", *DIMENSIONS, "overall", "objections", "overdue")
    for row in card.rows:
        counts = card.open_objections(row)  # on each department's newest row
        table.add_row(
            row.department,
            row.day,
            str(row.resources),
            *[f"{row.scores[d]:.1%}" if row.scores[d] is not None else "-" for d in DIMENSIONS],
            f"{row.overall:.1%}" if row.overall is not None else "-",
            str(counts["open"]) if counts else "",
            str(counts["overdue"]) if counts else "",
        )
    console.print(table)
