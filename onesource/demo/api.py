"""The demo departments' own HTTP APIs (health appointments, service ratings).

Serves what the seeder wrote under ``<home>/sources/api/`` with exactly the
pagination the catalog declares: page/size for appointments (records at
``data.items``), cursor/limit for ratings (records at ``items``, next cursor
at ``next``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from fastapi import FastAPI, HTTPException, Query


def _rows(path: Path) -> Any:
    if not path.exists():
        raise HTTPException(503, f"demo source {path.name} not seeded; run onesource demo seed")
    return pq.read_table(path)


def create_app(home: Path) -> FastAPI:
    api = Path(home) / "sources" / "api"
    app = FastAPI(title="Qinghe departments' demo APIs")
    cache: dict[str, Any] = {}

    def table(name: str) -> Any:
        if name not in cache:
            cache[name] = _rows(api / f"{name}.parquet")
        return cache[name]

    def jsonable(t: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = t.to_pylist()
        for row in rows:
            for k, v in row.items():
                if hasattr(v, "isoformat"):
                    row[k] = v.isoformat(sep=" ") if hasattr(v, "hour") else v.isoformat()
        return rows

    @app.get("/api/appointments")
    def appointments(
        page: int = Query(1, ge=1), size: int = Query(1000, ge=1, le=10_000)
    ) -> dict[str, Any]:
        t = table("appointments")
        start = (page - 1) * size
        items = jsonable(t.slice(start, size)) if start < t.num_rows else []
        return {"data": {"items": items, "page": page, "size": size, "total": t.num_rows}}

    @app.get("/api/ratings")
    def ratings(
        cursor: int = Query(0, ge=0), limit: int = Query(1000, ge=1, le=10_000)
    ) -> dict[str, Any]:
        t = table("ratings")
        items = jsonable(t.slice(cursor, limit)) if cursor < t.num_rows else []
        nxt = cursor + limit if cursor + limit < t.num_rows else None
        return {"items": items, "next": nxt}

    return app


def serve(home: Path, host: str = "127.0.0.1", port: int = 8765) -> None:
    import uvicorn

    uvicorn.run(create_app(home), host=host, port=port, log_level="warning")
