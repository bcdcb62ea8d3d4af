"""``/metrics`` for Prometheus, and the middleware that counts requests by route template.

The portal is public, so ``/metrics`` is not: it answers a request whose peer address is
in ``ONESOURCE_METRICS_ALLOW`` (default ``127.0.0.1,::1``: local only) and that carries no
forwarding header (a reverse proxy on the same machine must not make the public local),
or one with ``Authorization: Bearer <ONESOURCE_METRICS_TOKEN>``.  A request whose peer is a
reverse proxy named in ``ONESOURCE_TRUSTED_PROXIES`` is relayed, never local, even with no
forwarding header (nginx's plain ``proxy_pass`` adds none).  Anything else gets 403
in the error envelope.  The route label is the matched route's template
(``/api/open/datasets/{name}``), ``<unmatched>`` for anything no route matched: the
number of series does not grow with the URLs clients invent.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from onesource import metrics as m
from onesource.web.exchange.middleware import _result, route_path
from onesource.web.exchange.runtime import AUDIT_SCOPE_KEY
from onesource.web.exchange.verify import VERIFY_PATH

METRICS_PATH = "/metrics"
UNMATCHED = "<unmatched>"
# any mark a proxy or CDN leaves on what it relays: such a request is not a local scraper's
FORWARDING_HEADERS = frozenset(
    {
        b"x-forwarded-for",
        b"forwarded",
        b"x-real-ip",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"via",
        b"true-client-ip",
        b"cf-connecting-ip",
        b"x-client-ip",
        b"x-original-forwarded-for",
        b"x-cluster-client-ip",
        b"fastly-client-ip",
    }
)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MetricsAccess:
    """Who may read ``/metrics``: peer networks (no proxy in between) or the token."""

    networks: tuple[Network, ...]
    token: str | None
    proxies: tuple[Network, ...] = ()  # peers that relay others (ONESOURCE_TRUSTED_PROXIES)

    @classmethod
    def from_env(cls) -> MetricsAccess:
        from schemas.errors import ConfigError

        raw = os.environ.get("ONESOURCE_METRICS_ALLOW", "127.0.0.1,::1")
        networks = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ConfigError(
                    f"ONESOURCE_METRICS_ALLOW: {part!r} is not an IP address or network",
                    hint="comma-separated addresses or CIDRs, e.g. 127.0.0.1,10.0.5.0/24",
                ) from None
        token = os.environ.get("ONESOURCE_METRICS_TOKEN", "").strip() or None
        return cls(tuple(networks), token, _proxies(os.environ.get("ONESOURCE_TRUSTED_PROXIES")))

    def admits(self, scope: dict[str, Any]) -> bool:
        headers = scope["headers"]
        if self.token is not None:
            for name, value in headers:
                if name == b"authorization":
                    scheme, _, cred = value.decode("latin-1").partition(" ")
                    if scheme.lower() == "bearer" and hmac.compare_digest(
                        cred.strip().encode(), self.token.encode()
                    ):
                        return True
        if any(name in FORWARDING_HEADERS for name, _ in headers):
            return False
        client = scope.get("client")
        if not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        if any(address in net for net in self.proxies):
            return False  # the reverse proxy: whoever it relays, not a local scraper
        return any(address in net for net in self.networks)


def _proxies(raw: str | None) -> tuple[Network, ...]:
    """The networks of ``ONESOURCE_TRUSTED_PROXIES`` (``*``: every peer may be a proxy).

    An entry that is no address (a socket path uvicorn accepts too) names no peer here.
    """
    out: list[Network] = []
    for part in (p.strip() for p in (raw or "").split(",")):
        if part == "*":
            return (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            continue
    return tuple(out)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format (summed over processes in multiprocess mode)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


async def _answer(send: Any, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


class MetricsMiddleware:
    """Counts every HTTP request by route template; serves ``/metrics`` to those admitted."""

    def __init__(self, app: Any, *, access: MetricsAccess) -> None:
        self.app = app
        self.access = access
        # bound children by label values (a bounded set): a dict lookup per request instead
        # of prometheus_client's labels() (validation + lock): 17 -> 3 us per request
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[tuple[str, str], Any] = {}
        self._verify: dict[str, Any] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if route_path(scope) == METRICS_PATH:  # also under a root_path (a mount point)
            await self._metrics(scope, send)
            return
        started = time.perf_counter()
        status = 500

        async def counted_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counted_send)
        finally:
            method = scope["method"] if scope["method"] in m.METHODS else "OTHER"
            route = scope.get("route")
            if route is not None:
                label = getattr(route, "path", None) or UNMATCHED
            elif method == "POST" and route_path(scope) == VERIFY_PATH:
                label = VERIFY_PATH  # the hot path skips the router
            else:
                label = UNMATCHED
            elapsed = time.perf_counter() - started
            key = (label, method, status)
            counter = self._requests.get(key)
            if counter is None:
                counter = self._requests[key] = m.HTTP_REQUESTS.labels(label, method, str(status))
            counter.inc()
            latency = self._latency.get(key[:2])
            if latency is None:
                latency = self._latency[key[:2]] = m.HTTP_LATENCY.labels(label, method)
            latency.observe(elapsed)
            if label == VERIFY_PATH and method == "POST":
                ctx = scope.get(AUDIT_SCOPE_KEY)
                outcome = _result(status, ctx) if ctx is not None else "error"
                if outcome not in m.VERIFY_OUTCOMES:
                    outcome = "error"
                verify = self._verify.get(outcome)
                if verify is None:
                    verify = self._verify[outcome] = m.VERIFY_CALLS.labels(outcome)
                verify.inc()

    async def _metrics(self, scope: dict[str, Any], send: Any) -> None:
        if not self.access.admits(scope):
            body = json.dumps(
                {
                    "error": {
                        "code": "forbidden",
                        "message": "metrics are served to the addresses in "
                        "ONESOURCE_METRICS_ALLOW (without a proxy in between) or with "
                        "Authorization: Bearer <ONESOURCE_METRICS_TOKEN>",
                    }
                }
            ).encode()
            await _answer(send, 403, body, "application/json")
            return
        body, content_type = exposition()
        await _answer(send, 200, body, content_type)


def install(app: Any) -> None:
    """Add the middleware (outermost: overload answers are counted too); no-op when off."""
    if m.ON:
        app.add_middleware(MetricsMiddleware, access=MetricsAccess.from_env())
