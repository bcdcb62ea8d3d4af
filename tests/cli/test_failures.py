"""Failure paths of the installed console script: exit 1 on findings, 2 on misuse, 130 on Ctrl+C.

Each attack runs ``.venv/bin/onesource`` in a subprocess in a scratch home seeded once
(100 residents, no department API running).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.cli.harness import REPO, Hub, free_port, stop, wait_for_port

SQL_AND_FILES = ["population_register", "students", "business_register", "abnormal_operations"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Hub:
    dead = free_port()  # nothing listens here: the http sources fail fast
    hub = Hub.create(
        tmp_path_factory.mktemp("failing-hub"),
        ONESOURCE_CONN_DSJ_API=json.dumps(
            {"conn_type": "http", "host": f"http://127.0.0.1:{dead}", "extra": {"backoff_s": 0.01}}
        ),
    )
    r = hub.run("demo", "seed", "--people", "100", "--api-port", str(dead))
    assert r.returncode == 0, r.stderr
    r = hub.run("run", "ingest", *SQL_AND_FILES, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    return hub


def _ok(r) -> str:  # type: ignore[no-untyped-def]
    return f"exit {r.returncode}\nstdout:\n{r.stdout[-2000:]}\nstderr:\n{r.stderr[-2000:]}"


def test_unknown_command_exits_2(hub: Hub) -> None:
    r = hub.run("nosuchcommand")
    assert r.returncode == 2, _ok(r)
    assert "No such command" in r.stderr and "Usage:" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "verify", "--expect-head", "abc"],
        ["audit", "verify", "--expect-head", "0:abc"],
        ["audit", "verify", "--expect-head", "-1:x"],
        ["audit", "verify", "--expect-head", "5"],
        ["versions", "students", "--kind", "table"],
        ["runs", "--status", "fine"],
        ["run", "ingest"],
    ],
    ids=lambda a: " ".join(a),
)
def test_malformed_options_are_usage_errors(hub: Hub, args: list[str]) -> None:
    r = hub.run(*args)
    assert r.returncode == 2, _ok(r)
    assert "Usage:" in r.stderr and "unexpected" not in r.stderr, r.stderr


def test_versions_of_an_unknown_name_exits_1_a_known_one_without_versions_0(hub: Hub) -> None:
    r = hub.run("versions", "no_such_resource")
    assert r.returncode == 1, _ok(r)
    assert "unknown resource 'no_such_resource'" in r.stderr
    r = hub.run("versions", "households")
    assert r.returncode == 0, _ok(r)
    assert "no versions of resource 'households' yet" in r.stdout
    r = hub.run("runs", "--subject", "no_such_resource")
    assert r.returncode == 1, _ok(r)


def test_broken_catalog_copy_exits_1_naming_the_file(hub: Hub, tmp_path: Path) -> None:
    broken = tmp_path / "catalog"
    shutil.copytree(REPO / "catalog", broken)
    path = broken / "resources" / "edu" / "students.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("fields:", "fields: [", 1))
    r = hub.run("catalog", "validate", "--root", str(broken))
    assert r.returncode == 1, _ok(r)
    assert re.search(r"students\.yaml:\d+", r.stdout + r.stderr), _ok(r)
    bad_hub = Hub.create(hub.home, catalog=broken)
    r = bad_hub.run("run", "ingest", "population_register")
    assert r.returncode == 1, _ok(r)
    assert "students.yaml" in r.stderr


def test_failed_ingest_exits_1_after_attempting_every_resource(hub: Hub) -> None:
    r = hub.run("run", "ingest", "service_ratings", "marriage_registrations")
    assert r.returncode == 1, _ok(r)
    # the retries were visible while they waited, and the next resource still ran
    assert re.search(r"attempt 1 of \d+, next try in [\d.]+ s", r.stderr), _ok(r)
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^│ (\w+) +│ (\w+) ", r.stdout, re.M)}
    assert rows == {"service_ratings": "failed", "marriage_registrations": "succeeded"}, _ok(r)
    assert "2 resource(s): 1 ok, 1 failed or rejected" in r.stdout


def test_rejected_run_exits_1_and_its_quality_report_too(hub: Hub) -> None:
    # the department's next increment is one record with a bad ID check digit: 100% fail
    with sqlite3.connect(hub.home / "sources" / "psb.db") as con:
        con.execute(
            "UPDATE population SET id_number = substr(id_number, 1, 17) || "
            "CASE WHEN substr(id_number, 18) = '0' THEN '1' ELSE '0' END, "
            "updated_at = (SELECT datetime(max(updated_at), '+1 second') FROM population) "
            "WHERE rowid = (SELECT min(rowid) FROM population)"
        )
    r = hub.run("run", "ingest", "population_register")
    assert r.returncode == 1, _ok(r)
    assert re.search(r"^│ population_register +│ rejected ", r.stdout, re.M), _ok(r)
    r = hub.run("quality", "report", "population_register")
    assert r.returncode == 1, _ok(r)
    assert "rejected" in r.stdout


def test_runs_prints_ids_that_quality_report_accepts(hub: Hub) -> None:
    r = hub.run("runs", "--subject", "students")
    assert r.returncode == 0, _ok(r)
    ids = re.findall(r"^│ (01[0-9A-Z]{24}) │", r.stdout, re.M)
    assert ids, r.stdout
    for run_id in ids:
        for given in (run_id, run_id[:16], run_id.lower()):
            q = hub.run("quality", "report", "students", "--run", given)
            assert q.returncode == 0 and f"run {run_id}" in q.stdout, _ok(q)
    q = hub.run("quality", "report", "students", "--run", "ZZZZ")
    assert q.returncode == 1 and "unknown checked run" in q.stderr, _ok(q)


def test_ambiguous_run_prefix_is_a_usage_error(hub: Hub) -> None:
    with sqlite3.connect(hub.home / "sources" / "psb.db") as con:  # a second checked run
        con.execute(
            "UPDATE population SET name = name || '之', "
            "updated_at = (SELECT datetime(max(updated_at), '+1 second') FROM population) "
            "WHERE rowid = (SELECT max(rowid) FROM population)"
        )
    hub.run("run", "ingest", "population_register")
    runs = json.loads(hub.run("runs", "--subject", "population_register", "--json").stdout)
    checked = [x["id"] for x in runs if x["rows_read"]]
    assert len(checked) >= 2, runs
    prefix = next(
        checked[0][:n]
        for n in range(26, 0, -1)
        if all(i.startswith(checked[0][:n]) for i in checked)
    )
    q = hub.run("quality", "report", "population_register", "--run", prefix)
    assert q.returncode == 2 and "give more characters" in q.stderr, _ok(q)


def test_one_run_one_set_of_counts(hub: Hub) -> None:
    """students has one unparsable CSV row: every view agrees on read/good/quarantined/unparsable."""
    runs = json.loads(hub.run("runs", "--subject", "students", "--json").stdout)
    run = next(x for x in runs if x["rows_read"])
    report = json.loads(
        hub.run("quality", "report", "students", "--run", run["id"], "--json").stdout
    )
    versions = json.loads(hub.run("versions", "students", "--json").stdout)
    version = next(v for v in versions if v["run_id"] == run["id"])
    unparsable = report["unparsed_rows"]
    assert unparsable == 1
    read, good, quarantined = run["rows_read"], run["rows_good"], run["rows_quarantined"]
    assert read == good + quarantined + unparsable, run
    assert (
        report["rows_checked"] + unparsable,
        report["rows_passed"],
        report["rows_quarantined"],
    ) == (
        read,
        good,
        quarantined,
    )
    q = version["stats"]["quality"]
    assert (q["rows_passed"], q["rows_quarantined"], q["unparsed_rows"]) == (good, quarantined, 1)
    text = hub.run("quality", "report", "students", "--run", run["id"]).stdout
    assert f"{read} read, {good} good, {quarantined} quarantined, 1 unparsable" in text
    # the unparsable row itself: file, line and why
    assert re.search(r"^unparsable: \S+\.csv:\d+: \d+ columns, the header has \d+$", text, re.M), (
        text
    )
    assert report["unparsed"][0]["line"] > 1 and report["unparsed"][0]["raw"], report["unparsed"]
    table = hub.run("runs", "--subject", "students").stdout
    assert re.search(rf"│ {run['id']} │ .* │ {read} +│ {good} +│ {quarantined} +│ 1 +│", table), (
        table
    )


def test_release_rows_and_a_tampered_release(hub: Hub) -> None:
    r = hub.run("release", "build", "abnormal_operations_notice")
    assert r.returncode == 0, _ok(r)
    listed = {x["release"]: x for x in json.loads(hub.run("release", "list", "--json").stdout)}
    rows = listed["abnormal_operations_notice"]["rows"]
    versions = json.loads(
        hub.run("versions", "abnormal_operations_notice", "--kind", "release", "--json").stdout
    )
    current = next(v for v in versions if v["current"])
    data = hub.home / "warehouse" / current["path"] / "data.csv"
    assert (
        rows == current["row_count"] == len(data.read_text(encoding="utf-8-sig").splitlines()) - 1
    )
    assert rows > 0
    r = hub.run("release", "verify", "abnormal_operations_notice")
    assert r.returncode == 0, _ok(r)
    lines = data.read_text(encoding="utf-8-sig").splitlines()
    lines[-1] = lines[-1][:1] + ("Y" if lines[-1][1:2] == "X" else "X") + lines[-1][2:]
    data.write_text(
        "\ufeff" + "\n".join(lines) + "\n", encoding="utf-8"
    )  # one character, same shape
    r = hub.run("release", "verify", "abnormal_operations_notice")
    assert r.returncode == 1, _ok(r)
    assert "FAIL" in r.stdout and "unexpected" not in r.stderr, _ok(r)
    # a tamper that breaks the CSV's shape is a finding too, not a crash
    data.write_text(
        "\ufeff" + "\n".join([*lines, "a,b,c,d,e,f,g,h,i,j,k"]) + "\n", encoding="utf-8"
    )
    r = hub.run("release", "verify", "abnormal_operations_notice")
    assert r.returncode == 1, _ok(r)
    assert "FAIL" in r.stdout and "unexpected" not in r.stderr, _ok(r)


def _exchange_calls(hub: Hub, n: int) -> None:
    import httpx

    key = hub.run("dept", "key", "issue", "edu").stdout.strip().splitlines()[-1]
    port = free_port()
    proc = hub.start("serve", "--port", str(port))
    try:
        wait_for_port(port, proc, timeout=60)
        for _ in range(n):
            httpx.get(
                f"http://127.0.0.1:{port}/api/exchange/resources",
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
    finally:
        out = stop(proc, signal.SIGINT)
    assert proc.returncode == 130, out  # Ctrl+C


def test_truncated_or_altered_audit_log_exits_1(hub: Hub) -> None:
    _exchange_calls(hub, 3)
    head = json.loads(hub.run("audit", "verify", "--json").stdout)
    assert head["ok"] and head["head_seq"] >= 3, head
    expected = f"{head['head_seq']}:{head['head_hash']}"
    r = hub.run("audit", "verify", "--expect-head", expected)
    assert r.returncode == 0, _ok(r)
    db = hub.home / "onesource.db"
    backup = db.read_bytes()
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    r = hub.run("audit", "verify", "--expect-head", expected)
    assert r.returncode == 1, _ok(r)
    assert "truncated" in r.stdout
    db.write_bytes(backup)
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM audit_log WHERE seq = 2")
    r = hub.run("audit", "verify")
    assert r.returncode == 1, _ok(r)
    assert "audit log broken at seq" in r.stdout
    db.write_bytes(backup)


def test_ctrl_c_exits_130(hub: Hub) -> None:
    port = free_port()
    proc = hub.start("demo", "serve-api", "--port", str(port))
    wait_for_port(port, proc, timeout=60)
    out = stop(proc, signal.SIGINT)
    assert proc.returncode == 130, out


@pytest.mark.parametrize("option", ["--port", "--api-port"])
def test_demo_run_refuses_a_busy_port_before_the_long_run(tmp_path: Path, option: str) -> None:
    import socket

    hub = Hub.create(tmp_path / "home")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        other = free_port()
        ports = {"--port": other, "--api-port": other}
        ports[option] = busy
        r = hub.run("demo", "run", "--people", "100", *[f"{k}={v}" for k, v in ports.items()])
    assert r.returncode == 1, _ok(r)
    assert f"port {busy} on 127.0.0.1 is already in use ({option})" in r.stderr, _ok(r)
    assert not (hub.home / "sources").exists()  # refused before seeding anything
