"""``onesource objection list|raise|answer|from-consistency``: 数据异议 for departments
without the console (run on the hub, for the department named by ``--department``).

The same rules as the console (``onesource.exchange.objections``): routed to the
element's source department, answered only by it; every action audited.
"""

from __future__ import annotations

import getpass
import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from onesource.cli.common import console, console_err

app = typer.Typer(
    help="Objections (数据异议) to shared values, answered by the element's source department.\n\n"
    "Example: onesource objection list --department psb --incoming",
    no_args_is_help=True,
)


class Answer(StrEnum):
    """How the source department answers (``--status``)."""

    corrected = "corrected"
    rejected = "rejected"


class State(StrEnum):
    """An objection's state (``list --status``)."""

    open = "open"
    overdue = "overdue"
    corrected = "corrected"
    rejected = "rejected"


Department = Annotated[
    str, typer.Option("--department", "-d", help="the department acting (a catalog code)")
]
By = Annotated[
    str | None, typer.Option("--by", help="who acts (recorded and audited; default: $USER)")
]
AsJson = Annotated[bool, typer.Option("--json", help="print as JSON")]


def _exchange() -> Any:
    from onesource.catalog.compiled import load_compiled
    from onesource.exchange.config import get_exchange_settings
    from onesource.exchange.hub import Exchange
    from onesource.settings import get_settings
    from onesource.store import Store

    root = get_settings().catalog
    return Exchange(Store.open(), lambda: load_compiled(root), get_exchange_settings())


def _known(ex: Any, department: str) -> None:
    known = list(ex.catalog().departments)
    if department not in known:
        raise typer.BadParameter(
            f"unknown department {department!r}; known: {', '.join(sorted(known))}",
            param_hint="--department",
        )


def _audit(ex: Any, department: str, action: str, by: str, info: Any, note: str) -> None:
    from onesource.exchange.audit import AuditRecord

    ex.audit.append(
        AuditRecord(
            department=department,
            endpoint=f"cli objection-{action} ({by[:64]})",
            method="CLI",
            result="ok",
            status_code=200,
            resource=info.resource,
            fields=[info.field],
            purpose=note[:2000],
        )
    )
    ex.audit.anchor()


def _line(o: Any) -> str:
    flag = "  OVERDUE" if o.overdue else ""
    head = (
        f"{o.id}  {o.status:<9}  {o.raised_by} -> {o.source_department}  "
        f"{o.resource}.{o.field} ({o.key_text})  due {o.due_at:%Y-%m-%d}{flag}"
    )
    body = f"\n    {o.reason}"
    if o.observed is not None or o.expected is not None:
        body += f"\n    seen {o.observed!r}, should be {o.expected!r}"
    if o.status != "open":
        version = f" in v{o.corrected_version}" if o.corrected_version else ""
        body += f"\n    {o.status}{version} by {o.answered_by or '-'}: {o.answer or ''}"
    return head + body


@app.command("list")
def list_cmd(
    department: Department,
    incoming: Annotated[
        bool, typer.Option("--incoming", help="only those routed to the department")
    ] = False,
    raised: Annotated[bool, typer.Option("--raised", help="only those it raised")] = False,
    status: Annotated[State | None, typer.Option("--status", help="only this state")] = None,
    as_json: AsJson = False,
) -> None:
    """The department's objections: routed to it and raised by it, newest first.

    Example: onesource objection list --department psb --incoming --status open
    """
    from onesource.exchange.objections import ObjectionBook

    ex = _exchange()
    _known(ex, department)
    role = "incoming" if incoming and not raised else "raised" if raised and not incoming else "all"
    rows = ObjectionBook(ex).list(department, role, status.value if status else None)
    if as_json:
        typer.echo(json.dumps([o.to_dict() for o in rows], ensure_ascii=False, indent=2))
        return
    for o in rows:
        console.print(_line(o), highlight=False, markup=False)
    console.print(f"{len(rows)} objection(s)", highlight=False)


