"""``HttpSource``: pull records from a department's JSON API, page by page.

Pagination follows the connector's ``pagination.style``: ``none``, ``page``
(page number + size), ``offset`` (offset + size) or ``cursor`` (the next
cursor is read at ``cursor_path`` in each response).  Records are found at
``records_path``.  The connection gives the base URL and auth: ``extra.headers``
(e.g. ``{"Authorization": "Bearer ..."}``) and/or login + password (basic auth).

Connection errors, timeouts, 429, 502, 503 and 504 are retried by the shared
policy of ``connectors.retry`` (jittered exponential backoff, ``Retry-After``
honoured); once ``max_retries`` is used up the run fails as
``SourceUnavailableError`` (transient).  Other 4xx and 5xx answers are terminal
(``HttpStatusError``), naming the URL (secrets masked) and the status.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlencode

import pyarrow as pa

from connectors.base import Extraction, SourceState
from connectors.connection import Connection, get_connection
from connectors.errors import HttpStatusError
from connectors.readers import records_batch
from connectors.retry import RetryableAnswer, RetryPolicy, describe_failure, raise_for_retry
from schemas.connector import HttpConnector
from schemas.errors import ConfigError, SchemaDriftError, SourceUnavailableError
from schemas.resource import Resource

BATCH_RECORDS = 50_000
MAX_PAGES = 1_000_000
MAX_BACKOFF_S = 30.0
_SECRET_PARAMS = ("key", "token", "secret", "password", "signature", "sign")


class HttpSource:
    """Reads JSON records from a paginated HTTP API."""

    type: ClassVar[str] = "http"

    def extract(self, resource: Resource, schema: pa.Schema, state: SourceState) -> Extraction:
        """Start the extraction; requests are made while iterating."""
        spec = resource.connector
        if not isinstance(spec, HttpConnector):
            raise ConfigError(f"resource {resource.name!r} is not an 'http' connector")
        conn = get_connection(spec.connection)
        url = conn.base_url() + spec.path

        def produce(ex: Extraction) -> Iterator[pa.RecordBatch]:
            records: list[dict[str, Any]] = []
            pages: list[int] = []
            with _client(conn, spec) as client:
                for page, shown, items in _pages(client, conn, spec, url):
                    for rec in items:
                        if isinstance(rec, dict):
                            records.append(rec)
                            pages.append(page)
                        else:
                            ex.reject(
                                shown,
                                page,
                                json.dumps(rec, ensure_ascii=False),
                                "not a JSON object",
                            )
                    if len(records) >= BATCH_RECORDS:
                        yield records_batch(ex, resource.name, url, records, pages)
                        records, pages = [], []
            if records:
                yield records_batch(ex, resource.name, url, records, pages)

        return Extraction(schema, produce, state)


def _client(conn: Connection, spec: HttpConnector) -> Any:
    import httpx

    headers = {str(k): str(v) for k, v in dict(conn.extra.get("headers") or {}).items()}
    auth = (conn.login, conn.password or "") if conn.login else None
    verify = conn.extra.get("verify", True)
    return httpx.Client(
        timeout=spec.timeout_s,
        headers=headers,
        auth=auth,
        verify=verify if isinstance(verify, bool) else str(verify).lower() != "false",
        follow_redirects=True,
    )


def dig(body: Any, path: str) -> Any:
    """The value at a dotted path (``data.items``); None when absent."""
    node = body
    for part in path.split(".") if path else []:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def display_url(url: str, params: dict[str, Any]) -> str:
    """The URL with its query, secret-looking parameters masked."""
    shown = {
        k: ("***" if any(s in k.lower() for s in _SECRET_PARAMS) else v) for k, v in params.items()
    }
    return f"{url}?{urlencode(shown)}" if shown else url


def _pages(
    client: Any, conn: Connection, spec: HttpConnector, url: str
) -> Iterator[tuple[int, str, list[Any]]]:
    """(page number, URL shown, records) for every page of the API."""
    p = spec.pagination
    params: dict[str, Any] = dict(spec.params)
    seen_cursors: set[str] = set()
    for number in range(1, MAX_PAGES + 1):
        if p.style == "page":
            params[p.page_param] = p.first_page + number - 1
            params[p.size_param] = p.page_size
        elif p.style == "offset":
            params[p.offset_param] = (number - 1) * p.page_size
            params[p.size_param] = p.page_size
        elif p.style == "cursor":
            params[p.size_param] = p.page_size
        shown = display_url(url, params)
        body = get_json(client, conn, url, params, spec.max_retries, shown)
        items = dig(body, spec.records_path)
        if not isinstance(items, list):
            keys = ", ".join(body) if isinstance(body, dict) else type(body).__name__
            raise SchemaDriftError(
                f"{shown}: no record list at records_path {spec.records_path!r} (response has: {keys})",
                hint="fix the connector's records_path, or the department's API",
            )
        yield number, shown, items
        if p.style == "none":
            return
        if p.style in ("page", "offset") and len(items) < p.page_size:
            return
        if p.style == "cursor":
            cursor = dig(body, p.cursor_path)
            if cursor in (None, "") or not items:
                return
            if str(cursor) in seen_cursors:
                raise SchemaDriftError(
                    f"{shown}: the API returned cursor {cursor!r} twice; stopping to avoid a loop"
                )
            seen_cursors.add(str(cursor))
            params[p.cursor_param] = cursor
    raise SchemaDriftError(f"{url}: more than {MAX_PAGES} pages; is pagination configured right?")


def get_json(
    client: Any, conn: Connection, url: str, params: dict[str, Any], retries: int, shown: str
) -> Any:
    """GET with the shared retry policy (``connectors.retry``): connection errors,
    timeouts, 429, 502, 503 and 504 are retried; other 4xx/5xx are terminal."""
    import httpx

    policy = RetryPolicy(
        retries=retries, backoff=float(conn.extra.get("backoff_s", 0.5)), max_wait=MAX_BACKOFF_S
    )
    try:
        resp = policy.call(
            lambda: raise_for_retry(client.get(url, params=params)), what=f"GET {shown}"
        )
    except (RetryableAnswer, httpx.TransportError) as exc:
        raise SourceUnavailableError(
            f"GET {shown} failed after {retries + 1} attempts: {describe_failure(exc)}"
            f" ({conn.describe()})",
            hint="the run will be retried; check that the department's API is up",
        ) from None
    if resp.status_code >= 400:
        raise HttpStatusError(shown, resp.status_code, resp.text[:200])
    try:
        return resp.json()
    except ValueError:
        raise SchemaDriftError(
            f"{shown}: the answer is not JSON (content-type {resp.headers.get('content-type', '?')})"
        ) from None
