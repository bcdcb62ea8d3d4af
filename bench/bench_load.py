"""Benchmark: the hub under 32 clients while versions commit, against a trivial endpoint.

Builds a hub in a temp home (the exchange tests' hub: population, assistance and ratings
data, department keys; plus the ``service_ratings_by_district`` release for the portal),
serves ``onesource``'s app under uvicorn (1 worker, no access log) in a child process with
a trivial constant endpoint added, and, while this process commits a new version of
``service_ratings`` or ``population_register`` every ``--commit-every`` seconds, drives each
target for ``--seconds`` with ``--clients`` keep-alive clients from another process
(``benchlib.closed_loop``): the trivial endpoint, the exchange rows API, the portal's home
page, dataset page and rows API, and ``/verify``.  Reported per target: requests/s, p50,
p99, the slowest request, and every status other than 200; and the ratio of each target's
throughput and p99 to the trivial endpoint's in the same run.

    .venv/bin/python bench/bench_load.py [--seconds 10] [--clients 32] [--commit-every 2]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

``--postgres``: the metadata DB in a fresh schema of that database (dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchlib import closed_loop, free_port, wait_until_up

REPO = Path(__file__).resolve().parents[1]
RELEASE = "service_ratings_by_district"
TARGETS = [
    "trivial",
    "exchange-rows",
    "portal-home",
    "portal-dataset",
    "portal-rows",
    "verify",
]


def build_hub() -> dict[str, Any]:
    """The exchange tests' hub plus one published release; returns keys and a person."""
    sys.path.insert(0, str(REPO))
    from onesource.release.build import build_release
    from tests.exchange.fixtures import make_hub

    hub = make_hub()
    build_release(RELEASE, store=hub.store, catalog=hub.catalog)
    return {"keys": hub.keys, "person": hub.people[0]}


def serve(port: int) -> None:
    """Child process: the app plus a trivial constant endpoint, uvicorn with one worker."""
    import uvicorn

    from onesource.web.app import create_app

    app = create_app()

    @app.get("/bench/trivial")
    async def trivial() -> dict[str, bool]:
        return {"ok": True}

    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def requests_for(url: str, hub: dict[str, Any]) -> dict[str, bytes]:
    host = url.removeprefix("http://")

    def get(path: str, key: str | None = None) -> bytes:
        auth = f"X-API-Key: {key}\r\n" if key else ""
        return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode()

    person = hub["person"]
    verify = json.dumps(
        {
            "resource": "population_register",
            "key": {"id_number": person["id_number"]},
            "claims": {"name": person["name"]},
            "purpose": "bench",
        }
    ).encode()
    return {
        "trivial": get("/bench/trivial"),
        "exchange-rows": get(
            "/api/exchange/resources/service_ratings/rows?limit=10&purpose=bench",
            hub["keys"]["dsj"],
        ),
        "portal-home": get("/"),
        "portal-dataset": get(f"/datasets/{RELEASE}"),
        "portal-rows": get(f"/api/open/datasets/{RELEASE}/rows?limit=10"),
        "verify": (
            f"POST /api/exchange/verify HTTP/1.1\r\nHost: {host}\r\n"
            f"X-API-Key: {hub['keys']['psb']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(verify)}\r\n\r\n"
        ).encode()
        + verify,
    }