def _key(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--key")
        out[name.strip()] = value
    return out


@app.command("raise")
def raise_cmd(
    department: Department,
    resource: Annotated[str, typer.Argument(help="the resource that is the element's source")],
    field: Annotated[str, typer.Argument(help="the field whose value is wrong")],
    key: Annotated[
        list[str], typer.Option("--key", "-k", help="the record's primary key, FIELD=VALUE")
    ],
    reason: Annotated[str, typer.Option("--reason", help="what is wrong and why")],
    observed: Annotated[str | None, typer.Option("--observed", help="the value seen")] = None,
    expected: Annotated[str | None, typer.Option("--expected", help="what it should be")] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Object to one record's field; it goes to the element's source department.

    Example: onesource objection raise population_register name --department edu --key id_number=339901199001010011 --reason "与学籍登记不一致"
    """
    from onesource.exchange.objections import ObjectionBook

    ex = _exchange()
    _known(ex, department)
    who = by or getpass.getuser()
    info = ObjectionBook(ex).raise_objection(
        department, resource, _key(key), field, reason, observed=observed, expected=expected,
        user=who,
    )  # fmt: skip
    _audit(ex, department, "raise", who, info, f"objection {info.id} -> {info.source_department}")
    _notify(ex, info.id)
    _show(info, as_json, f"raised {info.id}: routed to {info.source_department}")


@app.command("answer")
def answer_cmd(
    department: Department,
    objection_id: Annotated[str, typer.Argument(help="objection id from 'objection list'")],
    status: Annotated[Answer, typer.Option("--status", help="corrected or rejected")],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="the version carrying the correction")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="the reason (needed to reject)")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Answer an objection routed to the department: corrected in a version, or rejected.

    Example: onesource objection answer 01JDX... --department psb --status corrected --version 8
    """
    from onesource.exchange.objections import ObjectionBook

    ex = _exchange()
    _known(ex, department)
    who = by or getpass.getuser()
    info = ObjectionBook(ex).answer(
        department, objection_id.strip().upper(), status.value, text, version=version, user=who
    )
    note = f"objection {info.id} {info.status}" + (
        f" v{info.corrected_version}" if info.corrected_version else ""
    )
    _audit(ex, department, "answer", who, info, note)
    _notify(ex, info.id)
    _show(info, as_json, note)


@app.command("from-consistency")
def from_consistency_cmd(
    department: Department,
    resource: Annotated[str, typer.Argument(help="the department's resource holding the copy")],
    key: Annotated[
        list[str] | None, typer.Option("--key", help="only these keys (default: every sample)")
    ] = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Turn the mismatches of a resource's newest consistency report into objections.

    Each sample where the department's copy disagrees with the source becomes one
    objection to the source department (the value seen: the source's; expected: the copy's).

    Example: onesource objection from-consistency social_assistance --department civil
    """
    from onesource.exchange.errors import ConflictError
    from onesource.exchange.objections import ObjectionBook, mismatches, raise_from

    ex = _exchange()
    _known(ex, department)
    who = by or getpass.getuser()
    found = [m for m in mismatches(ex, department, resource) if not key or m.key in key]
    book = ObjectionBook(ex)
    raised = []
    for m in found:
        try:
            info = raise_from(book, department, m, user=who)
        except ConflictError as exc:  # raised before and still open: nothing to add
            console_err.print(f"skipped {m.key} {m.field}: {exc}", highlight=False, markup=False)
            continue
        _audit(ex, department, "raise", who, info, f"objection {info.id} (consistency)")
        _notify(ex, info.id)
        raised.append(info)
    if as_json:
        typer.echo(json.dumps([o.to_dict() for o in raised], ensure_ascii=False, indent=2))
    else:
        for o in raised:
            console.print(_line(o), highlight=False, markup=False)
        console.print(f"{len(raised)} objection(s) raised", highlight=False)


def _notify(ex: Any, objection_id: str) -> None:
    from onesource.notify.notices import deliver, for_objection

    deliver(for_objection(ex.store.engine, objection_id), ex.store.engine, ex.catalog())


def _show(info: Any, as_json: bool, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(info.to_dict(), ensure_ascii=False, indent=2))
    else:
        console.print(text, highlight=False, markup=False)
