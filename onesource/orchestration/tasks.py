"""What each Airflow task does, without Airflow: call a pipeline step, summarize it.

Every function returns an ``Outcome``; the Airflow adapter turns ``skipped``
into a skip (no asset event: nothing new for downstream DAGs) and ``failed``
into a failure that is not retried.  A ``TransientError`` propagates so the
scheduler retries it; any other ``OneSourceError`` becomes ``failed``.
Pipeline modules are imported inside the functions: DAG parsing never loads them.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.errors import ConfigError, OneSourceError

State = Literal["succeeded", "skipped", "failed"]

# quality figures copied into the asset event (small; the full report stays in the store)
QUALITY_KEYS = (
    "rows_checked",
    "rows_passed",
    "rows_quarantined",
    "rows_failed",
    "failure_share",
    "warnings",
    "rejected",
)
SCORECARD_FUNCTIONS = (
    ("onesource.pipeline.scorecard", "run_scorecard"),
    ("onesource.quality.scorecard", "run_scorecard"),
)


@dataclass
class Outcome:
    """What a task did: its state, a one-line message, and the asset event's extra."""

    state: State
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


def _jsonable(value: Any) -> Any:
    """Asset-event extras and XComs must be plain JSON."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _guard(fn: Callable[[], Outcome]) -> Outcome:
    try:
        return fn()
    except OneSourceError as exc:
        if exc.transient:
            raise
        return Outcome("failed", f"[{exc.code}] {exc}")


def _serving_catalog() -> Any:
    """The catalog tasks run on: the working one when valid, else the last valid one.

    A typo committed while Airflow runs must not stop the pipelines (the DAG files
    already keep the last valid catalog and show the problem as an import error of
    their status file); the CLI, by contrast, refuses an invalid catalog.
    """
    from onesource.catalog.compiled import load_serving
    from onesource.settings import get_settings

    return load_serving(get_settings().catalog)


def run_ingest(resource: str, *, trigger: str = "airflow") -> Outcome:
    """Pull ``resource`` from its department and commit a checked version."""

    def body() -> Outcome:
        from onesource.pipeline.ingest import ingest

        result = ingest(resource, trigger=trigger, catalog=_serving_catalog())
        report = result.report or {}
        quality = {k: report[k] for k in QUALITY_KEYS if k in report}
        extra = _jsonable(
            {
                "resource": resource,
                "run_id": result.run_id,
                "status": result.status,
                "version": result.version,
                "rows_read": result.rows_read,
                "rows_good": result.rows_good,
                "rows_quarantined": result.rows_quarantined,
                "rows_unparsed": result.rows_unparsed,
                "quality": quality,
                "report": result.report_paths.get("html") or result.report_paths.get("json"),
            }
        )
        line = result.summary() if hasattr(result, "summary") else str(result)
        if result.status == "succeeded":
            return Outcome("succeeded", line, extra)
        if result.status == "unchanged":
            return Outcome("skipped", f"{resource}: nothing new at the source", extra)
        # rejected by its quality gate, or failed: readers still see the last good version
        return Outcome("failed", f"{resource}: {result.status}: {result.error or line}", extra)

    return _guard(body)


def announce_pushed(resource: str) -> Outcome:
    """Announce the current version of a pushed resource (the exchange API committed it)."""

    def body() -> Outcome:
        from onesource.store import Store

        info = Store.open().current("resource", resource)
        if info is None:
            return Outcome("skipped", f"{resource}: nothing pushed yet")
        extra = _jsonable(
            {
                "resource": resource,
                "version": info.number,
                "rows": getattr(info, "row_count", None),
                "status": "succeeded",
            }
        )
        return Outcome("succeeded", f"{resource}: version {info.number} announced", extra)

    return _guard(body)


def run_release(release: str) -> Outcome:
    """Build and publish a new version of ``release`` from its inputs' current versions."""

    def body() -> Outcome:
        from onesource.release.build import build_release

        result = build_release(release, catalog=_serving_catalog())
        version = getattr(result, "version", None)
        extra = _jsonable(
            {
                "release": release,
                "version": version,
                "path": str(getattr(result, "path", "") or ""),
                "rows": getattr(result, "rows", None),
            }
        )
        status = getattr(result, "status", "succeeded")
        if status not in ("succeeded", "published", "ok"):
            return Outcome("failed", f"{release}: {status}: {getattr(result, 'error', '')}", extra)
        return Outcome("succeeded", f"{release}: version {version} at {extra['path']}", extra)

    return _guard(body)


def run_scorecard() -> Outcome:
    """Compute the daily quality scorecard of every resource."""

    def body() -> Outcome:
        fn = _scorecard_function()
        result = fn(catalog=_serving_catalog())
        summary = result.to_dict() if hasattr(result, "to_dict") else result
        return Outcome("succeeded", "scorecard computed", {"scorecard": _jsonable(summary)})

    return _guard(body)


def _scorecard_function() -> Callable[..., Any]:
    tried = []
    for module_name, attr in SCORECARD_FUNCTIONS:
        tried.append(f"{module_name}.{attr}")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not exc.name or not (module_name + ".").startswith(exc.name + "."):
                raise  # the module exists but one of its own imports is missing
            continue
        if hasattr(module, attr):
            return getattr(module, attr)  # type: ignore[no-any-return]
    raise ConfigError(
        "no scorecard function is installed",
        hint=f"expected one of: {', '.join(tried)}",
    )
