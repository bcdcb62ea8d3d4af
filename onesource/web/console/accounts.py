"""Console accounts and sessions, framework-free (the CLI and the web app share it).

- passwords: argon2id (argon2-cffi's defaults), never stored or logged in clear;
- a failed sign-in costs one argon2 verification whether or not the account exists
  (a dummy hash stands in), and the same message: the answer never tells which;
- sessions: a random 256-bit token in the cookie, its SHA-256 in ``console_sessions``;
  a session ends at its absolute expiry, after ``idle`` without use, at logout, or when
  the account is disabled or its password changed.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from onesource.store.console_models import ConsoleAccount, ConsoleSession
from onesource.store.db import session
from onesource.store.records import new_id, utcnow
from schemas.errors import ConfigError, TerminalError

ROLES = ("officer", "approver", "steward", "operator")
DEPARTMENT_ROLES = frozenset({"officer", "approver"})  # these need a department
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10


class AccountError(TerminalError):
    code = "console-account"


@dataclass(frozen=True)
class Account:
    """An account as listed: never the password hash."""

    id: str
    name: str
    department: str | None
    roles: tuple[str, ...]
    display_name: str | None
    created_at: datetime
    disabled_at: datetime | None
    sso: bool

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher, profiles

    from onesource.web.console.settings import get_console_settings

    profile = getattr(profiles, get_console_settings().password_profile)
    return PasswordHasher.from_parameters(profile)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when the account does not exist (same cost, same answer)."""
    return str(_hasher().hash(secrets.token_urlsafe(16)))


