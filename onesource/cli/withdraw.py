"""``onesource release withdraw``: take a published version out of public view for good."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from onesource.cli.common import console


def withdraw(
    name: Annotated[str, typer.Argument(help="the release")],
    version: Annotated[int, typer.Option("--version", min=1, help="the version to withdraw")],
    reason: Annotated[
        str, typer.Option("--reason", help="why; shown on the portal and in the changelog")
    ],
) -> None:
    """Withdraw one published version: 410 Gone on every path, the reason on the portal.

    Withdrawing the current version moves readers to the newest version not withdrawn.
    The withdrawal is recorded in the ledger (as a run) and in the audit log.

    Example: onesource release withdraw business_register_open --version 2 --reason "addresses not generalized"
    """
    from onesource.store import Store

    reason = reason.strip()
    if not reason or len(reason) > 2000:
        raise typer.BadParameter("give a reason (1 to 2000 characters)", param_hint="--reason")
    store = Store.open()
    known = store.withdrawals.get("release", name, version)
    if known is not None:
        console.print(
            f"release {name} version {version} was already withdrawn: {known.reason}",
            highlight=False,
            soft_wrap=True,
        )
        return
    previous, current = store.withdraw("release", name, version, reason)
    audit_withdrawal(store, "release", name, [version], reason, "release withdraw")
    now = f"readers now see version {current}" if current else "no version is public now"
    console.print(
        f"release {name}: version {version} withdrawn ({reason}); {now}",
        highlight=False,
        soft_wrap=True,
    )


def audit_withdrawal(
    store: Any, kind: str, name: str, versions: list[int], reason: str, command: str
) -> None:
    """One audit-log entry for versions taken out of view (withdraw, rollback)."""
    from onesource.exchange.audit import AuditLog, AuditRecord

    AuditLog(store.engine).append(
        AuditRecord(
            department=None,
            endpoint=f"cli: {command} {kind} {name}",
            method="WITHDRAW",
            result="withdrawn",
            status_code=410,
            resource=name,
            fields=[f"v{v}" for v in versions],
            purpose=f"{reason} (by {_who()})",
        )
    )


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
