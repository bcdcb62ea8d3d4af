"""The exchange facade: one object per process holding keys, grants, the audit
log, the rate limiter and the caches (catalog, current versions, indexes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cachetools import TTLCache

from onesource.exchange.audit import AuditLog
from onesource.exchange.claimwatch import ClaimWatch
from onesource.exchange.config import ExchangeSettings
from onesource.exchange.deptauth import DepartmentAuthBook
from onesource.exchange.errors import AccessDeniedError, InvalidRequestError, UnknownError
from onesource.exchange.grants import GrantBook
from onesource.exchange.keys import KeyRing
from onesource.exchange.policy import ResourceAccess, resource_access
from onesource.exchange.pushes import PushBook
from onesource.exchange.ratelimit import RateLimiter
from onesource.exchange.signing import RequestVerifier, master_key
from onesource.exchange.summaries import FailureTally
from onesource.exchange.verification import IndexCache, check_key, plan, same
from schemas.catalog import Catalog
from schemas.resource import Resource

if TYPE_CHECKING:
    from onesource.store import Store


@dataclass(frozen=True)
class VerifyAnswer:
    """Per claimed field (or element): does it match the source?  Never the record."""

    matches: dict[str, bool]
    found: bool
    sources: list[tuple[str, int]]  # (resource, version) consulted

    @property
    def all_match(self) -> bool:
        return self.found and all(self.matches.values())


class _Ttl:
    """Values recomputed at most every ``seconds`` (a bounded ``TTLCache``).

    Its keys are ``catalog`` and ``v:<resource>`` for resources already found in the
    catalog, never a raw client-supplied value.  The verify hot path reads it twice per call.
    """

    def __init__(self, seconds: float, size: int = 65_536) -> None:
        self.seconds = seconds
        self._values: TTLCache[str, object] = TTLCache(size, max(seconds, 1e-6))
        self._lock = threading.Lock()

    def get(self, key: str, compute: Callable[[], object]) -> object:
        with self._lock:  # cache[key], not .get(): one lookup instead of two (hot path)
            try:
                return self._values[key]
            except KeyError:
                pass
        value = compute()
        if self.seconds > 0:
            with self._lock:
                self._values[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


class Exchange:
    """Everything the exchange API needs, framework-free."""

    def __init__(
        self, store: Store, load_catalog: Callable[[], Catalog], settings: ExchangeSettings
    ) -> None:
        self.store = store
        self.settings = settings
        self._load_catalog = load_catalog
        secs = settings.cache_seconds
        self.keys = KeyRing(store.engine, secs)
        self.grants = GrantBook(store.engine, secs, settings.request_deadline_working_days)
        self.audit = AuditLog(store.engine)
        self.limiter = RateLimiter(settings.rate_per_second, settings.rate_burst)
        self.auth_failures = FailureTally(
            settings.auth_failure_window, settings.auth_failure_rate, settings.auth_failure_burst
        )
        self.indexes = IndexCache(store)
        self.dept_auth = DepartmentAuthBook(store.engine, secs)
        self._verifier: RequestVerifier | None = None
        self.claims = ClaimWatch(
            settings.verify_distinct_claims,
            settings.verify_period,
            budget=settings.verify_subject_budget,
        )
        self.pushes = PushBook(store, settings)
        self._ttl = _Ttl(secs)
        self._lock = threading.Lock()
        self._policy_catalog: Catalog | None = None
        # keyed by catalog resources, authenticated departments and grant states (never a
        # raw client value): a plain dict read without a lock on the hot path, reset past 4096
        self._policy_memo: dict[tuple[object, ...], ResourceAccess] = {}

    def request_verifier(self) -> RequestVerifier:
        """The signature checker (one nonce cache per process)."""
        if self._verifier is None:
            with self._lock:
                if self._verifier is None:
                    algorithms = frozenset(
                        a.strip()
                        for a in self.settings.signature_algorithms.split(",")
                        if a.strip()
                    )
                    self._verifier = RequestVerifier(
                        master_key(self.settings), algorithms, self.settings.signature_window
                    )
        return self._verifier

    def flush_summaries(self) -> int:
        """Write every open per-address summary now; returns how many.

        The web app's lifespan shutdown calls it (``onesource.web.lifespan``): an atexit
        hook never ran when uvicorn re-raised SIGTERM.
        """
        records = self.auth_failures.due(everything=True)
        if records:
            self.audit.append_many(records)
        return len(records)

    # catalog and versions

    def catalog(self) -> Catalog:
        value = self._ttl.get("catalog", self._load_catalog)
        assert isinstance(value, Catalog)
        return value

    def resource(self, name: str) -> Resource:
        res = self.catalog().resources.get(name)
        if res is None:
            raise UnknownError(f"unknown resource {name!r}", hint="GET /api/exchange/resources")
        return res

    def current_version(self, name: str) -> int | None:
        def compute() -> int | None:
            info = self.store.current("resource", name)
            return info.number if info is not None else None

        value = self._ttl.get(f"v:{name}", compute)
        assert value is None or isinstance(value, int)
        return value

    def require_version(self, name: str) -> int:
        number = self.current_version(name)
        if number is None:
            raise UnknownError(
                f"resource {name!r} has no data yet",
                hint="its department has not delivered a version (ingest or push) so far",
            )
        return number

    def refresh(self) -> None:
        """Drop cached catalog and versions (a test or an admin changed them)."""
        self._ttl.clear()

    # access

    def access(self, department: str, res: Resource) -> ResourceAccess:
        catalog = self.catalog()
        if department == res.provider:
            return self._policy(catalog, res, department, frozenset(), None)
        fields, until = self.grants.active_fields(department, res.name)
        return self._policy(catalog, res, department, fields, until)

    def _policy(
        self,
        catalog: Catalog,
        res: Resource,
        department: str,
        fields: frozenset[str],
        until: datetime | None,
    ) -> ResourceAccess:
        """``resource_access``, memoized: a pure function of the catalog and these arguments.

        The memo belongs to one catalog object (a reloaded catalog starts a new one); the
        grants are part of the key, so a new or revoked grant is a new entry, never stale.
        """
        with self._lock:
            if self._policy_catalog is not catalog:
                self._policy_catalog, self._policy_memo = catalog, {}
            memo = self._policy_memo
        key = (res.name, department, fields, until)
        acc = memo.get(key)
        if acc is None:
            acc = resource_access(catalog, res, department, fields, until)
            if len(memo) >= 4096:
                memo.clear()
            memo[key] = acc
        return acc

    # verification

    def verify(
        self, department: str, resource: str | None, key: dict[str, str], claims: dict[str, str]
    ) -> VerifyAnswer:
        """Check ``claims`` about the record with ``key`` against the source; yes/no only."""
        targets = plan(self.catalog(), resource, key, claims)
        matches: dict[str, bool] = {}
        sources = []
        found = True
        for target in targets:
            res = target.resource
            acc = self.access(department, res)
            bad_key = [k for k in target.key if k not in acc.lookup]
            bad = [f for f in target.claims if f not in acc.verifiable]
            if bad_key or bad:
                raise AccessDeniedError(
                    f"{department!r} may not verify {', '.join(map(repr, bad + bad_key))} of {res.name!r}",
                    hint=(
                        "verifiable: "
                        + (", ".join(acc.verifiable) or "none")
                        + "; request a grant with POST /api/exchange/requests"
                    ),
                )
            order = check_key(res, target.key)
            version = self.require_version(res.name)
            idx = self.indexes.index(res.name, version, order)
            row = idx.find([target.key[k] for k in order])
            sources.append((res.name, version))
            if row is None:
                found = False
                for answer_name, _ in target.claims.values():
                    matches[answer_name] = False
                continue
            if department != res.provider:  # the owner reads its own data anyway
                # counted only for records that exist: a missing key is no claim about anyone
                claimed_values = {f: v for f, (_, v) in target.claims.items()}
                keys = [target.key[k] for k in order]
                self.claims.check(department, res.name, keys, claimed_values)
            for fname, (answer_name, claimed) in target.claims.items():
                value = self.indexes.column(idx, fname)[row].as_py()
                matches[answer_name] = same(value, claimed)
        return VerifyAnswer(matches, found, sources)

    @staticmethod
    def require_purpose(purpose: str | None, what: str) -> str:
        """The stated purpose of a read or verification, which the share rules require."""
        if purpose is None or not purpose.strip():
            raise InvalidRequestError(
                f"purpose is required for {what}: say why you need the data",
                hint="e.g. purpose=入学审核 (kept in the audit log with the call)",
            )
        return purpose.strip()

    def check_fields(self, acc: ResourceAccess, fields: list[str] | None) -> list[str]:
        """The fields to return: those asked for, all readable ones by default."""
        if not acc.readable:
            raise AccessDeniedError(
                f"no readable fields of {acc.resource!r} for this department (access: {acc.level})",
                hint="request access with POST /api/exchange/requests"
                if acc.level == "conditional"
                else None,
            )
        if not fields:
            return list(acc.readable)
        res_fields = set(acc.classes)
        unknown = [f for f in fields if f not in res_fields]
        if unknown:
            raise InvalidRequestError(
                f"{', '.join(map(repr, unknown))} not fields of {acc.resource!r}",
                hint="fields: " + ", ".join(acc.classes),
            )
        denied = [f for f in fields if f not in acc.readable]
        if denied:
            raise AccessDeniedError(
                f"not readable: {', '.join(map(repr, denied))} of {acc.resource!r}",
                hint="readable: " + ", ".join(acc.readable),
            )
        return list(dict.fromkeys(fields))
