"""Benchmark: the exchange verification endpoint against a 1e6-person source.

Writes a population-like curated version (numpy-generated ids) into a temp hub,
serves the app with uvicorn (1 worker) in one process and drives it from
another with 32 concurrent clients for a fixed time; the same is done for a
trivial endpoint that returns a constant, in the same run.  Prints markdown.

    .venv/bin/python bench/bench_verify.py [--rows 1000000] [--seconds 15] [--clients 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build_hub(home: Path, rows: int) -> dict[str, object]:
    import datetime as dt

    import numpy as np
    import pyarrow as pa

    from onesource.exchange.grants import GrantBook
    from onesource.exchange.keys import KeyRing
    from onesource.store import Store
    from onesource.web.deps import get_catalog, reset_caches
    from schemas.arrow import resource_schema

    reset_caches()
    store = Store.open()
    catalog = get_catalog()
    rng = np.random.default_rng(7)
    seq = np.arange(rows, dtype=np.int64)
    ids = np.char.add("3399011990", np.char.zfill(seq.astype(str), 8))
    surnames = np.array(list("王李张刘陈杨黄赵吴周"))
    given = np.array(["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军"])
    names = np.char.add(surnames[rng.integers(0, 10, rows)], given[rng.integers(0, 10, rows)])
    divisions = np.array([f"3399{i:02d}" for i in range(1, 11)])[rng.integers(0, 10, rows)]
    schema = resource_schema(catalog, catalog.resources["population_register"])
    table = pa.table(
        {
            "id_number": ids,
            "name": names,
            "sex": np.where(seq % 2 == 0, "1", "2"),
            "birth_date": pa.array(
                np.full(rows, dt.date(1990, 1, 1).toordinal() - 719163), pa.int32()
            ).cast(pa.date32()),
            "household_division": divisions,
            "address": pa.nulls(rows, pa.string()),
            "mobile": pa.nulls(rows, pa.string()),
            "household_number": pa.nulls(rows, pa.string()),
            "updated_at": pa.array(np.full(rows, 1_700_000_000_000_000), pa.timestamp("us")),
        }
    ).cast(schema)
    with (
        store.begin_run("ingest", "population_register") as run,
        store.open_writer("resource", "population_register", run.id, schema) as writer,
    ):
        writer.write(table)
        writer.commit()
    key = KeyRing(store.engine).issue("edu").key
    book = GrantBook(store.engine)
    req = book.request(
        catalog, "edu", "population_register", ["name", "household_division"], "bench", "bench", 30
    )
    book.decide("psb", req.id, True)
    sample = rng.integers(0, rows, 4096)
    probes = [
        {"id": str(ids[i]), "name": str(names[i]), "division": str(divisions[i])} for i in sample
    ]
    return {"key": key, "probes": probes}


def serve(port: int) -> None:
    """Child process: the app plus a trivial constant endpoint, uvicorn with one worker."""
    import uvicorn

    from onesource.web.app import create_app

    app = create_app()

    @app.post("/bench/trivial")
    async def trivial() -> dict[str, bool]:
        return {"ok": True}

    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


async def _load(
    url: str, key: str, probes: list[dict[str, str]], clients: int, seconds: float, trivial: bool
) -> dict[str, float]:
    """``clients`` keep-alive connections, each sending one request at a time.

    A minimal HTTP/1.1 client on asyncio streams: httpx's async pool topped out
    near 250 req/s here and would have measured itself, not the server.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = "/bench/trivial" if trivial else "/api/exchange/verify"
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    def request(p: dict[str, str]) -> bytes:
        body = json.dumps(
            {
                "resource": "population_register",
                "key": {"id_number": p["id"]},
                "claims": {"name": p["name"], "household_division": p["division"]},
            },
            ensure_ascii=False,
        ).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def worker(n: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        i = n
        while time.perf_counter() < stop:
            data = request(probes[i % len(probes)])
            i += clients
            t0 = time.perf_counter()
            writer.write(data)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200") or (
                not trivial and b'"all_match":true' not in payload
            ):
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "p50_ms": latencies[n // 2] * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
    }


def load(args: argparse.Namespace) -> None:
    """Child process: drive one endpoint and print JSON."""
    probes = json.loads(Path(args.probes).read_text())
    result = asyncio.run(
        _load(args.url, args.key, probes, args.clients, args.seconds, args.target == "trivial")
    )
    print(json.dumps(result))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str) -> None:
    import httpx

    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve", "load"])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--port", type=int)
    parser.add_argument("--url")
    parser.add_argument("--key")
    parser.add_argument("--probes")
    parser.add_argument("--target", choices=["verify", "trivial"])
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port)
        return
    if args.mode == "load":
        load(args)
        return

    home = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    env = {
        **os.environ,
        "ONESOURCE_HOME": str(home),
        "ONESOURCE_CATALOG": str(REPO / "catalog"),
        "ONESOURCE_EXCHANGE_RATE_PER_SECOND": "0",  # measure the endpoint, not the limiter
        "PYTHONPATH": str(REPO),
    }
    os.environ.update(env)
    t0 = time.perf_counter()
    hub = build_hub(home, args.rows)
    setup_s = time.perf_counter() - t0
    probes_path = home / "probes.json"
    probes_path.write_text(json.dumps(hub["probes"]))
    port = _port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", "--port", str(port)], env=env, cwd=REPO
    )
    try:
        _wait(url)
        import httpx

        first = hub["probes"][0]  # type: ignore[index]
        t1 = time.perf_counter()
        warm = httpx.post(
            url + "/api/exchange/verify",
            headers={"Authorization": f"Bearer {hub['key']}"},
            json={
                "resource": "population_register",
                "key": {"id_number": first["id"]},
                "claims": {"name": first["name"], "household_division": first["division"]},
            },
            timeout=120,
        )
        index_s = time.perf_counter() - t1
        assert warm.status_code == 200 and warm.json()["all_match"], warm.text
        results = {}
        for target in ("trivial", "verify"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "load",
                    "--url",
                    url,
                    "--key",
                    str(hub["key"]),
                    "--probes",
                    str(probes_path),
                    "--clients",
                    str(args.clients),
                    "--seconds",
                    str(args.seconds),
                    "--target",
                    target,
                ],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            )
            results[target] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=10)
    from onesource.exchange.audit import AuditLog
    from onesource.store import Store

    audit = AuditLog(Store.open().engine).verify()
    v, t = results["verify"], results["trivial"]
    print("## Exchange verification\n")
    print(
        f"Command: `.venv/bin/python bench/bench_verify.py --rows {args.rows} --seconds {args.seconds:g} --clients {args.clients}`  "
    )
    print(
        f"Machine: {os.cpu_count()} cores; uvicorn 1 worker (uvloop, httptools) in one process, "
        f"asyncio keep-alive load ({args.clients} connections) in another, SQLite metadata DB, "
        f"rate limit off. Source: {args.rows:,} persons written via the Store ({setup_s:.1f} s).\n"
    )
    print("| endpoint | requests | errors | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for name, r in (("trivial (constant)", t), ("POST /api/exchange/verify", v)):
        print(
            f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |"
        )
    print()
    print(f"- throughput ratio verify / trivial: **{v['rps'] / t['rps']:.2f}** (target >= 0.5)")
    print(f"- verify p99: **{v['p99_ms']:.1f} ms** (target < 20 ms)")
    print(f"- first call (index build for the version, 2 key/claim columns): {index_s:.2f} s")
    print(f"- every call audited (group commit): {audit.entries} entries, chain ok = {audit.ok}")


if __name__ == "__main__":
    main()
