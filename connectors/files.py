"""``FilesSource``: take files a department drops in a folder or bucket, each once.

The connection names a local folder or any fsspec URL (``memory://``,
``s3://bucket/prefix`` with s3fs installed).  Every file matching the
connector's ``pattern`` is hashed (sha256 of its bytes); a file whose content
was processed before (``state.seen``) is skipped and listed in
``extraction.skipped``, so a re-dropped identical file changes nothing, and a
corrected file under the same name (new content, new hash) is read again.

Each file is judged on its own: a file that cannot be read (corrupt Parquet
or xlsx, undecodable, a missing column, a malformed header, over a limit) is
listed in ``extraction.quarantined`` with its path and the reason and
contributes no rows; the other files are read.  The pipeline records it in
the manifest as ``quarantined``, so it is not read again until its content
changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import IO, Any, ClassVar

import pyarrow as pa

from connectors.base import Extraction, FileRef, QuarantinedFile, SourceState
from connectors.connection import get_connection
from connectors.readers import ReadSpec, read_stream
from schemas.connector import FilesConnector
from schemas.errors import (
    ConfigError,
    OneSourceError,
    SchemaDriftError,
    SourceUnavailableError,
    TransientError,
)
from schemas.resource import Resource

# a file's rows are held back until the file is read completely up to this size, so that a
# file failing half way is quarantined whole (bigger files stream, and fail the run)
HOLD_BYTES = 256 << 20


class FilesSource:
    """Reads CSV, xlsx, Parquet and JSON-lines files from a drop folder."""

    type: ClassVar[str] = "files"

    def extract(self, resource: Resource, schema: pa.Schema, state: SourceState) -> Extraction:
        """Stream every new file of the drop; see the module docstring."""
        spec = resource.connector
        if not isinstance(spec, FilesConnector):
            raise ConfigError(f"resource {resource.name!r} is not a 'files' connector")
        conn = get_connection(spec.connection)
        root = conn.path_or_url()
        read = ReadSpec(
            format=spec.format,
            encoding=spec.encoding,
            delimiter=spec.delimiter,
            sheet=spec.sheet,
            header_row=spec.header_row,
            columns=dict(spec.columns),
        )
        buffer_bytes = HOLD_BYTES

        def produce(ex: Extraction) -> Iterator[pa.RecordBatch]:
            fs, paths = list_files(root, spec.pattern, spec.connection)
            taken: set[str] = set()
            for path in paths:
                sha, size = file_digest(fs, path)
                ref = FileRef(path=_display(fs, path), sha256=sha, size=size)
                if sha in taken or state.seen(sha):
                    ex.skipped.append(ref)
                    continue
                taken.add(sha)

                def opener(p: str = path) -> IO[bytes]:
                    handle: IO[bytes] = fs.open(p, "rb")
                    return handle

                yield from _one_file(ex, resource.name, read, opener, ref, buffer_bytes)

        return Extraction(schema, produce, state)


def _one_file(
    ex: Extraction,
    resource: str,
    read: ReadSpec,
    opener: Callable[[], IO[bytes]],
    ref: FileRef,
    buffer_bytes: int,
) -> Iterator[pa.RecordBatch]:
    """The batches of one file, or none and the file quarantined when it cannot be read.

    A file's batches are held back until the whole file has been read (up to
    ``buffer_bytes``), so that a file failing half way contributes no rows.
    A bigger file streams; if it then fails, the run fails, naming the file.
    """
    rejects = len(ex.rejects)
    held: list[pa.RecordBatch] = []
    size = 0
    streamed = 0
    try:
        for batch in read_stream(ex, resource, read, opener, ref.path):
            if size + batch.nbytes <= buffer_bytes:
                held.append(batch)
                size += batch.nbytes
                continue
            for early in held:  # too big to hold: stream from here on
                streamed += early.num_rows
                yield early
            held = []
            buffer_bytes = -1
            streamed += batch.num_rows
            yield batch
    except Exception as exc:
        if streamed or not _file_fault(exc):
            raise _named(exc, ref.path) from exc
        del ex.rejects[rejects:]  # this file's rows are all quarantined with it
        ex.quarantined.append(QuarantinedFile(ref.path, ref.sha256, ref.size, _reason(exc)))
        return
    rows = streamed + sum(b.num_rows for b in held)
    yield from held
    ex.files.append(FileRef(ref.path, ref.sha256, ref.size, rows=rows))


def _file_fault(exc: BaseException) -> bool:
    """Errors that belong to one file (bad bytes, drift, limits), not to the drop or the hub."""
    import zipfile

    if isinstance(exc, TransientError):
        return False  # the drop itself is unreachable: retry the run
    return isinstance(
        exc,
        OneSourceError | pa.ArrowException | zipfile.BadZipFile | ValueError | KeyError | OSError,
    )


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    code = getattr(exc, "code", None) or type(exc).__name__
    return f"[{code}] {text}"


def _named(exc: BaseException, path: str) -> BaseException:
    if isinstance(exc, OneSourceError) and path in str(exc):
        return exc
    if isinstance(exc, TransientError):
        return exc
    return SchemaDriftError(f"{path}: cannot read this file: {_reason(exc)}")


def list_files(root: str, pattern: str, conn_id: str) -> tuple[Any, list[str]]:
    """The filesystem and the sorted files under ``root`` matching ``pattern``."""
    import fsspec

    try:
        fs, base = fsspec.core.url_to_fs(root)
    except (ImportError, ValueError) as exc:
        raise ConfigError(
            f"connection {conn_id!r}: cannot open {root!r} ({exc})",
            hint="for s3:// install s3fs; for other URLs their fsspec implementation",
        ) from None
    try:
        if not fs.exists(base):
            raise SourceUnavailableError(
                f"drop folder {root!r} of connection {conn_id!r} does not exist",
                hint="create it, or fix the connection's path",
            )
        found = fs.glob(base.rstrip("/") + "/" + pattern)
    except OSError as exc:
        raise SourceUnavailableError(
            f"cannot list the drop {root!r} of connection {conn_id!r}: {exc}"
        ) from exc
    return fs, sorted(p for p in found if not fs.isdir(p))


def file_digest(fs: Any, path: str, chunk: int = 1 << 20) -> tuple[str, int]:
    """sha256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with fs.open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _display(fs: Any, path: str) -> str:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return path if protocol in ("file", "local") else f"{protocol}://{path.lstrip('/')}"
