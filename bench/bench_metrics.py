"""Benchmark: the web metrics middleware alone, per request, on one ASGI call path.

Calls a trivial ASGI app 50,000 times directly and through ``MetricsMiddleware`` (route
template label, status, latency histogram, verify outcome), in the same process and run, so
machine load hits both alike.  Complements ``bench_verify.py --compare-metrics``, whose
end-to-end ratio is dominated by noise on a shared 2-core machine.

    .venv/bin/python bench/bench_metrics.py [--requests 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from onesource.web.exchange.verify import VERIFY_PATH
from onesource.web.metrics import MetricsAccess, MetricsMiddleware


class _Route:
    path = VERIFY_PATH


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    scope["route"] = _Route()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _noop(_: Any) -> None:
    pass


async def _per_request(app: Any, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        scope = {"type": "http", "method": "POST", "path": VERIFY_PATH, "headers": []}
        await app(scope, _noop, _noop)
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()
    wrapped = MetricsMiddleware(_inner, access=MetricsAccess((), None))
    bare, counted = [], []
    for _ in range(3):  # alternate, keep the best of each
        bare.append(asyncio.run(_per_request(_inner, args.requests)))
        counted.append(asyncio.run(_per_request(wrapped, args.requests)))
    print(
        f"- metrics middleware alone: {min(counted) - min(bare):.1f} us CPU per request "
        f"(bare ASGI call {min(bare):.1f} us, with metrics {min(counted):.1f} us; "
        f"{args.requests:,} calls x 3, best of each)"
    )


if __name__ == "__main__":
    main()
