"""Access requests and grants: a department asks for named conditional fields of
a resource, with purpose, legal basis and period; the owner approves or denies
within 10 working days; an approval yields a grant that expires or is revoked.

Every lookup by id is scoped to the caller's department: an id that belongs to
others answers exactly like an id that does not exist.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from cachetools import TTLCache

from onesource.exchange.errors import ConflictError, InvalidRequestError, UnknownError
from onesource.exchange.policy import field_classes, requestable_fields
from onesource.metrics import CACHE_HIT, CACHE_MISS
from onesource.store.db import session
from onesource.store.exchange_models import AccessRequest, Grant
from onesource.store.records import new_id, utcnow
from schemas.catalog import Catalog
from schemas.vocab import ShareClass


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days (Saturdays and Sundays skipped)."""
    out = start
    left = days
    while left > 0:
        out += timedelta(days=1)
        if out.weekday() < 5:
            left -= 1
    return out


@dataclass(frozen=True)
class GrantInfo:
    id: str
    request_id: str
    department: str
    owner: str
    resource: str
    fields: list[str]
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None
    status: str  # active | expired | revoked


@dataclass(frozen=True)
class RequestInfo:
    id: str
    requester: str
    owner: str
    resource: str
    fields: list[str]
    purpose: str
    legal_basis: str
    period_days: int
    status: str
    requested_at: datetime
    due_at: datetime
    overdue: bool
    decided_at: datetime | None
    decided_by: str | None
    note: str | None
    grant: GrantInfo | None = None


def _grant_info(row: Grant, owner: str, now: datetime) -> GrantInfo:
    if row.revoked_at is not None:
        status = "revoked"
    elif row.valid_until <= now:
        status = "expired"
    else:
        status = "active"
    return GrantInfo(
        row.id,
        row.request_id,
        row.department,
        owner,
        row.resource,
        list(row.fields),
        row.valid_from,
        row.valid_until,
        row.revoked_at,
        status,
    )


def _request_info(row: AccessRequest, grant: Grant | None, now: datetime) -> RequestInfo:
    g = _grant_info(grant, row.owner, now) if grant is not None else None
    status = row.status
    if status == "approved" and g is not None and g.status != "active":
        status = g.status
    return RequestInfo(
        row.id,
        row.requester,
        row.owner,
        row.resource,
        list(row.fields),
        row.purpose,
        row.legal_basis,
        row.period_days,
        status,
        row.requested_at,
        row.due_at,
        row.status == "pending" and now > row.due_at,
        row.decided_at,
        row.decided_by,
        row.note,
        g,
    )


CACHE_SIZE = 65_536  # (department, resource) pairs


