"""``onesource user add|list|disable|passwd|email``: people who sign in to the console.

Passwords are read from a prompt (twice) or, for scripts, the first line of standard
input (``--password-stdin``); never from the command line, where ``ps`` and the shell
history would show them.  Every change is written to the audit log.
"""

from __future__ import annotations

import getpass
import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from onesource.cli.common import console

if TYPE_CHECKING:
    from onesource.web.console.accounts import AccountBook

app = typer.Typer(
    help="Console accounts (officers, approvers, stewards, operators).\n\n"
    "Example: onesource user add wang.li --department edu --role officer",
    no_args_is_help=True,
)


class Role(StrEnum):
    officer = "officer"
    approver = "approver"
    steward = "steward"
    operator = "operator"


Name = Annotated[str, typer.Argument(help="account name (what the person types to sign in)")]
Stdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="read the password from the first line of stdin"),
]


def _book() -> AccountBook:
    from onesource.store import Store
    from onesource.web.console.accounts import AccountBook

    return AccountBook(Store.open().engine)


def _password(stdin: bool) -> str:
    from onesource.web.console.accounts import read_password_stdin

    if stdin:
        return read_password_stdin(sys.stdin)
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        console.print("Error: the passwords differ", highlight=False)
        raise typer.Exit(1)
    return first


def _audit(action: str, name: str, department: str | None) -> None:
    from onesource.exchange.audit import AuditLog, AuditRecord
    from onesource.store import Store

    log = AuditLog(Store.open().engine)
    log.append(
        AuditRecord(
            department=department,
            endpoint=f"cli user {action} ({name})",
            method="CLI",
            result="ok",
            status_code=0,
        )
    )
    log.anchor()


def _departments() -> list[str]:
    from onesource.catalog.compiled import load_compiled
    from onesource.settings import get_settings

    return list(load_compiled(get_settings().catalog).departments)


@app.command("add")
def add(
    name: Name,
    role: Annotated[
        list[Role], typer.Option("--role", help="officer|approver|steward|operator (repeatable)")
    ],
    department: Annotated[
        str | None, typer.Option("--department", help="department code (officers, approvers)")
    ] = None,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="the name shown in the console")
    ] = None,
    password_stdin: Stdin = False,
) -> None:
    """Create an account.  Example: onesource user add wang.li --department edu --role officer"""
    from onesource.web.console.accounts import check_password, check_roles

    roles = [r.value for r in role]
    check_roles(roles, department, None)  # cheap checks first, before the catalog and the DB
    known = _departments() if department else None
    check_roles(roles, department, known)
    password = _password(password_stdin)
    check_password(password)
    account = _book().add(
        name,
        roles,
        department=department,
        password=password,
        display_name=display_name,
        known_departments=known,
    )
    _audit("add", account.name, account.department)
    console.print(
        f"added {account.name} ({', '.join(account.roles)}"
        + (f" of {account.department}" if account.department else "")
        + ")",
        highlight=False,
    )


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False) -> None:
    """Every account.  Example: onesource user list --json"""
    accounts = _book().list()
    if as_json:
        rows = [
            {
                "name": a.name,
                "department": a.department,
                "roles": list(a.roles),
                "active": a.active,
                "sso": a.sso,
                "created_at": a.created_at.isoformat(),
            }
            for a in accounts
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not accounts:
        console.print("no accounts (add one: onesource user add NAME --role ...)")
        return
    for a in accounts:
        state = "active" if a.active else "disabled"
        dept = a.department or "-"
        console.print(f"{a.name}\t{dept}\t{','.join(a.roles)}\t{state}", highlight=False)


@app.command("disable")
def disable(name: Name) -> None:
    """Disable an account; its sessions end at once.  Example: onesource user disable wang.li"""
    account = _book().disable(name)
    _audit("disable", account.name, account.department)
    console.print(f"disabled {account.name}", highlight=False)


@app.command("passwd")
def passwd(name: Name, password_stdin: Stdin = False) -> None:
    """Set a new password; the account's sessions end.  Example: onesource user passwd wang.li"""
    book = _book()
    book.get(name)  # an unknown name fails before the prompt
    account = book.set_password(name, _password(password_stdin))
    _audit("passwd", account.name, account.department)
    console.print(f"password changed for {account.name}", highlight=False)


@app.command("email")
def email(
    name: Name,
    address: Annotated[str, typer.Argument(help="where notices go; '-' removes the address")],
) -> None:
    """Set the e-mail address that gets the account's notices (applications, objections).

    Example: onesource user email wang.li wang.li@edu.qinghe.example.gov.cn
    """
    from onesource.notify.recipients import set_email

    account = _book().get(name)
    set_email(_book().engine, account.name, None if address == "-" else address)
    _audit("email", account.name, account.department)
    console.print(f"e-mail of {account.name}: {address}", highlight=False, markup=False)