async def _load(url: str, request: bytes, clients: int, seconds: float) -> dict[str, Any]:
    statuses: collections.Counter[str] = collections.Counter()

    def ok(head: bytes, _body: bytes) -> bool:
        status = head.split(b" ", 2)[1].decode()
        statuses[status] += 1
        return status == "200"

    latencies, errors, elapsed = await asyncio.wait_for(
        closed_loop(url, [request], clients, seconds, ok), timeout=seconds + 120
    )
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "statuses": dict(statuses),
        "rps": n / elapsed,
        "p50_ms": latencies[n // 2] * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def load(args: argparse.Namespace) -> None:
    """Child process: one target, JSON on stdout."""
    request = Path(args.request).read_bytes()
    print(json.dumps(asyncio.run(_load(args.url, request, args.clients, args.seconds))))


class Committer(threading.Thread):
    """Commits a new version of a resource being read every ``every`` seconds."""

    def __init__(self, every: float) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.stop = threading.Event()
        self.commits = 0
        self.seconds: list[float] = []

    def run(self) -> None:
        import datetime as dt

        from onesource.store import Store
        from onesource.web.deps import get_catalog
        from tests.exchange.fixtures import commit, people

        store, catalog = Store.open(), get_catalog()
        pop = people()
        ratings = [
            {
                "rating_number": f"R{i:04d}",
                "service_item": "入学登记",
                "channel": "app",
                "score": i % 5 + 1,
                "rated_at": dt.datetime(2024, 2, 1, 9, i % 60),
                "division": "339901",
            }
            for i in range(30)
        ]
        while not self.stop.wait(self.every):
            t0 = time.perf_counter()
            if self.commits % 2:
                commit(store, catalog, "population_register", pop)
            else:
                commit(store, catalog, "service_ratings", ratings)
            self.seconds.append(time.perf_counter() - t0)
            self.commits += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve", "load"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--commit-every", type=float, default=2.0)
    parser.add_argument("--postgres", help="SQLAlchemy URL of a PostgreSQL database to use")
    parser.add_argument("--port", type=int)
    parser.add_argument("--url")
    parser.add_argument("--request")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port)
        return
    if args.mode == "load":
        load(args)
        return

    home = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = {
        **os.environ,
        "ONESOURCE_HOME": str(home),
        "ONESOURCE_CATALOG": str(REPO / "catalog"),
        "ONESOURCE_RELEASE_KEY": "b" * 40,
        "ONESOURCE_EXCHANGE_RATE_PER_SECOND": "0",  # 32 clients of one department
        "PYTHONPATH": str(REPO),
    }
    schema = None
    if args.postgres:
        import uuid

        import sqlalchemy as sa

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with sa.create_engine(args.postgres).begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = sa.make_url(args.postgres).update_query_dict({"options": f"-csearch_path={schema}"})
        env["ONESOURCE_DB_URL"] = url.render_as_string(hide_password=False)
    os.environ.update(env)
    hub = build_hub()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", "--port", str(port)], env=env, cwd=REPO
    )
    committer = Committer(args.commit_every)
    results: dict[str, dict[str, Any]] = {}
    try:
        wait_until_up(url + "/bench/trivial")
        requests = requests_for(url, hub)
        import httpx

        for name in TARGETS:  # warm, and a typo fails here rather than as a bench figure
            raw = requests[name]
            head, _, body = raw.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            method, path, _ = lines[0].split(" ")
            headers = dict(h.split(": ", 1) for h in lines[1:] if not h.startswith("Host"))
            resp = httpx.request(method, url + path, headers=headers, content=body or None)
            assert resp.status_code == 200, (name, resp.status_code, resp.text[:300])
        committer.start()
        for name in TARGETS:
            req = home / f"request-{name}.bin"
            req.write_bytes(requests[name])
            out = subprocess.run(
                [sys.executable, __file__, "load", "--url", url, "--request", str(req)]
                + ["--clients", str(args.clients), "--seconds", str(args.seconds)],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                raise RuntimeError(f"load child failed:\n{out.stderr}")
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        committer.stop.set()
        if committer.is_alive():
            committer.join()
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)
        if schema is not None:
            import sqlalchemy as sa

            with sa.create_engine(args.postgres).begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    base = results["trivial"]
    print(
        f"python bench/bench_load.py --seconds {args.seconds:g} --clients {args.clients} "
        f"--commit-every {args.commit_every:g}" + (f" --postgres {args.postgres}" if schema else "")
    )
    print(
        f"commits during the run: {committer.commits} "
        f"(median {sorted(committer.seconds)[len(committer.seconds) // 2]:.2f} s each)"
        if committer.seconds
        else "commits during the run: 0"
    )
    print(
        "| target | req/s | vs trivial | p50 ms | p99 ms | p99 vs trivial | slowest ms | non-200 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in TARGETS:
        r = results[name]
        other = {s: n for s, n in r["statuses"].items() if s != "200"}
        print(
            f"| {name} | {r['rps']:,.0f} | {r['rps'] / base['rps']:.2f} | {r['p50_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {r['p99_ms'] / base['p99_ms']:.1f}x | {r['max_ms']:.0f} "
            f"| {other or 0} |"
        )
    print(json.dumps({"args": vars(args), "commits": committer.commits, "results": results}))


if __name__ == "__main__":
    main()
