"""Data requests (数据需求) and dataset problem reports (数据纠错): submit, answer, publish.

Anyone may ask for data that is not published (what, purpose, a contact e-mail,
optionally the department that holds it) or report a problem in a published
dataset (which dataset, optionally the field or rows, what is wrong).  The
department answers within a deadline of working days (``add_working_days``, the
rule consumer applications use): ``accepted`` (will publish / will correct),
``rejected`` (with the reason) or ``published`` (the data is now in a dataset /
the correction is published).  An accepted request may later be published or
rejected; rejected and published are final.

The requester gets an id and a secret token at submission (only the token's hash
is stored) for the status page.  Answered requests are public without contact
details: ``public_listing`` never returns the e-mail, the token hash or who
answered.  Every answer and assignment is written to the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from onesource.exchange.grants import add_working_days
from onesource.store import Store
from onesource.store.db import session
from onesource.store.request_models import PortalRequest
from schemas.errors import TerminalError

ID_PREFIX = "rq_"
# working days to answer: a data request needs a decision on publishing, a problem
# report a check of the data (provinces set 5-10 working days for such answers)
DATA_WORKING_DAYS = 10
PROBLEM_WORKING_DAYS = 5
KINDS = ("data", "problem")
ANSWERS = ("accepted", "rejected", "published")
TEXT_MAX, PURPOSE_MAX, LOCATION_MAX, ANSWER_MAX, EMAIL_MAX = 2000, 1000, 500, 4000, 320
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']+\.[^@\s<>\"']+$")
# C0/C1 controls but tab and newlines, DEL, and the bidi embeddings/overrides/isolates:
# they would reach an officer's terminal (``onesource request list``) as escape sequences,
# make PostgreSQL refuse the row (NUL), or make a text read otherwise than it is
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class RequestError(TerminalError):
    """A bad request, report or answer (missing text, unknown dataset, wrong state...)."""

    code = "portal-request-invalid"


class UnknownRequestError(RequestError):
    code = "portal-request-unknown"

    def __init__(self, req_id: str) -> None:
        super().__init__(f"no data request or problem report {req_id!r}")


@dataclass(frozen=True, slots=True)
class Submitted:
    """What the requester is told once: the id, the secret status token, the deadline."""

    id: str
    token: str
    due_at: datetime
    kind: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _clean(value: str | None, limit: int, what: str, required: bool = False) -> str | None:
    value = (value or "").strip()
    bad = _CONTROL.search(value)
    if bad is not None:
        raise RequestError(
            f"{what} contains a control character (U+{ord(bad.group()):04X}) at position "
            f"{bad.start() + 1}: remove it"
        )
    if required and not value:
        raise RequestError(f"{what} is required")
    if len(value) > limit:
        raise RequestError(f"{what} is too long ({len(value)} characters; at most {limit})")
    return value or None


def _email(value: str | None, required: bool) -> str | None:
    email = _clean(value, EMAIL_MAX, "a contact e-mail", required)
    if email is not None and not _EMAIL.match(email):
        raise RequestError(f"not an e-mail address: {email[:60]!r}")
    return email


def _department(catalog: Any, code: str | None) -> str | None:
    code = (code or "").strip() or None
    if code is not None and code not in catalog.departments:
        known = ", ".join(sorted(catalog.departments))
        raise RequestError(f"unknown department {code[:64]!r}; known: {known}")
    return code


def _add(store: Store, kind: str, now: datetime | None, **columns: Any) -> Submitted:
    now = now or datetime.now(UTC)
    req_id = ID_PREFIX + secrets.token_urlsafe(12)
    token = secrets.token_urlsafe(24)
    days = DATA_WORKING_DAYS if kind == "data" else PROBLEM_WORKING_DAYS
    due = add_working_days(now, days)
    with session(store.engine, write=True) as ses:
        ses.add(
            PortalRequest(
                id=req_id,
                kind=kind,
                token_hash=_hash(token),
                status="pending",
                submitted_at=now,
                due_at=due,
                **columns,
            )
        )
    return Submitted(req_id, token, due, kind)


def submit_data_request(
    store: Store,
    catalog: Any,
    *,
    text: str,
    purpose: str,
    email: str,
    department: str | None = None,
    now: datetime | None = None,
) -> Submitted:
    """Record a request for data that is not published; raises ``RequestError`` on bad input."""
    return _add(
        store,
        "data",
        now,
        text=_clean(text, TEXT_MAX, "what data you need", required=True),
        purpose=_clean(purpose, PURPOSE_MAX, "the purpose", required=True),
        email=_email(email, required=True),
        department=_department(catalog, department),
    )


def submit_problem(
    store: Store,
    catalog: Any,
    *,
    dataset: str,
    text: str,
    location: str = "",
    email: str = "",
    now: datetime | None = None,
) -> Submitted:
    """Record a problem in a dataset; its publishing department answers."""
    dataset = (dataset or "").strip()
    if dataset not in catalog.releases:
        raise RequestError(f"no dataset named {dataset[:64]!r}")
    return _add(
        store,
        "problem",
        now,
        dataset=dataset,
        department=catalog.releases[dataset].publisher,
        location=_clean(location, LOCATION_MAX, "the field or rows"),
        text=_clean(text, TEXT_MAX, "what is wrong", required=True),
        email=_email(email, required=False),
    )


def _overdue(row: PortalRequest, now: datetime) -> bool:
    return row.status == "pending" and now > row.due_at


def _public(row: PortalRequest, now: datetime) -> dict[str, Any]:
    """What anyone may see of an answered request (and the requester of their own)."""
    return {
        "id": row.id,
        "kind": row.kind,
        "department": row.department,
        "dataset": row.dataset,
        "location": row.location,
        "text": row.text,
        "purpose": row.purpose,
        "status": row.status,
        "submitted_at": row.submitted_at.isoformat(),
        "due_at": row.due_at.isoformat(),
        "overdue": _overdue(row, now),
        "answered_at": row.answered_at.isoformat() if row.answered_at else None,
        "answer": row.answer,
        "answer_dataset": row.answer_dataset,
    }


def _staff(row: PortalRequest, now: datetime) -> dict[str, Any]:
    return {**_public(row, now), "email": row.email, "answered_by": row.answered_by}


def listing(
    store: Store,
    department: str | None = None,
    *,
    overdue: bool = False,
    status: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Requests and reports for staff (with contacts), oldest first.

    ``department`` also lists the unassigned data requests (someone must pick them up).
    """
    now = now or datetime.now(UTC)
    q = sa.select(PortalRequest).order_by(PortalRequest.submitted_at, PortalRequest.id)
    if department:
        q = q.where(
            sa.or_(PortalRequest.department == department, PortalRequest.department.is_(None))
        )
    if status:
        q = q.where(PortalRequest.status == status)
    if overdue:
        q = q.where(PortalRequest.status == "pending", PortalRequest.due_at < now)
    with session(store.engine) as ses:
        return [_staff(r, now) for r in ses.scalars(q)]


