"""Benchmark: the exchange verification endpoint against a 1e6-person source.

Writes a population-like curated version (numpy-generated ids) into a temp hub,
serves the app with uvicorn (1 worker) in one process and drives it from
another with 32 concurrent clients for a fixed time; the same is done for a
trivial endpoint that returns a constant, in the same run.  The two endpoints
alternate in ``--rounds`` rounds (``--seconds`` per endpoint in all), so that
load from other processes on a shared machine hits both alike; latencies of
all rounds are merged.  Prints markdown.

    .venv/bin/python bench/bench_verify.py [--rows 1000000] [--seconds 15] [--clients 32]

``--compare-metrics`` instead serves the app twice, with ``ONESOURCE_METRICS=off`` and
``on``, and alternates /verify rounds between the two: the ratio is the cost of the
Prometheus metrics on the hot path, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import closed_loop, cpu_seconds, free_port, wait_until_up

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
        catalog,
        "edu",
        "population_register",
        ["name", "household_division", "id_number"],  # the lookup key needs a grant too
        "bench",
        "bench",
        30,
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
) -> tuple[dict[str, float], list[float]]:
    """``clients`` keep-alive connections, each sending one request at a time.

    The requests are encoded up front: the client shares the 2 cores with the server.
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = "/bench/trivial" if trivial else "/api/exchange/verify"

    def request(p: dict[str, str]) -> bytes:
        body = json.dumps(
            {
                "resource": "population_register",
                "key": {"id_number": p["id"]},
                "claims": {"name": p["name"], "household_division": p["division"]},
                "purpose": "bench",
            },
            ensure_ascii=False,
        ).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    requests = [request(p) for p in probes]

    def ok(head: bytes, payload: bytes) -> bool:
        return head.startswith(b"HTTP/1.1 200") and (trivial or b'"all_match":true' in payload)

    latencies, errors, elapsed = await closed_loop(url, requests, clients, seconds, ok)
    return {"requests": len(latencies), "errors": errors, "elapsed": elapsed}, latencies


