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
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from onesource.store import Store
from onesource.store.errors import VersionNotFoundError
from onesource.store.records import VersionInfo
from onesource.web.deps import CatalogDep, StoreDep
from onesource.web.hosts import absolute
from onesource.web.portal import consumers, links
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


MAX_VERSION = 2**31 - 1  # version numbers are 32-bit integers in the metadata DB
KEY_IN_URL = (
    "keys are not accepted in URLs (they end up in logs and browser history): send the "
    "X-Consumer-Key header, or ask POST /api/open/datasets/{name}/links for a signed link"
)


def release_version(store: Store, name: str, version: int | None) -> VersionInfo:
    """The version to serve (default: current); 404 when absent, 410 when withdrawn."""
    if version is not None:
        gone = store.withdrawals.get("release", name, version)
        if gone is not None:
            raise HTTPException(
                410,
                f"version {version} of {name!r} was withdrawn: {gone.reason}",
                headers={"Cache-Control": "no-store"},
            )
        try:
            return store.version("release", name, version)
        except VersionNotFoundError:
            raise HTTPException(404, f"dataset {name!r} has no version {version}") from None
    info = store.current("release", name)
    if info is None:
        if store.withdrawals.of("release", name):
            raise HTTPException(
                410,
                f"every published version of {name!r} was withdrawn",
                headers={"Cache-Control": "no-store"},
            )
        raise HTTPException(404, f"dataset {name!r} has no published version")
    return info


PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Authorization, X-Consumer-Key"}


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


@router.get("/datasets/{name}/download/{file}", summary="Download a file of a release")
def download(
    request: Request,
    name: str,
    file: str,
    store: StoreDep,
    catalog: CatalogDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    expires: Annotated[str | None, Query(max_length=12, include_in_schema=False)] = None,
    consumer: Annotated[str | None, Query(max_length=64, include_in_schema=False)] = None,
    signature: Annotated[str | None, Query(max_length=128, include_in_schema=False)] = None,
) -> Response:
    if "key" in request.query_params:
        raise HTTPException(400, KEY_IN_URL.replace("{name}", name))
    check_name(catalog, name)
    if not FILE_RE.match(file):
        raise HTTPException(404, f"no file {file!r}")
    release = catalog.releases[name]
    info = release_version(store, name, version)
    files = _version_files(store, info.path)
    if file not in files:
        raise HTTPException(
            404, f"no file {file!r} in version {info.number}; files: {', '.join(sorted(files))}"
        )
    who = None
    if release.open_class is OpenClass.restricted:
        if signature is not None:
            signed = links.verify(name, file, version, expires or "", consumer or "", signature)
            who = signed if signed and consumers.consumer_active(store, signed) else None
            if who is None:
                raise HTTPException(403, "this download link is invalid or has expired")
        else:
            who = consumers.consumer_for(
                store, request.headers.get("x-consumer-key") or _bearer(request)
            )
        if who is None:
            raise HTTPException(
                401,
                f"dataset {name!r} is restricted ({release.open_condition}): register at "
                "/register and send your key in the X-Consumer-Key header "
                "(or Authorization: Bearer <key>)",
                headers=PRIVATE,
            )
        if not consumers.granted(store, who, name):
            raise HTTPException(403, f"your key is not granted dataset {name!r}", headers=PRIVATE)
    # the version is part of the tag: a withdrawn or superseded version's copies go stale
    etag = f'"v{info.number}-{files[file] or file}"'
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        # restricted data never sits in shared caches (proxies, CDNs) or on disk
        **(
            PRIVATE
            if release.open_class is OpenClass.restricted
            else {"Cache-Control": "public, max-age=300"}
        ),
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
            consumers.log_download(store, who, name, info.number, file)
        except BaseException:
            src.close()
            raise
    media = TYPES.get(file.rsplit(".", 1)[1], "application/octet-stream")
    return StreamingResponse(
        _stream(src, start, length), status_code=status, headers=headers, media_type=media
    )


@router.post(
    "/api/open/datasets/{name}/links",
    summary="A signed download link (10 minutes) for a registered consumer's browser",
)
def signed_link(
    request: Request,
    name: str,
    store: StoreDep,
    catalog: CatalogDep,
    file: Annotated[str, Query(max_length=64)] = "data.csv",
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> dict[str, Any]:
    """Send ``X-Consumer-Key``; get a URL a browser can follow without the key."""
    check_name(catalog, name)
    if not FILE_RE.match(file):
        raise HTTPException(404, f"no file {file!r}")
    who = consumers.consumer_for(store, request.headers.get("x-consumer-key"))
    if who is None:
        raise HTTPException(401, "send a registered key in the X-Consumer-Key header")
    if catalog.releases[name].open_class is OpenClass.restricted and not consumers.granted(
        store, who, name
    ):
        raise HTTPException(403, f"your key is not granted dataset {name!r}")
    info = release_version(store, name, version)
    if file not in _version_files(store, info.path):
        raise HTTPException(404, f"no file {file!r} in version {info.number}")
    path = request.app.url_path_for("download", name=name, file=file)
    query = links.sign(name, file, info.number, who)
    return {"url": absolute(f"{path}?{query}"), "expires_in": links.LINK_TTL_S}
