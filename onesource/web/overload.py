"""Saturation: a busy hub answers 503 with ``Retry-After`` at once, never a 500 or a 30 s wait.

Three parts, one middleware (the outermost of the app's own):

- the worker threads of sync endpoints (anyio's default limiter) are set to
  ``ONESOURCE_WEB_THREADS``, the figure the metadata DB pool is sized from
  (``onesource.store.db``: threads + a few connections of the app's own), so a request
  never waits for a connection;
- when one still does and the pool stays empty for ``ONESOURCE_DB_POOL_TIMEOUT`` seconds
  (connections held elsewhere), ``StoreBusyError`` or
  SQLAlchemy's pool timeout becomes 503 ``{"error": {"code": "metadata-db-busy", ...}}``
  with ``Retry-After`` instead of a 500;
- at most ``ONESOURCE_WEB_MAX_INFLIGHT`` requests are in the app at once (downloads count
  while they stream); the next one gets 503 ``overloaded`` with ``Retry-After`` at once
  instead of queueing behind the others. 0 turns the limit off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

log = logging.getLogger("onesource.web")

RETRY_AFTER_S = 1
MAX_INFLIGHT_ENV = "ONESOURCE_WEB_MAX_INFLIGHT"
DEFAULT_MAX_INFLIGHT = 256

Scope = dict[str, Any]


def max_inflight() -> int:
    """``ONESOURCE_WEB_MAX_INFLIGHT`` (default 256; 0: no admission limit)."""
    from schemas.errors import ConfigError

    raw = os.environ.get(MAX_INFLIGHT_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_INFLIGHT
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(
            f"{MAX_INFLIGHT_ENV}={raw!r} is not a count of requests",
            hint="a whole number >= 0 (0: no limit)",
        )
    return value


def busy_body(code: str, message: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ASGI messages of a 503 in the error envelope, with ``Retry-After``."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    start = {
        "type": "http.response.start",
        "status": 503,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(RETRY_AFTER_S).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": body, "more_body": False}


def _is_pool_timeout(exc: BaseException) -> bool:
    import sqlalchemy as sa

    from onesource.store.errors import StoreBusyError

    return isinstance(exc, StoreBusyError | sa.exc.TimeoutError)


class OverloadMiddleware:
    """Thread limit, pool timeouts as 503, admission limit (see the module doc)."""

    def __init__(self, app: Any, *, threads: int, limit: int) -> None:
        self.app = app
        self.threads = threads
        self.limit = limit
        self.inflight = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def _size_threads(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = self.threads
        self._loop = loop

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._size_threads()
        if self.limit and self.inflight >= self.limit:
            start, body = busy_body(
                "overloaded",
                f"the hub is answering {self.inflight} requests already; try again in a second",
            )
            await send(start)
            await send(body)
            return
        started = False

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        self.inflight += 1
        try:
            await self.app(scope, receive, tracked_send)
        except Exception as exc:
            if started or not _is_pool_timeout(exc):
                raise
            log.warning("metadata DB pool exhausted: answering 503 (%s)", exc)
            start, body = busy_body(
                "metadata-db-busy",
                "the hub is busy: no metadata DB connection came free in time; "
                "try again in a second",
            )
            await send(start)
            await send(body)
        finally:
            self.inflight -= 1


def worker_threads() -> int:
    """``ONESOURCE_WEB_THREADS``; a warning when the metadata DB pool cannot serve them all.

    The threads are not lowered to fit a smaller pool: requests would then queue for a
    thread with no bound on the wait, where a pool timeout answers 503 at once.
    """
    from onesource.store.db import RESERVED_CONNECTIONS, pool_settings

    cfg = pool_settings()
    if cfg.pool_size + cfg.db_max_overflow < cfg.web_threads + RESERVED_CONNECTIONS:
        log.warning(
            "metadata DB pool (%d + %d overflow) is smaller than %d worker threads + %d: "
            "requests may wait up to %g s for a connection, then get 503",
            cfg.pool_size,
            cfg.db_max_overflow,
            cfg.web_threads,
            RESERVED_CONNECTIONS,
            cfg.db_pool_timeout,
        )
    return cfg.web_threads


def install(app: Any) -> None:
    """Add the middleware; call it after every other ``add_middleware`` (it must be outermost)."""
    app.add_middleware(OverloadMiddleware, threads=worker_threads(), limit=max_inflight())
