"""Request and response bodies of the exchange API: defined once in ``schemas.exchange``
(the department SDK parses answers with the same models), re-exported for the routes."""

from __future__ import annotations

from schemas.exchange import (
    MAX_CLAIM_VALUE,
    MAX_KEY_VALUE,
    MAX_NAME,
    AccessRequestIn,
    AccessRequestOut,
    ClaimValue,
    DecisionIn,
    ErrorBody,
    ErrorDetail,
    FieldName,
    GrantOut,
    In,
    KeyValue,
    Me,
    Name,
    PushOut,
    ResourceAccessOut,
    RowsOut,
    VerifyIn,
    VerifyOut,
    VerifySource,
)

__all__ = [
    "MAX_NAME",
    "MAX_KEY_VALUE",
    "MAX_CLAIM_VALUE",
    "FieldName",
    "KeyValue",
    "ClaimValue",
    "Name",
    "In",
    "ErrorDetail",
    "ErrorBody",
    "Me",
    "ResourceAccessOut",
    "RowsOut",
    "VerifyIn",
    "VerifySource",
    "VerifyOut",
    "AccessRequestIn",
    "DecisionIn",
    "GrantOut",
    "AccessRequestOut",
    "PushOut",
]
