"""The DAG plan: which Airflow DAGs the catalog asks for, as plain data.

The DAG processor re-parses every DAG file every ``min_file_process_interval``
and in a fresh process each time, so what a DAG file needs from the catalog is
kept in a tiny JSON file keyed by the catalog's fingerprint: a warm parse reads
it with ``json`` (no pydantic validation, no pyarrow), a cold parse validates
the catalog once through ``load_compiled`` (which raises ``CatalogError``
listing every problem as ``file:line``).

Ingest DAGs are spread over ``SHARDS`` loader files by a stable hash of the
resource name, so a new department or resource needs no new DAG file and no
file carries more than ~200 DAGs up to ~1,600 resources.
"""

from __future__ import annotations

import json
import os
import tempfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onesource import defaults
from onesource.catalog.fingerprint import fingerprint
from schemas.errors import ConfigError

if TYPE_CHECKING:
    from schemas.catalog import Catalog

SHARDS = 8
MAX_DAGS_PER_FILE = 200
PLAN_FORMAT = 2
SCORECARD_SCHEDULE = "@daily"
# presets croniter (Airflow 3) does not know, spelled out
CRON_PRESETS = {
    "@quarterly": "0 0 1 */3 *"
}  # a preset Airflow 3 rejects, if a catalog cron ever uses it


def airflow_schedule(cron: str | None) -> str | None:
    """An update cycle's cron (``UpdateCycle.cron``: realtime = every 15 min) as Airflow accepts it."""
    return CRON_PRESETS.get(cron, cron) if cron else None


def curated_asset_uri(resource: str) -> str:
    """The Airflow asset a resource's committed versions are announced on."""
    return f"onesource://curated/{resource}"


def open_asset_uri(release: str) -> str:
    """The Airflow asset a release's published versions are announced on."""
    return f"onesource://open/{release}"


def ingest_dag_id(resource: str) -> str:
    return f"ingest__{resource}"


def release_dag_id(release: str) -> str:
    return f"release__{release}"


SCORECARD_DAG_ID = "quality_scorecard"


def shard_of(resource: str, shards: int = SHARDS) -> int:
    """The loader file (``onesource/dags/ingest_shard_<n>.py``) that builds this resource's DAG."""
    return zlib.crc32(resource.encode("utf-8")) % shards


@dataclass(frozen=True)
class IngestPlan:
    """One ingest DAG: pull ``resource`` on its update cycle and announce the new version."""

    resource: str
    department: str
    title: str
    update_cycle: str
    schedule: str | None  # cron or preset; None = only when triggered
    connector: str  # sql | files | http | push

    @property
    def dag_id(self) -> str:
        return ingest_dag_id(self.resource)

    @property
    def asset_uri(self) -> str:
        return curated_asset_uri(self.resource)

    @property
    def pushed(self) -> bool:
        """Pushed by the department through the exchange API: nothing to pull."""
        return self.connector == "push"


@dataclass(frozen=True)
class ReleasePlan:
    """One release DAG: rebuild ``release`` when every input has a new version."""

    release: str
    publisher: str
    title: str
    inputs: tuple[str, ...]  # resource names

    @property
    def dag_id(self) -> str:
        return release_dag_id(self.release)

    @property
    def asset_uri(self) -> str:
        return open_asset_uri(self.release)

    @property
    def input_asset_uris(self) -> tuple[str, ...]:
        return tuple(curated_asset_uri(r) for r in self.inputs)


