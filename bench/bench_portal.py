"""Benchmark: the open-data portal's rows API and CSV downloads on a 1e6-row release.

Ingests a 1e6-row ``grid_events`` resource into a temp hub and publishes the
``grid_events_open`` release through the real path (``build_release``: de-identify,
leak gate, CSV + Parquet + JSON + checksums in one store commit).  Then, in the same run:

- the app (uvicorn, 1 worker) in a child process, plus a trivial constant endpoint;
- the rows API driven by 32 keep-alive clients from another process (asyncio), random
  offsets, then random offsets under a field filter (``event_type=<value>``);
- the release's ``data.csv`` downloaded whole from the portal's download route and, as
  baselines, the very same file from a Starlette ``StaticFiles`` app under the same uvicorn
  settings and from ``python -m http.server``; sequential rounds interleaved between the
  servers, then a few concurrent downloads per server.

    .venv/bin/python bench/bench_portal.py [--rows 1000000] [--seconds 15] [--clients 32]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchlib import closed_loop, free_port, wait_until_up

REPO = Path(__file__).resolve().parents[1]
RELEASE = "grid_events_open"
FILTER_FIELD = "event_type"
EVENT_TYPES = ["sanitation", "safety", "dispute", "facility", "parking", "other"]
DISTRICTS = ["339902", "339903", "339904", "339905", "339911", "339921", "339922", "339981"]


def build_hub(home: Path, rows: int) -> dict[str, Any]:
    """Ingest ``rows`` grid events and publish the open release through ``build_release``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from onesource.release.build import build_release
    from onesource.store import Store
    from onesource.web.deps import get_catalog, reset_caches
    from schemas.arrow import resource_schema

    reset_caches()
    store = Store.open()
    catalog = get_catalog()
    rng = np.random.default_rng(7)
    now = np.datetime64("2026-11-21T09:00:00", "s")
    secs = rng.integers(0, 120 * 86400, rows).astype("timedelta64[s]")
    table = pa.table(
        {
            "event_number": np.char.add("E2026", np.char.zfill(np.arange(rows).astype(str), 10)),
            "event_type": np.array(EVENT_TYPES)[rng.integers(0, len(EVENT_TYPES), rows)],
            "division": np.array(DISTRICTS)[rng.integers(0, len(DISTRICTS), rows)],
            "reported_at": pa.array((now - secs).astype("datetime64[s]")),
            "resolved": rng.random(rows) < 0.8,
        }
    )
    schema = resource_schema(catalog, catalog.resources["grid_events"])
    with (
        store.begin_run("ingest", "grid_events") as run,
        store.open_writer("resource", "grid_events", run.id, schema) as writer,
    ):
        writer.write(table.select(schema.names).cast(schema))
        writer.commit()
    t0 = time.perf_counter()
    result = build_release(RELEASE, store=store, catalog=catalog)
    publish_s = time.perf_counter() - t0
    published = store.read("release", RELEASE, columns=[FILTER_FIELD])
    counts = {
        str(v["values"]): int(v["counts"])
        for v in pc.value_counts(published[FILTER_FIELD]).to_pylist()
    }
    csv = Path(store.warehouse.full(f"{result.path}/data.csv"))
    return {
        "rows": result.rows,
        "csv": str(csv),
        "csv_bytes": csv.stat().st_size,
        "csv_sha256": hashlib.sha256(csv.read_bytes()).hexdigest(),
        "counts": counts,
        "publish_s": publish_s,
    }


def serve(port: int) -> None:
    """Child process: the app plus a trivial constant endpoint, uvicorn with one worker."""
    import uvicorn
    from fastapi import Depends

    from onesource.web.app import create_app
    from onesource.web.deps import get_catalog, get_store

    app = create_app()

    @app.get("/bench/trivial")
    async def trivial() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/bench/deps")
    def deps(store=Depends(get_store), catalog=Depends(get_catalog)) -> dict[str, bool]:
        # what a rows request costs before any Arrow work: the same sync dependencies
        # (store, catalog with its freshness check), a threadpool hop, the version lookup
        return {
            "ok": catalog.releases[RELEASE] is not None and bool(store.current("release", RELEASE))
        }

    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def serve_static(port: int, directory: str) -> None:
    """Child process: Starlette StaticFiles over the release folder, same uvicorn settings."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    app = Starlette(routes=[Mount("/", StaticFiles(directory=directory))])
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


# --- the rows API load: asyncio keep-alive clients, one request at a time each ---


async def _load(url: str, paths: list[str], clients: int, seconds: float) -> dict[str, float]:
    """GET ``paths`` round-robin from ``clients`` keep-alive connections; a page must hold rows."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = f"{parts.hostname or '127.0.0.1'}:{parts.port or 80}"
    requests = [f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() for path in paths]

    def ok(head: bytes, payload: bytes) -> bool:
        return head.startswith(b"HTTP/1.1 200") and (
            b'"rows":[{' in payload or b'"ok":true' in payload
        )

    latencies, errors, elapsed = await closed_loop(url, requests, clients, seconds, ok)
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
    """Child process: drive one list of GET paths and print JSON."""
    paths = json.loads(Path(args.paths).read_text())
    print(json.dumps(asyncio.run(_load(args.url, paths, args.clients, args.seconds))))


