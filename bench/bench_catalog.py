"""Validate a generated 2,000-resource / 40,000-field catalog.

Baseline in the same run: a bare C-accelerated YAML parse (yaml.CSafeLoader) of
the same files.  Run: .venv/bin/python bench/bench_catalog.py [--resources 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_catalog import generate

from onesource.catalog.compiled import load_compiled
from onesource.catalog.loader import load_catalog


def bare_parse(root: Path) -> int:
    n = 0
    for path in sorted(root.rglob("*.yaml")):
        yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        n += 1
    return n


def timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", type=int, default=2000)
    ap.add_argument("--fields", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "catalog", args.resources, args.fields)
        result = load_catalog(root)
        assert result.ok, result.issues[:3]
        fields = sum(len(r.fields) for r in result.catalog.resources.values())
        bare = timed(lambda: bare_parse(root), args.repeat)
        full = timed(lambda: load_catalog(root), args.repeat)
        cache = Path(tmp) / "cache"
        load_compiled(root, cache)
        compiled = timed(lambda: load_compiled(root, cache), args.repeat)
    b, f, c = statistics.median(bare), statistics.median(full), statistics.median(compiled)
    print(
        f"### Catalog validation: {args.resources} resources / {fields} fields, {result.files} files"
    )
    print(
        f"command: `.venv/bin/python bench/bench_catalog.py --resources {args.resources} --fields {args.fields}`"
        f" (median of {args.repeat})\n"
    )
    print("| step | median s | ratio to bare CSafeLoader parse |")
    print("|---|---|---|")
    print(f"| bare `yaml.CSafeLoader` parse (baseline) | {b:.2f} | 1.00 |")
    print(
        f"| `load_catalog` (parse + positions + pydantic + cross-file rules) | {f:.2f} | {f / b:.2f} |"
    )
    print(f"| `load_compiled` (cached JSON, what DAG parsing uses) | {c:.2f} | {c / b:.2f} |")


if __name__ == "__main__":
    main()
