"""Every ``onesource ...`` line of README.md and docs/*.md, run as users run it.

The commands are read from the docs' shell blocks (``harness.documented_commands``);
``ENTRIES`` says, for each, the exit code and an output line to expect.  A documented
command without an entry fails ``test_every_documented_command_has_an_entry``, and an
entry whose command left the docs fails too, so the two cannot drift.

One scenario runs the entries in order in one scratch home (the demo seeded with 100
residents: ``--people 100`` is appended to ``demo seed`` for speed) and records each
result; the parametrized test asserts on it.  Most of its time goes to ``release build
all`` (complementary suppression of the aggregate releases).  Long-running servers:
- ``onesource demo serve-api &`` is started (on a free port) and kept running while the
  ingests pull from it, then stopped with SIGINT (exit 130);
- ``onesource serve`` is started on a free port, answers one exchange call (so the audit
  log has entries), then is stopped with SIGINT (exit 130);
- ``onesource up`` runs with ``--help`` here; tests/cli/test_up.py starts the real thing.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cli.harness import Hub, documented_commands, free_port, stop, wait_for_port

Ctx = dict[str, Any]


@dataclass(frozen=True)
class Entry:
    exit: int
    expect: str  # a regex some line of stdout+stderr must match
    mode: str = "run"  # run | server (started, used, stopped with SIGINT) | help
    extra: tuple[str, ...] = ()  # appended arguments (speed, free ports), said here
    subst: Callable[[Ctx], dict[str, str]] | None = None  # placeholders -> real values
    home: Callable[[Ctx], Hub] | None = None  # run in another home (a fresh machine)
    stdin: str | None = None  # standard input (a password for --password-stdin)


def _students_run(ctx: Ctx) -> dict[str, str]:
    rows = json.loads(ctx["hub"].run("runs", "--subject", "students", "--json").stdout)
    return {"01M8...": rows[0]["id"][:12]}  # a unique prefix, as a user would paste


def _audit_head(ctx: Ctx) -> dict[str, str]:
    data = json.loads(ctx["hub"].run("audit", "verify", "--json").stdout)
    return {"1200:9f2c...": f"{data['head_seq']}:{data['head_hash']}"}


def _active_key(ctx: Ctx) -> dict[str, str]:
    keys = json.loads(ctx["hub"].run("dept", "key", "list", "edu", "--json").stdout)
    return {"3f9a1c2b": next(k["prefix"] for k in keys if k["revoked_at"] is None)}


def _serve_calls(ctx: Ctx, port: int) -> None:
    """One exchange call with edu's key while `onesource serve` runs: it lands in the audit log."""
    import httpx

    headers = {"Authorization": f"Bearer {ctx['edu_key']}"}
    base = f"http://127.0.0.1:{port}"
    ctx["serve_status"] = [
        httpx.get(f"{base}/healthz", timeout=30).status_code,
        httpx.get(
            f"{base}/api/exchange/resources/population_register/rows?limit=1&purpose=docs-check",
            headers=headers,
            timeout=30,
        ).status_code,
    ]