# --- downloads: blocking sockets, recv_into one buffer, a fresh connection per file ---


def _fetch(url: str, sha: hashlib._Hash | None = None) -> int:
    """GET ``url``, read the whole body; returns its byte count (status 200 required)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    with socket.create_connection((host, port)) as sock:
        sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        head = b""
        while b"\r\n\r\n" not in head:
            n = sock.recv_into(view)
            if not n:
                raise RuntimeError(f"{url}: connection closed in headers")
            head += bytes(view[:n])
        head, body = head.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " not in status + b" ":
            raise RuntimeError(f"{url}: {status.decode()}")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        got = len(body)
        if sha is not None:
            sha.update(body)
        while got < length:
            n = sock.recv_into(view, min(len(buf), length - got))
            if not n:
                raise RuntimeError(f"{url}: connection closed after {got} of {length} bytes")
            if sha is not None:
                sha.update(view[:n])
            got += n
        return got


def download(args: argparse.Namespace) -> None:
    """Child process: sequential rounds interleaved across servers, then concurrent downloads."""
    urls: dict[str, str] = json.loads(args.urls)
    out: dict[str, dict[str, Any]] = {name: {} for name in urls}
    for name, url in urls.items():  # correctness first, untimed: the exact bytes of the file
        sha = hashlib.sha256()
        size = _fetch(url, sha)
        if size != args.size or sha.hexdigest() != args.sha256:
            raise RuntimeError(f"{name}: {size} bytes, sha256 {sha.hexdigest()} differ")
    seq: dict[str, list[float]] = {name: [] for name in urls}
    names = list(urls)
    for r in range(args.reps):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            size = _fetch(urls[name])
            seq[name].append(size / (time.perf_counter() - t0) / 1e6)
    conc: dict[str, list[float]] = {name: [] for name in urls}
    for _ in range(3):
        for name, url in urls.items():
            total = [0] * args.parallel

            def run(i: int, url: str = url, total: list[int] = total) -> None:
                for _ in range(args.per_client):
                    total[i] += _fetch(url)

            threads = [threading.Thread(target=run, args=(i,)) for i in range(args.parallel)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            conc[name].append(sum(total) / (time.perf_counter() - t0) / 1e6)
    for name in urls:
        out[name] = {
            "seq_median": statistics.median(seq[name]),
            "seq_best": max(seq[name]),
            "seq_all": [round(x) for x in seq[name]],
            "conc_median": statistics.median(conc[name]),
            "conc_all": [round(x) for x in conc[name]],
        }
    print(json.dumps(out))


def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{args[0]} child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "mode", nargs="?", default="run", choices=["run", "serve", "static", "load", "download"]
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--limit", type=int, default=100, help="rows per page")
    parser.add_argument("--reps", type=int, default=20, help="sequential downloads per server")
    parser.add_argument("--parallel", type=int, default=4, help="concurrent downloads")
    parser.add_argument("--per-client", type=int, default=3, help="downloads per concurrent client")
    parser.add_argument("--port", type=int)
    parser.add_argument("--dir")
    parser.add_argument("--url")
    parser.add_argument("--urls")
    parser.add_argument("--paths")
    parser.add_argument("--size", type=int)
    parser.add_argument("--sha256")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port)
        return
    if args.mode == "static":
        serve_static(args.port, args.dir)
        return
    if args.mode == "load":
        load(args)
        return
    if args.mode == "download":
        download(args)
        return

    started = time.perf_counter()
    home = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    env = {
        **os.environ,
        "ONESOURCE_HOME": str(home),
        "ONESOURCE_CATALOG": str(REPO / "catalog"),
        "ONESOURCE_RELEASE_KEY": "b" * 40,
        "PYTHONPATH": str(REPO),
    }
    os.environ.update(env)
    t0 = time.perf_counter()
    hub = build_hub(home, args.rows)
    setup_s = time.perf_counter() - t0
    csv = Path(str(hub["csv"]))
    rng = random.Random(7)
    base = f"/api/open/datasets/{RELEASE}/rows"
    total = int(hub["rows"])
    counts: dict[str, int] = hub["counts"]
    paths = {
        "trivial": ["/bench/trivial"],
        "deps": ["/bench/deps"],
        "page": [
            f"{base}?limit={args.limit}&offset={rng.randrange(max(1, total - args.limit))}"
            for _ in range(4096)
        ],
        "filter": [],
    }
    for _ in range(4096):
        value = rng.choice(sorted(counts))
        offset = rng.randrange(max(1, counts[value] - args.limit))
        paths["filter"].append(f"{base}?{FILTER_FIELD}={value}&limit={args.limit}&offset={offset}")
    ports = {"portal": free_port(), "static": free_port(), "http.server": free_port()}
    servers = [
        subprocess.Popen(
            [sys.executable, __file__, "serve", "--port", str(ports["portal"])], env=env, cwd=REPO
        ),
        subprocess.Popen(
            [sys.executable, __file__, "static", "--port", str(ports["static"]), "--dir"]
            + [str(csv.parent)],
            env=env,
            cwd=REPO,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "http.server", str(ports["http.server"])]
            + ["--bind", "127.0.0.1", "--directory", str(csv.parent)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    url = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
    try:
        wait_until_up(url["portal"] + "/healthz")
        wait_until_up(url["static"] + "/data.csv")
        wait_until_up(url["http.server"] + "/data.csv")
        import httpx

        t1 = time.perf_counter()
        first = httpx.get(url["portal"] + paths["page"][0], timeout=120)
        first_s = time.perf_counter() - t1
        assert first.status_code == 200 and first.json()["total"] == total, first.text
        results: dict[str, dict[str, Any]] = {}
        for target in ("trivial", "deps", "page", "filter"):
            path_file = home / f"paths-{target}.json"
            path_file.write_text(json.dumps(paths[target]))
            results[target] = _child(
                ["load", "--url", url["portal"], "--paths", str(path_file)]
                + ["--clients", str(args.clients), "--seconds", str(args.seconds)],
                env,
            )
        downloads = _child(
            [
                "download",
                "--urls",
                json.dumps(
                    {
                        "portal": f"{url['portal']}/datasets/{RELEASE}/download/data.csv",
                        "static": f"{url['static']}/data.csv",
                        "http.server": f"{url['http.server']}/data.csv",
                    }
                ),
                "--size",
                str(hub["csv_bytes"]),
                "--sha256",
                str(hub["csv_sha256"]),
                "--reps",
                str(args.reps),
                "--parallel",
                str(args.parallel),
                "--per-client",
                str(args.per_client),
            ],
            env,
        )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)  # ~250 MB of release files
    wall = time.perf_counter() - started

    mb = int(hub["csv_bytes"]) / 1e6
    print("## Open-data portal\n")
    print(
        f"Command: `.venv/bin/python bench/bench_portal.py --rows {args.rows} "
        f"--seconds {args.seconds:g} --clients {args.clients}`  "
    )
    print(
        f"Machine: {os.cpu_count()} cores, load generators on the same machine, other work "
        f"running; uvicorn 1 worker (uvloop, httptools), SQLite metadata DB. Release "
        f"`{RELEASE}`: {total:,} rows published by `build_release` ({setup_s:.1f} s incl. "
        f"ingest; publish {hub['publish_s']:.1f} s); data.csv {mb:.1f} MB. Total run {wall:.0f} s.\n"
    )
    print(
        f"Rows API, {args.clients} keep-alive clients (asyncio, one process), {args.seconds:g} s each:\n"
    )
    print("| endpoint | requests | errors | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    labels = {
        "trivial": "trivial constant GET, async (baseline)",
        "deps": "sync GET, same dependencies + version lookup, constant body (baseline)",
        "page": f"rows `limit={args.limit}`, random offset",
        "filter": f"rows `{FILTER_FIELD}=<value>&limit={args.limit}`, random offset",
    }
    for key, label in labels.items():
        r = results[key]
        print(
            f"| {label} | {r['requests']:.0f} | {r['errors']:.0f} | {r['rps']:.0f} "
            f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    print(f"\nFirst rows call after start (cold): {first_s * 1000:.0f} ms.\n")
    print(
        f"`data.csv` download, whole file ({mb:.1f} MB), checksum verified once per server; "
        f"sequential: {args.reps} interleaved rounds, median (best); concurrent: "
        f"{args.parallel} clients x {args.per_client} files, median of 3 rounds:\n"
    )
    print(
        "| server | sequential MB/s | concurrent MB/s | portal / this (seq) | portal / this (conc) |"
    )
    print("|---|---|---|---|---|")
    p = downloads["portal"]
    labels = {
        "portal": f"portal `/datasets/{RELEASE}/download/data.csv`",
        "static": "Starlette StaticFiles, same uvicorn settings",
        "http.server": "`python -m http.server`",
    }
    for key, label in labels.items():
        d = downloads[key]
        print(
            f"| {label} | {d['seq_median']:.0f} ({d['seq_best']:.0f}) | {d['conc_median']:.0f} "
            f"| {p['seq_median'] / d['seq_median']:.2f} | {p['conc_median'] / d['conc_median']:.2f} |"
        )
    worst = min(
        p[k] / downloads[b][k]
        for b in ("static", "http.server")
        for k in ("seq_median", "conc_median")
    )
    print(f"\n- lowest of the four portal / baseline ratios: **{worst:.2f}** (target >= 0.8)")
    print(f"- raw samples: {json.dumps(downloads)}")


if __name__ == "__main__":
    main()
