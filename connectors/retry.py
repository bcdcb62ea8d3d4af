"""One retry policy (tenacity) for every HTTP call a connector or the exchange SDK makes.

What is retried:
- the request never reached the server (connection refused, DNS, connect timeout):
  always, whatever the method;
- other transport failures (read timeout, connection dropped mid-answer): only for
  idempotent calls, since the server may have acted on the first one;
- answers 429 (always: the server refused before acting) and 502/503/504 (idempotent
  calls only).  Any other 4xx or 5xx is an answer, not an outage, and is not retried.

How long to wait: full-jitter exponential backoff (a random wait between 0 and
``backoff * 2**attempt``, capped at ``max_wait``), or the server's ``Retry-After``
when it sends one, in either RFC 9110 form (delta-seconds or an HTTP-date), capped
at ``max_wait`` too.  Each wait is announced on the ``connectors.retry`` logger
(the CLI prints it; Airflow's task log keeps it).
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import httpx
import tenacity

RETRY_STATUSES = frozenset({429, 502, 503, 504})
log = logging.getLogger("connectors.retry")
T = TypeVar("T")


class RetryableAnswer(Exception):
    """An answer worth another try (429, 502, 503, 504); raised inside the retried call."""

    def __init__(self, response: httpx.Response, reason: str | None = None) -> None:
        super().__init__(reason or f"HTTP {response.status_code}")
        self.response = response
        self.status = response.status_code

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.response, str(self)))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date
    (RFC 9110 10.2.3); a date in the past is 0; absent or unreadable is None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms may come naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def raise_for_retry(response: httpx.Response, idempotent: bool = True) -> httpx.Response:
    """Raise ``RetryableAnswer`` for an answer the policy retries; else return it."""
    status = response.status_code
    if status == 429 or (idempotent and status in RETRY_STATUSES):
        raise RetryableAnswer(response)
    return response


def _retryable(exc: BaseException, idempotent: bool) -> bool:
    if isinstance(exc, RetryableAnswer):
        return True
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return True  # nothing was sent
    return idempotent and isinstance(exc, httpx.TransportError)


def describe_failure(exc: BaseException) -> str:
    """A short reason for the retry message: ``HTTP 503``, ``timed out``, ..."""
    if isinstance(exc, RetryableAnswer):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"connection failed ({type(exc).__name__})"


def _nap(seconds: float) -> None:
    time.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` more tries after the first; waits as described in the module docstring.

    ``sleep`` is injectable (tests record waits instead of sleeping)."""

    retries: int = 3
    backoff: float = 0.5
    max_wait: float = 30.0
    sleep: Callable[[float], None] | None = None

    def wait_for(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableAnswer):
            after = retry_after_seconds(exc.response.headers.get("retry-after"))
            if after is not None:
                return min(self.max_wait, after)
        jitter = tenacity.wait_random_exponential(multiplier=self.backoff, max=self.max_wait)
        return float(jitter(state))

    def call(self, fn: Callable[[], T], *, what: str, idempotent: bool = True) -> T:
        """``fn()`` until it succeeds, fails for good, or the retries are used up; the
        last failure is re-raised as it was (a ``RetryableAnswer`` or an httpx error)."""

        def announce(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s failed: %s; attempt %d of %d, next try in %.1f s",
                what,
                describe_failure(exc) if exc else "?",
                state.attempt_number,
                self.retries + 1,
                wait,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=self.wait_for,
            retry=tenacity.retry_if_exception(lambda e: _retryable(e, idempotent)),
            sleep=self.sleep or _nap,
            before_sleep=announce,
            reraise=True,
        )
        return retrying(fn)
