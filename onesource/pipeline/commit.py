"""Commit a resource's new rows as a version: merged by key, compare-and-swap, no lost updates.

Pushes and incremental ingests merge their rows into the current version.
Two writers that both read version N and both commit would each drop the
other's rows, so the merged version is committed with ``base=N``: the store
refuses it when N is no longer current, and it is rebuilt on the new current
version and committed again.  Full snapshots replace the version outright.

A version whose content equals the current one (same rows, same order, same
types; see ``content_digest``) is not committed: nothing changed.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any

import pyarrow as pa

from onesource.pipeline.merge import merge_incremental
from onesource.store import CommitConflictError, StaleBaseError, Store, VersionInfo
from onesource.store.ledger import ANY_BASE
from schemas.resource import Resource

COMMIT_ATTEMPTS = 60
DIGEST_SLICE_ROWS = 65_536
DIGEST_KEY = "content_sha256"


def content_digest(table: pa.Table) -> str:
    """sha256 of a table's column types and values, independent of its chunking."""
    import pyarrow.ipc as ipc

    digest = hashlib.sha256(table.schema.remove_metadata().to_string().encode())
    for start in range(0, max(table.num_rows, 1), DIGEST_SLICE_ROWS):
        part = table.slice(start, DIGEST_SLICE_ROWS).combine_chunks()
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, part.schema.remove_metadata()) as writer:
            for batch in part.to_batches():
                writer.write_batch(batch)
        digest.update(sink.getvalue())
    return digest.hexdigest()


def commit_rows(
    store: Store,
    res: Resource,
    schema: pa.Schema,
    run_id: str,
    rows: pa.Table,
    *,
    full_replace: bool,
    stats: dict[str, Any],
) -> VersionInfo | None:
    """Commit ``rows`` (a full snapshot, or new rows merged into the current version).

    Returns the new version, or None when the content equals the current
    version's (nothing committed).  Retries on concurrent commits; raises
    ``CommitConflictError`` (transient) when it keeps losing.
    """
    for attempt in range(COMMIT_ATTEMPTS):
        current = store.current("resource", res.name)
        table = rows
        if not full_replace and current is not None:
            previous = store.read("resource", res.name, version=current.number)
            table = merge_incremental(previous, rows, res.primary_key)
        digest = content_digest(table.cast(schema) if table.schema != schema else table)
        if current is not None and current.stats.get(DIGEST_KEY) == digest:
            return None
        base: Any = ANY_BASE if full_replace else (current.number if current else None)
        try:
            with store.open_writer("resource", res.name, run_id, schema, base=base) as writer:
                writer.write(table)
                return writer.commit(stats={**stats, DIGEST_KEY: digest, "attempts": attempt + 1})
        except StaleBaseError:
            # another writer committed first: merge into its version instead
            time.sleep(random.uniform(0.0, 0.02) * min(attempt + 1, 10))
    raise CommitConflictError(
        f"resource {res.name!r}: could not commit after {COMMIT_ATTEMPTS} attempts; "
        "other writers kept committing first",
        hint="retry the run; nothing was lost and readers still see the last version",
    )
