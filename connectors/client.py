"""The client SDK departments use to call the hub's exchange API.

    from connectors.client import ExchangeClient

    with ExchangeClient("https://hub.example", api_key) as hub:
        table = hub.read(
            "population_register", fields=["name"], where={"id_number": "..."}, purpose="入学审核"
        )
        ok = hub.verify(
            {"id_number": "..."}, {"name": "张三"}, resource="population_register", purpose="入学审核"
        )

Every read and verification states its ``purpose`` (required by the share rules; the
hub keeps it in its audit log).

Transient failures are retried by the policy shared with the HTTP source
(``connectors.retry``): connection errors, 429 (honouring ``Retry-After`` as seconds
or an HTTP-date), and 502/503/504 or a dropped answer on idempotent calls, with
jittered exponential backoff; each wait is logged on ``connectors.retry``.  What
remains is raised as a ``TransientError`` or ``TerminalError`` subclass carrying the
server's message.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
import pyarrow as pa
from pydantic import BaseModel, ValidationError

from connectors.retry import RetryableAnswer, RetryPolicy, raise_for_retry, retry_after_seconds
from connectors.signing import sign_headers
from schemas.errors import TerminalError, TransientError
from schemas.exchange import AccessRequestOut, GrantOut, Me, PushOut, ResourceAccessOut, VerifyOut

ARROW_STREAM = "application/vnd.apache.arrow.stream"
M = TypeVar("M", bound=BaseModel)
API = "/api/exchange"


class ExchangeError(TerminalError):
    """The hub refused a call; ``status`` and ``server_code`` say why."""

    code = "exchange-refused"

    def __init__(self, message: str, *, status: int, server_code: str) -> None:
        super().__init__(message)
        self.status = status
        self.server_code = server_code


class ExchangeAuthError(ExchangeError):
    code = "exchange-auth"


class ExchangeAccessDenied(ExchangeError):
    code = "exchange-access-denied"


class ExchangeNotFound(ExchangeError):
    code = "exchange-not-found"


class ExchangeBadAnswer(TerminalError):
    """The hub answered with a body the SDK's wire models do not accept."""

    code = "exchange-bad-answer"


class ExchangeUnavailable(TransientError):
    """The hub could not be reached or failed (5xx) after every retry."""

    code = "exchange-unavailable"


class ExchangeRateLimited(TransientError):
    """Still rate limited after every retry."""

    code = "exchange-rate-limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# the wire models, shared with the hub's routes (``schemas.exchange``); the SDK's own names
ResourceAccess = ResourceAccessOut
AccessRequest = AccessRequestOut
PushResult = PushOut
Grant = GrantOut


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ExchangeBadAnswer(
            f"the hub's answer is not a {model.__name__}: {exc.errors()[0]['msg']} "
            f"at {'.'.join(map(str, exc.errors()[0]['loc'])) or 'the top'}",
            hint="is the SDK older than the hub? upgrade onesource-hub",
        ) from None


def _parse_list(model: type[M], data: Any) -> list[M]:
    return [_parse(model, item) for item in _parse_any_list(data)]


