"""Run DAGs through Airflow in-process (``dag.test()``) on a SQLite metadata DB.

The first half replaces the pipeline call inside the task body to pin down
what Airflow does with each outcome (asset event and its extra, skip, fail
without retry, retry on transient errors, the release queued by assets).  The
second half runs the real pipeline on the seeded demo city.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from onesource.orchestration import tasks
from onesource.orchestration.tasks import Outcome
from schemas.errors import SourceUnavailableError

pytestmark = pytest.mark.airflow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bag(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Every DAG parsed and synced to the metadata DB (so asset consumers are known)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("ONESOURCE_HOME", str(tmp_path_factory.mktemp("hub")))
    mp.setenv("ONESOURCE_CATALOG", str(REPO / "catalog"))
    from onesource.orchestration import airflow_run
    from onesource.settings import get_settings

    get_settings.cache_clear()
    bag = airflow_run.load_dagbag(REPO / "onesource" / "dags")
    airflow_run.sync_dags(bag)
    yield bag
    mp.undo()
    get_settings.cache_clear()


def _ok(resource: str, **_: Any) -> Outcome:
    return Outcome(
        "succeeded",
        f"{resource} committed",
        {"resource": resource, "version": 7, "quality": {"rows_checked": 10, "rows_passed": 9}},
    )


def test_success_announces_version_and_quality_then_release_is_due(
    bag, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from onesource.orchestration import airflow_run

    monkeypatch.setattr(tasks, "run_ingest", _ok)
    monkeypatch.setattr(
        tasks,
        "run_release",
        lambda name: Outcome("succeeded", "ok", {"release": name, "version": 1}),
    )
    release = "release__business_register_open"
    airflow_run.consume_queue(release)
    assert airflow_run.queued_assets(release) == set()

    ran = airflow_run.run_dag(bag.dags["ingest__business_register"])
    assert ran.ok, ran
    assert ran.events == [
        {
            "uri": "onesource://curated/business_register",
            "extra": {
                "resource": "business_register",
                "version": 7,
                "quality": {"rows_checked": 10, "rows_passed": 9},
            },
        }
    ]
    # Airflow queued the release that waits on this asset, as the scheduler would see it
    assert airflow_run.queued_assets(release) == {"onesource://curated/business_register"}
    out = airflow_run.run_dag(bag.dags[release])
    assert out.ok, out
    assert out.events[0]["uri"] == "onesource://open/business_register_open"
    assert out.events[0]["extra"]["version"] == 1


@pytest.mark.parametrize(
    "outcome,state",
    [
        (Outcome("skipped", "nothing new"), "skipped"),
        (Outcome("failed", "[schema-drift] column gone"), "failed"),
    ],
    ids=["unchanged-skips", "terminal-fails"],
)
def test_no_asset_event_unless_a_version_was_committed(
    bag, monkeypatch: pytest.MonkeyPatch, outcome: Outcome, state: str
) -> None:  # type: ignore[no-untyped-def]
    from onesource.orchestration import airflow_run

    calls: list[str] = []

    def fake(resource: str, **_: Any) -> Outcome:
        calls.append(resource)
        return outcome

    monkeypatch.setattr(tasks, "run_ingest", fake)
    dag = bag.dags["ingest__properties"]
    dag.get_task("ingest").retry_delay = dt.timedelta(0)
    ran = airflow_run.run_dag(dag, retries=None)  # keep the DAG's 3 retries
    assert ran.tasks == {"ingest": state}
    assert ran.events == []
    assert calls == ["properties"]  # a terminal failure is not retried


def test_transient_errors_are_retried(bag, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from onesource.orchestration import airflow_run

    calls: list[str] = []

    def flaky(resource: str, **_: Any) -> Outcome:
        calls.append(resource)
        if len(calls) == 1:
            raise SourceUnavailableError("psb_db refused the connection")
        return _ok(resource)

    monkeypatch.setattr(tasks, "run_ingest", flaky)
    dag = bag.dags["ingest__households"]
    dag.get_task("ingest").retry_delay = dt.timedelta(0)
    ran = airflow_run.run_dag(dag, retries=None)
    assert ran.ok, ran
    assert len(calls) == 2
    assert ran.events[0]["extra"]["version"] == 7


def test_pushed_resource_with_nothing_pushed_is_skipped(bag) -> None:  # type: ignore[no-untyped-def]
    from onesource.orchestration import airflow_run

    ran = airflow_run.run_dag(bag.dags["ingest__elderly_subsidies"])
    assert ran.tasks == {"announce": "skipped"}


# --- the real pipeline on the seeded demo city ------------------------------------------


@pytest.fixture(scope="module")
def demo_home(bag, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The demo city seeded with 2,000 residents and its department APIs served."""
    import os
    import socket
    import threading
    import time

    import uvicorn

    from onesource import demo
    from onesource.settings import get_settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = Path(os.environ["ONESOURCE_HOME"])
    get_settings.cache_clear()
    try:
        demo.seed(home, people=2000, api_port=port)
    except TypeError:
        demo.seed(home, people=2000)
    from onesource.demo.api import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(home), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield home
    server.should_exit = True


