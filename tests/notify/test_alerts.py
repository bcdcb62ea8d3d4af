"""Failure and deadline alerts: what is found, who gets it, signed webhooks, no repeats."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from onesource.notify.channels import DeliveryError, post_webhook
from onesource.notify.checks import check_all
from onesource.notify.config import NotifyConfig, SmtpConfig, WebhookConfig, load_config
from onesource.notify.dispatch import dispatch
from onesource.store import Store
from onesource.store.records import utcnow
from schemas.errors import ConfigError
from tests.notify.servers import Receiver, smtp_server, webhook_server

SECRET = "hook-secret-for-tests"


@pytest.fixture
def world(hub_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A hub with one failed ingest, one overdue access request; every resource stale."""
    from onesource.catalog.compiled import load_compiled
    from onesource.exchange.grants import GrantBook
    from onesource.settings import get_settings

    monkeypatch.setenv("ONESOURCE_TEST_HOOK_SECRET", SECRET)
    store = Store.open()
    catalog = load_compiled(get_settings().catalog)
    with store.begin_run("ingest", "business_register") as run:
        run.finish("failed", error="source answered 500 three times")
    GrantBook(store.engine).request(
        catalog, "edu", "population_register", ["name"], "入学审核", "条例", 30,
        now=utcnow() - timedelta(days=30),
    )  # fmt: skip
    return {"store": store, "catalog": catalog, "run": run.id}


def test_checks_find_failures_staleness_and_overdue_requests(world: dict[str, Any]) -> None:
    alerts = check_all(world["store"].engine, world["catalog"], utcnow())
    kinds = {a.kind for a in alerts}
    assert kinds == {"run-failed", "stale", "request-overdue"}
    failed = next(a for a in alerts if a.kind == "run-failed")
    assert failed.key == f"run-failed:ingest:business_register:{world['run']}"
    provider = world["catalog"].resources["business_register"].provider
    assert failed.department == provider  # routed to the department that provides it
    assert "source answered 500" in failed.text
    overdue = next(a for a in alerts if a.kind == "request-overdue")
    assert overdue.department == "psb"  # the owner must answer
    irregular = {
        n for n, r in world["catalog"].resources.items() if r.update_cycle.value == "irregular"
    }
    assert not irregular & {a.subject for a in alerts if a.kind == "stale"}


def test_email_and_webhook_once_then_not_again(world: dict[str, Any]) -> None:
    receiver = Receiver(SECRET.encode())
    with smtp_server() as (port, box), webhook_server(receiver) as url:
        cfg = NotifyConfig(
            smtp=SmtpConfig(host="127.0.0.1", port=port, sender="hub@data.example.gov.cn"),
            operators=["ops@data.example.gov.cn"],
            webhooks=[
                WebhookConfig(
                    name="ops", url=url, secret_env="ONESOURCE_TEST_HOOK_SECRET",
                    kinds=["run-failed"], backoff_seconds=0,
                )
            ],
        )  # fmt: skip
        engine, catalog = world["store"].engine, world["catalog"]
        alerts = [a for a in check_all(engine, catalog, utcnow()) if a.kind != "stale"]
        first = dispatch(alerts, cfg, engine, catalog)
        assert not first.failed and first.sent
        to = {addr for rcpts, _ in box.messages for addr in rcpts}
        psb = [s.email for s in catalog.departments["psb"].stewards]
        assert "ops@data.example.gov.cn" in to and set(psb) <= to  # operators + the owner
        subjects = [m["Subject"] for _, m in box.messages]
        assert any("population" in m.get_content() for _, m in box.messages), subjects
        assert len(receiver.received) == 1 and receiver.received[0]["valid"]
        assert receiver.received[0]["body"]["alert"]["kind"] == "run-failed"

        again = dispatch(alerts, cfg, engine, catalog)  # the next cron run
        assert again.sent == [] and len(again.skipped) == len(first.sent)
        assert len(box.messages) == len(first.sent) - 1 and len(receiver.received) == 1


