"""What the web app does when it stops: write what only its memory holds.

uvicorn stops gracefully on SIGTERM and SIGINT (in-flight requests finish, the lifespan
shutdown runs) and then re-raises the signal; for SIGTERM the default handler kills the
process at once, so ``atexit`` handlers never run.  The shutdown step of the lifespan
runs before that, under every server (``onesource serve``, ``up``, gunicorn workers):
the per-address summaries of unauthenticated calls are appended, then the audit writer
closes: queued entries written, the newest entry checkpointed, its threads stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger("onesource.web")


def write_pending(app: Any) -> int:
    """Append the open summaries and checkpoint the newest entry; returns summaries written.

    Nothing to do when the exchange was never used (it is built on the first call).
    """
    ex = getattr(app.state, "onesource_exchange", None)
    if ex is None:
        return 0
    written = 0
    try:
        written = ex.flush_summaries()
    except Exception:  # the checkpoint below must still be attempted
        log.exception("shutdown: could not write the unauthenticated-call summaries")
    ex.audit.close()  # queued entries written, the newest checkpointed, its threads stopped
    return written


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Nothing at start-up (the exchange is built lazily); ``write_pending`` at shutdown."""
    yield
    await asyncio.to_thread(write_pending, app)
