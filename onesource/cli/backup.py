"""``onesource backup DEST`` and ``onesource restore SRC`` (see onesource.ops)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from onesource.cli.common import console, console_err


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)


def backup(
    dest: Annotated[
        Path, typer.Argument(help="archive to write (*.tar.gz, *.tgz, *.tar) or a folder")
    ],
    with_data: Annotated[
        bool,
        typer.Option(
            "--with-data", help="also copy the files of every current version (not only checksums)"
        ),
    ] = False,
    all_versions: Annotated[
        bool,
        typer.Option(
            "--all-versions", help="with --with-data: older versions too (rollback targets)"
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the manifest summary as JSON")
    ] = False,
) -> None:
    """Back up the metadata DB (consistent snapshot), audit checkpoints and a signed manifest.

    Keys are never in the archive: back the key folder up separately (docs/operators.md).

    Example: onesource backup /srv/backups/onesource-2026-11-30.tar.gz --with-data
    """
    from onesource.ops.backup import create_backup

    if all_versions and not with_data:
        raise typer.BadParameter("--all-versions needs --with-data", param_hint="--all-versions")
    data = "all" if all_versions else "current" if with_data else "none"
    result = create_backup(dest, data=data)
    m = result.manifest
    summary = {
        "archive": str(result.path),
        "bytes": result.size,
        "created_at": m.created_at,
        "db_backend": m.db_backend,
        "db_revision": m.db_revision,
        "versions": len(m.versions),
        "data": m.data,
        "audit_head": m.audit_head,
        "notes": result.notes,
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    head = m.audit_head
    console.print(
        f"wrote {result.path} ({result.size:,} bytes): {m.db_backend} DB at revision "
        f"{m.db_revision}, {len(m.current())} current versions "
        f"({'files included' if m.data != 'none' else 'checksums only'}), audit head "
        f"{head['seq'] if head else '-'}",
        highlight=False,
    )
    for note in result.notes:
        console_err.print(note, highlight=False)
    console_err.print(
        "keys are not in the archive: keep a separate backup of the key folder", highlight=False
    )


def restore(
    src: Annotated[Path, typer.Argument(help="a backup archive made by onesource backup")],
    force: Annotated[
        bool,
        typer.Option("--force", help="replace a non-empty target (what is replaced is kept aside)"),
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="change nothing: verify the archive and compare the running deployment with it",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the outcome as JSON")] = False,
) -> None:
    """Restore a backup into the deployment ONESOURCE_* describes (stop the hub first).

    Needs the hub's keys in place (restored from the key backup). Refuses a damaged or
    altered archive, and a non-empty target unless --force. Exit 1 on any problem.

    Example: onesource restore /srv/backups/onesource-2026-11-30.tar.gz
    """
    from onesource.ops import restore as ops

    outcome = ops.check(src) if check else ops.restore(src, force=force)
    audit = outcome.audit
    audit_ok = audit is None or audit.ok
    ok = not outcome.problems and audit_ok
    m = outcome.manifest
    if as_json:
        out: dict[str, Any] = {
            "ok": ok,
            "archive": str(src),
            "created_at": m.created_at,
            "versions": len(m.versions),
            "problems": outcome.problems,
            "notes": outcome.notes,
            "kept_aside": outcome.kept_aside,
            "copied_versions": outcome.copied_versions,
        }
        if audit is not None:
            out["audit"] = {"ok": audit.ok, "entries": audit.entries, "reason": audit.reason}
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        _print(outcome, src, check, ok)
    if not ok:
        raise typer.Exit(1)


def _print(outcome: Any, src: Path, check: bool, ok: bool) -> None:
    m = outcome.manifest
    verb = "checked against" if check else "restored"
    if ok:
        console.print(
            f"{verb} {src} (made {m.created_at}): {len(m.versions)} versions match their checksums",
            highlight=False,
        )
    else:
        console.print(f"[bold red]{verb} {src} with problems:[/]", highlight=False)
    for problem in outcome.problems:
        console.print(f"  problem: {problem}", highlight=False)
    audit = outcome.audit
    if audit is not None:
        state = "ok" if audit.ok else f"BROKEN at seq {audit.first_bad_seq}: {audit.reason}"
        console.print(f"  audit log {state} ({audit.entries} entries)", highlight=False)
    for path in outcome.kept_aside:
        console.print(f"  kept aside: {path}", highlight=False)
    for note in outcome.notes:
        console.print(f"  note: {note}", highlight=False)