def check_password(password: str) -> None:
    """Refuse a password shorter than ``MIN_PASSWORD`` characters."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(
            f"password too short ({len(password)} characters)",
            hint=f"use at least {MIN_PASSWORD} characters",
        )


def hash_password(password: str) -> str:
    check_password(password)
    return str(_hasher().hash(password))


def _verify(stored: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(stored or _dummy_hash(), password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _account(row: ConsoleAccount) -> Account:
    return Account(
        row.id,
        row.name,
        row.department,
        tuple(row.roles),
        row.display_name,
        row.created_at,
        row.disabled_at,
        row.oidc_subject is not None,
    )


def check_roles(roles: list[str], department: str | None, known: list[str] | None) -> None:
    """Refuse unknown roles, a department role without a department, an unknown department."""
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise AccountError(
            f"unknown role {', '.join(map(repr, bad))}" if bad else "name at least one role",
            hint="roles: " + ", ".join(ROLES),
        )
    if DEPARTMENT_ROLES & set(roles) and not department:
        raise AccountError(
            "officer and approver accounts belong to a department", hint="add --department CODE"
        )
    if department and known is not None and department not in known:
        raise AccountError(
            f"unknown department {department!r}", hint="known departments: " + ", ".join(known)
        )


class AccountBook:
    """Create, list, disable accounts; check passwords; open and find sessions."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(
        self,
        name: str,
        roles: list[str],
        department: str | None = None,
        password: str | None = None,
        display_name: str | None = None,
        known_departments: list[str] | None = None,
        oidc_subject: str | None = None,
    ) -> Account:
        if not NAME_RE.match(name):
            raise AccountError(
                f"bad account name {name!r}",
                hint="letters, digits and . _ @ -, starting with a letter or digit, at most 64",
            )
        check_roles(roles, department, known_departments)
        row = ConsoleAccount(
            id=new_id(),
            name=name,
            display_name=display_name,
            department=department,
            roles=list(dict.fromkeys(roles)),
            password_hash=hash_password(password) if password is not None else None,
            oidc_subject=oidc_subject,
            created_at=utcnow(),
            disabled_at=None,
            password_changed_at=utcnow() if password is not None else None,
        )
        with session(self.engine, write=True) as ses:
            if ses.scalars(sa.select(ConsoleAccount).where(ConsoleAccount.name == name)).first():
                raise AccountError(f"account {name!r} exists", hint="onesource user list")
            ses.add(row)
        return _account(row)

    def list(self) -> builtins.list[Account]:
        with session(self.engine) as ses:
            rows = ses.scalars(sa.select(ConsoleAccount).order_by(ConsoleAccount.name))
            return [_account(r) for r in rows]

    def get(self, name: str) -> Account:
        with session(self.engine) as ses:
            return _account(self._row(ses, name))

    def _row(self, ses: Any, name: str) -> ConsoleAccount:
        row = ses.scalars(sa.select(ConsoleAccount).where(ConsoleAccount.name == name)).first()
        if row is None:
            raise AccountError(f"no account {name!r}", hint="onesource user list")
        return row  # type: ignore[no-any-return]

    def disable(self, name: str) -> Account:
        """Disable an account and end its sessions at once."""
        with session(self.engine, write=True) as ses:
            row = self._row(ses, name)
            if row.disabled_at is None:
                row.disabled_at = utcnow()
            ses.execute(sa.delete(ConsoleSession).where(ConsoleSession.user_id == row.id))
            return _account(row)

    def set_password(self, name: str, password: str) -> Account:
        """A new password; every session of the account ends."""
        digest = hash_password(password)
        with session(self.engine, write=True) as ses:
            row = self._row(ses, name)
            row.password_hash = digest
            row.password_changed_at = utcnow()
            ses.execute(sa.delete(ConsoleSession).where(ConsoleSession.user_id == row.id))
            return _account(row)

    def check_password(self, name: str, password: str) -> Account | None:
        """The account when ``name`` and ``password`` match an active account, else None.

        Always one argon2 verification, whether the account exists, is disabled or not.
        Only the exact name: a collation that folds case, accents or width (MariaDB's)
        finds ``edu.officer`` for ``édu.officer``, each variant with a sign-in throttle
        bucket of its own.
        """
        stored, account = None, None
        if NAME_RE.match(name):
            with session(self.engine) as ses:
                row = ses.scalars(
                    sa.select(ConsoleAccount).where(ConsoleAccount.name == name)
                ).first()
                if row is not None and row.name == name:
                    stored, account = row.password_hash, _account(row)
        ok = _verify(stored, password)
        if not ok or account is None or not account.active:
            return None
        return account

    def sso_account(
        self, subject: str, name: str, department: str | None, roles: builtins.list[str]
    ) -> Account:
        """The account of an identity-provider subject, created or updated from its claims."""
        with session(self.engine, write=True) as ses:
            row = ses.scalars(
                sa.select(ConsoleAccount).where(ConsoleAccount.oidc_subject == subject)
            ).first()
            if row is None:
                taken = ses.scalars(
                    sa.select(ConsoleAccount).where(ConsoleAccount.name == name)
                ).first()
                if taken is not None:
                    raise AccountError(f"a local account {name!r} exists", hint="ask an operator")
                row = ConsoleAccount(
                    id=new_id(),
                    name=name,
                    display_name=None,
                    department=department,
                    roles=roles,
                    password_hash=None,
                    oidc_subject=subject,
                    created_at=utcnow(),
                    disabled_at=None,
                    password_changed_at=None,
                )
                ses.add(row)
            else:
                row.department, row.roles = department, roles
            return _account(row)

    # sessions

    def open_session(
        self, account: Account, lifetime: timedelta, address: str | None, via: str
    ) -> str:
        """A new session; returns the cookie token (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with session(self.engine, write=True) as ses:
            ses.add(
                ConsoleSession(
                    token_hash=token_hash(token),
                    user_id=account.id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + lifetime,
                    address=(address or "")[:64] or None,
                    via=via,
                )
            )
            # expired sessions of anyone go at sign-in: the table stays small without a job
            ses.execute(sa.delete(ConsoleSession).where(ConsoleSession.expires_at < now))
        return token

    def find_session(self, token: str, idle: timedelta) -> tuple[Account, str] | None:
        """(account, session hash) of a live session, touching it; None when it is gone."""
        if not token or len(token) > 100:
            return None
        digest = token_hash(token)
        now = utcnow()
        with session(self.engine) as ses:
            hit = ses.execute(
                sa.select(ConsoleSession, ConsoleAccount)
                .join(ConsoleAccount, ConsoleAccount.id == ConsoleSession.user_id)
                .where(ConsoleSession.token_hash == digest)
            ).first()
        if hit is None:
            return None
        sess, row = hit
        if sess.expires_at <= now or sess.last_seen_at + idle <= now or row.disabled_at:
            self.close_session(token)
            return None
        if now - sess.last_seen_at > timedelta(minutes=1):  # one write a minute at most
            with session(self.engine, write=True) as ses:
                ses.execute(
                    sa.update(ConsoleSession)
                    .where(ConsoleSession.token_hash == digest)
                    .values(last_seen_at=now)
                )
        return _account(row), digest

    def close_session(self, token: str) -> None:
        with session(self.engine, write=True) as ses:
            ses.execute(
                sa.delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
            )


def read_password_stdin(stream: Any) -> str:
    """The first line of ``stream`` without its newline; refuses an empty one."""
    line = stream.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise ConfigError("no password on standard input", hint="echo ... | onesource user add")
    return str(password)
