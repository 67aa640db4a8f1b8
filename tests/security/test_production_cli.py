"""WINS_ENV=production never creates demo data or prints a generated admin password (issue 11)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.server import free_port

SECRET = "p" * 48


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "WINS_ENV": "production",
        "WINS_SECRET_KEY": SECRET,
        "WINS_DATA_DIR": str(tmp_path / "var"),
        "WINS_LOG_LEVEL": "WARNING",
    }


def _wins(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wins.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )


def _count(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(tmp_path / "var" / "wins.db") as conn:
        (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - fixed table names
    return int(n)


def test_demo_is_refused_in_production(tmp_path: Path) -> None:
    assert _wins(tmp_path, "db", "upgrade").returncode == 0
    r = _wins(tmp_path, "demo")
    assert r.returncode != 0
    assert "production" in r.stderr and "wins setup" in r.stderr
    assert "password '" not in r.stdout + r.stderr
    assert _count(tmp_path, "branches") == 0 and _count(tmp_path, "staff_users") == 0


def test_serve_first_start_in_production_creates_nothing_and_says_what_to_do(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wins.cli", "serve", "--port", str(port)],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Health:" in line:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    out = "".join(lines)
    assert "Health:" in out, out
    assert "password '" not in out and "Admin sign-in" not in out
    assert "demo data created" not in out
    assert "No staff account exists yet" in out and "wins setup" in out
    assert _count(tmp_path, "branches") == 0 and _count(tmp_path, "staff_users") == 0


def test_admin_commands_still_work_in_production(tmp_path: Path) -> None:
    assert _wins(tmp_path, "db", "upgrade").returncode == 0
    made = _wins(tmp_path, "users", "create", "root", "--role", "admin", "--password-stdin", stdin="long-password\n")
    assert made.returncode == 0, made.stderr
    assert _count(tmp_path, "staff_users") == 1
