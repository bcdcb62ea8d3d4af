"""Downloads streamed from the warehouse: ETag, If-None-Match, Range, content types, UTF-8 filenames.

Two variants are derived on request and never checksummed: ``data.csv?header=title``
(the published bytes after the header line, under a header of column titles) and
``data.xlsx`` (written from ``data.parquet``, :mod:`onesource.web.portal.xlsx`).  A
completed download is counted (:mod:`onesource.web.portal.downloads`).

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
import tempfile
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Annotated, Any, Literal
from urllib.parse import quote

from cachetools import LRUCache
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from onesource.store import Store
from onesource.store.errors import VersionNotFoundError
from onesource.store.records import VersionInfo
from onesource.web.deps import CatalogDep, StoreDep
from onesource.web.hosts import absolute
from onesource.web.portal import consumers, downloads, links
from onesource.web.portal.common import FILE_RE, check_name
from schemas.release import Release
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
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
XLSX = "data.xlsx"  # derived from data.parquet on request
BOM = "\ufeff".encode()
RANGE_RE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")  # 18 digits: far past any file

# version folder -> {file name: sha256 or None}; folders never change once published
_SUMS: LRUCache[tuple[str, str], dict[str, str | None]] = LRUCache(maxsize=256)
_SUMS_LOCK = threading.Lock()  # cachetools caches are not thread-safe; reads reorder too
# file reads for downloads, off the event loop (not the loop's default executor)
_READERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="portal-download")
_NOWAIT = hasattr(os, "RWF_NOWAIT")


def _version_files(store: Store, path: str) -> dict[str, str | None]:
    """The files of a release version with their SHA-256 from ``checksums.sha256`` (cached)."""
    key = (store.warehouse.url, path)
    with _SUMS_LOCK:
        hit = _SUMS.get(key)
        if hit is not None:
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
    return files


class _Source:
    """One open release file: positional reads, size, close (plain fd when local)."""

    def __init__(self, store: Store | None, rel: str, fd: int | None = None) -> None:
        self.fd: int | None = None
        self.fh: Any = None
        if store is None:  # a file made for this response (an unlinked temporary file)
            assert fd is not None
            self.fd = fd
            self.size = os.fstat(fd).st_size
        elif store.warehouse.local:
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


async def _stream(
    src: _Source, start: int, length: int, done: Callable[[], None] | None = None
) -> AsyncIterator[bytes | memoryview]:
    """Chunks of ``[start, start + length)``: read on the event loop when the page cache has
    them (``RWF_NOWAIT``, tens of microseconds), else in a reader thread.  ``done`` is called
    once the last byte was handed over (a cancelled download never calls it)."""
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
        if done is not None and pos >= end:
            done()
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


_UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def disposition(release: Release, version: int, file: str) -> str:
    """``attachment`` with the versioned file name: ``filename=`` in ASCII (curl -OJ, old
    clients) and ``filename*=`` (RFC 5987/6266) with the Chinese title for browsers."""
    plain = f"{release.name}-v{version}-{file}"
    titled = _UNSAFE_IN_NAME.sub("_", f"{release.title}-v{version}-{file}")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(titled)}"


@router.get("/datasets/{name}/download/{file}", summary="Download a file of a release")
def download(
    request: Request,
    name: str,
    file: str,
    store: StoreDep,
    catalog: CatalogDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    header: Annotated[
        Literal["name", "title"] | None,
        Query(
            description="data.csv and data.xlsx: a header of field names or of column titles "
            "(a titled data.csv is derived on request; the checksum is the published file's)"
        ),
    ] = None,
    lang: Annotated[
        Literal["zh", "en"], Query(description="language of titles (header=title, data.xlsx)")
    ] = "zh",
    expires: Annotated[str | None, Query(max_length=12, include_in_schema=False)] = None,
    consumer: Annotated[str | None, Query(max_length=64, include_in_schema=False)] = None,
    signature: Annotated[str | None, Query(max_length=128, include_in_schema=False)] = None,
) -> Response:
    if "key" in request.query_params:
        raise HTTPException(400, KEY_IN_URL.replace("{name}", name))
    check_name(catalog, name)
    if not (FILE_RE.match(file) or file == XLSX):
        raise HTTPException(404, f"no file {file!r}")
    if header == "title" and file not in ("data.csv", XLSX):
        raise HTTPException(400, f"header=title applies to data.csv and {XLSX}, not {file!r}")
    release = catalog.releases[name]
    info = release_version(store, name, version)
    files = _version_files(store, info.path)
    source = "data.parquet" if file == XLSX else file
    if source not in files:
        listed = sorted({*files, *([XLSX] if "data.parquet" in files else [])})
        raise HTTPException(
            404, f"no file {file!r} in version {info.number}; files: {', '.join(listed)}"
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
    titled = header == "title" or (file == XLSX and header is None)
    # the version is part of the tag: a withdrawn or superseded version's copies go stale
    variant = (
        f"-xlsx-{'title-' + lang if titled else 'name'}"
        if file == XLSX
        else (f"-title-{lang}" if titled else "")
    )
    etag = f'"v{info.number}-{files[source] or source}{variant}"'
    out_name = file.replace(".csv", "-title.csv") if titled and file != XLSX else file
    headers = {
        "ETag": etag,
        "Accept-Ranges": "none" if variant else "bytes",
        # restricted data never sits in shared caches (proxies, CDNs) or on disk
        **(
            PRIVATE
            if release.open_class is OpenClass.restricted
            else {"Cache-Control": "public, max-age=300"}
        ),
        "Content-Disposition": disposition(release, info.number, out_name),
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    counted = request.method != "HEAD"

    def count(as_file: str) -> Callable[[], None] | None:
        if not counted:
            return None
        return lambda: downloads.record(store, name, info.number, as_file)

    media = TYPES.get(file.rsplit(".", 1)[1], "application/octet-stream")
    if variant:
        if file == XLSX:
            src, prefix, start = _xlsx(store, catalog, release, info, titled, lang), b"", 0
        else:
            src = _Source(store, f"{info.path}/{file}")
            try:
                prefix, start = _titled_header(store, catalog, release, info, src, lang)
            except BaseException:
                src.close()
                raise
        _log_restricted(store, release, who, info.number, file, src)
        length = src.size - start
        headers["Content-Length"] = str(len(prefix) + length)
        return StreamingResponse(
            _prefixed(prefix, _stream(src, start, length, count(file))),
            headers=headers,
            media_type=media,
        )
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
    _log_restricted(store, release, who, info.number, file, src)
    # a download counts once: whole (200) or its first range (206 from byte 0)
    done = count(file) if start == 0 else None
    return StreamingResponse(
        _stream(src, start, length, done), status_code=status, headers=headers, media_type=media
    )


def _log_restricted(
    store: Store, release: Release, who: str | None, version: int, file: str, src: _Source
) -> None:
    if release.open_class is OpenClass.restricted:
        try:
            consumers.log_download(store, who, release.name, version, file)
        except BaseException:
            src.close()
            raise


async def _prefixed(
    prefix: bytes, rest: AsyncIterator[bytes | memoryview]
) -> AsyncIterator[bytes | memoryview]:
    if prefix:
        yield prefix
    async for chunk in rest:
        yield chunk


def _titles(
    store: Store, catalog: Any, release: Release, info: VersionInfo, names: list[str], lang: str
) -> list[str]:
    from onesource.web.portal.dataset_view import version_columns

    by_name = {c.name: c.title for c in version_columns(store, catalog, release, info, lang)}
    return [by_name.get(n, n) for n in names]


def _titled_header(
    store: Store, catalog: Any, release: Release, info: VersionInfo, src: _Source, lang: str
) -> tuple[bytes, int]:
    """A header line of titles, and where the published file's data rows start.

    Everything after the published header line is sent as published, byte for byte.
    """
    from onesource.web.portal.xlsx import safe_text

    head = src.read(0, min(src.size, 1 << 20))
    end = head.find(b"\n")
    line = (head if end < 0 else head[:end]).decode("utf-8-sig")
    names = [n.strip().strip('"') for n in line.split(",")] if line else []
    titles = _titles(store, catalog, release, info, names, lang)
    quoted = ",".join('"' + safe_text(t).replace('"', '""') + '"' for t in titles)
    return BOM + quoted.encode() + b"\n", (src.size if end < 0 else end + 1)


def _xlsx(
    store: Store, catalog: Any, release: Release, info: VersionInfo, titled: bool, lang: str
) -> _Source:
    """The version's workbook to stream: from the on-disk cache for open releases (built on
    first request), built into an unlinked temporary file for restricted ones."""
    import hashlib
    import json

    from onesource.settings import get_settings
    from onesource.web.portal import xlsx
    from onesource.web.portal.dataset_view import version_columns

    rows = int(info.stats.get("rows", info.row_count)) if isinstance(info.stats, dict) else 0
    xlsx.check_rows(release.name, info.number, max(rows, info.row_count))
    data = store.dataset("release", release.name, info.number)
    by_name = {c.name: c for c in version_columns(store, catalog, release, info, lang)}
    cols = [by_name[n] for n in data.schema.names if n in by_name]
    header = [c.title for c in cols] if titled else [c.name for c in cols]
    # the key covers everything the workbook shows: a catalog edit of a title makes a new one
    about: list[Any] = [store.warehouse.url, info.path, lang, header]
    about += [
        [c.name, c.title, c.type_label, c.technique_label, c.description, c.codes] for c in cols
    ]
    key = hashlib.sha256(json.dumps(about, ensure_ascii=False).encode()).hexdigest()[:40]

    def build(out: Any) -> None:
        xlsx.write(data.to_batches(batch_size=20_000), cols, header, out, lang=lang)

    if release.open_class is OpenClass.open:
        folder = get_settings().home / "cache" / "xlsx"
        return _Source(None, "", fd=xlsx.cached(folder, key, build))
    with xlsx.build_slot(key), tempfile.TemporaryFile(prefix="onesource-xlsx-") as tmp:
        build(tmp)  # restricted data: never kept beyond this response
        tmp.flush()
        return _Source(None, "", fd=os.dup(tmp.fileno()))


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
    if not (FILE_RE.match(file) or file == XLSX):
        raise HTTPException(404, f"no file {file!r}")
    who = consumers.consumer_for(store, request.headers.get("x-consumer-key"))
    if who is None:
        raise HTTPException(401, "send a registered key in the X-Consumer-Key header")
    if catalog.releases[name].open_class is OpenClass.restricted and not consumers.granted(
        store, who, name
    ):
        raise HTTPException(403, f"your key is not granted dataset {name!r}")
    info = release_version(store, name, version)
    if ("data.parquet" if file == XLSX else file) not in _version_files(store, info.path):
        raise HTTPException(404, f"no file {file!r} in version {info.number}")
    path = request.app.url_path_for("download", name=name, file=file)
    query = links.sign(name, file, info.number, who)
    return {"url": absolute(f"{path}?{query}"), "expires_in": links.LINK_TTL_S}
