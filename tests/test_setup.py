"""`wins setup` (issue 13): a production site set up from an empty database without demo data, on SQLite and
PostgreSQL, refused politely a second time; then a first ticket issued and called over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from tests.support.server import LiveServer
from wins.audit.models import AuditEntry
from wins.branches.models import Branch

SECRET = "s" * 48
PASSWORD = "a-long-admin-password"


@pytest.fixture
def site(backend: str, database_url: str, tmp_path: Path) -> dict[str, str]:
    """Production settings on an empty database: a new SQLite file (not even migrated), or an empty PostgreSQL
    database."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}" if backend == "sqlite" else database_url
    return {
        "WINS_ENV": "production",
        "WINS_SECRET_KEY": SECRET,
        "WINS_DATABASE_URL": url,
        "WINS_DATA_DIR": str(tmp_path / "data"),
        "WINS_LOG_LEVEL": "WARNING",
    }


def wins(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wins.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


SETUP = (
    "setup",
    "--branch",
    "Main street clinic",
    "--timezone",
    "Europe/Paris",
    "--rollover-hour",
    "4",
    "--language",
    "fr,en",
    "--admin",
    "boss",
    "--password-stdin",
    "--service",
    "General:A",
    "--service",
    "Lab tests:L",
    "--counter",
    "Desk 1:A,L",
    "--counter",
    "Lab:L",
)


def _count(url: str, what: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {what}")).scalar_one())
    finally:
        engine.dispose()


def test_refused_values_name_the_option_and_leave_nothing(site: dict[str, str]) -> None:
    cases = [
        (["--timezone", "Mars/Base"], "--timezone: Unknown time zone 'Mars/Base'"),
        (["--counter", "Desk 2:Z"], "--counter 'Desk 2' calls Z, but no --service has that prefix"),
        (["--service", "Payments:4"], "a ticket prefix is 1 to 3 letters"),
        (["--service", "Payments"], "write it as Name:PREFIX"),
        (["--rollover-hour", "24"], "--rollover-hour"),
    ]
    for extra, message in cases:
        done = wins(site, *SETUP, *extra, stdin=PASSWORD + "\n")
        assert done.returncode == 2, (extra, done.stdout, done.stderr)
        assert message in done.stderr, done.stderr
    short = wins(site, *SETUP, stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    missing = wins(site, "setup", "--branch", "X", stdin="")
    assert missing.returncode == 2 and "--timezone is required" in missing.stderr
    url = site["WINS_DATABASE_URL"]
    assert (_count(url, "branches"), _count(url, "staff_users"), _count(url, "services")) == (0, 0, 0)


def test_setup_then_a_first_ticket_over_http_without_demo(site: dict[str, str], tmp_path: Path) -> None:
    done = wins(site, *SETUP, stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "Branch 'Main street clinic' is set up" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr

    again = wins(site, *SETUP, stdin=PASSWORD + "\n")
    assert again.returncode == 3
    assert "already set up" in again.stderr and "nothing was changed" in again.stderr
    url = site["WINS_DATABASE_URL"]
    assert _count(url, "branches") == 1 and _count(url, "staff_users") == 1
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            actions = conn.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
            branch = conn.execute(select(Branch.timezone, Branch.day_rollover_hour, Branch.settings)).one()
            assert (
                conn.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.staff_id.is_not(None))) == 0
            )
    finally:
        engine.dispose()
    assert actions == [
        "branch.create",
        "user.create",
        "service.create",
        "service.create",
        "counter.create",
        "counter.create",
        "site.setup",
    ]
    assert (branch[0], branch[1], branch[2]["kiosk_languages"]) == ("Europe/Paris", 4, ["fr", "en"])

    # A production server on it: no demo data appears, the set-up admin signs in, issues and calls.
    with LiveServer(site, log_path=tmp_path / "server.log") as server, httpx.Client(base_url=server.url) as http:
        token = http.post("/api/v1/auth/token", data={"username": "boss", "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        services = {s["prefix"]: s for s in http.get("/api/v1/services", headers=auth).json()}
        assert sorted(services) == ["A", "L"]
        counters = {c["name"]: c for c in http.get("/api/v1/counters", headers=auth).json()}
        assert counters["Desk 1"]["service_ids"] == [services["A"]["id"], services["L"]["id"]]
        issued = http.post("/api/v1/tickets", json={"service_id": services["L"]["id"]}, headers=auth)
        assert issued.status_code == 201, issued.text
        assert issued.json()["number"] == "L001"
        called = http.post(f"/api/v1/counters/{counters['Lab']['id']}/call-next", headers=auth)
        assert called.status_code == 200, called.text
        assert (called.json()["number"], called.json()["status"]) == ("L001", "called")
        assert http.get("/", follow_redirects=False).headers["location"] == "/login"


def _converse(env: dict[str, str], script: list[tuple[str, str]]) -> tuple[int, str]:
    """Run `wins setup` on a terminal (a pseudo-terminal of its own) and answer each prompt when it appears."""
    import fcntl
    import pty
    import select as wait
    import termios
    import time

    master, slave = pty.openpty()

    def own_terminal() -> None:  # the pty becomes the controlling terminal: the password prompt reads /dev/tty
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [sys.executable, "-m", "wins.cli", "setup"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, **env},
        start_new_session=True,
        preexec_fn=own_terminal,  # no threads run in this test process at this point
    )
    os.close(slave)
    seen = ""
    try:
        for prompt, answer in script:
            deadline = time.monotonic() + 60
            while prompt not in seen:
                assert time.monotonic() < deadline, f"no prompt {prompt!r} in {seen!r}"
                if wait.select([master], [], [], 1)[0]:
                    seen += os.read(master, 4096).decode(errors="replace")
            seen = seen.split(prompt, 1)[1]
            os.write(master, answer.encode() + b"\n")
        code = proc.wait(timeout=120)
        while wait.select([master], [], [], 0.2)[0]:
            try:
                seen += os.read(master, 4096).decode(errors="replace")
            except OSError:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, seen


def test_interactive_setup_asks_for_everything(site: dict[str, str]) -> None:
    code, out = _converse(
        site,
        [
            ("Branch name", "Hill clinic"),
            ("Time zone", "Europe/Lisbon"),
            ("Business day starts at hour", "5"),
            ("Languages", "pt, en"),
            ("Admin username", "chief"),
            ("Admin password", PASSWORD),
            ("Repeat for confirmation", PASSWORD),
            ("Service (Name:PREFIX)", "Vaccines:V"),
            ("Service (Name:PREFIX)", ""),
            ("Counter (Name:PREFIX,PREFIX)", "Room 1:V"),
            ("Counter (Name:PREFIX,PREFIX)", ""),
        ],
    )
    assert code == 0, out
    assert "Branch 'Hill clinic' is set up (Europe/Lisbon, day starts at 5:00)" in out
    assert PASSWORD not in out  # typed without echo
    assert "Services: Vaccines (V)" in out and "Counters: Room 1" in out
    # Asked again on a set-up site: refused before any question.
    code, out = _converse(site, [("already set up", "")])
    assert code == 3
    assert "Branch name" not in out
