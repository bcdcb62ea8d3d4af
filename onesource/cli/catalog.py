"""``onesource catalog ...``: validate, show, list elements, export, diff, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from onesource.cli.common import catalog_root, console, load_valid_catalog

app = typer.Typer(
    help="Work with the catalog YAML.\n\nExample: onesource catalog validate --json",
    no_args_is_help=True,
)

RootOpt = Annotated[
    Path | None,
    typer.Option("--root", help="catalog folder (default: $ONESOURCE_CATALOG or ./catalog)"),
]


@app.command()
def validate(
    root: RootOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print findings as JSON")] = False,
    junit: Annotated[bool, typer.Option("--junit", help="print findings as JUnit XML")] = False,
) -> None:
    """Check every catalog file and the rules across files; exit 1 on any finding.

    Example: onesource catalog validate --junit > catalog-report.xml
    """
    from onesource.catalog.loader import load_catalog
    from onesource.catalog.report import as_json as to_json
    from onesource.catalog.report import as_junit

    result = load_catalog(catalog_root(root))
    if as_json:
        typer.echo(to_json(result))
    elif junit:
        typer.echo(as_junit(result))
    else:
        for issue in result.issues:
            typer.echo(str(issue))
        c = result.catalog
        summary = (
            f"{result.files} files: {len(c.departments)} departments, {len(c.elements)} elements, "
            f"{len(c.resources)} resources, {len(c.releases)} releases"
        )
        notices = f" ({len(result.notices)} notice(s))" if result.notices else ""
        if result.ok:
            console.print(f"[green]ok[/] {summary}{notices}", highlight=False)
        else:
            console.print(
                f"[red]{len(result.errors)} problem(s)[/] in {summary}{notices}", highlight=False
            )
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def show(
    resource: str,
    root: RootOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the resource as JSON")] = False,
) -> None:
    """Show one resource: metadata, fields, their elements and source departments.

    Example: onesource catalog show population_register
    """
    from rich.table import Table

    from schemas.errors import NotFoundError

    cat = load_valid_catalog(root)
    res = cat.resources.get(resource)
    if res is None:
        raise NotFoundError("resource", resource, list(cat.resources))
    if as_json:
        typer.echo(res.model_dump_json(indent=2))
        return
    dept = cat.departments[res.provider]
    console.print(f"[bold]{res.title}[/] ({res.title_en})  [dim]{res.code}[/]")
    console.print(
        f"provider: {dept.name} ({res.provider})   file: {cat.origin('resource', res.name)}"
    )
    console.print(res.summary)
    console.print(
        f"update cycle: {res.update_cycle.label}   share: {res.share_class.label}"
        f"   open: {res.open_class.label}   connector: {res.connector.type}"
    )
    table = Table("field", "名称", "type", "element", "source", "pii", "key")
    for name, spec in res.fields.items():
        el = cat.field_element(spec)
        pii = cat.field_pii(spec)
        src = el.source if el else "(local)"
        if el and el.id in res.source_of:
            src = f"[bold green]{src} ✓[/]"
        table.add_row(
            name,
            el.name if el else (spec.name or ""),
            cat.field_type(spec).value,
            spec.element or "",
            src,
            pii.value if pii else "[red]unclassified[/]",
            "PK" if name in res.primary_key else ("U" if spec.unique else ""),
        )
    console.print(table)


@app.command()
def elements(
    root: RootOpt = None,
    source: Annotated[
        str | None, typer.Option("--source", help="only elements of this department")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The data dictionary: every element with its ONE source department and resource.

    Example: onesource catalog elements --source psb
    """
    from rich.table import Table

    from schemas.errors import NotFoundError

    cat = load_valid_catalog(root)
    if source and source not in cat.departments:
        raise NotFoundError("department", source, list(cat.departments))
    rows = [e for e in cat.elements.values() if source is None or e.source == source]
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        **e.model_dump(mode="json"),
                        "source_resource": getattr(cat.source_resource(e.id), "name", None),
                    }
                    for e in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    table = Table("element", "名称", "type", "pii", "source", "source resource")
    for e in rows:
        src = cat.source_resource(e.id)
        table.add_row(
            e.id, e.name, e.type.value, e.pii.value, e.source, src.name if src else "[red]none[/]"
        )
    console.print(table)


@app.command()
def export(
    fmt: Annotated[
        str, typer.Option("--format", help="dcat (JSON-LD) | ttl (Turtle) | datapackage | csv")
    ] = "dcat",
    root: RootOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to a file instead of stdout")
    ] = None,
) -> None:
    """Export the catalogue: DCAT-AP (JSON-LD or Turtle), a Frictionless datapackage, or the national template CSV.

    Example: onesource catalog export --format csv -o catalogue.csv
    """
    from onesource.catalog.export import FORMATS, render

    if fmt not in FORMATS:
        raise typer.BadParameter(
            f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", param_hint="--format"
        )
    text = render(load_valid_catalog(root), fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        typer.echo(text, nl=False)


@app.command()
def diff(
    rev: str, root: RootOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """What changed against a git revision: resources, fields, classes, sources.

    Example: onesource catalog diff HEAD~1
    """
    from onesource.catalog.diff import catalog_at
    from onesource.catalog.diff import diff as compute
    from onesource.catalog.loader import load_catalog

    path = catalog_root(root)
    changes = compute(catalog_at(rev, path), load_catalog(path).catalog)
    if as_json:
        typer.echo(json.dumps([c.__dict__ for c in changes], ensure_ascii=False, indent=2))
        return
    for change in changes:
        typer.echo(str(change))
    if not changes:
        console.print(f"no changes against {rev}")


@app.command()
def schema(
    write: Annotated[
        bool, typer.Option("--write", help="rewrite schemas/json/*.schema.json")
    ] = False,
) -> None:
    """Export the JSON Schemas editors use to validate catalog YAML as you type.

    Example: onesource catalog schema --write
    """
    from schemas.jsonschema import SCHEMA_DIR, generate
    from schemas.jsonschema import write as write_all

    if write:
        for path in write_all():
            console.print(f"wrote {path}")
        return
    stale = [
        n
        for n, text in generate().items()
        if not (SCHEMA_DIR / n).exists() or (SCHEMA_DIR / n).read_text(encoding="utf-8") != text
    ]
    if stale:
        console.print(
            f"[red]out of date:[/] {', '.join(stale)}; run onesource catalog schema --write"
        )
        raise typer.Exit(1)
    console.print("JSON Schemas are up to date")
