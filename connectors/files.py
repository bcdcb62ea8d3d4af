"""``FilesSource``: take files a department drops in a folder or bucket, each once.

The connection names a local folder or any fsspec URL (``memory://``,
``s3://bucket/prefix`` with s3fs installed).  Every file matching the
connector's ``pattern`` is hashed (sha256 of its bytes); a file whose content
was processed before (``state.seen``) is skipped and listed in
``extraction.skipped``, so a re-dropped identical file changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import IO, Any, ClassVar

import pyarrow as pa

from connectors.base import Extraction, FileRef, SourceState
from connectors.connection import get_connection
from connectors.readers import ReadSpec, read_stream
from schemas.connector import FilesConnector
from schemas.errors import ConfigError, SourceUnavailableError
from schemas.resource import Resource


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
                before = ex.rows

                def opener(p: str = path) -> IO[bytes]:
                    handle: IO[bytes] = fs.open(p, "rb")
                    return handle

                yield from read_stream(ex, resource.name, read, opener, ref.path)
                # ex.rows counts batches as the consumer takes them, so by the
                # time this line runs every batch of this file has been counted
                ex.files.append(FileRef(ref.path, ref.sha256, ref.size, rows=ex.rows - before))

        return Extraction(schema, produce, state)


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