@pytest.mark.parametrize(
    "resource",
    ["population_register", "students", "service_ratings"],
    ids=["sql", "files", "http"],
)
def test_demo_ingest_per_source_kind(bag, demo_home: Path, resource: str) -> None:  # type: ignore[no-untyped-def]
    from onesource.orchestration import airflow_run

    ran = airflow_run.run_dag(bag.dags[f"ingest__{resource}"])
    assert ran.ok, ran
    extra = ran.events[0]["extra"]
    assert extra["version"] >= 1
    assert extra["rows_good"] > 0
    assert "rows_checked" in extra["quality"]


def test_demo_asset_chain_into_release(bag, demo_home: Path) -> None:  # type: ignore[no-untyped-def]
    from onesource.orchestration.demo_run import run_demo_pipelines

    summary = run_demo_pipelines(demo_home, resources=["grid_events"], echo=lambda _: None)
    runs = {r.dag_id: r for r in summary.rows if not isinstance(r, str)}
    assert runs["ingest__grid_events"].ok, summary
    assert runs["release__grid_events_open"].ok, summary
    assert runs["release__grid_events_open"].events[0]["extra"]["version"] >= 1


def test_pipeline_metrics_reach_statsd_and_failures_alert(  # type: ignore[no-untyped-def]
    bag, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One ingest's figures arrive as StatsD lines on a local UDP socket through Airflow's own
    metrics client; a failed run adds a failure count and sends its alert (a signed webhook)."""
    import socket

    from onesource.orchestration import airflow_dags, airflow_run
    from tests.notify.servers import Receiver, webhook_server

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(sock.getsockname()[1]))
    monkeypatch.setattr(airflow_dags, "_STATS_READY", False)
    figures = {"rows_read": 10, "rows_good": 9, "rows_quarantined": 1, "version": 3}

    def received(*names: str) -> set[str]:
        want, seen = {f"onesource.ingest.business_register.{n}" for n in names}, set()
        while not want <= {line.split(":")[0].removeprefix("airflow.") for line in seen}:
            seen.add(sock.recv(4096).decode())
        return seen

    try:
        monkeypatch.setattr(
            tasks,
            "run_ingest",
            lambda r, **_: Outcome("succeeded", "ok", {"resource": r, **figures}),
        )
        assert airflow_run.run_dag(bag.dags["ingest__business_register"]).ok
        lines = received(
            "rows_read", "rows_good", "rows_quarantined", "versions_committed", "duration"
        )
        assert "airflow.onesource.ingest.business_register.rows_read:10|c" in lines
        assert "airflow.onesource.ingest.business_register.rows_quarantined:1|c" in lines

        receiver = Receiver(b"s3cret")
        with webhook_server(receiver) as url:
            config = tmp_path / "notify.yaml"
            config.write_text(f"webhooks: [{{name: ops, url: '{url}', secret_env: HOOK_SECRET}}]\n")
            monkeypatch.setenv("ONESOURCE_NOTIFY_CONFIG", str(config))
            monkeypatch.setenv("HOOK_SECRET", "s3cret")
            monkeypatch.setattr(
                tasks, "run_ingest", lambda r, **_: Outcome("failed", "[schema-drift] gone", {})
            )
            ran = airflow_run.run_dag(bag.dags["ingest__business_register"])
            assert ran.tasks == {"ingest": "failed"}
            assert "airflow.onesource.ingest.business_register.failures:1|c" in received("failures")
        alert = receiver.received[0]["body"]["alert"]
        assert receiver.received[0]["valid"] and alert["kind"] == "run-failed"
        assert alert["subject"] == "business_register" and "schema-drift" in alert["text"]
    finally:
        sock.close()
        monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "False")
        airflow_dags._STATS_READY = False
        airflow_dags.emit_metrics("test", "reset")  # back to Airflow's no-op client
