"""A small hub for the backup tests, run in a subprocess with a hub's environment.

``python -m tests.ops.seed``: three resources (tests.exchange.fixtures), department keys,
and exchange calls through the app (authenticated reads, one unauthenticated call) so
the audit log has entries and checkpoints.
``python -m tests.ops.seed --churn STOPFILE``: keep committing versions and appending
audit entries (a checkpoint after every entry) until STOPFILE exists; writes
STOPFILE.started once the first round is done.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def seed() -> None:
    from fastapi.testclient import TestClient

    from tests.exchange.fixtures import make_hub

    hub = make_hub()
    headers = {"Authorization": f"Bearer {hub.keys['psb']}"}
    with TestClient(hub.app) as client:  # the lifespan shutdown writes the summary
        assert client.get("/api/exchange/resources", headers=headers).status_code == 200
        rows = client.get(
            "/api/exchange/resources/population_register/rows?limit=2&purpose=backup-test",
            headers=headers,
        )
        assert rows.status_code == 200, rows.text
        assert client.get("/api/exchange/resources").status_code == 401
    print("seeded")


def churn(stop: Path) -> None:
    from onesource.exchange.audit import AuditLog, AuditRecord
    from onesource.store import Store
    from onesource.web.deps import get_catalog
    from tests.exchange.fixtures import commit, people

    store = Store.open()
    catalog = get_catalog()
    log = AuditLog(store.engine)
    started = stop.with_name(stop.name + ".started")
    n = 0
    while not stop.exists():
        n += 1
        commit(store, catalog, "population_register", people()[: 1 + n % 4])
        for _ in range(5):
            log.append(AuditRecord("edu", "/api/exchange/verify", "POST", "ok", 200))
        if n == 1:
            started.write_text("1")
    print(f"churned {n}")


if __name__ == "__main__":
    os.environ.setdefault("ONESOURCE_AUDIT_CHECKPOINT_EVERY", "1")
    if len(sys.argv) == 3 and sys.argv[1] == "--churn":
        churn(Path(sys.argv[2]))
    else:
        seed()
