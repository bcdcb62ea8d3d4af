"""``onesource consumer applications|approve|refuse``: the publishing department's
decisions on applications for restricted (有条件开放) data."""

from __future__ import annotations

import getpass
import json
from typing import TYPE_CHECKING, Annotated

import typer

from onesource.cli.common import console

if TYPE_CHECKING:
    from onesource.store import Store

app = typer.Typer(
    help="Applications for restricted data, decided by the publishing department.\n\n"
    "Example: onesource consumer applications --department health",
    no_args_is_help=True,
)

AppId = Annotated[str, typer.Argument(help="application id (ca_...) from 'consumer applications'")]
By = Annotated[
    str | None, typer.Option("--by", help="who decides (recorded and audited; default: $USER)")
]
AsDept = Annotated[
    str | None,
    typer.Option("--department", help="the deciding department; must publish the datasets"),
]


def _store() -> Store:
    from onesource.store import Store

    return Store.open()


def _check_department(store: Store, app_id: str, department: str | None) -> None:
    from onesource.web.portal.applications import ApplicationError, get

    row = get(store, app_id)  # unknown id: exit 1
    if department is not None and row["department"] != department:
        raise ApplicationError(
            f"application {app_id} is for datasets of {row['department']}, not {department}"
        )


@app.command("applications")
def applications_cmd(
    department: Annotated[
        str | None, typer.Option("--department", help="only this publishing department")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """List applications, oldest first; pending ones past their due date are OVERDUE.

    Example: onesource consumer applications --department health
    """
    from onesource.web.portal.applications import listing

    rows = listing(_store(), department)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        console.print("no applications")
    for a in rows:
        flag = "  OVERDUE" if a["overdue"] else ""
        console.print(
            f"{a['id']}  {a['status']:<8}  {a['department']}  due {a['due_at'][:10]}{flag}  "
            f"{a['name']} ({a['organisation']}, {a['email']})  {', '.join(a['datasets'])}\n"
            f"    purpose: {a['purpose']}",
            highlight=False,
            markup=False,
        )


@app.command("approve")
def approve_cmd(
    app_id: AppId,
    datasets: Annotated[
        str | None,
        typer.Option("--datasets", help="grant only these (comma-separated; default: all asked)"),
    ] = None,
    by: By = None,
    department: AsDept = None,
) -> None:
    """Approve an application: a key is issued for the granted datasets only.

    The key is printed once here and shown once on the applicant's status page.

    Example: onesource consumer approve ca_Xy12... --datasets appointments_research
    """
    from onesource.web.portal.applications import approve

    store = _store()
    _check_department(store, app_id, department)
    wanted = [d.strip() for d in datasets.split(",") if d.strip()] if datasets else None
    key, info = approve(store, app_id, by=by or getpass.getuser(), datasets=wanted)
    console.print(
        f"approved {app_id} for {', '.join(info['granted'])}; the key (not shown again):",
        highlight=False,
        markup=False,
    )
    typer.echo(key)


@app.command("refuse")
def refuse_cmd(
    app_id: AppId,
    reason: Annotated[str, typer.Option("--reason", help="shown to the applicant")],
    by: By = None,
    department: AsDept = None,
) -> None:
    """Refuse an application with a reason; no key is issued.

    Example: onesource consumer refuse ca_Xy12... --reason "purpose does not need row data"
    """
    from onesource.web.portal.applications import refuse

    store = _store()
    _check_department(store, app_id, department)
    refuse(store, app_id, by=by or getpass.getuser(), reason=reason)
    console.print(f"refused {app_id}", highlight=False)