def summarize(rounds: list[tuple[dict[str, float], list[float]]]) -> dict[str, float]:
    """Totals over rounds: requests/s over the summed time, percentiles of all latencies."""
    latencies = sorted(x for _, lat in rounds for x in lat)
    n = len(latencies)
    elapsed = sum(r["elapsed"] for r, _ in rounds)
    return {
        "requests": n,
        "errors": sum(r["errors"] for r, _ in rounds),
        "rps": n / elapsed,
        "p50_ms": latencies[n // 2] * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "p999_ms": latencies[min(n - 1, int(n * 0.999))] * 1000,
        "mean_ms": sum(latencies) / n * 1000,
    }


def load(args: argparse.Namespace) -> None:
    """Child process: drive one endpoint; write the summary and latencies as JSON."""
    try:
        import uvloop

        uvloop.install()  # a cheaper client leaves more of the 2 cores to the server
    except ImportError:
        pass
    probes = json.loads(Path(args.probes).read_text())
    result, latencies = asyncio.run(
        _load(args.url, args.key, probes, args.clients, args.seconds, args.target == "trivial")
    )
    Path(args.out).write_text(json.dumps({"result": result, "latencies": latencies}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve", "load"])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15.0, help="per endpoint, all rounds")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="trivial/verify alternations")
    parser.add_argument("--port", type=int)
    parser.add_argument("--url")
    parser.add_argument("--key")
    parser.add_argument("--probes")
    parser.add_argument("--out")
    parser.add_argument("--target", choices=["verify", "trivial"])
    parser.add_argument("--compare-metrics", action="store_true", help="verify, metrics off vs on")
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
    if args.compare_metrics:
        compare_metrics(args, env, hub, home, probes_path, setup_s)
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", "--port", str(port)], env=env, cwd=REPO
    )
    rounds: dict[str, list[tuple[dict[str, float], list[float]]]] = {"trivial": [], "verify": []}
    cpu: dict[str, dict[str, float]] = {
        t: {"server": 0.0, "client": 0.0} for t in ("trivial", "verify")
    }

    def drive(target: str, seconds: float) -> tuple[dict[str, float], list[float]]:
        out = home / f"load-{target}.json"
        before = cpu_seconds(server.pid), os.times()
        subprocess.run(
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
                str(seconds),
                "--target",
                target,
                "--out",
                str(out),
            ],
            env=env,
            cwd=REPO,
            check=True,
        )
        after = cpu_seconds(server.pid), os.times()
        data = json.loads(out.read_text())
        cpu[target]["server"] += after[0] - before[0]
        cpu[target]["client"] += (after[1].children_user + after[1].children_system) - (
            before[1].children_user + before[1].children_system
        )
        return data["result"], data["latencies"]

    try:
        wait_until_up(url + "/healthz")
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
                "purpose": "bench",
            },
            timeout=120,
        )
        index_s = time.perf_counter() - t1
        assert warm.status_code == 200 and warm.json()["all_match"], warm.text
        for target in ("trivial", "verify"):  # warm-up, not counted
            drive(target, 1.0)
            cpu[target].update(server=0.0, client=0.0)
        for _ in range(args.rounds):
            for target in ("trivial", "verify"):
                rounds[target].append(drive(target, args.seconds / args.rounds))
    finally:
        server.terminate()
        server.wait(timeout=10)
    from onesource.exchange.audit import AuditLog
    from onesource.store import Store

    audit = AuditLog(Store.open().engine).verify()
    t, v = summarize(rounds["trivial"]), summarize(rounds["verify"])
    ratios = [
        vr["requests"] / vr["elapsed"] / (tr["requests"] / tr["elapsed"])
        for (tr, _), (vr, _) in zip(rounds["trivial"], rounds["verify"], strict=True)
    ]
    print("## Exchange verification\n")
    print(
        f"Command: `.venv/bin/python bench/bench_verify.py --rows {args.rows} "
        f"--seconds {args.seconds:g} --clients {args.clients}`  "
    )
    print(
        f"Machine: {os.cpu_count()} cores; uvicorn 1 worker (uvloop, httptools) in one process, "
        f"asyncio keep-alive load ({args.clients} connections, uvloop) in another, SQLite "
        f"metadata DB, rate limit off. Source: {args.rows:,} persons written via the Store "
        f"({setup_s:.1f} s). The endpoints alternate in {args.rounds} rounds of "
        f"{args.seconds / args.rounds:g} s each ({args.seconds:g} s per endpoint), after a 1 s "
        f"warm-up each.\n"
    )
    print(
        "| endpoint | requests | errors | req/s | mean ms | p50 ms | p99 ms | p99.9 ms "
        "| server CPU us/req | client CPU us/req |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, key, r in (
        ("trivial (constant)", "trivial", t),
        ("POST /api/exchange/verify", "verify", v),
    ):
        server_us = cpu[key]["server"] / r["requests"] * 1e6
        client_us = cpu[key]["client"] / r["requests"] * 1e6
        print(
            f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['mean_ms']:.2f} "
            f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p999_ms']:.2f} "
            f"| {server_us:.0f} | {client_us:.0f} |"
        )
    print()
    print(
        f"- throughput ratio verify / trivial: **{v['rps'] / t['rps']:.2f}** (target >= 0.5); "
        f"per round: {', '.join(f'{x:.2f}' for x in ratios)}"
    )
    print(f"- verify p99: **{v['p99_ms']:.1f} ms** (target < 20 ms)")
    print(
        f"- Little's law check: {args.clients} clients / {v['rps']:.0f} req/s = "
        f"{args.clients / v['rps'] * 1000:.1f} ms mean latency (measured {v['mean_ms']:.1f} ms)"
    )
    print(f"- first call (index build for the version, 2 key/claim columns): {index_s:.2f} s")
    print(f"- every call audited (group commit): {audit.entries} entries, chain ok = {audit.ok}")


