"""``onesource dept key issue|list|revoke|rotate|signing-secret``, ``onesource dept
require-signing`` and ``onesource audit verify|checkpoint|query``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from onesource.cli.common import console

if TYPE_CHECKING:
    from onesource.exchange.audit import AuditLog
    from onesource.exchange.keys import KeyRing

dept_app = typer.Typer(
    help="Department credentials for the exchange API.\n\nExample: onesource dept key issue edu",
    no_args_is_help=True,
)
key_app = typer.Typer(
    help="Issue, list, rotate and revoke API keys.\n\nExample: onesource dept key list psb",
    no_args_is_help=True,
)
dept_app.add_typer(key_app, name="key")
audit_app = typer.Typer(
    help="The exchange's hash-chained audit log.\n\nExample: onesource audit verify",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(dept_app, name="dept")
    app.add_typer(audit_app, name="audit")


def _ring() -> KeyRing:
    from onesource.exchange.keys import KeyRing
    from onesource.store import Store

    return KeyRing(Store.open().engine)


def _known_department(dept: str) -> None:
    from onesource.cli.common import load_valid_catalog
    from onesource.exchange.errors import UnknownDepartmentError

    catalog = load_valid_catalog()
    if dept not in catalog.departments:
        raise UnknownDepartmentError(dept, list(catalog.departments))


Dept = Annotated[str, typer.Argument(help="department code from catalog/departments.yaml")]


@key_app.command("issue")
def key_issue(dept: Dept) -> None:
    """Issue a new API key; it is printed once and stored only as a hash.

    Example: onesource dept key issue edu
    """
    _known_department(dept)
    issued = _ring().issue(dept)
    console.print(
        f"key for {dept} (prefix {issued.info.prefix}); store it now, it is not shown again:"
    )
    typer.echo(issued.key)


@key_app.command("list")
def key_list(
    dept: Dept,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """List a department's keys (prefix, created, revoked, last used; never the key).

    Example: onesource dept key list psb
    """
    _known_department(dept)
    keys = _ring().list(dept)
    if as_json:
        rows = [
            {
                "id": k.id,
                "prefix": k.prefix,
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            }
            for k in keys
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not keys:
        console.print(f"{dept} has no keys; issue one with: onesource dept key issue {dept}")
    for k in keys:
        state = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}"
        used = f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never"
        console.print(
            f"{k.prefix}  {k.created_at:%Y-%m-%d %H:%M}  {state}  last used {used}", highlight=False
        )


@key_app.command("revoke")
def key_revoke(
    dept: Dept,
    key: Annotated[str, typer.Argument(help="key prefix (or id) from 'dept key list'")],
) -> None:
    """Revoke one key at once (other processes notice within the cache delay, 2 s by default).

    Example: onesource dept key revoke edu 3f9a1c2b
    """
    _known_department(dept)
    info = _ring().revoke(dept, key)
    console.print(f"revoked {dept} key {info.prefix}")


@key_app.command("rotate")
def key_rotate(dept: Dept) -> None:
    """Issue a new key and revoke every older active key of the department.

    Example: onesource dept key rotate edu
    """
    _known_department(dept)
    issued, revoked = _ring().rotate(dept)
    console.print(
        f"new key for {dept} (prefix {issued.info.prefix}); revoked: "
        + (", ".join(k.prefix for k in revoked) or "none")
    )
    typer.echo(issued.key)


@key_app.command("signing-secret")
def key_signing_secret(
    dept: Dept,
    key: Annotated[str, typer.Argument(help="key prefix from 'dept key list'")],
) -> None:
    """Print the signing secret of one key (derived from the hub's signing master key).

    Give it to the department with its API key; its client signs requests with it
    (ExchangeClient(..., signing_secret=...)).  Never stored in the metadata DB.

    Example: onesource dept key signing-secret edu 3f9a1c2b
    """
    from onesource.exchange.config import get_exchange_settings
    from onesource.exchange.errors import UnknownError
    from onesource.exchange.signing import master_key, signing_secret_text

    _known_department(dept)
    active = [k for k in _ring().list(dept) if k.active and key in (k.prefix, k.id)]
    if not active:
        raise UnknownError(
            f"department {dept!r} has no active key {key!r}",
            hint=f"list them with: onesource dept key list {dept}",
        )
    typer.echo(signing_secret_text(master_key(get_exchange_settings()), active[0].prefix))


@dept_app.command("require-signing")
def dept_require_signing(
    dept: Dept,
    off: Annotated[bool, typer.Option("--off", help="accept bearer keys alone again")] = False,
) -> None:
    """Require signed requests from a department (or, with --off, stop requiring them).

    Calls without a valid signature are then refused with 401 signature-required.

    Example: onesource dept require-signing edu
    """
    from onesource.exchange.deptauth import DepartmentAuthBook
    from onesource.store import Store

    _known_department(dept)
    DepartmentAuthBook(Store.open().engine).set_require_signature(dept, not off)
    state = "no longer requires" if off else "now requires"
    console.print(f"{dept} {state} signed requests (other hub processes: within 2 s)")


def _audit() -> AuditLog:
    from onesource.exchange.audit import AuditLog
    from onesource.store import Store

    return AuditLog(Store.open().engine)


@audit_app.command("verify")
def audit_verify(
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="SEQ:HASH recorded earlier (optional: signed checkpoints already catch "
            "truncation and rewrites up to the last checkpoint)",
        ),
    ] = None,
    accept_legacy: Annotated[
        int | None,
        typer.Option(
            "--accept-legacy",
            min=0,
            help="the number of entries of the original unkeyed chain (before keyed "
            "chains) you know the log began with; without it such entries are refused",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Walk the keyed chain, hold it against the signed checkpoints; exit 1 on any break.

    Finds altered, deleted, inserted, reordered and renumbered entries and a truncated or
    rewritten tail, from the DB, the chain key and the checkpoints alone.

    Example: onesource audit verify --json
    """
    expected = _parse_head(expect_head) if expect_head is not None else None
    log = _audit()
    check = log.verify(accept_legacy)
    ok, bad, reason = check.ok, check.first_bad_seq, check.reason
    if ok and expected is not None:
        seq, digest = expected
        if check.head_seq is None or check.head_seq < seq:
            ok, bad, reason = (
                False,
                (check.head_seq or 0) + 1,
                f"log ends before seq {seq} (truncated)",
            )
        else:
            entry = log.query(limit=1, seq=seq)
            if not entry or entry[0]["hash"] != digest:
                ok, bad, reason = False, seq, "entry differs from the recorded head"
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": ok,
                    "entries": check.entries,
                    "head_seq": check.head_seq,
                    "head_hash": check.head_hash,
                    "first_bad_seq": bad,
                    "reason": reason,
                    "kind": check.kind if not check.ok else None,
                    "legacy_entries": check.legacy_entries,
                    "checkpoints": check.checkpoints,
                    "last_checkpoint_seq": check.last_checkpoint_seq,
                    "unanchored": check.unanchored,
                    "notes": list(check.notes),
                },
                ensure_ascii=False,
            )
        )
    elif ok:
        console.print(
            f"audit log ok: {check.entries} entries, head {check.head_seq}:{check.head_hash}; "
            f"{check.checkpoints} signed checkpoints, the last at seq {check.last_checkpoint_seq}",
            highlight=False,
        )
        for note in check.notes:
            console.print(f"  note: {note}", highlight=False)
    else:
        console.print(f"[bold red]audit log broken at seq {bad}[/]: {reason}", highlight=False)
    if not ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Verify the chain, then sign a checkpoint of its current head.

    For after a crash left more entries unanchored than a writer would (verify says so):
    the chain itself must verify, else nothing is signed and the exit code is 1.

    Example: onesource audit checkpoint
    """
    log = _audit()
    check = log.verify()
    if not check.ok and check.kind != "unanchored":
        console.print(
            f"[bold red]not anchoring: audit log broken at seq {check.first_bad_seq}[/]: "
            f"{check.reason}",
            highlight=False,
        )
        raise typer.Exit(1)
    if check.head_seq is None:
        console.print("the audit log is empty: nothing to anchor")
        return
    row = log.query(limit=1, seq=check.head_seq)[0]
    log.anchor((check.head_seq, check.head_hash, row["chain"]))
    console.print(f"signed a checkpoint of seq {check.head_seq}:{check.head_hash}", highlight=False)


def _parse_head(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as printed by ``audit verify``: a seq >= 1 and a 64-hex-digit hash."""
    import re

    m = re.fullmatch(r"(\d+):([0-9a-fA-F]{64})", text.strip())
    if m is None or int(m.group(1)) < 1:
        raise typer.BadParameter(
            f"{text!r} is not SEQ:HASH (a seq >= 1, a colon and the 64-hex-digit hash "
            "that onesource audit verify prints as 'head')",
            param_hint="--expect-head",
        )
    return int(m.group(1)), m.group(2).lower()


@audit_app.command("query")
def audit_query(
    department: Annotated[
        str | None, typer.Option("--department", help="caller department")
    ] = None,
    resource: Annotated[str | None, typer.Option("--resource", help="resource name")] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="ISO date or time, e.g. 2026-01-31")
    ] = None,
    result: Annotated[
        str | None,
        typer.Option(
            "--result",
            help="e.g. verify-limit (guessing alerts), auth-failures (per-address summaries)",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON lines")] = False,
) -> None:
    """Show the newest audit entries matching the filters.

    Example: onesource audit query --department edu --resource population_register --since 2026-01-01

    Alerts: onesource audit query --result verify-limit
    """
    from datetime import UTC

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    rows = _audit().query(
        department=department, resource=resource, since=since, limit=limit, result=result
    )
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str, ensure_ascii=False))
        return
    for r in rows:
        fields = ",".join(r["fields"] or [])
        console.print(
            f"{r['seq']:>7} {r['at']:%Y-%m-%d %H:%M:%S} {r['department'] or '-':<8} "
            f"{r['method']:<5} {r['endpoint']} {r['resource'] or ''} [{fields}] "
            f"{r['status_code']} {r['result']} rows={r['row_count']} {r['duration_ms']}ms",
            highlight=False,
        )
