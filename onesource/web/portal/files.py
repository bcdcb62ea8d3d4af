"""Downloads streamed from the warehouse: ETag, If-None-Match, Range, content types, UTF-8 filenames.

The route is on the hot path of every download, so it does the least per request: one
version lookup and the version's checksums cached by folder (versions are immutable).  On a
local warehouse the file is read with positional reads on a plain descriptor in 256 KiB
chunks: on the event loop when the page cache holds them (``RWF_NOWAIT`` never blocks), in
a reader thread otherwise; a thread hop per chunk cost a third of the throughput under
concurrent downloads.  bench/bench_portal.py measures it against static-file servers.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from onesource.store import Store
from onesource.web.deps import CatalogDep, StoreDep
from onesource.web.portal import consumers
from onesource.web.portal.common import FILE_RE, check_name
from schemas.vocab import OpenClass

router = APIRouter(tags=["open"])
CHUNK = 1 << 18
TYPES = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
    "jsonld": "application/ld+json",
    "md": "text/markdown; charset=utf-8",
    "sha256": "text/plain; charset=utf-8",
}
RANGE_RE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")  # 18 digits: far past any file

# version folder -> {file name: sha256 or None}; folders never change once published
_SUMS: OrderedDict[tuple[str, str], dict[str, str | None]] = OrderedDict()
_SUMS_MAX = 256
_SUMS_LOCK = threading.Lock()
# file reads for downloads, off the event loop (not the loop's default executor)
_READERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="portal-download")
_NOWAIT = hasattr(os, "RWF_NOWAIT")


def _version_files(store: Store, path: str) -> dict[str, str | None]:
    """The files of a release version with their SHA-256 from ``checksums.sha256`` (cached)."""
    key = (store.warehouse.url, path)
    with _SUMS_LOCK:
        hit = _SUMS.get(key)
        if hit is not None:
            _SUMS.move_to_end(key)
            return hit
    with store.warehouse.open(f"{path}/checksums.sha256") as fh:
        sums = dict(
            reversed(line.split("  ", 1))
            for line in fh.read().decode().splitlines()
            if line.strip()
        )
    files = {f: sums.get(f) for f in store.warehouse.files(path)}
    with _SUMS_LOCK:
        _SUMS[key] = files
        while len(_SUMS) > _SUMS_MAX:
            _SUMS.popitem(last=False)
    return files


class _Source:
    """One open release file: positional reads, size, close (plain fd when local)."""

    def __init__(self, store: Store, rel: str) -> None:
        self.fd: int | None = None
        self.fh: Any = None
        if store.warehouse.local:
            self.fd = os.open(store.warehouse.full(rel), os.O_RDONLY)
            self.size = os.fstat(self.fd).st_size
        else:
            self.fh = store.warehouse.open(rel, "rb")
            self.size = self.fh.seek(0, 2)
        self._lock = threading.Lock()

    def read_cached(self, start: int, n: int) -> memoryview | None:
        """Up to ``n`` bytes if the page cache already holds them, without blocking; else None."""
        global _NOWAIT
        if self.fd is None or not _NOWAIT:
            return None
        buf = bytearray(n)
        try:
            got = os.preadv(self.fd, [buf], start, os.RWF_NOWAIT)
        except BlockingIOError:
            return None
        except OSError as exc:  # unsupported here: use the threads from now on
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                _NOWAIT = False
            return None  # any other error is raised by the blocking read
        return memoryview(buf)[:got] if got else None

    def read(self, start: int, n: int) -> bytes:
        if self.fd is not None:
            return os.pread(self.fd, n, start)
        with self._lock:
            self.fh.seek(start)
            return bytes(self.fh.read(n))

    def __del__(self) -> None:  # a response that never started streaming
        self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        elif self.fh is not None:
            self.fh.close()
            self.fh = None


async def _stream(src: _Source, start: int, length: int) -> AsyncIterator[bytes | memoryview]:
    """Chunks of ``[start, start + length)``: read on the event loop when the page cache has
    them (``RWF_NOWAIT``, tens of microseconds), else in a reader thread."""
    end = start + length
    pos = start
    pending: Future[bytes] | None = None
    try:
        while pos < end:
            n = min(CHUNK, end - pos)
            chunk: bytes | memoryview | None = src.read_cached(pos, n)
            if chunk is None:
                pending = _READERS.submit(src.read, pos, n)
                chunk = await asyncio.wrap_future(pending)
                pending = None
            if not chunk:
                break
            pos += len(chunk)
            yield chunk
    finally:
        if pending is not None and not pending.done():
            # cancelled while a thread is reading: close once that read has finished
            pending.add_done_callback(lambda _f: src.close())
        else:
            src.close()


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
    info = (
        store.current("release", name)
        if version is None
        else store.version("release", name, version)
    )
    if info is None:
        raise HTTPException(404, f"dataset {name!r} has no published version")
    files = _version_files(store, info.path)
    if file not in files:
        raise HTTPException(
            404, f"no file {file!r} in version {info.number}; files: {', '.join(sorted(files))}"
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
    etag = f'"{files[file] or f"v{info.number}-{file}"}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": "public, max-age=300",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'{name}-v{info.number}-{file}')}",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    src = _Source(store, f"{info.path}/{file}")
    size = src.size
    start, length, status = 0, size, 200
    rng = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if rng and if_range is not None and if_range != etag:
        rng = None  # resuming a file that has changed since: send the whole new one (RFC 9110)
    if rng:
        m = RANGE_RE.match(rng.strip())
        first, last = (m.group(1), m.group(2)) if m else ("", "")
        if not m or (first == "" and last == ""):
            src.close()
            raise HTTPException(
                416,
                "only one byte range is supported: bytes=first-last, bytes=first- or bytes=-suffix",
                headers={"Content-Range": f"bytes */{size}"},
            )
        if first == "":
            start = max(0, size - int(last))
            end = size - 1
        else:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        if start >= size or start > end:
            src.close()
            raise HTTPException(
                416,
                f"range not satisfiable for {size} bytes",
                headers={"Content-Range": f"bytes */{size}"},
            )
        length, status = end - start + 1, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(length)
    if release.open_class is OpenClass.restricted:
        try:
            consumers.log_download(store, consumer, name, info.number, file)
        except BaseException:
            src.close()
            raise
    media = TYPES.get(file.rsplit(".", 1)[1], "application/octet-stream")
    return StreamingResponse(
        _stream(src, start, length), status_code=status, headers=headers, media_type=media
    )
