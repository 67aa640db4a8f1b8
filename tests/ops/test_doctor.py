"""`wins doctor` as an administrator runs it: a subprocess, its lines and its exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.support.databases import TemplateCache
from wins.version import full_version

SRC = Path(__file__).resolve().parents[2] / "src"


def doctor(
    database_url: str, data_dir: Path, *, cpus: str | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """`wins doctor` with these settings (`cpus`: run on these CPUs only, as `taskset -c` gives them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINS_")}
    env.update(
        {
            "PYTHONPATH": str(SRC),
            "WINS_DATABASE_URL": database_url,
            "WINS_DATA_DIR": str(data_dir),
            "WINS_ENV": "production",
            "WINS_SECRET_KEY": "d" * 40,
            "WINS_PORT": "9",  # nothing answers there: the check of a running server is skipped
            **extra,
        }
    )
    pinned = ["taskset", "-c", cpus] if cpus else []
    return subprocess.run(
        [*pinned, sys.executable, "-m", "wins.cli", "doctor"], env=env, capture_output=True, text=True, timeout=120
    )


def verdicts(output: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith(("OK ", "FAIL ", "NOTE ")):
            verdict, check = line.split()[:2]
            found[check] = "FAIL" if found.get(check) == "FAIL" else verdict
    return found


def test_healthy_installation(database_url: str, tmp_path: Path) -> None:
    done = doctor(database_url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert full_version() in done.stdout
    # On PostgreSQL the number of server processes is weighed against the CPUs (SQLite keeps one).
    workers = {"workers": "OK"} if database_url.startswith("postgresql") else {}
    assert verdicts(done.stdout) == {
        "settings": "OK",
        **workers,
        "database": "OK",
        "migrations": "OK",
        "schema": "OK",
        "event": "OK",
        "printer": "OK",
        "disk": "OK",
    }


def test_dropped_column_is_schema_drift(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE tickets DROP COLUMN language"))
    engine.dispose()
    done = doctor(database_url, tmp_path)
    assert done.returncode == 1
    assert verdicts(done.stdout)["schema"] == "FAIL"
    assert "missing column tickets.language" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_unreachable_database_and_bad_settings(tmp_path: Path) -> None:
    done = doctor("postgresql://nobody@127.0.0.1:9/none", tmp_path, WINS_WORKERS="1", WINS_PUBLIC_URL="queue.lan")
    assert done.returncode == 1
    found = verdicts(done.stdout)
    assert found["database"] == "FAIL" and found["settings"] == "FAIL"
    assert "WINS_PUBLIC_URL" in done.stdout
    assert "check WINS_DATABASE_URL" in done.stdout


def test_sqlite_with_several_workers_and_an_absent_printer(sqlite_url: str, tmp_path: Path) -> None:
    printer = {"WINS_PRINTER_URL": "tcp://127.0.0.1:9", "WINS_PRINTER_TIMEOUT": "1"}
    done = doctor(sqlite_url, tmp_path, WINS_WORKERS="2", **printer)
    assert done.returncode == 1
    found = verdicts(done.stdout)
    assert found["settings"] == "FAIL" and found["printer"] == "FAIL" and found["schema"] == "OK"
    assert "tcp://127.0.0.1:9" in done.stdout


@pytest.mark.postgres
def test_more_workers_than_cpus_on_postgresql_is_a_note_with_the_number_to_set(
    templates: TemplateCache, tmp_path: Path
) -> None:
    """Fit to serve (exit status 0), but slower than it could be: NOTE, and the WINS_WORKERS that fits."""
    with templates.database("postgres", tmp_path) as postgres_url:
        _more_workers_than_cpus(postgres_url, tmp_path)


def _more_workers_than_cpus(postgres_url: str, tmp_path: Path) -> None:
    done = doctor(postgres_url, tmp_path, cpus="0", WINS_WORKERS="3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert verdicts(done.stdout)["workers"] == "NOTE"
    assert "3 server processes on 1 CPU(s)" in done.stdout
    assert "→ set WINS_WORKERS=1" in done.stdout
    fitting = doctor(postgres_url, tmp_path, cpus="0", WINS_WORKERS="1")
    assert verdicts(fitting.stdout)["workers"] == "OK"
    assert "WINS_WORKERS=" not in fitting.stdout
