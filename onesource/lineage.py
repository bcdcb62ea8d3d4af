"""OpenLineage events for ingests, golden records and releases (off by default).

``ONESOURCE_LINEAGE`` chooses the transport:

- unset or ``off``: nothing is emitted and ``openlineage`` is never imported;
- ``console``: events are logged;
- ``file:<path>``: one JSON event per line, appended to ``<path>``;
- ``http://marquez:5000`` (any http/https URL): OpenLineage's HTTP API (Marquez, DataHub's
  and OpenMetadata's OpenLineage endpoints), with ``ONESOURCE_LINEAGE_API_KEY`` as bearer
  token when set;
- ``openlineage``: the client's own configuration (``openlineage.yml``,
  ``OPENLINEAGE__TRANSPORT__*``), e.g. Kafka or a composite transport.

Jobs are named ``ingest.<resource>``, ``base.<entity>``, ``release.<release>`` in the
namespace ``ONESOURCE_LINEAGE_NAMESPACE`` (default ``onesource``).  Datasets: a department's
source is ``department://<code>`` / ``<resource>``; the hub's are ``curated/<resource>``,
``base/<entity>`` and ``open/<release>`` in the same namespace, so a catalog sees which
department's data feeds which release.  Each run sends START, then COMPLETE (with the
version committed) or FAIL (with the error); a lineage backend that is down only logs a
warning: it never fails a pipeline.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

log = logging.getLogger("onesource.lineage")
PRODUCER = "https://github.com/onesource-hub/onesource"
Kind = Literal["ingest", "base", "release"]
F = TypeVar("F", bound=Callable[..., Any])
_clients: dict[str, Any] = {}


def setting() -> str:
    return os.environ.get("ONESOURCE_LINEAGE", "").strip()


def namespace() -> str:
    return os.environ.get("ONESOURCE_LINEAGE_NAMESPACE", "").strip() or "onesource"


def client() -> Any:
    """The client for the current setting (one per setting and process), or None when off."""
    value = setting()
    if value.lower() in ("", "off", "0", "false"):
        return None
    if value in _clients:
        return _clients[value]
    from openlineage.client import OpenLineageClient

    from schemas.errors import ConfigError

    config: dict[str, Any] | None
    if value == "console":
        config = {"transport": {"type": "console"}}
    elif value.startswith("file:"):
        path = value.removeprefix("file:")
        config = {"transport": {"type": "file", "log_file_path": path, "append": True}}
    elif value.startswith(("http://", "https://")):
        transport: dict[str, Any] = {"type": "http", "url": value}
        key = os.environ.get("ONESOURCE_LINEAGE_API_KEY")
        if key:
            transport["auth"] = {"type": "api_key", "apiKey": key}
        config = {"transport": transport}
    elif value == "openlineage":
        config = None  # openlineage.yml / OPENLINEAGE__* variables
    else:
        raise ConfigError(
            f"ONESOURCE_LINEAGE={value!r} is not a lineage transport",
            hint="off, console, file:<path>, an http(s):// URL, or openlineage",
        )
    made = OpenLineageClient(config=config) if config is not None else OpenLineageClient()
    _clients[value] = made
    return made


def _datasets(kind: Kind, subject: str, catalog: Any, result: Any) -> tuple[list[Any], list[Any]]:
    """(inputs, outputs) as (namespace, name) pairs."""
    ns = namespace()
    if kind == "ingest":
        res = catalog.resources.get(subject) if catalog is not None else None
        inputs = [(f"department://{res.provider}", subject)] if res is not None else []
        return inputs, [(ns, f"curated/{subject}")]
    if kind == "base":
        used = sorted({c["resource"] for c in (getattr(result, "lineage", None) or {}).values()})
        return [(ns, f"curated/{r}") for r in used], [(ns, f"base/{subject}")]
    rel = catalog.releases.get(subject) if catalog is not None else None
    refs = [i.ref for i in rel.inputs] if rel is not None else []
    return [(ns, f"curated/{r}") for r in refs], [(ns, f"open/{subject}")]


def _event(
    state: str,
    kind: Kind,
    subject: str,
    run_id: str,
    catalog: Any,
    result: Any = None,
    error: BaseException | str | None = None,
) -> Any:
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
    from openlineage.client.generated.error_message_run import ErrorMessageRunFacet

    inputs, outputs = _datasets(kind, subject, catalog, result)
    version = getattr(result, "version", None)
    out_facets: dict[str, Any] = {}
    if version is not None and state == "COMPLETE":
        out_facets["version"] = DatasetVersionDatasetFacet(datasetVersion=str(version))
    run_facets: dict[str, Any] = {}
    if error is not None:
        run_facets["errorMessage"] = ErrorMessageRunFacet(
            message=str(error)[:2000], programmingLanguage="python"
        )
    return RunEvent(
        eventType=RunState[state],
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=run_id, facets=run_facets),
        job=Job(namespace=namespace(), name=f"{kind}.{subject}"),
        inputs=[InputDataset(namespace=n, name=d) for n, d in inputs],
        outputs=[OutputDataset(namespace=n, name=d, facets=out_facets) for n, d in outputs],
        producer=PRODUCER,
    )


def _emit(ol: Any, *args: Any, **kwargs: Any) -> None:
    try:
        ol.emit(_event(*args, **kwargs))
    except Exception:  # a lineage backend that is down never fails a pipeline
        log.warning("OpenLineage event not sent", exc_info=True)


def _catalog(kwargs: dict[str, Any]) -> Any:
    catalog = kwargs.get("catalog")
    if catalog is not None:
        return catalog
    try:
        from onesource.catalog.compiled import load_serving
        from onesource.settings import get_settings

        return load_serving(get_settings().catalog)
    except Exception:
        return None


def traced(kind: Kind) -> Callable[[F], F]:
    """Emit START and COMPLETE/FAIL around a pipeline step whose first argument is its subject.

    An ingest that returns ``rejected`` or ``failed`` is a FAIL (readers keep the last version).
    """

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def run(subject: str, *args: Any, **kwargs: Any) -> Any:
            ol = client()
            if ol is None:
                return fn(subject, *args, **kwargs)
            from openlineage.client.uuid import generate_new_uuid

            run_id = str(generate_new_uuid())
            catalog = _catalog(kwargs)
            _emit(ol, "START", kind, subject, run_id, catalog)
            try:
                result = fn(subject, *args, **kwargs)
            except BaseException as exc:
                _emit(ol, "FAIL", kind, subject, run_id, catalog, error=exc)
                raise
            status = getattr(result, "status", "succeeded")
            if status in ("rejected", "failed"):
                error = getattr(result, "error", None) or status
                _emit(ol, "FAIL", kind, subject, run_id, catalog, result, error=error)
            else:
                _emit(ol, "COMPLETE", kind, subject, run_id, catalog, result)
            return result

        return run  # type: ignore[return-value]

    return wrap
