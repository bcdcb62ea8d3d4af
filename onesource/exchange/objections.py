"""数据异议 (objections): a department says a shared value is wrong; its ONE source answers.

An objection names a resource, a record (its primary key) and a field.  It is routed to
the source department of the field's data element (``Element.source``; a local field's
source is the resource's provider), never to a department a caller names.  It must be
raised on the resource that is the element's source (``source_of``): a copy's value is
its holder's business, the consistency report compares copies with that source.

Who may raise: a department that can read the field (own resource, unconditional, or an
active grant) or that holds a copy of the element in a resource of its own.  The source
department itself may not (it corrects its own data).  Only the source department sees
the objection besides the raiser, and only it answers, before ``due_at`` (working days,
``ONESOURCE_OBJECTION_DEADLINE_WORKING_DAYS``):

- ``corrected`` in version N of the resource: N must be committed and newer than the
  version the objection was raised against; when the record is in version N and the
  objection gave the value it saw, the value must have changed;
- ``rejected`` with a reason.

Answering is a compare-and-swap on ``status = 'open'``: two answers at once leave one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from onesource.exchange.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidRequestError,
    UnknownError,
)
from onesource.exchange.grants import add_working_days
from onesource.store.console_models import Objection
from onesource.store.db import session
from onesource.store.records import new_id, utcnow

STATUSES = ("open", "corrected", "rejected")
MAX_TEXT = 2000


class ObjectionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONESOURCE_OBJECTION_", extra="ignore")

    deadline_working_days: int = Field(
        5, ge=1, le=60, description="working days the source department has to answer"
    )


@lru_cache(maxsize=1)
def get_objection_settings() -> ObjectionSettings:
    return ObjectionSettings()


@dataclass(frozen=True)
class ObjectionInfo:
    """One objection as its raiser and its source department see it."""

    id: str
    raised_by: str
    raised_by_user: str | None
    source_department: str
    resource: str
    record_key: dict[str, Any]
    field: str
    element: str | None
    version: int | None
    observed: str | None
    expected: str | None
    reason: str
    status: str
    raised_at: datetime
    due_at: datetime
    answered_at: datetime | None
    answered_by: str | None
    answer: str | None
    corrected_version: int | None
    overdue: bool

    @property
    def key_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.record_key.items())

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for name in ("raised_at", "due_at", "answered_at"):
            value = out[name]
            out[name] = value.isoformat(timespec="seconds") if value is not None else None
        return out


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _info(row: Objection, now: datetime) -> ObjectionInfo:
    due = _aware(row.due_at)
    assert due is not None
    return ObjectionInfo(
        row.id,
        row.raised_by,
        row.raised_by_user,
        row.source_department,
        row.resource,
        dict(row.record_key or {}),
        row.field,
        row.element,
        row.version,
        row.observed,
        row.expected,
        row.reason,
        row.status,
        _aware(row.raised_at) or now,
        due,
        _aware(row.answered_at),
        row.answered_by,
        row.answer,
        row.corrected_version,
        row.status == "open" and due < now,
    )


# C0/C1 controls but tab and newlines, DEL, bidi embeddings/overrides/isolates: a raiser's
# text reaches the source department's terminal (``onesource objection list``) and mail
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _text(value: str | None, what: str, *, required: bool = False) -> str | None:
    value = (value or "").strip()
    bad = _CONTROL.search(value)
    if bad is not None:
        raise InvalidRequestError(
            f"{what} contains a control character (U+{ord(bad.group()):04X}) at position "
            f"{bad.start() + 1}",
            hint="remove it",
        )
    if not value:
        if required:
            raise InvalidRequestError(f"{what} is empty", hint=f"say {what}")
        return None
    if len(value) > MAX_TEXT:
        raise InvalidRequestError(f"{what} is {len(value)} characters", hint=f"at most {MAX_TEXT}")
    return value


class ObjectionBook:
    """Raise, answer and list objections through the exchange (its catalog, access, store)."""

    def __init__(self, exchange: Any, deadline_days: int | None = None) -> None:
        self.exchange = exchange
        self.engine: sa.Engine = exchange.store.engine
        self.deadline_days = deadline_days or get_objection_settings().deadline_working_days

    # routing

    def route(self, department: str, resource: str, field: str) -> tuple[str, str | None]:
        """(source department, element) of ``resource.field`` for ``department``, or refuse."""
        catalog = self.exchange.catalog()
        res = self.exchange.resource(resource)
        spec = res.fields.get(field)
        if spec is None:
            raise InvalidRequestError(
                f"resource {resource!r} has no field {field!r}",
                hint="fields: " + ", ".join(res.fields),
            )
        element = catalog.field_element(spec)
        if element is not None and element.id not in res.source_of:
            src = catalog.source_resource(element.id)
            raise InvalidRequestError(
                f"{resource}.{field} is a copy of {element.id}, whose source is {element.source}",
                hint=f"raise it on the source resource {src.name}" if src else None,
            )
        source = element.source if element is not None else res.provider
        if source == department:
            raise AccessDeniedError(
                f"{department} is the source of {resource}.{field}",
                hint="correct it in your own data; objections go to another department",
            )
        if not self._may_object(department, res, field, element.id if element else None):
            raise UnknownError(
                f"unknown resource {resource!r}", hint="you neither read this field nor hold a copy"
            )
        return source, element.id if element is not None else None

    def _may_object(self, department: str, res: Any, field: str, element: str | None) -> bool:
        if field in self.exchange.access(department, res).readable:
            return True
        if element is None:
            return False
        catalog = self.exchange.catalog()
        return any(
            r.provider == department and any(s.element == element for s in r.fields.values())
            for r in catalog.resources.values()
        )

    def _readable(self, department: str, resource: str, field: str) -> bool:
        res = self.exchange.resource(resource)
        return field in self.exchange.access(department, res).readable

    def _check_key(self, resource: str, key: dict[str, Any]) -> dict[str, str]:
        res = self.exchange.resource(resource)
        want = list(res.primary_key)
        got = {str(k): str(v).strip() for k, v in key.items()}
        if set(got) != set(want) or not all(got.values()):
            raise InvalidRequestError(
                f"the record key of {resource} is {', '.join(want)}; got "
                + (", ".join(sorted(got)) or "nothing"),
                hint="name every key field with its value, e.g. " + "=..., ".join(want) + "=...",
            )
        for name, value in got.items():
            if len(value) > 200:
                raise InvalidRequestError(f"key {name} is {len(value)} characters long")
        return {k: got[k] for k in want}

    def value(
        self, resource: str, key: dict[str, str], field: str, version: int | None = None
    ) -> tuple[bool, str | None]:
        """(found, value as text) of one record's field in a version (default: current).

        Streamed with the key as a filter (Parquet statistics skip row groups): a large
        resource is not read whole for one record.
        """
        import pyarrow as pa
        import pyarrow.dataset as pads

        data = self.exchange.store.dataset("resource", resource, version)
        expr = None
        for name, want in key.items():
            try:  # compare in the column's own type: no cast of the column, statistics apply
                typed = pa.scalar(want).cast(data.schema.field(name).type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError):
                return False, None  # not a value this key column can hold
            hit = pads.field(name) == typed
            expr = hit if expr is None else expr & hit
        rows = data.to_table(columns=list(dict.fromkeys([*key, field])), filter=expr)
        if not rows.num_rows:
            return False, None
        value = rows.column(field)[0].as_py()
        return True, None if value is None else str(value)

    # actions

    def raise_objection(
        self,
        department: str,
        resource: str,
        key: dict[str, Any],
        field: str,
        reason: str,
        *,
        observed: str | None = None,
        expected: str | None = None,
        user: str | None = None,
        now: datetime | None = None,
    ) -> ObjectionInfo:
        """File an objection, routed to the source department of ``resource.field``."""
        now = now or utcnow()
        source, element = self.route(department, resource, field)
        record = self._check_key(resource, key)
        reason_text = _text(reason, "the reason", required=True)
        assert reason_text is not None
        version = self.exchange.current_version(resource)
        if version is None:
            raise InvalidRequestError(f"resource {resource!r} has no data yet")
        if self._readable(department, resource, field):
            found, current = self.value(resource, record, field, version)
            if not found:
                raise InvalidRequestError(
                    f"no record {', '.join(f'{k}={v}' for k, v in record.items())} "
                    f"in {resource} v{version}"
                )
            observed = current  # what the hub holds, not what a form claims
        self._refuse_duplicate(department, resource, record, field)
        row = Objection(
            id=new_id(),
            raised_by=department,
            raised_by_user=user,
            source_department=source,
            resource=resource,
            record_key=record,
            field=field,
            element=element,
            version=version,
            observed=_text(observed, "the observed value"),
            expected=_text(expected, "the expected value"),
            reason=reason_text,
            status="open",
            raised_at=now,
            due_at=add_working_days(now, self.deadline_days),
            answered_at=None,
            answered_by=None,
            answer=None,
            corrected_version=None,
        )
        with session(self.engine, write=True) as ses:
            ses.add(row)
        return _info(row, now)

    def _refuse_duplicate(
        self, department: str, resource: str, record: dict[str, str], field: str
    ) -> None:
        """One open objection per department, record and field (a second adds nothing)."""
        with session(self.engine) as ses:
            open_ = ses.execute(
                sa.select(Objection.id, Objection.record_key).where(
                    Objection.raised_by == department,
                    Objection.resource == resource,
                    Objection.field == field,
                    Objection.status == "open",
                )
            ).all()
        same = next((oid for oid, key in open_ if dict(key or {}) == record), None)
        if same is not None:
            raise ConflictError(
                f"objection {same} on this record and field is still open",
                hint="wait for its answer, due by its deadline (console: 数据异议)",
            )

    def answer(
        self,
        department: str,
        objection_id: str,
        status: str,
        text: str | None,
        *,
        version: int | None = None,
        user: str | None = None,
        now: datetime | None = None,
    ) -> ObjectionInfo:
        """The source department answers: ``corrected`` in ``version``, or ``rejected``."""
        now = now or utcnow()
        current = self.get(department, objection_id)
        if current.source_department != department:
            # the raiser sees its objection but never answers it
            raise AccessDeniedError(
                f"objection {objection_id} is answered by {current.source_department}",
                hint="only the source department of the element answers",
            )
        if status not in ("corrected", "rejected"):
            raise InvalidRequestError(
                f"unknown answer {status!r}", hint="corrected (with a version) or rejected"
            )
        answer_text = _text(text, "the reason", required=status == "rejected")
        version = self._check_correction(current, version) if status == "corrected" else None
        with session(self.engine, write=True) as ses:
            done = ses.execute(
                sa.update(Objection)
                .where(
                    Objection.id == objection_id,
                    Objection.source_department == department,
                    Objection.status == "open",
                )
                .values(
                    status=status,
                    answer=answer_text,
                    answered_at=now,
                    answered_by=user,
                    corrected_version=version,
                )
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                raise ConflictError(
                    f"objection {objection_id} is already answered",
                    hint="reload it: someone answered it meanwhile",
                )
        return self.get(department, objection_id, now=now)

    def _check_correction(self, obj: ObjectionInfo, version: int | None) -> int:
        from onesource.store.errors import VersionNotFoundError

        if version is None:
            raise InvalidRequestError(
                "a correction names the version that carries it", hint="corrected in version N"
            )
        try:
            self.exchange.store.version("resource", obj.resource, version)
        except VersionNotFoundError:
            raise InvalidRequestError(
                f"{obj.resource} has no version {version}",
                hint="commit the corrected data first (ingest or push), then answer",
            ) from None
        if obj.version is not None and version <= obj.version:
            raise InvalidRequestError(
                f"version {version} is not newer than v{obj.version}, which the objection "
                "was raised against",
                hint="a correction is a newer version",
            )
        found, value = self.value(obj.resource, obj.record_key, obj.field, version)
        if found and obj.observed is not None and value == obj.observed:
            raise InvalidRequestError(
                f"{obj.field} of {obj.key_text} is still {value!r} in version {version}",
                hint="answer with the version that changed it, or reject with a reason",
            )
        return version

    # reading

    def get(self, department: str, objection_id: str, now: datetime | None = None) -> ObjectionInfo:
        """One objection raised by or routed to ``department``; others' answer 404."""
        now = now or utcnow()
        with session(self.engine) as ses:
            row = ses.scalars(
                sa.select(Objection).where(
                    Objection.id == objection_id,
                    sa.or_(
                        Objection.raised_by == department,
                        Objection.source_department == department,
                    ),
                )
            ).first()
            if row is None:
                raise UnknownError(f"unknown objection {objection_id!r}")
            return _info(row, now)

    def list(
        self,
        department: str | None,
        role: str = "incoming",
        status: str | None = None,
        now: datetime | None = None,
    ) -> list[ObjectionInfo]:
        """``incoming`` (routed to), ``raised`` (by) or ``all`` (both) of ``department``.

        ``department`` None: every objection (stewards and operators).
        """
        now = now or utcnow()
        query = sa.select(Objection).order_by(Objection.raised_at.desc(), Objection.id.desc())
        if department is not None:
            cond = {
                "incoming": Objection.source_department == department,
                "raised": Objection.raised_by == department,
            }.get(role)
            if cond is None:
                cond = sa.or_(
                    Objection.source_department == department, Objection.raised_by == department
                )
            query = query.where(cond)
        if status == "overdue":
            query = query.where(Objection.status == "open", Objection.due_at < now)
        elif status is not None:
            query = query.where(Objection.status == status)
        with session(self.engine) as ses:
            return [_info(r, now) for r in ses.scalars(query.limit(1000))]


