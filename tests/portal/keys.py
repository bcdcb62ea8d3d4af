"""A consumer key the way a real consumer gets one: apply on /register, the
publishing department approves (in-process here; tests/portal/test_register.py
drives the CLI), the key is read once from the status page."""

from __future__ import annotations

import re

HTML = {"accept": "text/html"}


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


def approved_key(client, datasets: list[str]) -> str:  # type: ignore[no-untyped-def]
    """Apply for ``datasets`` (one publisher), approve all, return the key."""
    from onesource.store import Store
    from onesource.web.portal.applications import approve

    form = client.get("/register", headers=HTML).text
    page = client.post(
        "/register",
        data={
            "name": "王五",
            "organisation": "清河大学",
            "email": "lab@example.edu",
            "purpose": "research",
            "datasets": datasets,
            "accept": "yes",
            "csrf": _csrf(form),
        },
        headers=HTML,
    ).text
    app_id = page.split('id="application-id">')[1].split("<")[0]
    token = page.split('id="application-token">')[1].split("<")[0]
    approve(Store.open(), app_id, by="test")
    status = client.post(
        "/register/status",
        data={
            "application": app_id,
            "token": token,
            "csrf": _csrf(client.get("/register/status", headers=HTML).text),
        },
        headers=HTML,
    ).text
    return status.split('id="consumer-key">')[1].split("<")[0]
