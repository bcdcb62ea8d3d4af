"""Console accounts' e-mail addresses, where a department's notices go."""

from __future__ import annotations

import re

import sqlalchemy as sa

from onesource.store.console_models import ConsoleAccount
from onesource.store.db import session
from schemas.errors import ConfigError

EMAIL_RE = re.compile(r"^[^@\s<>,;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$")


def set_email(engine: sa.Engine, name: str, address: str | None) -> None:
    """Set (or with None remove) the e-mail of account ``name``."""
    if address is not None and not EMAIL_RE.match(address):
        raise ConfigError(f"not an e-mail address: {address!r}", hint="like name@example.gov.cn")
    with session(engine, write=True) as ses:
        done = ses.execute(
            sa.update(ConsoleAccount).where(ConsoleAccount.name == name).values(email=address)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            raise ConfigError(f"no account {name!r}", hint="onesource user list")
