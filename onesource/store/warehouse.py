"""The warehouse: a folder or any fsspec URL holding Parquet and release files.

Layout under the root (paths relative to it are what the metadata DB stores)::

    raw/<resource>/<run_id>/part-00000.parquet     landed source data, per run
    curated/<resource>/v<N>-<run_id>/data.parquet  immutable resource versions
    quarantine/<resource>/<run_id>/rows.parquet    rows that failed checks, per run
    reports/<resource>/<run_id>/...                quality and run reports
    open/<release>/v<N>-<run_id>/...               open-data release files
    base/<entity>/v<N>-<run_id>/...                golden records
    _staging/<run_id>.<token>/                     work in progress, never read

Everything is written under ``_staging`` and renamed into place when complete.
On a local disk the rename is atomic; on object stores it is a copy, which is
still safe because readers only follow paths recorded in the metadata DB.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from typing import IO, Any

import fsspec
import pyarrow.fs as pafs
from fsspec.implementations.local import LocalFileSystem

from onesource.store.errors import StoreError
from schemas.errors import TransientError

STAGING = "_staging"
READ_BLOCK = 4 << 20  # bytes an object-store read fetches ahead (one GET per block)


class WarehouseError(StoreError):
    """A warehouse path is missing, taken, or the filesystem refused an operation."""

    code = "warehouse-error"


class WarehousePermissionError(WarehouseError):
    """The filesystem refused a write: permission denied or a read-only filesystem."""

    code = "warehouse-permission-denied"


class WarehouseFullError(WarehouseError):
    """The filesystem refused a write: no space left on the device (or quota exceeded)."""

    code = "warehouse-disk-full"


class WarehouseUnavailableError(TransientError):
    """The object store behind the warehouse could not be reached (network, endpoint, outage)."""

    code = "warehouse-unavailable"


_FULL = {errno.ENOSPC, errno.EDQUOT}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}
_UNCHANGED = "nothing partial was kept and what readers see has not changed"


def refusal(exc: OSError, what: str, path: str) -> WarehouseError | None:
    """A clear error for a write the filesystem refused (None for other OS errors).

    ``what`` names what was being written (``resource 'population'``); the path
    is the one the OS names (a rename's target first), else ``path``.  pyarrow's
    own write errors carry the errno but no file name.
    """
    where = str(exc.filename2 or exc.filename or path)
    if exc.errno in _FULL:
        cause = "quota exceeded" if exc.errno == errno.EDQUOT else "no space left on device"
        return WarehouseFullError(
            f"{what}: the disk is full ({cause}) writing {where}",
            hint=f"free space on the warehouse's disk (or move the warehouse) and run again; "
            f"{_UNCHANGED}",
        )
    if exc.errno in _DENIED or isinstance(exc, PermissionError):
        cause = "read-only filesystem" if exc.errno == errno.EROFS else "permission denied"
        return WarehousePermissionError(
            f"{what}: {cause} writing {where}",
            hint=f"let the hub's user write to that folder (and its parent) and run again; "
            f"{_UNCHANGED}",
        )
    return None


@contextlib.contextmanager
def refused_writes(what: str, path: str) -> Iterator[None]:
    """Turn permission-denied and disk-full OS errors inside the block into clear errors."""
    try:
        yield
    except OSError as exc:
        error = refusal(exc, what, path)
        if error is None:
            raise
        raise error from exc


class Warehouse:
    """Paths and file operations over one warehouse root."""

    def __init__(self, root: str) -> None:
        self.url = root
        fs, path = fsspec.core.url_to_fs(root)
        if not isinstance(fs, LocalFileSystem) and fs.dircache.use_listings_cache:
            # other processes write the same warehouse: a cached listing of a folder makes
            # s3fs answer "not found" for a file another process added to it since
            fs, path = fsspec.core.url_to_fs(root, use_listings_cache=False)
        self.fs: fsspec.AbstractFileSystem = fs
        self.root: str = path.rstrip("/") or "/"
        self.local = isinstance(fs, LocalFileSystem)
        # pyarrow's own local filesystem is faster than going through fsspec
        self.arrow_fs: pafs.FileSystem = (
            pafs.LocalFileSystem() if self.local else pafs.PyFileSystem(pafs.FSSpecHandler(fs))
        )
        if self.local:
            self.fs.makedirs(self.root, exist_ok=True)
        else:
            self._reach()

    def _reach(self) -> None:
        # the first call to an object store: say which warehouse and what to check, not a
        # bare botocore EndpointConnectionError or AccessDenied
        try:
            self.fs.makedirs(self.root, exist_ok=True)
        except Exception as exc:
            if isinstance(exc, PermissionError) or "Credentials" in type(exc).__name__:
                raise self._refused_keys(exc) from exc
            raise WarehouseUnavailableError(
                f"warehouse {self.url}: the object store cannot be reached "
                f"({type(exc).__name__}: {exc})",
                hint="check ONESOURCE_WAREHOUSE, the endpoint (AWS_ENDPOINT_URL) and that the "
                "store is up; nothing was read or written",
            ) from exc

    def _refused_keys(self, exc: Exception) -> WarehouseError:
        return WarehousePermissionError(
            f"warehouse {self.url}: the object store refused the hub's credentials "
            f"({type(exc).__name__}: {exc})",
            hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the instance role) and "
            "that they may list, read, write and delete under the prefix",
        )

    def __repr__(self) -> str:
        return f"Warehouse({self.url!r})"

    def full(self, rel: str) -> str:
        """The filesystem path of a path relative to the root."""
        return f"{self.root.rstrip('/')}/{rel.strip('/')}" if rel else self.root

    def uri(self, rel: str) -> str:
        """A URL (or local path) that other tools can open."""
        full = self.full(rel)
        if self.local:
            return full
        return str(self.fs.unstrip_protocol(full))

    def new_staging(self, run_id: str) -> str:
        """A fresh, unique staging folder for one writer (relative path)."""
        rel = f"{STAGING}/{run_id}.{secrets.token_hex(4)}"
        self.fs.makedirs(self.full(rel), exist_ok=True)
        return rel

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self.full(rel)))

    def seal(self, rel: str) -> None:
        """Flush a finished folder's files to disk (local only) before it is published."""
        if self.local:
            self._fsync_tree(self.full(rel))

    def publish(self, staging_rel: str, final_rel: str, *, seal: bool = True) -> None:
        """Rename a finished staging folder into place; never overwrites."""
        src, dst = self.full(staging_rel), self.full(final_rel)
        if self.fs.exists(dst):
            raise WarehouseError(
                f"warehouse path {self.uri(final_rel)} already exists",
                hint="versions are immutable; run `gc()` if it is an orphan of a killed run",
            )
        self.fs.makedirs(self.fs._parent(dst), exist_ok=True)
        if self.local:
            if seal:
                self._fsync_tree(src)
            os.rename(src, dst)  # atomic on one filesystem, refuses a non-empty target
            self._fsync_dir(os.path.dirname(dst))
        else:
            self._copy_tree(src, dst)

    def _copy_tree(self, src: str, dst: str) -> None:
        # object stores have no rename: server-side copy of every object, then delete the
        # sources.  A copy cut short leaves an unreferenced folder that gc() removes; the
        # metadata DB, not the objects, decides what readers see.  (fsspec's recursive mv
        # also tries to copy the folder itself, which is no object on S3: NoSuchKey.)
        sources = self.fs.find(src)
        if not sources:
            raise WarehouseError(
                f"nothing to publish at {self.fs.unstrip_protocol(src)}",
                hint="the staging folder is empty or was removed (by gc?) before its commit",
            )
        targets = [f"{dst}/{f[len(src) :].lstrip('/')}" for f in sources]
        self.fs.copy(sources, targets)
        self.fs.rm(src, recursive=True)  # the folder too, where the filesystem has folders

    def remove(self, rel: str) -> bool:
        """Delete a folder or file, best-effort; True when something was removed."""
        full = self.full(rel)
        try:
            if not self.fs.exists(full):
                return False
            self.fs.rm(full, recursive=True)
            return True
        except (OSError, FileNotFoundError):
            return False

    def listdir(self, rel: str) -> list[str]:
        """Names (not paths) of the entries directly under ``rel``; [] when absent."""
        full = self.full(rel)
        try:
            entries = self.fs.ls(full, detail=False)
        except FileNotFoundError:
            return []
        names = [str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries]
        return sorted(n for n in names if n and self.full(f"{rel}/{n}") != full)

    def files(self, rel: str) -> list[str]:
        """Paths of every file under ``rel``, relative to ``rel``."""
        base = self.full(rel)
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        return sorted(str(f)[len(base) :].lstrip("/") for f in found)

    def size(self, rel: str) -> int:
        """Total bytes of the files under ``rel``."""
        base = self.full(rel)
        return int(sum(self.fs.size(f"{base}/{f}") for f in self.files(rel)))

    def open(self, rel: str, mode: str = "rb") -> IO[Any]:
        """Open a file (for release files: CSV, JSON, datapackage.json, ...)."""
        full = self.full(rel)
        if "w" in mode:
            self.fs.makedirs(self.fs._parent(full), exist_ok=True)
        elif not self.local:
            # s3fs reads ahead one block (50 MiB by default) per open file: a Range request
            # for a few bytes fetched and held that much per download
            return self.fs.open(full, mode, block_size=READ_BLOCK)  # type: ignore[no-any-return]
        return self.fs.open(full, mode)  # type: ignore[no-any-return]

    def mtime(self, rel: str) -> float | None:
        """Last modification time (epoch seconds), when the filesystem knows it."""
        try:
            info = self.fs.info(self.full(rel))
        except FileNotFoundError:
            return None
        value = info.get("mtime") or info.get("created") or info.get("LastModified")
        if value is None:
            return None
        return float(value.timestamp()) if hasattr(value, "timestamp") else float(value)

    def _fsync_tree(self, path: str) -> None:
        # flush file contents before the rename makes them reachable (power loss safety)
        for dirpath, _dirs, names in os.walk(path):
            for name in names:
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self._fsync_dir(dirpath)

    @staticmethod
    def _fsync_dir(path: str) -> None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