def _application(ctx: Ctx) -> str:
    """A pending application for appointments_research (health), submitted in-process."""
    import sys

    code = (
        "import os; from pathlib import Path; from onesource.catalog.loader import load_catalog; "
        "from onesource.store import Store; from onesource.web.portal.applications import submit; "
        "c = load_catalog(Path(os.environ['ONESOURCE_CATALOG'])).raise_for_issues(); "
        "print(submit(Store.open(), c, name='n', organisation='o', email='e@example.org', "
        "purpose='docs', datasets=['appointments_research']).id)"
    )
    hub = ctx["hub"]
    out = subprocess.run(
        [sys.executable, "-c", code], env=hub.env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def _data_request(ctx: Ctx, department: str | None = "grid") -> dict[str, str]:
    """A pending data request as the portal's form files it (in-process, on the scenario's DB)."""
    from onesource.catalog.loader import load_catalog
    from onesource.store import Store
    from onesource.web.portal.feedback import submit_data_request

    hub = ctx["hub"]
    store = Store(hub.env["ONESOURCE_DB_URL"], hub.env["ONESOURCE_WAREHOUSE"])
    catalog = load_catalog(hub.catalog).raise_for_issues()
    done = submit_data_request(
        store, catalog, text="docs", purpose="docs", email="e@example.org", department=department
    )
    return {"rq_Q3v9...": done.id}


def _backup_path(ctx: Ctx) -> dict[str, str]:
    return {"/srv/backups/onesource-2026-11-30.tar.gz": str(ctx["hub"].home / "backup.tar.gz")}


def _fresh_machine(ctx: Ctx) -> Hub:
    """An empty home whose key folder the operator restored (keys are never in backups)."""
    import shutil

    if "fresh" not in ctx:
        home = ctx["hub"].home
        ctx["fresh"] = Hub.create(home.with_name(home.name + "-fresh"))
        shutil.copytree(home / "keys", ctx["fresh"].home / "keys")
    return ctx["fresh"]  # type: ignore[no-any-return]


def _raised_objection(ctx: Ctx) -> dict[str, str]:
    """The id the documented ``objection raise`` printed."""
    out = ctx["results"][
        'onesource objection raise population_register name --department edu --key id_number=339901199001010011 --reason "与学籍登记不一致"'
    ].stdout
    found = re.search(r"^raised (\w+):", out, re.M)
    assert found, out
    return {"01JDXOBJECTION0000000000000": found.group(1)}


RUN_ID = r"\b01[0-9A-HJKMNP-TV-Z]{24}\b"

# scenario order: each entry may rely on the ones before it
ENTRIES: dict[str, Entry] = {
    "onesource catalog validate": Entry(0, r"^ok \d+ files: \d+ departments"),
    "onesource catalog show population_register": Entry(0, r"^provider: .*\(psb\)"),
    "onesource catalog elements --source psb": Entry(0, r"person\.id_number"),
    "onesource catalog export --format csv -o catalogue.csv": Entry(0, r"^wrote catalogue\.csv$"),
    "onesource catalog diff HEAD~1": Entry(0, r"^no changes against HEAD~1$|\S"),
    "onesource init my-city": Entry(0, r"^created \d+ files in .*my-city$"),
    "onesource demo seed": Entry(
        0, r"^connections: .*connections\.json$", extra=("--people", "100", "--api-port", "{api}")
    ),
    "onesource demo serve-api &": Entry(
        130, r"demo department APIs on http://127\.0\.0\.1:\d+/", "server", ("--port", "{api}")
    ),
    "onesource run ingest population_register": Entry(0, r"^succeeded population_register: run "),
    "onesource run ingest all": Entry(0, r"^16 resource\(s\): 16 ok, 0 failed or rejected$"),
    "onesource versions population_register": Entry(0, r"│ \* │ \d+ .*│ " + RUN_ID),
    "onesource runs --subject population_register": Entry(0, r"^│ " + RUN_ID + r" │ ingest"),
    "onesource quality report students --html report.html": Entry(0, r"^wrote report\.html$"),
    "onesource quality report students": Entry(
        0, r"^\d+ read, \d+ good, \d+ quarantined, 1 unparsable$"
    ),
    "onesource quality report students --run 01M8... --html report.html": Entry(
        0, r"run " + RUN_ID + ": accepted", subst=_students_run
    ),
    "onesource quality report students --json": Entry(0, r'^  "resource": "students",$'),
    "onesource quality scorecard": Entry(0, r"│ edu +│ \d{4}-\d\d-\d\d"),
    "onesource quality scorecard --json": Entry(0, r'"department": "edu"'),
    "onesource run base person": Entry(0, r"^built base person v\d+: [\d,]+ rows"),
    # 100 residents give appointments_research too few rows for k=5, l=2: it is refused
    # (the refusal path, exit 1); every other release publishes.  tests/cli/test_failures.py
    # verifies a published release and a tampered one.
    "onesource release build all": Entry(
        1, r"^7 release\(s\): 6 published, 1 failed \(appointments_research\)$"
    ),
    "onesource release verify appointments_research": Entry(
        1, r"release 'appointments_research' has no .*current version"
    ),
    "onesource dept key issue edu": Entry(0, r"^key for edu \(prefix \w+\)"),
    "onesource dept key list edu": Entry(0, r"^\w+  \d{4}-\d\d-\d\d \d\d:\d\d  active"),
    "onesource dept key rotate edu": Entry(0, r"^new key for edu \(prefix \w+\); revoked: \w+"),
    "onesource serve": Entry(
        130, r"^portal: http://127\.0\.0\.1:\d+/", "server", ("--port", "{web}")
    ),
    "onesource audit verify": Entry(0, r"^audit log ok: [1-9]\d* entries, head \d+:[0-9a-f]{64}"),
    "onesource audit verify --expect-head 1200:9f2c...": Entry(
        0, r"^audit log ok: ", subst=_audit_head
    ),
    "onesource audit query --department edu --resource population_register --since 2026-01-01 --json": Entry(
        0, r'"department": "edu"'
    ),
    "onesource audit checkpoint": Entry(0, r"^signed a checkpoint of seq \d+:[0-9a-f]{64}$"),
    # the archive goes into the scenario's home; the restore runs on a fresh machine
    "onesource backup /srv/backups/onesource-2026-11-30.tar.gz --with-data": Entry(
        0, r"^wrote .*backup\.tar\.gz \([\d,]+ bytes\): sqlite DB", subst=_backup_path
    ),
    "onesource restore /srv/backups/onesource-2026-11-30.tar.gz --check": Entry(
        0, r"^checked against .*: \d+ versions match their checksums$", subst=_backup_path
    ),
    "onesource restore /srv/backups/onesource-2026-11-30.tar.gz": Entry(
        0,
        r"^restored .*: \d+ versions match their checksums$",
        subst=_backup_path,
        home=_fresh_machine,
    ),
    "onesource doctor": Entry(0, r"^doctor: ok \(0 failed"),
    "onesource doctor --json": Entry(0, r'"name": "database", "status": "ok"'),
    "onesource dept require-signing edu": Entry(0, r"^edu now requires signed requests"),
    "onesource dept key signing-secret edu 3f9a1c2b": Entry(
        0, r"^oss_\w+_[0-9a-f]{64}$", subst=_active_key
    ),
    "onesource dept require-signing edu --off": Entry(
        0, r"^edu no longer requires signed requests"
    ),
    "onesource dept key revoke edu 3f9a1c2b": Entry(0, r"^revoked edu key \w+$", subst=_active_key),
    "onesource rollback population_register --to 1": Entry(
        0, r"^resource population_register: readers now see version 1 \(\d+ rows\)$"
    ),
    "onesource gc --dry-run": Entry(0, r"^would remove \d+ folder\(s\)"),
    # the scenario's home has stale resources (never pushed, never ingested): exit 1
    "onesource alerts check": Entry(1, r"^\d+ alert\(s\)$"),
    "onesource alerts check --send": Entry(1, r"^sent 0, already sent 0, failed 0$"),
    "onesource up": Entry(0, r"Start Airflow", "help"),
    # consumer applications: the subst submits one as the portal's form would
    "onesource consumer approve ca_7Hq2... --datasets appointments_research": Entry(
        0, r"^oc_[\w-]{20,}$", subst=lambda ctx: {"ca_7Hq2...": _application(ctx)}
    ),
    'onesource consumer refuse ca_Pn4k... --reason "aggregate statistics suffice"': Entry(
        0, r"^refused ca_[\w-]+$", subst=lambda ctx: {"ca_Pn4k...": _application(ctx)}
    ),
    "onesource consumer applications --department health": Entry(
        0, r"^ca_[\w-]+  refused  +health  due \d{4}-\d\d-\d\d"
    ),
    # data requests from the portal: the subst files one as the form would
    "onesource request show rq_Q3v9...": Entry(
        0, r"^rq_[\w-]+  data +pending +grid  due \d{4}-\d\d-\d\d", subst=_data_request
    ),
    "onesource request assign rq_Q3v9... --department grid": Entry(
        0, r"^assigned rq_[\w-]+ to grid$", subst=lambda ctx: _data_request(ctx, None)
    ),
    'onesource request answer rq_Q3v9... --department grid --status accepted --text "已列入下季度开放计划"': Entry(
        0, r"^accepted rq_[\w-]+$", subst=_data_request
    ),
    'onesource request answer rq_Q3v9... --department grid --status published --dataset grid_events_open --text "已开放，按月更新"': Entry(
        0, r"^published rq_[\w-]+ \(grid_events_open\)$", subst=_data_request
    ),
    "onesource request list --department grid": Entry(
        0, r"^rq_[\w-]+  data +published +grid  due \d{4}-\d\d-\d\d"
    ),
    "onesource request list --department grid --overdue": Entry(0, r"^no overdue requests$"),
    # objections (docs/departments.md): edu objects to psb's value, psb answers
    "onesource objection list --department psb --incoming --status open": Entry(
        0, r"^\d+ objection\(s\)$"
    ),
    'onesource objection raise population_register name --department edu --key id_number=339901199001010011 --reason "与学籍登记不一致"': Entry(
        0, r"^raised \w+: routed to psb$"
    ),
    'onesource objection answer 01JDXOBJECTION0000000000000 --department psb --status rejected --text "户籍登记无误"': Entry(
        0, r"^objection \w+ rejected$", subst=_raised_objection
    ),
    "onesource objection from-consistency social_assistance --department civil": Entry(
        0, r"^\d+ objection\(s\) raised$"
    ),
    "onesource alerts notify --send": Entry(0, r"^\d+ notice\(s\)$"),
    # last: they take business_register_open out of public view
    "onesource rollback business_register_open --kind release --to 1": Entry(
        0, r"^release business_register_open: readers now see version 1 \(\d[\d,]* rows\)$"
    ),
    'onesource release withdraw business_register_open --version 1 --reason "addresses not generalized"': Entry(
        0,
        r"^release business_register_open: version 1 withdrawn \(addresses not generalized\); "
        r"no version is public now$",
    ),
    # console accounts (docs/departments.md): the prompt only with --help here (no terminal)
    "onesource user add wang.li --department edu --role officer": Entry(
        0, r"--password-stdin", "help"
    ),
    "onesource user add li.ming --department psb --role approver --password-stdin": Entry(
        0, r"^added li\.ming \(approver of psb\)$", stdin="long enough secret\n"
    ),
    "onesource user add zhao.qing --role steward --password-stdin": Entry(
        0, r"^added zhao\.qing \(steward\)$", stdin="another long secret\n"
    ),
    "onesource user list": Entry(0, r"^li\.ming\s+psb\s+approver\s+active$"),
    "onesource user passwd li.ming --password-stdin": Entry(
        0, r"^password changed for li\.ming$", stdin="a new long secret\n"
    ),
    "onesource user email li.ming li.ming@psb.qinghe.example.gov.cn": Entry(
        0, r"^e-mail of li\.ming: li\.ming@psb\.qinghe\.example\.gov\.cn$"
    ),
    "onesource user disable li.ming": Entry(0, r"^disabled li\.ming$"),
}


def _argv(cmd: str, entry: Entry, ctx: Ctx) -> list[str]:
    for placeholder, value in (entry.subst(ctx) if entry.subst else {}).items():
        assert placeholder in cmd, f"placeholder {placeholder!r} not in {cmd!r}"
        cmd = cmd.replace(placeholder, value)
    args = [a for a in shlex.split(cmd)[1:] if a != "&"]  # quoted arguments as a shell reads them
    args += [a.format(**ctx["ports"]) for a in entry.extra]
    return [*args, "--help"] if entry.mode == "help" else args


def _run_server(hub: Hub, cmd: str, args: list[str], ctx: Ctx) -> Any:
    port = ctx["ports"]["api" if "serve-api" in cmd else "web"]
    proc = hub.start(*args)
    try:
        wait_for_port(port, proc, timeout=60)
    except AssertionError:
        out = stop(proc, signal.SIGKILL)
        return subprocess.CompletedProcess(args, proc.returncode, out, "")
    if "serve-api" in cmd:
        ctx["background"].append((cmd, args, proc))  # stays up for the ingests
        return None
    _serve_calls(ctx, port)
    out = stop(proc, signal.SIGINT)
    return subprocess.CompletedProcess(args, proc.returncode, out, "")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    hub = Hub.create(tmp_path_factory.mktemp("docs-hub"))
    ctx: Ctx = {
        "hub": hub,
        "ports": {"api": free_port(), "web": free_port()},
        "background": [],
        "results": {},
    }
    docs = documented_commands()
    try:
        for cmd, entry in ENTRIES.items():
            if cmd not in docs:
                continue  # reported by test_every_documented_command_has_an_entry
            args = _argv(cmd, entry, ctx)
            if entry.mode == "server":
                result = _run_server(hub, cmd, args, ctx)
            else:
                result = (entry.home(ctx) if entry.home else hub).run(
                    *args, timeout=600, input=entry.stdin
                )
            if result is not None:
                ctx["results"][cmd] = result
            if cmd in ("onesource dept key issue edu", "onesource dept key rotate edu"):
                ctx["edu_key"] = result.stdout.strip().splitlines()[-1]
        yield ctx
    finally:
        for cmd, args, proc in ctx["background"]:
            out = stop(proc, signal.SIGINT)
            ctx["results"][cmd] = subprocess.CompletedProcess(args, proc.returncode, out, "")


def test_every_documented_command_has_an_entry() -> None:
    docs = documented_commands()
    missing = {c: w for c, w in docs.items() if c not in ENTRIES}
    stale = sorted(set(ENTRIES) - set(docs))
    assert not missing, f"documented commands without a harness entry: {missing}"
    assert not stale, f"harness entries no longer in the docs: {stale}"


@pytest.mark.parametrize("cmd", list(ENTRIES))
def test_documented_command(cmd: str, scenario: Ctx) -> None:
    if cmd not in documented_commands():
        pytest.skip("not documented any more (see test_every_documented_command_has_an_entry)")
    if cmd == "onesource demo serve-api &":
        # stopped at the end of the scenario: finish it now to read its exit code
        for c, args, proc in scenario["background"]:
            out = stop(proc, signal.SIGINT)
            scenario["results"][c] = subprocess.CompletedProcess(args, proc.returncode, out, "")
        scenario["background"].clear()
    entry = ENTRIES[cmd]
    result = scenario["results"][cmd]
    output = (result.stdout or "") + (result.stderr or "")
    assert result.returncode == entry.exit, f"{cmd}: exit {result.returncode}\n{output[-3000:]}"
    assert "unexpected" not in output, output[-3000:]
    assert re.search(entry.expect, output, re.M), (
        f"{cmd}: no line matches {entry.expect!r}\n{output[-3000:]}"
    )
    if cmd == "onesource serve":
        assert scenario["serve_status"][0] == 200, scenario["serve_status"]


def test_documented_commands_are_found() -> None:
    """The extraction itself: it sees the README's pipeline block and the docs' console blocks."""
    docs = documented_commands()
    assert "onesource run ingest all" in docs
    assert any(w.startswith("docs/departments.md:") for w in docs["onesource audit verify"])
    assert Path(docs["onesource serve"][0].split(":")[0]).name == "README.md"
