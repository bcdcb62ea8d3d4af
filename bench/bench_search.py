"""Benchmark: search quality (recall@5, MRR) on the query set; home and search page latency.

``bench/search_queries.yaml`` holds realistic queries and the datasets a person expects;
quality is measured on the demo catalog (``quality``, the default).

``load``: a generated catalog of 500 open datasets (``gen_catalog`` resources, one release
each, ``--published`` of them built and published through ``build_release``), the app under
uvicorn (1 worker) in a child process, 32 keep-alive clients (``benchlib.closed_loop``) on the
home page, search result pages, and, as the same-run baseline, a static copy of the home
page's HTML served by the same server (Starlette ``StaticFiles`` mounted in the same app).

    .venv/bin/python bench/bench_search.py [quality] [--catalog catalog] [--k 5]
    .venv/bin/python bench/bench_search.py load [--datasets 500] [--published 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
QUERIES = REPO / "bench" / "search_queries.yaml"


def load_queries(path: Path = QUERIES) -> list[dict[str, Any]]:
    import yaml

    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["queries"])


def evaluate(index: Any, cases: list[dict[str, Any]], k: int = 5) -> dict[str, Any]:
    """recall@k (share of expected items in the top k, averaged over queries), MRR (1/rank of
    the first expected item), and the queries that missed something."""
    recalls, reciprocal, misses = [], [], []
    for case in cases:
        names = [h.key.split(":", 1)[1] for h in index.search(str(case["q"]))]
        expect = set(case["expect"])
        found = expect & set(names[:k])
        recalls.append(len(found) / len(expect))
        first = next((n for n, name in enumerate(names, 1) if name in expect), None)
        reciprocal.append(1 / first if first else 0.0)
        if found != expect:
            misses.append({"q": case["q"], "expect": sorted(expect), "top": names[:k]})
    return {
        "queries": len(cases),
        f"recall@{k}": statistics.fmean(recalls),
        "mrr": statistics.fmean(reciprocal),
        "misses": misses,
    }


def quality(args: argparse.Namespace) -> None:
    from onesource.catalog.loader import load_catalog
    from onesource.web.portal.search import SearchIndex

    catalog = load_catalog(args.catalog).raise_for_issues()
    t0 = time.perf_counter()
    index = SearchIndex(catalog)
    build_ms = (time.perf_counter() - t0) * 1000
    cases = load_queries()
    result = evaluate(index, cases, args.k)
    times = []
    for _ in range(20):
        for case in cases:
            t = time.perf_counter()
            index.search(str(case["q"]))
            times.append(time.perf_counter() - t)
    times.sort()
    print(f"queries: {result['queries']}  documents: {len(index.docs)}  build: {build_ms:.1f} ms")
    print(f"recall@{args.k}: {result[f'recall@{args.k}']:.3f}  MRR: {result['mrr']:.3f}")
    print(
        f"query latency: p50 {times[len(times) // 2] * 1e3:.3f} ms, "
        f"p99 {times[int(len(times) * 0.99)] * 1e3:.3f} ms"
    )
    for miss in result["misses"]:
        print(f"  missed: {miss['q']!r} expected {miss['expect']} got {miss['top']}")


WORDS = [
    "人口",
    "企业",
    "医疗",
    "教育",
    "交通",
    "环境",
    "住房",
    "社保",
    "就业",
    "旅游",
    "农业",
    "文化",
]
KINDS = ["登记信息", "统计数据", "名录", "监测数据", "服务记录"]
LOAD_QUERIES = [
    "交通",
    "医疗 统计",
    "企业名录",
    "环境监测",
    "部门007",
    "社保",
    "住房",
    "人口",
    "旅游服务",
]


def generate(dest: Path, datasets: int) -> Path:
    """``datasets`` open resources (gen_catalog) with varied titles, one open release each."""
    import yaml
    from gen_catalog import generate as gen

    gen(dest, resources=datasets, fields=6, departments=20)
    releases = dest / "releases"
    releases.mkdir()
    for path in sorted((dest / "resources").rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        n = int(doc["name"][3:])
        word, kind = WORDS[n % len(WORDS)], KINDS[(n // len(WORDS)) % len(KINDS)]
        doc.update(
            title=f"{word}{kind}{n}",
            summary=f"第{n}号{word}{kind}，按月更新，供公众下载。",
            keywords=[word, kind[:2]],
            open_class="open",
            issued=f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
        )
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        rel = {
            "name": f"open{n:05d}",
            "title": f"{word}{kind}{n}（开放版）",
            "title_en": f"Dataset {n}",
            "summary": doc["summary"],
            "kind": "microdata",
            "publisher": doc["provider"],
            "open_class": "open",
            "update_cycle": "monthly",
            "theme": ["public_service", "health", "housing", "urban_governance"][n % 4],
            "keywords": [word, kind],
            "inputs": [{"resource": doc["name"]}],
            "columns": {
                f: {"source": f"{doc['name']}.{f}", "technique": "keep"} for f in doc["fields"]
            },
        }
        (releases / f"open{n:05d}.yaml").write_text(
            yaml.safe_dump(rel, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return dest


def publish(count: int) -> None:
    """Ingest 20 rows into the first ``count`` resources and publish their releases."""
    import pyarrow as pa

    from onesource.release.build import build_release
    from onesource.store import Store
    from onesource.web.deps import get_catalog, reset_caches
    from schemas.arrow import resource_schema

    reset_caches()
    store, catalog = Store.open(), get_catalog()
    for name in sorted(catalog.releases)[:count]:
        res = catalog.resources[catalog.releases[name].inputs[0].resource]
        schema = resource_schema(catalog, res)
        cols = {
            f.name: pa.array(
                [f"{f.name}-{i}" for i in range(20)]
                if pa.types.is_string(f.type)
                else list(range(20)),
                f.type,
            )
            for f in schema
        }
        with (
            store.begin_run("ingest", res.name) as run,
            store.open_writer("resource", res.name, run.id, schema) as w,
        ):
            w.write(pa.table(cols, schema=schema))
            w.commit()
        build_release(name, store=store, catalog=catalog)


def serve(port: int, static_dir: str) -> None:
    """Child process: the app with a static copy of its home page mounted, one uvicorn worker."""
    import uvicorn
    from starlette.staticfiles import StaticFiles

    from onesource.web.app import create_app

    app = create_app()
    app.mount("/bench-static", StaticFiles(directory=static_dir), name="bench-static")
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def _drive(url: str, paths: list[str], clients: int, seconds: float) -> dict[str, float]:
    import asyncio
    from urllib.parse import urlsplit

    from benchlib import closed_loop

    host = urlsplit(url).netloc
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\n\r\n".encode() for p in paths
    ]

    def ok(head: bytes, body: bytes) -> bool:
        return head.startswith(b"HTTP/1.1 200") and b"</html>" in body

    lat, errors, elapsed = asyncio.run(closed_loop(url, requests, clients, seconds, ok))
    lat.sort()
    n = len(lat)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "p50_ms": lat[n // 2] * 1000,
        "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1000,
    }


def load(args: argparse.Namespace) -> None:
    import json
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from urllib.parse import quote

    import httpx
    from benchlib import free_port, wait_until_up

    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    try:
        t0 = time.perf_counter()
        cat = generate(work / "catalog", args.datasets)
        env = {
            **os.environ,
            "ONESOURCE_HOME": str(work / "hub"),
            "ONESOURCE_CATALOG": str(cat),
            "ONESOURCE_RELEASE_KEY": "s" * 40,
            "PYTHONPATH": str(REPO),
        }
        os.environ.update(env)
        publish(args.published)
        setup_s = time.perf_counter() - t0
        port = free_port()
        static = work / "static"
        static.mkdir()
        server = subprocess.Popen(
            [sys.executable, __file__, "serve", "--port", str(port), "--static", str(static)],
            env=env,
            cwd=REPO,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url + "/healthz")
            home = httpx.get(url + "/?lang=zh", timeout=60)
            (static / "home.html").write_bytes(home.content)  # same bytes, served statically
            paths = {
                "static": ["/bench-static/home.html"],
                "home": ["/?lang=zh", "/?lang=zh&page=2", "/?lang=zh&sort=name&page=5"],
                "search": [f"/?lang=zh&q={quote(q)}" for q in LOAD_QUERIES],
                # every request a query not seen before (more than the page caches hold):
                # the cost of search, facets and rendering without any cache
                "uncached": [
                    f"/?lang=zh&q={quote(WORDS[n % len(WORDS)] + str(n))}" for n in range(4096)
                ],
            }
            for group in paths.values():
                for p in group[:20]:
                    assert httpx.get(url + p, timeout=60).status_code == 200, p
            results: dict[str, Any] = {}
            for _ in range(args.rounds):  # interleaved, so load drift hits all alike
                for name, group in paths.items():
                    got = _drive(url, group, args.clients, args.seconds)
                    results.setdefault(name, []).append(got)
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {
        name: {
            "requests": sum(r["requests"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
            "rps": statistics.fmean(r["rps"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs),
        }
        for name, runs in results.items()
    }
    print(
        f"catalog: {args.datasets} datasets ({args.published} published), setup {setup_s:.0f} s, "
        f"home page {len(home.content):,} bytes; {args.clients} clients, "
        f"{args.rounds} x {args.seconds:.0f} s per target"
    )
    base = summary["static"]["p99_ms"]
    for name, r in summary.items():
        print(
            f"{name:7s} p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
            f"{r['rps']:7.0f} req/s  errors {r['errors']}  p99/static {r['p99_ms'] / base:5.2f}"
        )
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="quality", choices=["quality", "load", "serve"])
    parser.add_argument("--catalog", default=str(REPO / "catalog"))
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--datasets", type=int, default=500)
    parser.add_argument("--published", type=int, default=100)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int)
    parser.add_argument("--static")
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args.port, args.static)
    elif args.mode == "load":
        load(args)
    else:
        quality(args)


if __name__ == "__main__":
    main()