def compare_metrics(
    args: argparse.Namespace,
    env: dict[str, str],
    hub: dict[str, object],
    home: Path,
    probes_path: Path,
    setup_s: float,
) -> None:
    """/verify on two servers of the same hub, metrics off and on, in alternating rounds."""
    import httpx

    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    for mode in ("off", "on"):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, __file__, "serve", "--port", str(port)],
            env={**env, "ONESOURCE_METRICS": mode},
            cwd=REPO,
        )
        servers[mode] = (proc, f"http://127.0.0.1:{port}")
    rounds: dict[str, list[tuple[dict[str, float], list[float]]]] = {"off": [], "on": []}
    cpu = {"off": 0.0, "on": 0.0}  # server CPU seconds while driven (less load-sensitive)

    def drive(mode: str, seconds: float) -> tuple[dict[str, float], list[float]]:
        out = home / f"load-{mode}.json"
        before = cpu_seconds(servers[mode][0].pid)
        subprocess.run(
            [sys.executable, __file__, "load", "--url", servers[mode][1], "--key",
             str(hub["key"]), "--probes", str(probes_path), "--clients", str(args.clients),
             "--seconds", str(seconds), "--target", "verify", "--out", str(out)],
            env=env, cwd=REPO, check=True,
        )  # fmt: skip
        cpu[mode] += cpu_seconds(servers[mode][0].pid) - before
        data = json.loads(out.read_text())
        return data["result"], data["latencies"]

    try:
        first = hub["probes"][0]  # type: ignore[index]
        for _, url in servers.values():
            wait_until_up(url + "/healthz")
            warm = httpx.post(
                url + "/api/exchange/verify",
                headers={"Authorization": f"Bearer {hub['key']}"},
                json={
                    "resource": "population_register",
                    "key": {"id_number": first["id"]},
                    "claims": {"name": first["name"], "household_division": first["division"]},
                    "purpose": "bench",
                },
                timeout=120,
            )
            assert warm.status_code == 200 and warm.json()["all_match"], warm.text
        for mode in ("off", "on"):
            drive(mode, 1.0)  # warm-up, not counted
        cpu.update(off=0.0, on=0.0)
        for _ in range(args.rounds):
            for mode in ("off", "on"):
                rounds[mode].append(drive(mode, args.seconds / args.rounds))
        scraped = httpx.get(servers["on"][1] + "/metrics").text
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=10)
    off, on = summarize(rounds["off"]), summarize(rounds["on"])
    ratios = [
        b["requests"] / b["elapsed"] / (a["requests"] / a["elapsed"])
        for (a, _), (b, _) in zip(rounds["off"], rounds["on"], strict=True)
    ]
    print("## Web metrics: cost on the /verify hot path\n")
    print(
        f"Command: `.venv/bin/python bench/bench_verify.py --compare-metrics --rows {args.rows} "
        f"--seconds {args.seconds:g} --clients {args.clients}`  "
    )
    print(
        f"Machine: {os.cpu_count()} cores. Two uvicorn servers (1 worker each) of the same hub "
        f"({args.rows:,} persons, {setup_s:.1f} s to write), `ONESOURCE_METRICS=off` and `on`; "
        f"{args.clients} keep-alive clients; the two alternate in {args.rounds} rounds of "
        f"{args.seconds / args.rounds:g} s each, after a 1 s warm-up each.\n"
    )
    print(
        "| metrics | requests | errors | req/s | mean ms | p50 ms | p99 ms | p99.9 ms "
        "| server CPU us/req |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in (("off", off), ("on", on)):
        print(
            f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['mean_ms']:.2f} "
            f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p999_ms']:.2f} "
            f"| {cpu[name] / r['requests'] * 1e6:.0f} |"
        )
    print()
    per_req = {k: cpu[k] / r["requests"] for k, r in (("off", off), ("on", on))}
    print(f"- server CPU per request on / off: **{per_req['on'] / per_req['off']:.2f}**")
    print(
        f"- throughput ratio on / off: **{on['rps'] / off['rps']:.2f}**; per round: "
        f"{', '.join(f'{x:.2f}' for x in ratios)}"
    )
    counted = [
        line for line in scraped.splitlines() if line.startswith("onesource_verify_calls_total")
    ]
    print(f"- the metrics server counted: {'; '.join(counted)}")


if __name__ == "__main__":
    main()