def get(store: Store, req_id: str) -> dict[str, Any]:
    """One request for staff; raises ``UnknownRequestError``."""
    with session(store.engine) as ses:
        row = ses.get(PortalRequest, req_id)
        if row is None:
            raise UnknownRequestError(req_id)
        return _staff(row, datetime.now(UTC))


def public_listing(
    store: Store, kind: str | None = None, limit: int = 200, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Answered requests and reports, newest answer first, without any contact detail."""
    now = now or datetime.now(UTC)
    q = (
        sa.select(PortalRequest)
        .where(PortalRequest.status != "pending")
        .order_by(PortalRequest.answered_at.desc(), PortalRequest.id)
        .limit(limit)
    )
    if kind in KINDS:
        q = q.where(PortalRequest.kind == kind)
    with session(store.engine) as ses:
        return [_public(r, now) for r in ses.scalars(q)]


def open_counts(store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per department (None: not yet assigned): requests awaiting an answer and how many are overdue."""
    now = now or datetime.now(UTC)
    late = sa.case((PortalRequest.due_at < now, 1), else_=0)
    q = (
        sa.select(PortalRequest.department, sa.func.count(), sa.func.sum(late))
        .where(PortalRequest.status == "pending")
        .group_by(PortalRequest.department)
    )
    with session(store.engine) as ses:
        rows = ses.execute(q).all()
    return sorted(
        ({"department": d, "open": int(n), "overdue": int(o or 0)} for d, n, o in rows),
        key=lambda r: r["department"] or "",
    )


def _audit(row: PortalRequest, result: str, note: str, store: Store, via: str) -> None:
    from onesource.exchange.audit import AuditLog, AuditRecord

    AuditLog(store.engine).append(
        AuditRecord(
            department=row.department,
            endpoint=f"portal-request:{row.id}",
            method=via,
            result=result,
            status_code=200,
            resource=(row.answer_dataset or row.dataset or "")[:200] or None,
            fields=[row.kind],
            purpose=note[:2000],
        )
    )


def _locked(ses: Any, req_id: str) -> PortalRequest:
    # locked: two officers answering at once cannot both move the same request
    row: PortalRequest | None = ses.get(PortalRequest, req_id, with_for_update=True)
    if row is None:
        raise UnknownRequestError(req_id)
    return row


def _check_department(row: PortalRequest, department: str | None) -> None:
    if department is not None and row.department not in (None, department):
        raise RequestError(f"request {row.id} is for {row.department}, not {department}")
    if department is None and row.department is None:
        raise RequestError(
            f"request {row.id} names no department yet: answer with --department CODE "
            "or assign it first"
        )


def answer(
    store: Store,
    catalog: Any,
    req_id: str,
    *,
    text: str,
    status: str,
    by: str,
    department: str | None = None,
    dataset: str | None = None,
    via: str = "CLI",
) -> dict[str, Any]:
    """Answer a request (public from now on); ``published`` names the dataset that holds it.

    ``via`` is what the audit entry names as the channel (the CLI, a console).
    """
    if status not in ANSWERS:
        raise RequestError(f"unknown answer status {status!r}; valid: {', '.join(ANSWERS)}")
    clean = _clean(text, ANSWER_MAX, "the answer text", required=True)
    department = _department(catalog, department)
    now = datetime.now(UTC)
    with session(store.engine, write=True) as ses:
        row = _locked(ses, req_id)
        _check_department(row, department)
        if row.status not in ("pending", "accepted"):
            raise RequestError(f"request {req_id} is already {row.status} (final)")
        if row.status == "accepted" and status == "accepted":
            raise RequestError(f"request {req_id} is already accepted: publish or reject it")
        target = (dataset or "").strip() or (row.dataset if status == "published" else None)
        if status == "published" and not target:
            raise RequestError("'published' needs --dataset NAME: the dataset that now holds it")
        if target is not None and target not in catalog.releases:
            raise RequestError(f"no dataset named {target[:64]!r} in the catalog")
        row.department = row.department or department
        row.status, row.answer, row.answer_dataset = status, clean, target
        row.answered_at, row.answered_by = now, by
        info = _staff(row, now)
    _audit(row, status, f"{status} by {by}: {clean}", store, via)
    return info


def assign(
    store: Store, catalog: Any, req_id: str, *, department: str, by: str, via: str = "CLI"
) -> dict[str, Any]:
    """Route a pending data request to the department that holds the data (audited)."""
    code = _department(catalog, department)
    if code is None:
        raise RequestError("assign needs a department")
    now = datetime.now(UTC)
    with session(store.engine, write=True) as ses:
        row = _locked(ses, req_id)
        if row.status != "pending":
            raise RequestError(f"request {req_id} is already {row.status}")
        if row.kind == "problem":
            raise RequestError(f"problem report {req_id} belongs to its dataset's publisher")
        before, row.department = row.department, code
        info = _staff(row, now)
    _audit(row, "assigned", f"assigned by {by} from {before or '-'} to {code}", store, via)
    return info


def status(store: Store, req_id: str, token: str) -> dict[str, Any] | None:
    """The requester's view of their request; None when the id or token is wrong."""
    if not req_id.startswith(ID_PREFIX) or len(req_id) > 32 or not token or len(token) > 100:
        return None
    with session(store.engine) as ses:
        row = ses.get(PortalRequest, req_id)
        if row is None or not hmac.compare_digest(row.token_hash, _hash(token)):
            return None
        return _public(row, datetime.now(UTC))
