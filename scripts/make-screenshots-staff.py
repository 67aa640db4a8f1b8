#!/usr/bin/env python3
"""Write docs/screenshots/staff-*.png: the staff pages at 1366x768 (and the workspace on a tablet).

It builds a throw-away SQLite database with a simulated day of traffic (yesterday, for the reports) and a
busy morning (today, for the workspace and dashboard), starts a server on it and drives Debian's Chromium.

Usage: .venv/bin/python scripts/make-screenshots-staff.py [OUTPUT_DIR]
"""

from __future__ import annotations

import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Page, sync_playwright

from wins import clock
from wins.auth import Principal
from wins.branches.service import create_branch, get_branch, update_branch
from wins.config import Settings
from wins.counters.service import create_counter, open_counter
from wins.db import Database
from wins.devices.models import DeviceKind
from wins.devices.service import create_device, report_status
from wins.migrate import upgrade
from wins.services.service import create_service
from wins.staff.models import Role, StaffUser
from wins.staff.service import create_user
from wins.tickets import service as tickets

ZONE = ZoneInfo("Europe/Paris")
PASSWORD = "screenshots-only"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
log = logging.getLogger("screenshots")


def build(settings: Settings) -> None:
    db = Database(settings)
    rng = random.Random(7)
    now = datetime.now(ZONE)
    yesterday = (now - timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    clock.freeze(yesterday - timedelta(hours=1))
    with db.session() as s:
        create_branch(s, name="Riverside Community Clinic", timezone="Europe/Paris")
        svc = {
            "A": create_service(
                s, values={"name": "General enquiries", "prefix": "A", "colour": "#1f6feb"}, actor=None
            ),
            "B": create_service(
                s, values={"name": "Payments", "prefix": "B", "colour": "#1a7f37", "sort_order": 1}, actor=None
            ),
            "C": create_service(
                s, values={"name": "Prescriptions", "prefix": "C", "colour": "#bf3989", "sort_order": 2}, actor=None
            ),  # fmt: skip
        }
        ids = {k: v.id for k, v in svc.items()}
        create_counter(s, name="1", service_ids=[ids["A"], ids["B"]], actor=None)
        create_counter(s, name="2", service_ids=[ids["A"], ids["C"]], actor=None)
        create_counter(s, name="3", service_ids=[ids["B"], ids["A"]], actor=None)
        create_counter(s, name="4", service_ids=[ids["C"], ids["A"], ids["B"]], actor=None)
        for username, name, role in (("alice", "Alice Martin", Role.staff), ("bob", "Bob Nguyen", Role.staff),
                                     ("carol", "Carol Diaz", Role.staff), ("dave", "Dave Moreau", Role.manager),
                                     ("admin", "Administrator", Role.admin)):  # fmt: skip
            create_user(s, username=username, password=PASSWORD, role=role, full_name=name, actor=None)
        kiosk, _ = create_device(
            s, name="Entrance kiosk", kind=DeviceKind.kiosk, config={"allow_priority": True}, actor=None
        )
        create_device(s, name="Waiting room screen", kind=DeviceKind.display, actor=None)
        update_branch(s, get_branch(s), changes={"settings": {"slip_text": "Thank you for your patience."}}, actor=None)
        kiosk_id = kiosk.id
    staff_at = {1: "alice", 2: "bob", 3: "carol", 4: "dave"}
    simulate(db, rng, start=yesterday, minutes=9 * 60, ids=ids, kiosk_id=kiosk_id, staff_at=staff_at, finish=True)
    # Today's busy hour stays inside today's business day (the script may run just after midnight).
    today = max(now.replace(second=0, microsecond=0) - timedelta(minutes=75), now.replace(hour=0, minute=1))
    minutes = max(1, int((now - today).total_seconds() // 60))
    seated = {1: "alice", 2: "bob", 4: "dave"}
    simulate(db, rng, start=today, minutes=minutes, ids=ids, kiosk_id=kiosk_id, staff_at=seated, finish=False, rate=0.8)
    clock.freeze(None)
    with db.session() as s:
        report_status(s, s.get_one(type(kiosk), kiosk_id), status={"printer": "paper_low"})
    db.dispose()


def simulate(db: Database, rng: random.Random, *, start: datetime, minutes: int, ids: dict[str, int], kiosk_id: int,
             staff_at: dict[int, str], finish: bool, rate: float = 0.32) -> None:  # fmt: skip
    """Minute by minute: customers arrive (more around 10:00 and 14:00), counters call, serve and finish."""
    from wins.devices.models import Device

    busy_until: dict[int, datetime] = {}
    mix = ["A"] * 5 + ["B"] * 3 + ["C"] * 2
    for minute in range(minutes + (90 if finish else 0)):
        at = start + timedelta(minutes=minute)
        clock.freeze(at.astimezone(ZoneInfo("UTC")))
        with db.session() as s:
            kiosk = Principal(device=s.get_one(Device, kiosk_id))
            hour = at.hour + at.minute / 60
            peak = 1.0 + 0.9 * max(0.0, 1 - abs(hour - 10.5) / 1.5) + 0.6 * max(0.0, 1 - abs(hour - 14.5) / 1.2)
            arrivals = 0 if minute >= minutes else sum(rng.random() < rate * peak / 3 for _ in range(3))
            for _ in range(arrivals):
                tickets.issue_ticket(s, service_id=ids[rng.choice(mix)], actor=kiosk, priority=rng.random() < 0.04)
            for counter_id, username in staff_at.items():
                if busy_until.get(counter_id, at) > at:
                    continue
                staff = s.query(StaffUser).filter_by(username=username).one()
                actor = Principal(staff=staff)
                if counter_id not in busy_until:
                    open_counter(s, counter_id, staff=staff, actor=actor)
                ticket = tickets.call_next(s, counter_id=counter_id, actor=actor)
                if ticket is None:
                    busy_until[counter_id] = at
                    continue
                if rng.random() < 0.07:
                    tickets.transition(s, ticket_id=ticket.id, action="no-show", actor=actor)
                    continue
                tickets.transition(s, ticket_id=ticket.id, action="start", actor=actor)
                busy_until[counter_id] = at + timedelta(minutes=max(1, round(rng.gauss(4 + counter_id, 2))))
    if not finish:
        return
    # Close the day: every counter finishes what it holds and leaves.
    from wins.counters.service import close_counter

    for counter_id, username in staff_at.items():
        clock.freeze(busy_until.get(counter_id, at).astimezone(ZoneInfo("UTC")))
        with db.session() as s:
            actor = Principal(staff=s.query(StaffUser).filter_by(username=username).one())
            held = tickets.queue_snapshot(s, settings=db.settings)["counters"]
            for row in held:
                if row["id"] == counter_id and row["ticket"]:
                    tickets.transition(s, ticket_id=row["ticket"]["id"], action="complete", actor=actor)
            close_counter(s, counter_id, actor=actor)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shoot(base: str, out: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

        def page_for(username: str | None, viewport: dict[str, int] | None = None) -> Page:
            context = browser.new_context(base_url=base, viewport=viewport or {"width": 1366, "height": 768})  # type: ignore[arg-type]
            page = context.new_page()
            if username:
                page.goto("/login")
                page.get_by_label("Username").fill(username)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_load_state("networkidle")
            return page

        def snap(page: Page, name: str, *, full: bool = False) -> None:
            page.wait_for_timeout(300)
            page.screenshot(path=str(out / f"staff-{name}.png"), full_page=full)
            log.info("wrote %s", out / f"staff-{name}.png")

        page = page_for(None)
        page.goto("/login")
        snap(page, "login")

        page = page_for("alice")
        page.goto("/staff")
        page.locator("#conn.conn-live").wait_for()
        page.get_by_role("button", name="Call next").click()
        page.locator("#feedback.feedback-ok").wait_for()
        snap(page, "workspace")
        page.keyboard.press("t")
        page.get_by_role("dialog").wait_for()
        snap(page, "workspace-transfer")
        page.keyboard.press("Escape")

        tablet = page_for("bob", {"width": 820, "height": 1180})
        tablet.goto("/staff")
        tablet.locator("#conn.conn-live").wait_for()
        snap(tablet, "workspace-tablet")

        page = page_for("dave")
        page.goto("/dashboard")
        page.locator("#conn.conn-live").wait_for()
        snap(page, "dashboard")
        yesterday = (datetime.now(ZONE) - timedelta(days=1)).date().isoformat()
        page.goto(f"/reports?first={yesterday}&last={yesterday}")
        snap(page, "reports")
        snap(page, "reports-full", full=True)
        for section in ("services", "counters", "branch"):
            page.goto(f"/admin/{section}")
            snap(page, f"admin-{section}")

        page = page_for("admin")
        for section in ("users", "devices"):
            page.goto(f"/admin/{section}")
            snap(page, f"admin-{section}")
        browser.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/wins.db"
        upgrade(url)
        settings = Settings(database_url=url, data_dir=Path(tmp), secret_key="s" * 40, log_level="WARNING")
        build(settings)
        port = free_port()
        env = {**os.environ, "WINS_DATABASE_URL": url, "WINS_DATA_DIR": tmp, "WINS_SECRET_KEY": "s" * 40,
               "WINS_DEMO_ON_FIRST_START": "false", "WINS_LOG_LEVEL": "WARNING"}  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "wins.asgi:app", "--port", str(port), "--log-level", "warning"], env=env
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    if httpx.get(base + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            shoot(base, out)
        finally:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
