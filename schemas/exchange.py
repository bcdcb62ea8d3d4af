"""The exchange API's wire models: request and response bodies, defined once.

The hub's routes (``onesource.web.exchange``) declare them, so the OpenAPI schema comes
from them; the department SDK (``connectors.client``) parses every answer with them, so
the two cannot drift.  Response models ignore fields they do not know (a newer hub may
add some); request models forbid them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Field(min_length=1, max_length=200)

MAX_NAME = 200  # a field or element name in a verify key or claim
MAX_KEY_VALUE = 200  # a key value (identifiers are short)
MAX_CLAIM_VALUE = 2000  # a claimed value (addresses, names)
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
KeyValue = Annotated[str, StringConstraints(min_length=1, max_length=MAX_KEY_VALUE)]
ClaimValue = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CLAIM_VALUE)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="stable kebab-case code, e.g. access-denied")
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class Me(BaseModel):
    department: str
    name: str | None = None
    name_en: str | None = None


class ResourceAccessOut(BaseModel):
    name: str
    title: str
    title_en: str
    provider: str
    share_class: str
    share_method: str
    access: str = Field(description="own | unconditional | granted | conditional | none")
    readable_fields: list[str]
    verifiable_fields: list[str]
    lookup_fields: list[str] = Field(
        description="key fields usable in filters and verification keys"
    )
    requestable_fields: list[str] = Field(description="conditional fields a grant can cover")
    field_share: dict[str, str] = Field(description="each field's effective share class")
    grant_until: datetime | None = None
    version: int | None = Field(None, description="current version number, None before any data")


class RowsOut(BaseModel):
    resource: str
    version: int
    fields: list[str]
    offset: int
    total: int = Field(description="rows matching (the whole version when unfiltered)")
    next_cursor: str | None
    rows: list[dict[str, Any]]


class VerifyIn(In):
    resource: str | None = Field(
        None,
        max_length=200,
        description="resource whose fields key/claims name; leave out to name elements "
        "(e.g. person.name), each checked at its source resource",
    )
    key: dict[FieldName, KeyValue] = Field(
        max_length=8,
        description=f'e.g. {{"id_number": "..."}}; names 1-{MAX_NAME} characters, '
        f"values 1-{MAX_KEY_VALUE}",
    )
    claims: dict[FieldName, ClaimValue] = Field(
        max_length=64,
        description=f'e.g. {{"name": "张三"}}; names 1-{MAX_NAME} characters, '
        f"values 1-{MAX_CLAIM_VALUE}",
    )
    purpose: str = Field(
        min_length=1, max_length=500, description="required: why you ask (kept in the audit log)"
    )


class VerifySource(BaseModel):
    resource: str
    version: int


class VerifyOut(BaseModel):
    matches: dict[str, bool] = Field(description="per claimed field: does the source agree?")
    all_match: bool
    found: bool = Field(description="whether a record with this key exists")
    sources: list[VerifySource]


class AccessRequestIn(In):
    resource: str = Field(min_length=1, max_length=200)
    fields: list[str] = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=2000)
    legal_basis: str = Field(min_length=1, max_length=2000)
    period_days: int = Field(ge=1, le=3650)


class DecisionIn(In):
    note: str | None = Field(None, max_length=2000)
    fields: list[str] | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="approve only: grant fewer of the requested fields (never others)",
    )
    period_days: int | None = Field(
        None, ge=1, le=3650, description="approve only: a shorter period than requested"
    )


class GrantOut(BaseModel):
    id: str
    request_id: str
    department: str
    owner: str
    resource: str
    fields: list[str]
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None
    status: str = Field(description="active | expired | revoked")


class AccessRequestOut(BaseModel):
    id: str
    requester: str
    owner: str
    resource: str
    fields: list[str]
    purpose: str
    legal_basis: str
    period_days: int
    status: str = Field(description="pending | approved | denied | revoked | expired")
    requested_at: datetime
    due_at: datetime = Field(description="answer deadline: 10 working days")
    overdue: bool
    decided_at: datetime | None
    decided_by: str | None
    note: str | None
    grant: GrantOut | None = None

    @property
    def grant_id(self) -> str | None:
        """The grant an approval gave, if any."""
        return self.grant.id if self.grant is not None else None


class PushOut(BaseModel):
    id: str
    department: str
    resource: str
    run_id: str | None
    filename: str | None
    format: str
    status: str = Field(description="succeeded | rejected | failed | unchanged")
    created_at: datetime
    rows_read: int | None = None
    rows_good: int | None = None
    rows_quarantined: int | None = None
    error: str | None = None
    version: int | None = None
    quality: dict[str, Any] | None = Field(None, description="the quality report of the run")
