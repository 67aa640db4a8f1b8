"""The `wins` command, run as a real subprocess on a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.handshake import websocket_handshake
from tests.support.server import free_port


def _wins(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WINS_DATA_DIR": str(tmp_path / "var"), "WINS_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "wins.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_db_upgrade_demo_users_and_devices(tmp_path: Path) -> None:
    up = _wins(tmp_path, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    assert (tmp_path / "var" / "wins.db").exists()
    assert _wins(tmp_path, "db", "upgrade").returncode == 0  # safe to repeat
    demo = _wins(tmp_path, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "password '" in demo.stdout
    again = _wins(tmp_path, "demo")
    assert "nothing was changed" in again.stdout and "password" not in again.stdout
    user = _wins(tmp_path, "users", "create", "alice", "--role", "manager", "--password-stdin", stdin="s3cret-pass\n")
    assert user.returncode == 0, user.stderr
    dup = _wins(tmp_path, "users", "create", "alice", "--password-stdin", stdin="s3cret-pass\n")
    assert dup.returncode != 0 and "taken" in dup.stderr
    weak = _wins(tmp_path, "users", "create", "bob", "--password-stdin", stdin="short\n")
    assert weak.returncode != 0 and "at least 8" in weak.stderr
    device = _wins(tmp_path, "devices", "create", "Entrance kiosk", "--kind", "kiosk")
    assert device.returncode == 0 and device.stdout.strip().startswith("wdt_")
    # A display gets a one-time pairing link, never its token; `devices pair` makes a new one.
    screen = _wins(tmp_path, "devices", "create", "Hall", "--kind", "display")
    assert screen.returncode == 0, screen.stderr
    assert "/display?pair=wpc_" in screen.stdout and "wdt_" not in screen.stdout
    again = _wins(tmp_path, "devices", "pair", "Hall")
    assert again.returncode == 0 and "/display?pair=wpc_" in again.stdout and again.stdout != screen.stdout
    assert "No device" in _wins(tmp_path, "devices", "pair", "Nowhere").stderr
    tablet = _wins(tmp_path, "devices", "pair", "Entrance kiosk")  # a kiosk pairs a web-kiosk tablet now
    assert tablet.returncode == 0 and "/kiosk?pair=wpc_" in tablet.stdout and "wdt_" not in tablet.stdout


def test_production_mode_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = {**os.environ, "WINS_ENV": "production", "WINS_SECRET_KEY": "", "WINS_DATA_DIR": str(tmp_path)}
    r = subprocess.run(
        [sys.executable, "-m", "wins.cli", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert r.returncode != 0
    assert "WINS_SECRET_KEY" in r.stderr


def test_serve_first_start_creates_demo_prints_password_and_urls(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "WINS_DATA_DIR": str(tmp_path / "var"), "WINS_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wins.cli", "serve", "--port", str(port)],
        env=env,
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
        out = "".join(lines)
        assert "Admin sign-in: username 'admin', password '" in out
        assert f"http://127.0.0.1:{port}/login" in out and "/display" in out and "/docs" in out
        password = out.split("password '", 1)[1].split("'", 1)[0]
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/token", data={"username": "admin", "password": password}
        ).json()["access_token"]
        services = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/services", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert [s["prefix"] for s in services] == ["A", "B", "C"]
        counters = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/counters", headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert len(counters) == 4

        # The banner's display-board link works for the admin who just read the password (not a 401).
        link = next(line for line in lines if "Display board:" in line).split()[2]
        assert "devices create" in out and "--kind display" in out  # how to pair a real TV
        with httpx.Client(follow_redirects=True) as browser:
            form = browser.get(link)
            assert form.status_code == 200 and 'name="csrf_token"' in form.text, form.text[:500]
            csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            nxt = form.text.split('name="next" value="', 1)[1].split('"', 1)[0]
            board = browser.post(
                f"http://127.0.0.1:{port}/login",
                data={"username": "admin", "password": password, "csrf_token": csrf, "next": nxt},
            )
        assert board.status_code == 200 and board.url.path == "/display", (board.status_code, board.url)

        # The event stream does not negotiate permessage-deflate (wins.ops.serving), as under gunicorn.
        status, headers = websocket_handshake(f"http://127.0.0.1:{port}")
        assert status.startswith("HTTP/1.1 101") and "sec-websocket-extensions" not in headers, (status, headers)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_users_with_branches(tmp_path: Path) -> None:
    """Issue 15: `wins users create --branch`, and listing, adding, changing and removing a person's branches."""
    from wins.branches.service import create_branch
    from wins.config import Settings
    from wins.db import Database
    from wins.staff.membership import branch_roles

    assert _wins(tmp_path, "demo").returncode == 0
    db = Database(Settings(data_dir=tmp_path / "var"))
    with db.session() as session:
        north = create_branch(session, name="North", timezone="Europe/Paris").id
    db.dispose()

    made = _wins(
        tmp_path, "users", "create", "nina", "--role", "reception", "--branch", "north", "--password-stdin",
        stdin="s3cret-pass\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "role reception in: North" in made.stdout
    unknown = _wins(
        tmp_path, "users", "create", "olga", "--branch", "Nowhere", "--password-stdin", stdin="s3cret-pass\n"
    )
    assert unknown.returncode != 0 and "no branch 'Nowhere'" in unknown.stderr and "North" in unknown.stderr
    assert "olga" not in _wins(tmp_path, "users", "branches", "olga").stdout  # nothing was created
    assert "No user named 'olga'" in _wins(tmp_path, "users", "branches", "olga").stderr

    added = _wins(tmp_path, "users", "add-branch", "nina", "1", "--role", "staff")
    assert added.returncode == 0, added.stderr
    listed = _wins(tmp_path, "users", "branches", "nina")
    assert listed.returncode == 0, listed.stderr
    assert "1\t" in listed.stdout and f"{north}\tNorth\treception" in listed.stdout
    changed = _wins(tmp_path, "users", "add-branch", "nina", "North", "--role", "manager")
    assert f"{north}\tNorth\tmanager" in changed.stdout
    assert "no branch '99'" in _wins(tmp_path, "users", "add-branch", "nina", "99", "--role", "staff").stderr

    assert _wins(tmp_path, "users", "remove-branch", "nina", "1").returncode == 0
    last = _wins(tmp_path, "users", "remove-branch", "nina", "North")
    assert last.returncode != 0 and "only branch of nina" in last.stderr and "deactivate" in last.stderr
    db = Database(Settings(data_dir=tmp_path / "var"))
    with db.session(write=False) as session:
        from sqlalchemy import select

        from wins.staff.models import StaffUser

        nina = session.scalar(select(StaffUser.id).where(StaffUser.username == "nina"))
        assert nina is not None
        assert [(r["branch_id"], r["role"]) for r in branch_roles(session, nina)] == [(north, "manager")]
    db.dispose()
