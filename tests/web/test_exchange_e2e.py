"""End to end through the client SDK against a real uvicorn server: edu asks psb for
population fields, psb approves, edu reads only those and verifies a person; civil
pushes subsidies; the audit log verifies, and tampering is caught by the CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from connectors.client import (
    ExchangeAccessDenied,
    ExchangeAuthError,
    ExchangeClient,
    ExchangeError,
    ExchangeRateLimited,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.exchange.fixtures import Hub, make_hub, serve


def test_request_approve_read_verify_and_audit(hub: Hub) -> None:
    from onesource.cli.main import app as cli

    with serve(hub.app) as url:
        edu = ExchangeClient(url, hub.keys["edu"], retries=0)
        psb = ExchangeClient(url, hub.keys["psb"], retries=0)
        with pytest.raises(ExchangeAccessDenied):
            edu.read("population_register", purpose="入学审核")
        req = edu.request_access(
            "population_register",
            ["id_number", "name", "household_division"],  # the key field too: lookups by it
            purpose="义务教育入学资格审核",
            legal_basis="《中华人民共和国义务教育法》第十二条",
            period_days=90,
        )
        assert req.status == "pending" and req.owner == "psb"
        assert [p.id for p in psb.pending()] == [req.id]
        assert psb.approve(req.id, note="同意").status == "approved"
        table = edu.read("population_register", purpose="入学审核")
        assert table.column_names == ["id_number", "name", "household_division"]
        assert table.num_rows == len(hub.people)
        person = hub.people[0]
        one = edu.read(
            "population_register",
            where={"id_number": person["id_number"]},
            fields=["name", "household_division"],
            limit=5,
            purpose="入学审核",
        )
        assert one.to_pylist() == [
            {"name": person["name"], "household_division": person["household_division"]}
        ]
        answer = edu.verify(
            {"id_number": person["id_number"]},
            {"name": person["name"], "household_division": "000000"},
            resource="population_register",
            purpose="入学审核",
        )
        assert answer == {"name": True, "household_division": False}
        with pytest.raises(ExchangeAccessDenied):
            edu.read("population_register", fields=["mobile"], purpose="入学审核")
        with pytest.raises(ExchangeAuthError):
            ExchangeClient(url, "os_nope_nope", retries=0).resources()
        with pytest.raises(ExchangeError, match="purpose"):  # a blank purpose is refused
            edu.verify({"id_number": person["id_number"]}, {"name": "x"}, purpose=" ")
        assert {r.name: r.access for r in edu.resources()}["population_register"] == "granted"

    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    from onesource.exchange.audit import AuditLog

    log = AuditLog(hub.store.engine)
    verify_calls = [
        e for e in log.query(resource="population_register") if e["endpoint"].endswith("/verify")
    ]
    assert verify_calls and verify_calls[0]["department"] == "edu"
    assert verify_calls[0]["purpose"] == "入学审核" and verify_calls[0]["row_count"] == 0
    with hub.store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET fields = '[\"mobile\"]' WHERE seq = 5"))
    bad = runner.invoke(cli, ["audit", "verify"])
    assert bad.exit_code == 1 and "seq 5" in bad.output
    with hub.store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 3"))
    gone = runner.invoke(cli, ["audit", "verify"])
    assert gone.exit_code == 1 and "seq 3" in gone.output


def test_client_honours_retry_after_then_gives_up(
    hub_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONESOURCE_EXCHANGE_RATE_PER_SECOND", "5")
    monkeypatch.setenv("ONESOURCE_EXCHANGE_RATE_BURST", "1")
    hub = make_hub()
    with serve(hub.app) as url:
        patient = ExchangeClient(url, hub.keys["dsj"], retries=3, max_wait=2)
        assert [patient.me() for _ in range(3)] == ["dsj"] * 3  # retried after 429s
        hasty = ExchangeClient(url, hub.keys["edu"], retries=0)
        hasty.me()
        with pytest.raises(ExchangeRateLimited):
            hasty.me()


def test_push_is_quality_checked(hub: Hub) -> None:
    person = hub.people[3]
    good = f"id_number,name,month,amount\n{person['id_number']},{person['name']},2024-05,300\n"
    bad_row = f"{hub.people[0]['id_number']},{hub.people[0]['name']},2024-13,5000\n"
    with serve(hub.app) as url:
        civil = ExchangeClient(url, hub.keys["civil"], retries=0)
        result = civil.push("elderly_subsidies", (good + bad_row).encode(), fmt="csv")
        assert result.status in ("succeeded", "rejected")
        assert result.rows_read == 2
        assert result.quality is not None
        listed = civil.pushes()
        assert [p.id for p in listed] == [result.id]
        detail = civil.push_status(result.id)
        assert detail.quality is not None
        with pytest.raises(ExchangeAccessDenied):
            ExchangeClient(url, hub.keys["edu"], retries=0).push(
                "elderly_subsidies", good.encode(), fmt="csv"
            )