@dataclass(frozen=True)
class Mismatch:
    """One disagreement of a department's copy with the source (a consistency sample)."""

    copy_resource: str
    element: str
    field: str
    source_department: str
    source_resource: str
    source_field: str
    key_field: str
    key: str
    copy_value: str | None
    source_value: str | None


def mismatches(exchange: Any, department: str, resource: str | None = None) -> list[Mismatch]:
    """The samples of the newest consistency reports of ``department``'s copies.

    Read from the hub's stored quality results, never from a caller: an objection made
    from one carries the values the hub compared.  The source's value is left out
    (None) where ``department`` may not read the source field: no grant, no value.
    """
    catalog = exchange.catalog()
    if resource is not None and exchange.resource(resource).provider != department:
        raise AccessDeniedError(
            f"{resource} is not {department}'s", hint="the copy's department raises its mismatches"
        )
    out = []
    seen: set[tuple[str, str, str]] = set()
    for res in sorted(catalog.resources.values(), key=lambda r: r.name):
        if res.provider != department or resource not in (None, res.name):
            continue
        results = exchange.store.quality(res.name, 1)
        report = ((results[0]["summary"] or {}).get("consistency") or {}) if results else {}
        for e in report.get("elements") or []:
            src = catalog.source_resource(e["element"])
            if src is None or len(src.primary_key) != 1:
                continue
            src_field = next((f for f, s in src.fields.items() if s.element == e["element"]), None)
            if src_field is None:
                continue
            # the sample's source value is the source department's data: shown (and recorded
            # as the value seen) only where this department may read that field
            readable = src_field in exchange.access(department, src).readable
            for sample in e.get("samples") or []:
                copy, source = sample.get("copy"), sample.get("source")
                if (res.name, e["element"], str(sample["key"])) in seen:
                    continue  # a key on several rows of the copy (another key part differs)
                seen.add((res.name, e["element"], str(sample["key"])))
                out.append(
                    Mismatch(
                        res.name,
                        e["element"],
                        e["field"],
                        e["source_department"],
                        src.name,
                        src_field,
                        src.primary_key[0],
                        str(sample["key"]),
                        None if copy is None else str(copy),
                        None if source is None or not readable else str(source),
                    )
                )
    return out


def raise_from(
    book: ObjectionBook, department: str, m: Mismatch, user: str | None = None
) -> ObjectionInfo:
    """An objection to the source's value of ``m`` (what the copy holds is expected)."""
    return book.raise_objection(
        department,
        m.source_resource,
        {m.key_field: m.key},
        m.source_field,
        f"与本部门 {m.copy_resource}.{m.field} 的值不一致（一致性报告）/ "
        f"disagrees with our copy {m.copy_resource}.{m.field}",
        observed=m.source_value,
        expected=m.copy_value,
        user=user,
    )
