"""``onesource doctor``: is this deployment able to work?  One result per check.

Each check is a small function returning ``Check`` results (never raising): ``ok``,
``warn`` (works, but look at it), ``fail`` (something will break) or ``skip`` (not
configured here).  Nothing is created or migrated: a missing key is reported, not made.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

STATUSES = ("ok", "warn", "fail", "skip")


class DoctorSettings(BaseSettings):
    """What ``doctor`` compares against (``ONESOURCE_AIRFLOW_URL``, ``ONESOURCE_DOCTOR_*``)."""

    model_config = SettingsConfigDict(env_prefix="ONESOURCE_", extra="ignore")

    airflow_url: str | None = Field(
        None, description="Airflow API server base URL (e.g. http://airflow:8080); unset: no check"
    )
    doctor_min_free_mb: int = Field(
        500, ge=0, description="free disk below this fails; below 4x this warns"
    )
    doctor_max_clock_skew: float = Field(
        5.0, gt=0, description="seconds the DB server's clock may differ before a warning"
    )


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


Probe = Callable[[DoctorSettings], Iterator[Check]]


def _sqlite_absent(url: str) -> bool:
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    return parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file()


def _database(cfg: DoctorSettings) -> Iterator[Check]:
    import sqlalchemy as sa

    from onesource.ops.snapshot import connected
    from onesource.settings import get_settings
    from onesource.store.db import HEAD_REVISION

    url = get_settings().metadata_url
    parsed = sa.make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if _sqlite_absent(url):  # connecting would create an empty file: report instead
        yield Check("database", "warn", f"{shown} does not exist yet (made on first use)")
        return
    try:
        with connected(url) as conn:
            conn.execute(sa.text("SELECT 1"))
            names = set(sa.inspect(conn).get_table_names())
            found = None
            if "alembic_version" in names:
                found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # any driver error: unreachable, refused, bad credentials
        yield Check("database", "fail", f"{shown} is not reachable: {_first_line(exc)}")
        return
    if found == HEAD_REVISION:
        yield Check("database", "ok", f"{shown} reachable, migrated to {HEAD_REVISION}")
    elif found is None:
        yield Check(
            "database",
            "warn",
            f"{shown} reachable but never migrated (the first command that opens the store "
            "migrates it)",
        )
    else:
        yield Check(
            "database",
            "fail",
            f"{shown} is at revision {found}, this hub needs {HEAD_REVISION}: upgrade the "
            "database (any onesource command that opens the store migrates it) or the hub",
        )


def _warehouse(cfg: DoctorSettings) -> Iterator[Check]:
    from onesource.settings import get_settings
    from onesource.store.warehouse import STAGING, Warehouse

    root = get_settings().warehouse_root
    rel = f"{STAGING}/doctor-{secrets.token_hex(4)}"
    try:
        wh = Warehouse(root)
        with wh.open(rel, "wb") as fh:
            fh.write(b"onesource doctor probe\n")
        with wh.open(rel, "rb") as fh:
            back = fh.read()
        wh.fs.rm(wh.full(rel))
        if wh.exists(rel) or back != b"onesource doctor probe\n":
            yield Check("warehouse", "fail", f"{root}: a probe file did not read back or stayed")
            return
    except Exception as exc:
        yield Check("warehouse", "fail", f"{root} is not writable: {_first_line(exc)}")
        return
    yield Check("warehouse", "ok", f"{root} writable (probe written, read and deleted)")


def _audit_entries() -> int | None:
    import sqlalchemy as sa

    from onesource.ops.snapshot import connected
    from onesource.settings import get_settings

    url = get_settings().metadata_url
    if _sqlite_absent(url):
        return 0
    try:
        with connected(url) as conn:
            if "audit_log" not in sa.inspect(conn).get_table_names():
                return 0
            return int(conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar() or 0)
    except Exception:
        return None


def _keys(cfg: DoctorSettings) -> Iterator[Check]:
    from onesource.ops import keyset

    used = (_audit_entries() or 0) > 0
    states = {k.name: k for k in keyset.all_keys()}
    for state in states.values():
        name = f"key {state.name}"
        if state.problem is not None:
            # before the first audit entry the hub makes its keys itself; after, a missing
            # key means entries and checkpoints can no longer be verified
            needed = used and state.name != "request_signing"
            yield Check(
                name,
                "fail" if needed else "warn",
                f"{state.problem}" + ("" if needed else " (made on first use)"),
            )
        elif state.loose:
            yield Check(name, "fail", f"{state.where} is readable by group or others: chmod 600 it")
        else:
            yield Check(name, "ok", f"{state.where} (key {state.fingerprint})")
    signing, public = states["audit_signing"], states["audit_public"]
    if signing.fingerprint and public.fingerprint and signing.fingerprint != public.fingerprint:
        yield Check(
            "key audit_public",
            "fail",
            f"{public.where} is not the public half of {signing.where}: new checkpoints "
            "would not verify",
        )


def _checkpoints(cfg: DoctorSettings) -> Iterator[Check]:
    from onesource.exchange.config import AuditSettings

    where = AuditSettings().resolved().checkpoints or ""
    if "://" in where:
        try:
            import fsspec

            fs, root = fsspec.core.url_to_fs(where)
            fs.ls(root) if fs.exists(root) else None
        except Exception as exc:
            yield Check("checkpoints", "fail", f"{where}: {_first_line(exc)}")
            return
        yield Check("checkpoints", "ok", f"{where} reachable")
        return
    path = Path(where)
    folder = next((p for p in (path.parent, *path.parents) if p.exists()), None)
    if path.exists() and not os.access(path, os.W_OK):
        yield Check("checkpoints", "fail", f"{path} is not writable: checkpoints cannot be added")
    elif folder is None or not os.access(folder, os.W_OK) or not folder.is_dir():
        yield Check("checkpoints", "fail", f"{path} cannot be created ({folder} not writable)")
    else:
        yield Check("checkpoints", "ok", f"{path} writable")


def _catalog(cfg: DoctorSettings) -> Iterator[Check]:
    from onesource.catalog.loader import load_catalog
    from onesource.settings import get_settings

    root = get_settings().catalog
    try:
        result = load_catalog(root)
    except Exception as exc:
        yield Check("catalog", "fail", f"{root}: {_first_line(exc)}")
        return
    if result.errors:
        yield Check(
            "catalog",
            "fail",
            f"{root}: {len(result.errors)} error(s), first: {_first_line(result.errors[0])} "
            "(onesource catalog validate lists them)",
        )
    else:
        yield Check("catalog", "ok", f"{root} valid ({len(result.catalog.resources)} resources)")


def _airflow(cfg: DoctorSettings) -> Iterator[Check]:
    if not cfg.airflow_url:
        yield Check("airflow", "skip", "ONESOURCE_AIRFLOW_URL is not set")
        return
    import httpx

    url = cfg.airflow_url.rstrip("/") + "/api/v2/monitor/health"
    try:
        resp = httpx.get(url, timeout=5.0)
    except httpx.HTTPError as exc:
        yield Check("airflow", "fail", f"{url} is not reachable: {_first_line(exc)}")
        return
    if resp.status_code != 200:
        yield Check("airflow", "fail", f"{url} answered {resp.status_code}")
        return
    try:
        body: dict[str, Any] = resp.json()
        scheduler = (body.get("scheduler") or {}).get("status")
    except ValueError:
        scheduler = None
    if scheduler not in (None, "healthy"):
        yield Check("airflow", "warn", f"{url}: the scheduler is {scheduler}")
    else:
        yield Check("airflow", "ok", f"{url} healthy")


def clock_check(skew: float | None, cfg: DoctorSettings, against: str) -> Check:
    """The verdict on ``skew`` seconds between this host and ``against`` (None: unknown)."""
    from onesource.exchange.config import get_exchange_settings

    if skew is None:
        return Check("clock", "skip", f"no clock to compare with ({against})")
    window = get_exchange_settings().signature_window
    text = f"{skew:+.2f} s against {against}"
    if abs(skew) >= window / 2:
        return Check(
            "clock",
            "fail",
            f"{text}: signed requests (window {window:.0f} s) and checkpoint times go wrong; "
            "run NTP (chrony) on every host",
        )
    if abs(skew) > cfg.doctor_max_clock_skew:
        return Check("clock", "warn", f"{text}: more than {cfg.doctor_max_clock_skew:g} s")
    return Check("clock", "ok", text)


def _clock(cfg: DoctorSettings) -> Iterator[Check]:
    import sqlalchemy as sa

    from onesource.ops.snapshot import connected
    from onesource.settings import get_settings

    url = get_settings().metadata_url
    if sa.make_url(url).get_backend_name() != "postgresql":
        yield clock_check(None, cfg, "SQLite has no server clock")
        return
    try:
        with connected(url) as conn:
            before = time.time()
            server = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
            after = time.time()
    except Exception as exc:
        yield Check("clock", "skip", f"the database is not reachable: {_first_line(exc)}")
        return
    local = datetime.fromtimestamp((before + after) / 2, UTC)
    yield clock_check((local - server).total_seconds(), cfg, "the PostgreSQL server")


def _disk(cfg: DoctorSettings) -> Iterator[Check]:
    from onesource.settings import get_settings

    settings = get_settings()
    places = {"home": settings.home}
    if "://" not in settings.warehouse_root:
        places["warehouse"] = Path(settings.warehouse_root)
    if settings.metadata_url.startswith("sqlite:///"):
        places["database"] = Path(settings.metadata_url.removeprefix("sqlite:///")).parent
    limit = cfg.doctor_min_free_mb
    devices: dict[int, tuple[list[str], Path]] = {}  # one line per filesystem
    for label, path in places.items():
        existing = next((p for p in (path, *path.parents) if p.exists()), None)
        if existing is not None:
            devices.setdefault(existing.stat().st_dev, ([], existing))[0].append(label)
    for labels, existing in devices.values():
        usage = shutil.disk_usage(existing)
        free_mb = usage.free / 2**20
        name = f"disk {'+'.join(labels)}"
        text = f"{existing}: {free_mb:,.0f} MB free of {usage.total / 2**20:,.0f} MB"
        if free_mb < limit:
            yield Check(name, "fail", f"{text}, below {limit} MB")
        elif free_mb < 4 * limit:
            yield Check(name, "warn", f"{text}, below {4 * limit} MB")
        else:
            yield Check(name, "ok", text)


CHECKS: list[Probe] = [
    _database,
    _warehouse,
    _keys,
    _checkpoints,
    _catalog,
    _airflow,
    _clock,
    _disk,
]


def _first_line(exc: object) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def run_checks(cfg: DoctorSettings | None = None) -> list[Check]:
    """Every check's results, in a fixed order; a check that crashes is a failure."""
    cfg = cfg or DoctorSettings()
    out: list[Check] = []
    for probe in CHECKS:
        name = probe.__name__.lstrip("_")
        try:
            out.extend(probe(cfg))
        except Exception as exc:
            out.append(Check(name, "fail", f"the check itself failed: {_first_line(exc)}"))
    return out
