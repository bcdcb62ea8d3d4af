"""Downloads streamed from the warehouse: ETag, If-None-Match, Range, content types, UTF-8 filenames."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from onesource.web.deps import CatalogDep, StoreDep
from onesource.web.portal import consumers
from onesource.web.portal.common import FILE_RE, check_name
from onesource.web.portal.model import dataset
from schemas.vocab import OpenClass

router = APIRouter(tags=["open"])
CHUNK = 1 << 20
TYPES = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
    "jsonld": "application/ld+json",
    "md": "text/markdown; charset=utf-8",
    "sha256": "text/plain; charset=utf-8",
}
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _stream(fh: Any, start: int, length: int) -> Iterator[bytes]:
    try:
        fh.seek(start)
        left = length
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        fh.close()


@router.get("/datasets/{name}/download/{file}", summary="Download a file of a release")
def download(
    request: Request,
    name: str,
    file: str,
    store: StoreDep,
    catalog: CatalogDep,
    version: int | None = None,
    key: str | None = None,
) -> Response:
    check_name(catalog, name)
    if not FILE_RE.match(file):
        raise HTTPException(404, f"no file {file!r}")
    release = catalog.releases[name]
    ds = dataset(store, catalog, release, version)
    if not ds.published:
        raise HTTPException(404, f"dataset {name!r} has no published version")
    if file not in ds.files:
        raise HTTPException(
            404, f"no file {file!r} in version {ds.version}; files: {', '.join(sorted(ds.files))}"
        )
    consumer = None
    if release.open_class is OpenClass.restricted:
        consumer = consumers.consumer_for(store, key or request.headers.get("x-consumer-key"))
        if consumer is None:
            raise HTTPException(
                401,
                f"dataset {name!r} is restricted ({release.open_condition}): register at "
                "/register and pass your key as ?key= or the X-Consumer-Key header",
            )
    assert ds.version is not None
    info = ds.files[file]
    etag = f'"{info["sha256"] or f"v{ds.version}-{file}"}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "public, max-age=300",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'{name}-v{ds.version}-{file}')}",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    fh = store.open_file("release", name, file, ds.version)
    size = fh.seek(0, 2)
    start, length, status = 0, size, 200
    rng = request.headers.get("range")
    if rng:
        m = RANGE_RE.match(rng.strip())
        first, last = (m.group(1), m.group(2)) if m else ("", "")
        if not m or (first == "" and last == ""):
            fh.close()
            raise HTTPException(
                416,
                "only one bytes range is supported",
                headers={"Content-Range": f"bytes */{size}"},
            )
        if first == "":
            start = max(0, size - int(last))
            end = size - 1
        else:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        if start >= size or start > end:
            fh.close()
            raise HTTPException(
                416,
                f"range not satisfiable for {size} bytes",
                headers={"Content-Range": f"bytes */{size}"},
            )
        length, status = end - start + 1, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(length)
    if release.open_class is OpenClass.restricted:
        consumers.log_download(store, consumer, name, ds.version, file)
    media = TYPES.get(file.rsplit(".", 1)[1], "application/octet-stream")
    return StreamingResponse(
        _stream(fh, start, length), status_code=status, headers=headers, media_type=media
    )
