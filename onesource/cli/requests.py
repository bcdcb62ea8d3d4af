"""``onesource request list|show|answer|assign``: departments answer the public's data
requests (数据需求) and problem reports (数据纠错) filed on the portal."""

from __future__ import annotations

import getpass
import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from onesource.cli.common import console

if TYPE_CHECKING:
    from onesource.store import Store

app = typer.Typer(
    help="Data requests and problem reports from the portal, answered by departments.\n\n"
    "Example: onesource request list --department health --overdue",
    no_args_is_help=True,
)


class Answer(StrEnum):
    """How a department answers (``--status``)."""

    accepted = "accepted"
    rejected = "rejected"
    published = "published"


class State(StrEnum):
    """A request's state (``list --status``)."""

    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"
    published = "published"


ReqId = Annotated[str, typer.Argument(help="request id (rq_...) from 'request list'")]
By = Annotated[
    str | None, typer.Option("--by", help="who answers (recorded and audited; default: $USER)")
]
AsJson = Annotated[bool, typer.Option("--json", help="print as JSON")]


def _store() -> Store:
    from onesource.store import Store

    return Store.open()


def _catalog() -> Any:
    from onesource.catalog.compiled import load_compiled
    from onesource.settings import get_settings

    return load_compiled(get_settings().catalog)


# control characters (but newline and tab) shown as \xNN: a request is a stranger's text,
# and an escape sequence in it must not drive the officer's terminal
_SHOWN = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if c not in (9, 10)}


def _line(r: dict[str, Any]) -> str:
    return _raw_line(r).translate(_SHOWN)


def _raw_line(r: dict[str, Any]) -> str:
    flag = "  OVERDUE" if r["overdue"] else ""
    about = f"  dataset {r['dataset']}" + (f" ({r['location']})" if r["location"] else "")
    head = (
        f"{r['id']}  {r['kind']:<7}  {r['status']:<9}  {r['department'] or '(unassigned)'}  "
        f"due {r['due_at'][:10]}{flag}  {r['email'] or '-'}"
        f"{about if r['kind'] == 'problem' else ''}"
    )
    body = f"\n    {r['text']}"
    if r["purpose"]:
        body += f"\n    purpose: {r['purpose']}"
    if r["answer"]:
        body += f"\n    answer ({r['answered_by']}, {r['answered_at'][:10]}): {r['answer']}"
    return head + body


@app.command("list")
def list_cmd(
    department: Annotated[
        str | None,
        typer.Option("--department", help="this department's (and the unassigned) requests"),
    ] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="only unanswered past their deadline; exit 1 if any")
    ] = False,
    status: Annotated[State | None, typer.Option("--status", help="only this state")] = None,
    as_json: AsJson = False,
) -> None:
    """List requests and reports, oldest first; unanswered ones past their due date are OVERDUE.

    With --overdue the command exits 1 when it lists any (for a daily reminder job).

    Example: onesource request list --department health --overdue
    """
    from onesource.web.portal.feedback import listing

    rows = listing(_store(), department, overdue=overdue, status=status.value if status else None)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:
        console.print("no overdue requests" if overdue else "no requests", highlight=False)
    for r in rows if not as_json else []:
        console.print(_line(r), highlight=False, markup=False)
    if overdue and rows:
        raise typer.Exit(1)


@app.command("show")
def show_cmd(req_id: ReqId, as_json: AsJson = False) -> None:
    """One request or report, with the requester's contact (for the department only).

    Example: onesource request show rq_Q3v9...
    """
    from onesource.web.portal.feedback import get

    row = get(_store(), req_id)
    if as_json:
        typer.echo(json.dumps(row, indent=2, ensure_ascii=False))
    else:
        console.print(_line(row), highlight=False, markup=False)


@app.command("answer")
def answer_cmd(
    req_id: ReqId,
    text: Annotated[str, typer.Option("--text", help="the answer, published on /requests")],
    status: Annotated[
        Answer,
        typer.Option(
            "--status",
            help="accepted (will publish / will correct), rejected (say why in --text), "
            "published (now in --dataset / correction published)",
        ),
    ] = Answer.accepted,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help="the dataset that now holds the data (with published)"),
    ] = None,
    department: Annotated[
        str | None,
        typer.Option(
            "--department", help="the answering department; refuses another department's request"
        ),
    ] = None,
    by: By = None,
) -> None:
    """Answer a request or report; the answer is public on /requests from now on (audited).

    Example: onesource request answer rq_Q3v9... --status published --dataset grid_events_open --text "已按月开放"
    """
    from onesource.web.portal.feedback import answer

    info = answer(
        _store(),
        _catalog(),
        req_id,
        text=text,
        status=status.value,
        by=by or getpass.getuser(),
        department=department,
        dataset=dataset,
    )
    where = f" ({info['answer_dataset']})" if info["answer_dataset"] else ""
    console.print(f"{info['status']} {req_id}{where}", highlight=False, markup=False)


@app.command("assign")
def assign_cmd(
    req_id: ReqId,
    department: Annotated[
        str, typer.Option("--department", help="the department that holds the data")
    ],
    by: By = None,
) -> None:
    """Route a data request to the department that answers it (audited).

    Example: onesource request assign rq_Q3v9... --department grid
    """
    from onesource.web.portal.feedback import assign

    info = assign(_store(), _catalog(), req_id, department=department, by=by or getpass.getuser())
    console.print(f"assigned {req_id} to {info['department']}", highlight=False, markup=False)