def test_webhook_retries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONESOURCE_TEST_HOOK_SECRET", SECRET)
    hook = WebhookConfig(
        name="h", url="", secret_env="ONESOURCE_TEST_HOOK_SECRET", attempts=3, backoff_seconds=0
    )
    flaky = Receiver(SECRET.encode(), statuses=[503, 502])
    with webhook_server(flaky) as url:
        assert post_webhook(hook.model_copy(update={"url": url}), {"x": 1}) == 200
    assert len(flaky.received) == 3 and all(r["valid"] for r in flaky.received)

    down = Receiver(SECRET.encode(), statuses=[500] * 10)
    with webhook_server(down) as url, pytest.raises(DeliveryError, match="HTTP 500"):
        post_webhook(hook.model_copy(update={"url": url}), {"x": 1})
    assert len(down.received) == 3  # attempts, not forever

    refused = Receiver(SECRET.encode(), statuses=[400] * 10)
    with webhook_server(refused) as url, pytest.raises(DeliveryError, match="HTTP 400"):
        post_webhook(hook.model_copy(update={"url": url}), {"x": 1})
    assert len(refused.received) == 1  # a 4xx is final

    forged = Receiver(b"another secret")  # the receiver's check refuses a wrong signature
    with webhook_server(forged) as url, pytest.raises(DeliveryError, match="HTTP 401"):
        post_webhook(hook.model_copy(update={"url": url}), {"x": 1})


def test_failed_delivery_is_retried_next_run(world: dict[str, Any]) -> None:
    receiver = Receiver(SECRET.encode(), statuses=[500, 500])
    with webhook_server(receiver) as url:
        cfg = NotifyConfig(
            webhooks=[
                WebhookConfig(
                    name="ops", url=url, secret_env="ONESOURCE_TEST_HOOK_SECRET",
                    kinds=["run-failed"], attempts=2, backoff_seconds=0,
                )
            ]
        )  # fmt: skip
        engine = world["store"].engine
        alerts = check_all(engine, world["catalog"], utcnow())
        assert dispatch(alerts, cfg, engine).failed
        assert [k for k, _ in dispatch(alerts, cfg, engine).sent] == [
            f"run-failed:ingest:business_register:{world['run']}"
        ]


def test_config_refuses_unknown_keys_and_missing_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text("smtp: {host: mail, sender: a@b, password: hunter2}\n")
    with pytest.raises(ConfigError, match=r"notify.yaml: smtp.password: Extra inputs"):
        load_config(path)
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    with pytest.raises(ConfigError, match="NOPE_SECRET is not set"):
        WebhookConfig(name="x", url="http://127.0.0.1:9/", secret_env="NOPE_SECRET").secret()


def test_cli_exit_codes(world: dict[str, Any], tmp_path: Path) -> None:
    """Exit 1 when something is found; exit 1 when an alert could not be delivered."""
    from tests.cli.harness import onesource_bin

    env = {**os.environ}
    found = subprocess.run(
        [onesource_bin(), "alerts", "check", "--json"], env=env, capture_output=True, text=True
    )
    assert found.returncode == 1, found.stderr
    kinds = {a["kind"] for a in json.loads(found.stdout)["alerts"]}
    assert "run-failed" in kinds
    cfg = tmp_path / "notify.yaml"
    cfg.write_text(
        "smtp: {host: 127.0.0.1, port: 9, sender: hub@example.gov.cn}\noperators: [ops@example.gov.cn]\n"
    )
    from typer.testing import CliRunner

    from onesource.cli.main import app

    failed = CliRunner().invoke(app, ["alerts", "check", "--send", "--config", str(cfg)])
    assert failed.exit_code == 1 and "not delivered" in failed.stdout, failed.stdout


def test_fresh_resources_are_not_stale_and_objections_are_read(world: dict[str, Any]) -> None:
    store, catalog = world["store"], world["catalog"]

    def stale(now: Any) -> set[str]:
        return {a.subject for a in check_all(store.engine, catalog, now) if a.kind == "stale"}

    with store.begin_run("ingest", "students") as run:
        run.finish("succeeded")
    assert "students" not in stale(utcnow()) and "population_register" in stale(utcnow())
    assert "students" in stale(utcnow() + timedelta(days=200))  # quarterly x 1.5 later
    # objections (数据异议) open past their deadline go to the source department
    from onesource.store.console_models import Objection
    from onesource.store.db import session

    now = utcnow()
    rows = [("ob_1", "open", -1), ("ob_2", "open", 1), ("ob_3", "rejected", -9)]
    with session(store.engine, write=True) as ses:
        for i, s, d in rows:
            ses.add(
                Objection(
                    id=i, raised_by="edu", source_department="psb", resource="population_register",
                    record_key={"id_number": "x"}, field="name", reason="typo", status=s,
                    raised_at=now - timedelta(days=20), due_at=now + timedelta(days=d),
                )
            )  # fmt: skip
    overdue = [a for a in check_all(store.engine, catalog, now) if a.kind == "objection-overdue"]
    assert [(a.subject, a.department) for a in overdue] == [("ob_1", "psb")]