def _parse_any_list(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise ExchangeBadAnswer(
            f"the hub's answer is not a list but {type(data).__name__}",
            hint="is the SDK older than the hub? upgrade onesource-hub",
        )
    return data


def _error_of(resp: httpx.Response) -> tuple[str, str]:
    try:
        body = resp.json()
        err = body["error"]
        return str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        return "http-" + str(resp.status_code), resp.text[:500] or resp.reason_phrase


class RequestSigner(httpx.Auth):
    """Signs every request (``connectors.signing``): a fresh timestamp and nonce per send,
    so a retried call is signed again."""

    requires_request_body = True

    def __init__(self, signing_secret: str, algorithm: str = "hmac-sha256") -> None:
        self.signing_secret = signing_secret
        self.algorithm = algorithm

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers.update(
            sign_headers(
                self.signing_secret,
                request.method,
                request.url.path,
                request.url.query.decode("latin-1"),
                request.content,
                algorithm=self.algorithm,
            )
        )
        yield request


class ExchangeClient:
    """Typed access to ``/api/exchange`` with one department's API key.

    Pass ``signing_secret`` (``oss_...``, from the hub operator) to sign every request,
    as departments that require signed requests must; ``signature_algorithm`` is
    ``hmac-sha256`` (default) or ``hmac-sm3``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.25,
        max_wait: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        signing_secret: str | None = None,
        signature_algorithm: str = "hmac-sha256",
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.policy = RetryPolicy(retries=retries, backoff=backoff, max_wait=max_wait, sleep=sleep)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": f"Bearer {api_key}"},
            transport=transport,
            auth=RequestSigner(signing_secret, signature_algorithm) if signing_secret else None,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ExchangeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # plumbing

    def _call(
        self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any
    ) -> httpx.Response:
        def attempt() -> httpx.Response:
            return raise_for_retry(self._http.request(method, API + path, **kwargs), idempotent)

        try:
            resp = self.policy.call(attempt, what=f"{method} {path}", idempotent=idempotent)
        except RetryableAnswer as exc:
            code, message = _error_of(exc.response)
            if exc.status == 429:
                after = retry_after_seconds(exc.response.headers.get("retry-after"))
                raise ExchangeRateLimited(message, after or 0.0) from None
            raise ExchangeUnavailable(f"{exc.status} {code}: {message}") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ExchangeUnavailable(
                f"cannot reach the hub at {self._http.base_url}: {exc}"
            ) from exc
        except httpx.TransportError as exc:
            raise ExchangeUnavailable(f"{method} {path} failed: {exc}") from exc
        if resp.status_code < 400:
            return resp
        code, message = _error_of(resp)
        if resp.status_code >= 500:
            raise ExchangeUnavailable(f"{resp.status_code} {code}: {message}")
        raise self._refusal(resp.status_code, code, message)

    @staticmethod
    def _refusal(status: int, code: str, message: str) -> ExchangeError:
        kind: type[ExchangeError] = ExchangeError
        if status == 401:
            kind = ExchangeAuthError
        elif status == 403:
            kind = ExchangeAccessDenied
        elif status == 404:
            kind = ExchangeNotFound
        return kind(f"{code}: {message}", status=status, server_code=code)

    def _json(self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any) -> Any:
        return self._call(method, path, idempotent=idempotent, **kwargs).json()

    # what I am, what I can read

    def me(self) -> str:
        """The department this key belongs to."""
        return _parse(Me, self._json("GET", "/me")).department

    def resources(self) -> list[ResourceAccess]:
        """Every resource with my access level and the fields I may read or verify."""
        return _parse_list(ResourceAccessOut, self._json("GET", "/resources"))

    def read(
        self,
        resource: str,
        fields: list[str] | None = None,
        where: dict[str, str] | None = None,
        limit: int | None = None,
        *,
        purpose: str,
        page_size: int = 5000,
    ) -> pa.Table:
        """Rows of ``resource`` (only fields I may read) as an Arrow table.

        ``purpose`` (required) says why, and is kept in the hub's audit log; ``where``
        filters by key-field equality; ``limit`` caps the rows (default: all, fetched page
        by page over one stable version).
        """
        params: dict[str, Any] = {"eq": [f"{k}:{v}" for k, v in (where or {}).items()]}
        if fields:
            params["fields"] = ",".join(fields)
        params["purpose"] = purpose
        tables: list[pa.Table] = []
        got = 0
        cursor: str | None = None
        while True:
            size = page_size if limit is None else min(page_size, limit - got)
            page_params = {**params, "limit": size}
            if cursor:
                page_params["cursor"] = cursor
            resp = self._call(
                "GET",
                f"/resources/{resource}/rows",
                params=page_params,
                headers={"Accept": ARROW_STREAM},
            )
            with pa.ipc.open_stream(resp.content) as reader:
                table = reader.read_all()
            tables.append(table)
            got += table.num_rows
            cursor = resp.headers.get("x-next-cursor")
            if not cursor or (limit is not None and got >= limit):
                break
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def verify(
        self,
        key: dict[str, str],
        claims: dict[str, str],
        resource: str | None = None,
        *,
        purpose: str,
    ) -> dict[str, bool]:
        """Yes/no per claimed field (or element id when ``resource`` is None).

        ``purpose`` (required) is kept in the hub's audit log.  The hub answers only for
        fields the department may read or was granted verification of, and refuses
        (``ExchangeRateLimited``, code ``verify-limit``) a few distinct values of one field
        of one record per day.
        """
        body: dict[str, Any] = {"key": key, "claims": claims, "purpose": purpose}
        if resource is not None:
            body["resource"] = resource
        return _parse(VerifyOut, self._json("POST", "/verify", json=body)).matches

    # pushing

    def push(
        self,
        resource: str,
        path_or_bytes: str | Path | bytes,
        fmt: str | None = None,
        filename: str | None = None,
    ) -> PushResult:
        """Push a batch (CSV, Parquet or JSON) for a resource I own; returns the checked result."""
        if isinstance(path_or_bytes, bytes):
            data, name = path_or_bytes, filename or f"batch.{fmt or 'csv'}"
        else:
            path = Path(path_or_bytes)
            data, name = path.read_bytes(), filename or path.name
        form = {"fmt": fmt} if fmt else {}
        return _parse(
            PushOut,
            self._json(
                "POST",
                f"/resources/{resource}/pushes",
                idempotent=False,
                files={"file": (name, data)},
                data=form,
            ),
        )

    def pushes(self, resource: str | None = None) -> list[PushResult]:
        params = {"resource": resource} if resource else {}
        return _parse_list(PushOut, self._json("GET", "/pushes", params=params))

    def push_status(self, push_id: str) -> PushResult:
        """One push with its full quality report."""
        return _parse(PushOut, self._json("GET", f"/pushes/{push_id}"))

    # grants

    def request_access(
        self,
        resource: str,
        fields: list[str],
        purpose: str,
        legal_basis: str,
        period_days: int = 365,
    ) -> AccessRequest:
        """Ask the owner for conditional fields of ``resource``."""
        body = {
            "resource": resource,
            "fields": fields,
            "purpose": purpose,
            "legal_basis": legal_basis,
            "period_days": period_days,
        }
        return _parse(
            AccessRequestOut, self._json("POST", "/requests", idempotent=False, json=body)
        )

    def pending(self) -> list[AccessRequest]:
        """Requests waiting for my department's answer."""
        return _parse_list(AccessRequestOut, self._json("GET", "/requests/pending"))

    def my_requests(self) -> list[AccessRequest]:
        return _parse_list(
            AccessRequestOut, self._json("GET", "/requests", params={"role": "outgoing"})
        )

    def approve(
        self,
        request_id: str,
        note: str | None = None,
        fields: list[str] | None = None,
        period_days: int | None = None,
    ) -> AccessRequest:
        """Approve; ``fields`` (fewer of those requested) and ``period_days`` (shorter) narrow it."""
        body: dict[str, Any] = {"note": note}
        if fields is not None:
            body["fields"] = fields
        if period_days is not None:
            body["period_days"] = period_days
        return _parse(
            AccessRequestOut,
            self._json("POST", f"/requests/{request_id}/approve", idempotent=False, json=body),
        )

    def deny(self, request_id: str, note: str | None = None) -> AccessRequest:
        return _parse(
            AccessRequestOut,
            self._json(
                "POST", f"/requests/{request_id}/deny", idempotent=False, json={"note": note}
            ),
        )

    def grants(self, role: str = "held") -> list[GrantOut]:
        """Grants I hold (``held``) or gave on my resources (``given``)."""
        return _parse_list(GrantOut, self._json("GET", "/grants", params={"role": role}))

    def revoke(self, grant_id: str) -> GrantOut:
        """Revoke a grant (its owner, or its holder giving it up)."""
        return _parse(GrantOut, self._json("POST", f"/grants/{grant_id}/revoke", idempotent=False))