class GrantBook:
    """Requests and grants in the metadata DB, with a short per-process cache of active grants."""

    def __init__(
        self, engine: sa.Engine, cache_seconds: float = 2.0, deadline_days: int = 10
    ) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self.deadline_days = deadline_days
        # (department, resource) -> (fields, earliest expiry, latest expiry): keyed by an
        # authenticated department and a catalog resource, never a raw client value
        self._cache: TTLCache[
            tuple[str, str], tuple[frozenset[str], datetime | None, datetime | None]
        ] = TTLCache(CACHE_SIZE, max(cache_seconds, 1e-6))
        self._lock = threading.Lock()

    def request(
        self,
        catalog: Catalog,
        requester: str,
        resource: str,
        fields: list[str],
        purpose: str,
        legal_basis: str,
        period_days: int,
        now: datetime | None = None,
    ) -> RequestInfo:
        """File a request for conditional ``fields`` of ``resource``."""
        res = catalog.resources.get(resource)
        if res is None:
            raise UnknownError(f"unknown resource {resource!r}", hint="GET /api/exchange/resources")
        if res.provider == requester:
            raise InvalidRequestError(
                f"{requester!r} owns {resource!r} and reads it without a grant"
            )
        classes = field_classes(catalog, res)
        problems = []
        for name in fields:
            if name not in classes:
                problems.append(f"{name!r} is not a field of {resource!r}")
            elif classes[name] is ShareClass.none:
                problems.append(f"{name!r} is not shared (share class none)")
            elif classes[name] is ShareClass.unconditional:
                problems.append(f"{name!r} is shared unconditionally; read it without a grant")
        if problems or not fields:
            hint = "requestable fields: " + (", ".join(requestable_fields(catalog, res)) or "none")
            raise InvalidRequestError("; ".join(problems) or "name at least one field", hint=hint)
        now = now or utcnow()
        row = AccessRequest(
            id=new_id(),
            requester=requester,
            owner=res.provider,
            resource=resource,
            fields=sorted(set(fields), key=list(res.fields).index),
            purpose=purpose,
            legal_basis=legal_basis,
            period_days=period_days,
            status="pending",
            requested_at=now,
            due_at=add_working_days(now, self.deadline_days),
            decided_at=None,
            decided_by=None,
            note=None,
        )
        with session(self.engine, write=True) as ses:
            ses.add(row)
        return _request_info(row, None, now)

    def decide(
        self,
        owner: str,
        request_id: str,
        approve: bool,
        note: str | None = None,
        decided_by: str | None = None,
        now: datetime | None = None,
        fields: list[str] | None = None,
        period_days: int | None = None,
    ) -> RequestInfo:
        """Approve (creating a grant) or deny a pending request addressed to ``owner``.

        An approval may narrow the request: ``fields`` (a subset of those requested) and
        ``period_days`` (at most the period requested); never widen it.
        """
        now = now or utcnow()
        with session(self.engine, write=True) as ses:
            row = ses.get(AccessRequest, request_id)
            if row is None or row.owner != owner:
                raise UnknownError(
                    f"no access request {request_id!r} addressed to {owner!r}",
                    hint="GET /api/exchange/requests/pending lists yours",
                )
            if row.status != "pending":
                raise ConflictError(f"request {request_id!r} is already {row.status}")
            granted = list(row.fields)
            if fields is not None:
                extra = [f for f in fields if f not in row.fields]
                if extra or not fields:
                    raise InvalidRequestError(
                        f"an approval can only narrow the request: {extra or 'no field'} "
                        "not among the fields requested",
                        hint="requested: " + ", ".join(row.fields),
                    )
                granted = [f for f in row.fields if f in fields]
            days = row.period_days
            if period_days is not None:
                if not 0 < period_days <= row.period_days:
                    raise InvalidRequestError(
                        f"period {period_days} days: an approval grants 1 to "
                        f"{row.period_days} days (the period requested)"
                    )
                days = period_days
            status = "approved" if approve else "denied"
            # compare-and-swap on 'pending': two answers at once (PostgreSQL, MariaDB) leave
            # one, never a refused request with the other approver's live grant
            claimed = ses.execute(
                sa.update(AccessRequest)
                .where(AccessRequest.id == row.id, AccessRequest.status == "pending")
                .values(status=status, decided_at=now, decided_by=decided_by or owner, note=note)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise ConflictError(
                    f"request {request_id!r} was answered meanwhile",
                    hint="reload it: another approver answered it",
                )
            row.status = status
            row.decided_at = now
            row.decided_by = decided_by or owner
            row.note = note
            grant = None
            if approve:
                grant = Grant(
                    id=new_id(),
                    request_id=row.id,
                    department=row.requester,
                    resource=row.resource,
                    fields=granted,
                    valid_from=now,
                    valid_until=now + timedelta(days=days),
                    revoked_at=None,
                )
                ses.add(grant)
            info = _request_info(row, grant, now)
        self._forget(info.requester, info.resource)
        return info

    def revoke(self, department: str, grant_id: str, now: datetime | None = None) -> GrantInfo:
        """Revoke a grant; the owner of the resource or the holder may do it."""
        now = now or utcnow()
        with session(self.engine, write=True) as ses:
            row = ses.get(Grant, grant_id)
            req = ses.get(AccessRequest, row.request_id) if row is not None else None
            if row is None or req is None or department not in (row.department, req.owner):
                raise UnknownError(
                    f"no grant {grant_id!r} held by or given by {department!r}",
                    hint="GET /api/exchange/grants lists yours",
                )
            if row.revoked_at is None:
                row.revoked_at = now
                req.status = "revoked"
            info = _grant_info(row, req.owner, now)
        self._forget(info.department, info.resource)
        return info

    def get_request(self, department: str, request_id: str) -> RequestInfo:
        """One request the department filed or must answer."""
        now = utcnow()
        with session(self.engine) as ses:
            row = ses.get(AccessRequest, request_id)
            if row is None or department not in (row.requester, row.owner):
                raise UnknownError(f"no access request {request_id!r} for {department!r}")
            grant = ses.scalars(sa.select(Grant).where(Grant.request_id == row.id)).first()
            return _request_info(row, grant, now)

    def requests(
        self, department: str, role: str = "incoming", status: str | None = None
    ) -> list[RequestInfo]:
        """Requests addressed to (``incoming``) or filed by (``outgoing``) a department."""
        now = utcnow()
        column = AccessRequest.owner if role == "incoming" else AccessRequest.requester
        stmt = sa.select(AccessRequest, Grant).outerjoin(
            Grant, Grant.request_id == AccessRequest.id
        )
        stmt = stmt.where(column == department).order_by(AccessRequest.requested_at.desc())
        if status == "pending":
            stmt = stmt.where(AccessRequest.status == "pending")
        with session(self.engine) as ses:
            out = [_request_info(r, g, now) for r, g in ses.execute(stmt).tuples()]
        return [r for r in out if status in (None, "pending") or r.status == status]

    def grants(self, department: str, role: str = "held") -> list[GrantInfo]:
        """Grants a department holds (``held``) or gave on its resources (``given``)."""
        now = utcnow()
        stmt = sa.select(Grant, AccessRequest.owner).join(
            AccessRequest, Grant.request_id == AccessRequest.id
        )
        if role == "given":
            stmt = stmt.where(AccessRequest.owner == department)
        else:
            stmt = stmt.where(Grant.department == department)
        with session(self.engine) as ses:
            rows = ses.execute(stmt.order_by(Grant.valid_from.desc())).tuples().all()
            return [_grant_info(g, owner, now) for g, owner in rows]

    def active_fields(
        self, department: str, resource: str
    ) -> tuple[frozenset[str], datetime | None]:
        """Fields of ``resource`` that ``department`` holds active grants on, and when the last ends."""
        key = (department, resource)
        with self._lock:  # cache[key], not .get(): one lookup instead of two (hot path)
            try:
                hit = self._cache[key]
            except KeyError:
                hit = None
        if hit is not None:
            fields, earliest, latest = hit
            if earliest is None or earliest > utcnow():
                CACHE_HIT["grants"].inc()
                return fields, latest
        CACHE_MISS["grants"].inc()
        now = utcnow()
        stmt = sa.select(Grant).where(
            Grant.department == department,
            Grant.resource == resource,
            Grant.revoked_at.is_(None),
            Grant.valid_until > now,
            Grant.valid_from <= now,
        )
        with session(self.engine) as ses:
            rows = list(ses.scalars(stmt))
        fields = frozenset(f for r in rows for f in r.fields)
        # cache no longer than the earliest expiry so an expired grant stops at once
        earliest = min((r.valid_until for r in rows), default=None)
        latest = max((r.valid_until for r in rows), default=None)
        if self.cache_seconds > 0:
            with self._lock:
                self._cache[key] = (fields, earliest, latest)
        return fields, latest

    def _forget(self, department: str, resource: str) -> None:
        with self._lock:
            self._cache.pop((department, resource), None)
