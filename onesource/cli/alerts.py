"""``onesource alerts check``: what is late or failed, for cron, Airflow and monitoring;
``onesource alerts notify``: the departments' notices still to deliver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from onesource.cli.common import console

app = typer.Typer(
    help="Failure and deadline alerts (e-mail, webhook).\n\nExample: onesource alerts check --send",
    no_args_is_help=True,
)


@app.command("check")
def check(
    send: Annotated[
        bool, typer.Option("--send", help="deliver through the channels in notify.yaml")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="notification config (default $ONESOURCE_HOME/notify.yaml)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Find failed runs, resources past their update cycle and overdue applications/objections.

    Exit 1 when anything is found (0: nothing to report).  With --send each alert goes to
    its department's stewards, the operators and the webhooks; an alert already sent is
    sent again only after repeat_hours.

    Example: onesource alerts check --send
    """
    from onesource.cli.common import load_valid_catalog
    from onesource.notify.checks import check_all
    from onesource.notify.config import load_config
    from onesource.store import Store
    from onesource.store.records import utcnow

    cfg = load_config(config)
    catalog = load_valid_catalog()
    store = Store.open()
    alerts = check_all(store.engine, catalog, utcnow(), cfg.timeliness_factor)
    delivery = None
    if send:
        from onesource.notify.dispatch import dispatch

        delivery = dispatch(alerts, cfg, store.engine, catalog)
    _report("alerts", "alert", alerts, delivery, as_json)
    if delivery is not None and delivery.failed:
        raise typer.Exit(1)
    raise typer.Exit(1 if alerts else 0)


@app.command("notify")
def notify(
    send: Annotated[
        bool, typer.Option("--send", help="deliver through the channels in notify.yaml")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="notification config (default $ONESOURCE_HOME/notify.yaml)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """List (and with --send deliver) the departments' notices not yet delivered.

    New applications (to the owner's approvers), decisions (to the applicant's officers),
    grants expiring within 14 days (to the holder's officers), new and answered objections
    (to the source's approvers, the raiser's officers): each sent once per recipient.  The
    console sends them at once; run this from cron to catch up after a mail outage.
    Exit 1 when a delivery failed.

    Example: onesource alerts notify --send
    """
    from onesource.catalog.compiled import load_compiled
    from onesource.notify.config import load_config
    from onesource.notify.notices import pending_notices
    from onesource.settings import get_settings
    from onesource.store import Store
    from onesource.store.records import utcnow

    cfg = load_config(config)
    store = Store.open()
    notices = pending_notices(store.engine, utcnow())
    delivery = None
    if send:
        from onesource.notify.dispatch import dispatch

        delivery = dispatch(notices, cfg, store.engine, load_compiled(get_settings().catalog))
    _report("notices", "notice", notices, delivery, as_json)
    raise typer.Exit(1 if delivery is not None and delivery.failed else 0)


def _report(plural: str, noun: str, items: list[Any], delivery: Any, as_json: bool) -> None:
    """What was found (alerts or notices) and, after --send, what was delivered."""
    if as_json:
        out: dict[str, Any] = {plural: [a.to_dict() for a in items]}
        if delivery is not None:
            out["delivery"] = delivery.to_dict()
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    for a in items:
        console.print(f"{a.kind:20} {a.subject:32} {a.department or '-':10} {a.title}")
    console.print(f"{len(items)} {noun}(s)")
    if delivery is not None:
        console.print(
            f"sent {len(delivery.sent)}, already sent {len(delivery.skipped)}, "
            f"failed {len(delivery.failed)}"
        )
        for key, target, error in delivery.failed:
            console.print(f"[red]not delivered[/] {key} -> {target}: {error}")
