"""No lost updates: concurrent pushes and ingests of one resource keep every accepted row.

Each writer reads the current version, merges its rows by key and commits.  A
commit built on a version that is no longer current must not win silently: it
is refused by the store and redone on the new current version.  The oracle is
plain: every row of every batch answered ``succeeded`` is in the final current
version, on SQLite and on PostgreSQL, with writers in threads and in processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from onesource.catalog.loader import load_catalog
from onesource.pipeline.ingest import ingest, ingest_push
from onesource.store import Store
from schemas.identifiers import id_check_char

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO / "catalog").raise_for_issues()
PUSHERS = 6


def person_id(i: int) -> str:
    body = f"33990219500101{i:03d}"
    return body + id_check_char(body)


def month_csv(month: int, people: int = 15) -> bytes:
    lines = ["id_number,name,month,amount"]
    lines += [f"{person_id(i)},钱{i},2026-{month:02d},{100 + i}" for i in range(people)]
    return ("\n".join(lines) + "\n").encode()


def student_csv(start: int, n: int) -> bytes:
    head = "学籍号,身份证号,姓名,性别,学校,年级,入学日期,户籍区划"
    rows = [
        f"S{i:05d},{person_id(i % 900)},学生{i},1,清河一小,3,2019-09-01,339902"
        for i in range(start, start + n)
    ]
    return ("\n".join([head, *rows]) + "\n").encode()


def _push(month: int) -> dict[str, Any]:
    result = ingest_push(
        "elderly_subsidies",
        month_csv(month),
        filename=f"m{month}.csv",
        fmt="csv",
        department="civil",
        catalog=CATALOG,
    )
    return {"month": month, "status": result.status, "good": result.rows_good}


CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from tests.pipeline.test_concurrent_commits import _push, _ingest_students
kind, arg = sys.argv[2], int(sys.argv[3])
out = _push(arg) if kind == "push" else _ingest_students()
print(json.dumps(out))
"""


def _ingest_students() -> dict[str, Any]:
    result = ingest("students", catalog=CATALOG)
    return {"status": result.status, "good": result.rows_good, "error": result.error}


def _spawn(kind: str, arg: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(REPO), kind, str(arg)],
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _months_in_current(store: Store) -> dict[str, int]:
    table = store.read("resource", "elderly_subsidies")
    counts: dict[str, int] = {}
    for m in table["month"].to_pylist():
        counts[m] = counts.get(m, 0) + 1
    return counts


def _race(env: dict[str, str], drops: list[Path]) -> None:
    """Pushes in threads and in processes, plus ingests of a files resource in processes."""
    procs = [_spawn("push", m, env) for m in range(PUSHERS + 1, PUSHERS + 3)]
    # each ingest process reads its own drop folder: disjoint students, one resource
    procs += [_spawn("ingest", 0, {**env, "ONESOURCE_CONN_EDU_DROP": f"file://{d}"}) for d in drops]
    results: list[dict[str, Any]] = []
    barrier = threading.Barrier(PUSHERS)

    def work(month: int) -> None:
        barrier.wait(timeout=60)
        results.append(_push(month))

    threads = [threading.Thread(target=work, args=(m,)) for m in range(1, PUSHERS + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["status"] == "succeeded" for r in results), results


def _drops(tmp_path: Path) -> list[Path]:
    drops = []
    for i in range(2):
        folder = tmp_path / f"drop{i}"
        folder.mkdir()
        (folder / f"students{i}.csv").write_bytes(student_csv(i * 100, 40))
        drops.append(folder)
    return drops


def _check(store: Store) -> None:
    months = _months_in_current(store)
    assert months == {f"2026-{m:02d}": 15 for m in range(1, PUSHERS + 3)}
    students = store.read("resource", "students")
    assert sorted(students["student_number"].to_pylist()) == sorted(
        [f"S{i:05d}" for i in range(40)] + [f"S{i:05d}" for i in range(100, 140)]
    )


@pytest.mark.slow
def test_concurrent_pushes_and_ingests_keep_every_row_sqlite(
    hub_home: Path, tmp_path: Path
) -> None:
    env = {"ONESOURCE_HOME": str(hub_home), "ONESOURCE_CATALOG": str(REPO / "catalog")}
    _race(env, _drops(tmp_path))
    _check(Store.open())


@pytest.mark.slow
@pytest.mark.services
def test_concurrent_pushes_and_ingests_keep_every_row_postgresql(
    hub_home: Path, tmp_path: Path, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onesource.settings import get_settings

    monkeypatch.setenv("ONESOURCE_DB_URL", pg_schema)
    get_settings.cache_clear()
    env = {
        "ONESOURCE_HOME": str(hub_home),
        "ONESOURCE_CATALOG": str(REPO / "catalog"),
        "ONESOURCE_DB_URL": pg_schema,
    }
    _race(env, _drops(tmp_path))
    _check(Store.open())