@dataclass(frozen=True)
class DagPlan:
    """Every DAG the catalog asks for."""

    catalog: str
    fingerprint: str
    ingests: tuple[IngestPlan, ...] = field(default_factory=tuple)
    releases: tuple[ReleasePlan, ...] = field(default_factory=tuple)

    def shard(self, index: int, shards: int = SHARDS) -> list[IngestPlan]:
        """The ingest DAGs built by loader file ``index`` of ``shards``."""
        return [i for i in self.ingests if shard_of(i.resource, shards) == index]

    def ingest(self, resource: str) -> IngestPlan:
        for item in self.ingests:
            if item.resource == resource:
                return item
        from schemas.errors import NotFoundError

        raise NotFoundError("resource", resource, [i.resource for i in self.ingests])

    def to_json(self) -> str:
        return json.dumps({"format": PLAN_FORMAT, **asdict(self)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: bytes | str) -> DagPlan:
        raw: dict[str, Any] = json.loads(data)
        if raw.get("format") != PLAN_FORMAT:
            raise ValueError("dag plan written by another version")
        return cls(
            catalog=raw["catalog"],
            fingerprint=raw["fingerprint"],
            ingests=tuple(IngestPlan(**i) for i in raw["ingests"]),
            releases=tuple(
                ReleasePlan(**{**r, "inputs": tuple(r["inputs"])}) for r in raw["releases"]
            ),
        )


def build_plan(catalog: Catalog, root: Path | str = "", fingerprint: str = "") -> DagPlan:
    """The DAGs a validated catalog asks for, in a stable order."""
    ingests = tuple(
        IngestPlan(
            resource=res.name,
            department=res.provider,
            title=res.title,
            update_cycle=res.update_cycle.value,
            schedule=None
            if res.connector.type == "push"
            else airflow_schedule(res.update_cycle.cron),
            connector=res.connector.type,
        )
        for res in sorted(catalog.resources.values(), key=lambda r: r.name)
    )
    releases = tuple(
        ReleasePlan(
            release=rel.name,
            publisher=rel.publisher,
            title=rel.title,
            # entity inputs (golden records) follow their resources' versions
            inputs=tuple(i.resource for i in rel.inputs if i.resource),
        )
        for rel in sorted(catalog.releases.values(), key=lambda r: r.name)
    )
    return DagPlan(str(root), fingerprint, ingests, releases)


def catalog_root(root: Path | str | None = None) -> Path:
    """The catalog folder: the argument, ``ONESOURCE_CATALOG``, ``./catalog`` (in a source
    checkout, its demo catalog: the DAG processor's working directory is not the repo)."""
    from onesource.orchestration.environment import catalog_folder

    path = catalog_folder(root)
    if not path.is_dir():
        raise ConfigError(
            f"catalog folder {path} does not exist",
            hint="set ONESOURCE_CATALOG to the folder holding departments.yaml",
        )
    return path


def _setting(name: str) -> str:
    """``ONESOURCE_<NAME>`` or its default, read like ``Settings`` but without importing
    pydantic-settings: DAG files pay that import on every parse, in every DAG file."""
    return os.environ.get(f"ONESOURCE_{name.upper()}") or getattr(defaults, name.upper())


def _cache_dir(cache_dir: Path | str | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(_setting("home")) / "cache"


def load_plan(
    root: Path | str | None = None, cache_dir: Path | str | None = None, *, strict: bool = True
) -> DagPlan:
    """The DAG plan of the catalog at ``root``, from the cache when nothing changed.

    Raises ``CatalogError`` (every problem as ``file:line``) when the catalog is invalid;
    with ``strict=False`` it then returns the plan of the last valid catalog instead
    (``CatalogUnavailableError`` when there never was one), cached under the broken
    catalog's fingerprint so that warm parses do not validate again.
    """
    root = catalog_root(root)
    cache = _cache_dir(cache_dir)
    fp = fingerprint(root)
    path = cache / f"dagplan-{fp}.json"
    try:
        plan = DagPlan.from_json(path.read_bytes())
        if plan.catalog == str(root) and (not strict or plan.fingerprint == fp):
            return plan
    except (OSError, ValueError, KeyError, TypeError):
        pass  # absent, stale or from another version: rebuild below
    from onesource.catalog.compiled import load_compiled, load_serving

    if strict:
        plan = build_plan(load_compiled(root, cache), root, fp)
    else:
        # the last valid catalog's plan, recorded with the fingerprint it was built from
        served = load_serving(root, cache)
        last = json.loads((cache / "last-valid-catalog.json").read_bytes())["fingerprint"]
        plan = build_plan(served, root, fp if _compiled(cache, fp) else str(last))
    _write(cache, path, plan)
    return plan


def _compiled(cache: Path, fp: str) -> bool:
    return (cache / f"catalog-{fp}.json").exists()


def _write(cache: Path, path: Path, plan: DagPlan) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".dagplan-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(plan.to_json())
        os.replace(tmp, path)
        for old in cache.glob("dagplan-*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only home still works, only slower
