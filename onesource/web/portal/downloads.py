"""Download counts: completed downloads per release file, for dataset pages and listings.

The download route calls :func:`record` when a body has been sent whole (a 200, or a
206 starting at byte 0; never HEAD or 304).  Counting is in memory and written to
``download_counts`` in one transaction per batch, at most ``FLUSH_AFTER_S`` seconds
later (and on exit): a write per download would put the metadata DB's write lock on
the hot path of every download.  Readers in the same process flush first, so a page
shows its own downloads at once; other worker processes' counts appear within
``FLUSH_AFTER_S``.  A batch that cannot be written stays pending (no count is lost).
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import Counter
from typing import Any

import sqlalchemy as sa

from onesource.store import Store
from onesource.store.db import session
from onesource.store.download_models import DownloadCount

log = logging.getLogger(__name__)
FLUSH_AFTER_S = 2.0

Key = tuple[str, int, str]  # release, version, file
_LOCK = threading.Lock()
_pending: dict[str, Counter[Key]] = {}  # metadata URL -> counts not yet written
_engines: dict[str, sa.Engine] = {}
_timers: dict[str, threading.Timer] = {}


def record(store: Store, release: str, version: int, file: str) -> None:
    """Count one completed download of ``file`` of ``release`` version ``version``."""
    url = store.metadata_url
    with _LOCK:
        _pending.setdefault(url, Counter())[(release, version, file)] += 1
        _engines[url] = store.engine
        if url not in _timers:
            timer = threading.Timer(FLUSH_AFTER_S, _flush_url, (url,))
            timer.daemon = True
            _timers[url] = timer
            timer.start()


def _flush_url(url: str) -> None:
    with _LOCK:
        counts = _pending.pop(url, None)
        engine = _engines.get(url)
        timer = _timers.pop(url, None)
    if timer is not None and timer is not threading.current_thread():
        timer.cancel()
    if not counts or engine is None:
        return
    try:
        _write(engine, counts)
    except Exception:  # the DB is busy or gone: keep the counts for the next flush
        log.warning("download counts not written yet (%d files)", len(counts), exc_info=True)
        with _LOCK:
            _pending.setdefault(url, Counter()).update(counts)


def _write(engine: sa.Engine, counts: Counter[Key]) -> None:
    table = DownloadCount
    for attempt in (1, 2):  # a concurrent first insert of the same key: the retry updates it
        try:
            with session(engine, write=True) as ses:
                for (release, version, file), n in sorted(counts.items()):
                    done = ses.execute(
                        sa.update(table)
                        .where(
                            table.release == release,
                            table.version == version,
                            table.file == file,
                        )
                        .values(count=table.count + n)
                    )
                    if not done.rowcount:  # type: ignore[attr-defined]
                        ses.execute(
                            sa.insert(table).values(
                                release=release, version=version, file=file, count=n
                            )
                        )
            return
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise


def flush(store: Store | None = None) -> None:
    """Write pending counts now: of ``store``, or of every store this process counted for."""
    with _LOCK:
        urls = [store.metadata_url] if store is not None else list(_pending)
    for url in urls:
        _flush_url(url)


atexit.register(flush)


def download_counts(store: Store) -> dict[str, int]:
    """Completed downloads per dataset (release name), every version and file; for sorting
    listings by "most downloaded".  Datasets never downloaded are absent (count 0)."""
    flush(store)
    table = DownloadCount.__table__
    query = sa.select(table.c.release, sa.func.sum(table.c.count)).group_by(table.c.release)
    with session(store.engine) as ses:
        return {r: int(n) for r, n in ses.execute(query)}


def file_counts(store: Store, release: str) -> dict[str, Any]:
    """One release's completed downloads: ``{"total": n, "files": {file: n}, "versions":
    {version: n}}`` (files summed over versions)."""
    flush(store)
    table = DownloadCount.__table__
    query = sa.select(table.c.version, table.c.file, table.c.count).where(
        table.c.release == release
    )
    files: Counter[str] = Counter()
    versions: Counter[int] = Counter()
    with session(store.engine) as ses:
        for version, file, n in ses.execute(query):
            files[file] += int(n)
            versions[int(version)] += int(n)
    return {"total": sum(files.values()), "files": dict(files), "versions": dict(versions)}


counts = download_counts  # the name the listing looks up (``onesource.web.portal.listing``)
