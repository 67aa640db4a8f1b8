#!/usr/bin/env python3
"""Write docs/screenshots/display.png and display-counters.png (1920x1080 TV), tracking.png, tracking-leave.png
and tracking-called.png (phone), and error-page.png (a browser's 404).

Builds a throw-away SQLite database with a busy morning, starts a server on it and drives Debian's Chromium.

Usage: .venv/bin/python scripts/make-screenshots-display.py [OUTPUT_DIR]
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from wins.branches.service import create_branch, update_branch
from wins.config import Settings
from wins.counters.service import create_counter
from wins.db import Database
from wins.devices.models import DeviceKind
from wins.devices.service import create_device
from wins.migrate import upgrade
from wins.services.service import create_service
from wins.staff.models import Role
from wins.staff.service import create_user, issue_token

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
log = logging.getLogger("screenshots")


def build(settings: Settings) -> dict[str, object]:
    db = Database(settings)
    out: dict[str, object] = {"services": {}, "counters": {}}
    with db.session() as s:
        branch = create_branch(s, name="Riverside Community Clinic", timezone="Europe/Paris")
        update_branch(s, branch, changes={"settings": {**branch.settings, "languages": ["en", "fr"]}}, actor=None)
        services = {
            "A": create_service(s, values={"name": "General enquiries", "prefix": "A"}, actor=None),
            "B": create_service(s, values={"name": "Payments", "prefix": "B", "sort_order": 1}, actor=None),
            "C": create_service(s, values={"name": "Prescriptions", "prefix": "C", "sort_order": 2}, actor=None),
        }
        layout = {"1": "AB", "2": "A", "3": "BA", "4": "CA", "5": "C"}
        counters = {
            name: create_counter(s, name=name, service_ids=[services[p].id for p in prefixes], actor=None)
            for name, prefixes in layout.items()
        }
        user = create_user(s, username="clerk", password="screenshots-only", role=Role.staff, actor=None)
        out["staff"] = issue_token(user, secret_key=settings.effective_secret_key)
        admin = create_user(s, username="boss", password="screenshots-only", role=Role.admin, actor=None)
        out["admin"] = issue_token(admin, secret_key=settings.effective_secret_key)
        _, out["kiosk"] = create_device(s, name="Entrance kiosk", kind=DeviceKind.kiosk, actor=None)
        _, out["display"] = create_device(s, name="Waiting room TV", kind=DeviceKind.display, actor=None)
        out["services"] = {p: svc.id for p, svc in services.items()}
        out["counters"] = {n: c.id for n, c in counters.items()}
    db.dispose()
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs/screenshots")
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="wins-display-shots-"))
    url = f"sqlite:///{tmp / 'wins.db'}"
    upgrade(url)
    settings = Settings(database_url=url, data_dir=tmp / "data", secret_key="s" * 40, log_level="WARNING")
    data = build(settings)
    port = free_port()
    env = {
        **os.environ,
        "WINS_DATABASE_URL": url,
        "WINS_DATA_DIR": str(tmp / "data"),
        "WINS_SECRET_KEY": settings.secret_key,
        "WINS_DEMO_ON_FIRST_START": "false",
        "WINS_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "wins.asgi:app", "--port", str(port), "--log-level", "warning"], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        http = httpx.Client(base_url=base, timeout=30)
        for _ in range(600):
            try:
                if http.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        kiosk = {"Authorization": f"Bearer {data['kiosk']}"}
        admin = {"Authorization": f"Bearer {data['admin']}"}

        def pairing_path(name: str, config: dict[str, object] | None = None) -> str:
            devices = http.get("/api/v1/devices", headers=admin).json()
            found = [d["id"] for d in devices if d["name"] == name]
            if found:
                device_id = found[0]
            else:
                body = {"name": name, "kind": "display", "config": config or {}}
                device_id = http.post("/api/v1/devices", json=body, headers=admin).json()["id"]
            url = httpx.URL(http.post(f"/api/v1/devices/{device_id}/pairing-code", headers=admin).json()["url"])
            return url.raw_path.decode()

        staff = {"Authorization": f"Bearer {data['staff']}"}
        services: dict[str, int] = data["services"]  # type: ignore[assignment]
        counters: dict[str, int] = data["counters"]  # type: ignore[assignment]
        issued = [
            http.post("/api/v1/tickets", json={"service_id": services[p]}, headers=kiosk).json()
            for p in "AABACABBAACABAC"
        ]
        for name in ("1", "2", "3", "4", "5"):
            http.post(f"/api/v1/counters/{counters[name]}/call-next", headers=staff)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            tv_context = browser.new_context(viewport={"width": 1920, "height": 1080}, base_url=base)
            tv = tv_context.new_page()
            tv.goto(pairing_path("Waiting room TV"))
            tv.wait_for_function("() => window.winsDisplay && window.winsDisplay.state.live")
            board = browser.new_context(viewport={"width": 1920, "height": 1080}, base_url=base).new_page()
            board.goto(pairing_path("Counters board", {"layout": "counters"}))
            board.wait_for_function("() => window.winsDisplay && window.winsDisplay.state.live")
            for name in ("2", "4"):
                http.post(f"/api/v1/counters/{counters[name]}/call-next", headers=staff)
            tv.wait_for_function("() => window.winsAnnouncements.filter(a => a.end).length >= 2", timeout=30000)
            tv.wait_for_timeout(8500)  # the flash is over; the latest call keeps its marker
            tv.screenshot(path=str(out_dir / "display.png"))
            log.info("wrote %s", out_dir / "display.png")
            board.wait_for_function("() => window.winsAnnouncements.filter(a => a.end).length >= 2", timeout=30000)
            board.wait_for_timeout(1000)
            board.screenshot(path=str(out_dir / "display-counters.png"))
            log.info("wrote %s", out_dir / "display-counters.png")

            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
                base_url=base,
            ).new_page()  # fmt: skip
            waiting = [t for t in issued if t["number"].startswith("A")][-1]
            phone.goto(f"/t/{waiting['tracking_token']}")
            phone.wait_for_timeout(500)
            phone.screenshot(path=str(out_dir / "tracking.png"))
            log.info("wrote %s", out_dir / "tracking.png")
            phone.get_by_role("button", name="I'm leaving").click()
            phone.get_by_role("dialog").wait_for(state="visible")
            phone.screenshot(path=str(out_dir / "tracking-leave.png"))
            log.info("wrote %s", out_dir / "tracking-leave.png")
            phone.keyboard.press("Escape")
            soon = http.post("/api/v1/tickets", json={"service_id": services["C"]}, headers=kiosk).json()
            phone.goto(f"/t/{soon['tracking_token']}")
            for _ in range(5):
                ticket = http.get(f"/api/v1/public/tickets/{soon['tracking_token']}").json()
                if ticket["status"] == "called":
                    break
                http.post(f"/api/v1/counters/{counters['5']}/call-next", headers=staff)
            phone.locator("#alert").wait_for(state="visible")
            phone.wait_for_timeout(6500)  # let the pulse animation settle
            phone.screenshot(path=str(out_dir / "tracking-called.png"))
            log.info("wrote %s", out_dir / "tracking-called.png")
            lost = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=base).new_page()
            lost.goto("/staff/old-bookmark")
            lost.screenshot(path=str(out_dir / "error-page.png"))
            log.info("wrote %s", out_dir / "error-page.png")
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
