"""Errors of the exchange, each with a stable ``code`` and the HTTP status it maps to."""

from __future__ import annotations

from schemas.errors import TerminalError, TransientError


class ExchangeError(TerminalError):
    """Root of the exchange's refusals; ``status`` is the HTTP status to answer with."""

    code = "exchange-error"
    status = 400


class AuthRequiredError(ExchangeError):
    code = "auth-required"
    status = 401


class AuthInvalidError(ExchangeError):
    code = "auth-invalid"
    status = 401


class AccessDeniedError(ExchangeError):
    code = "access-denied"
    status = 403


class NotOwnerError(AccessDeniedError):
    code = "not-owner"


class UnknownError(ExchangeError):
    """A named thing does not exist, or does not belong to the caller (same answer)."""

    code = "not-found"
    status = 404


class InvalidRequestError(ExchangeError):
    code = "invalid-request"
    status = 422


class ConflictError(ExchangeError):
    code = "conflict"
    status = 409


class PayloadTooLargeError(ExchangeError):
    code = "payload-too-large"
    status = 413


class RateLimitedError(TransientError):
    """Too many calls; retry after ``retry_after`` seconds."""

    code = "rate-limited"
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, hint=f"retry after {retry_after:.1f} s")
        self.retry_after = retry_after


class UnknownDepartmentError(ExchangeError):
    code = "unknown-department"
    status = 422

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"unknown department {name!r}",
            hint="known departments: " + (", ".join(sorted(known)) or "none"),
        )
