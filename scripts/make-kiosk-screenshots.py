#!/usr/bin/env python3
"""Write docs/screenshots/kiosk-*.png: the real Kivy kiosk against a real (temporary) server and the test
printer emulator, driven by simulated touches, rendered offscreen (no display needed).

Usage: .venv/bin/python scripts/make-kiosk-screenshots.py [OUTPUT_DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TMP = Path(tempfile.mkdtemp(prefix="wins-kiosk-shots-"))
# Kivy writes its config, logs and caches under these: keep them out of the home folder.
os.environ.update(KIVY_HOME=str(TMP / "kivy"), XDG_CACHE_HOME=str(TMP / "cache"), KIVY_NO_ARGS="1",
                  KIVY_LOG_MODE="PYTHON")
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from tests.kiosk.harness import fast_config  # noqa: E402
from tests.support.printer_emulator import PrinterEmulator  # noqa: E402
from tests.support.seed import seed  # noqa: E402
from tests.support.server import LiveServer  # noqa: E402

from wins.config import Settings  # noqa: E402
from wins.migrate import upgrade  # noqa: E402
from wins_kiosk.state import PrintStatus, Screen  # noqa: E402


def prepare_server() -> tuple[LiveServer, dict[str, str], dict[str, int]]:
    url = f"sqlite:///{TMP / 'wins.db'}"
    upgrade(url)
    settings = Settings(database_url=url, data_dir=TMP / "data", secret_key="s" * 40, log_level="WARNING")
    data = seed(settings)
    server = LiveServer({"WINS_DATABASE_URL": url, "WINS_SECRET_KEY": settings.secret_key,
                         "WINS_DATA_DIR": str(settings.data_dir), "WINS_EVENT_POLL_SECONDS": "0.5"},
                        log_path=TMP / "server.log").start()
    admin = {"Authorization": f"Bearer {data.tokens['admin']}"}
    with httpx.Client(base_url=server.url, headers=admin, timeout=10) as http:
        http.patch("/api/v1/branch", json={"name": "Riverside Town Hall"}).raise_for_status()
        looks = {"A": ("General enquiries", "#1f6feb"), "B": ("Payments", "#1a7f37"),
                 "C": ("Passports & ID cards", "#8250df")}
        for prefix, (name, colour) in looks.items():
            http.patch(f"/api/v1/services/{data.services[prefix]}", json={"name": name, "colour": colour})
        http.post("/api/v1/services", json={"name": "Registry office", "prefix": "D", "colour": "#bf3989"})
        categories = [{"key": "pregnant", "label": {"en": "Pregnant", "fr": "Enceinte"}},
                      {"key": "disability", "label": {"en": "Disability", "fr": "Handicap"}},
                      {"key": "elderly", "label": {"en": "Over 75", "fr": "Plus de 75 ans"}}]
        http.patch("/api/v1/branch", json={"settings": {"priority_categories": categories}}).raise_for_status()
        kiosk_id = next(d["id"] for d in http.get("/api/v1/devices").json() if d["kind"] == "kiosk")
        http.patch(f"/api/v1/devices/{kiosk_id}", json={"config": {"allow_priority": True}}).raise_for_status()
        kiosk = {"Authorization": f"Bearer {data.tokens['kiosk']}"}
        for prefix in "AABCABCAB":
            http.post("/api/v1/tickets", json={"service_id": data.services[prefix]}, headers=kiosk)
        staff = {"Authorization": f"Bearer {data.tokens['staff']}"}
        for counter in ("1", "2", "3"):
            http.post(f"/api/v1/counters/{data.counters[counter]}/call-next", headers=staff).raise_for_status()
    return server, data.tokens, data.services


def web_kiosk_screenshots(url: str, admin_token: str, out: Path) -> None:
    """The web kiosk (/kiosk) in Chromium at tablet sizes: an Android tablet in landscape, an iPad upright."""
    from tests.support.pairing import pairing_link

    def pair(base: str) -> str:  # a one-time pairing link for the seeded kiosk, as an admin makes it
        with httpx.Client(base_url=base, timeout=10) as http:
            return base + pairing_link(http, {"Authorization": f"Bearer {admin_token}"}, name="kiosk")

    from playwright.sync_api import sync_playwright
    from tests.support.browser import launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for name, viewport in (("webkiosk", {"width": 1280, "height": 800}),
                                   ("webkiosk-ipad", {"width": 810, "height": 1080})):
                context = browser.new_context(base_url=url, viewport=viewport, has_touch=True)
                page = context.new_page()
                page.goto(pair(url))
                page.wait_for_selector("#serving-rows .num")
                page.screenshot(path=str(out / f"{name}-start.png"))
                page.locator("#services button").nth(1).tap()
                page.wait_for_selector("#print-status.status-printed")
                while not page.evaluate("document.getElementById('ticket-qr').naturalWidth"):
                    page.wait_for_timeout(100)  # (wait_for_function evals: the page's CSP forbids it)
                page.screenshot(path=str(out / f"{name}-result.png"))
                context.close()
            context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800}, has_touch=True)
            page = context.new_page()
            page.goto(pair(url))
            page.wait_for_selector("#serving-rows .num")
            page.get_by_role("button", name="Français").tap()
            page.get_by_role("button", name="A+  Texte plus grand").tap()
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowDown")
            page.screenshot(path=str(out / "webkiosk-fr-big-keys.png"))
            context.close()
        finally:
            browser.close()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots"
    server, tokens, services = prepare_server()
    printer = PrinterEmulator().start()
    config = fast_config(server.url, tokens["kiosk"], TMP, printer_url=printer.url, result_seconds=600,
                         idle_timeout_seconds=600, health_check_seconds=0.5)
    from tests.kiosk.kivy_driver import KivyDriver

    driver = KivyDriver(config)
    k = driver.kiosk
    try:
        driver.until(lambda: k.screen == Screen.START and len(k.now_serving) == 3, what="start screen")
        driver.screenshot(out / "kiosk-start.png")

        driver.tap(driver.find("Français"))
        driver.tap(driver.find("A+  Texte plus grand"))
        driver.until(lambda: k.big_font, what="big text")
        driver.screenshot(out / "kiosk-start-fr-big.png")
        driver.tap(driver.find("English"))
        driver.tap(driver.find("A   Normal text"))

        driver.tap(driver.find("General enquiries"))
        driver.until(lambda: k.print_status == PrintStatus.PRINTED, what="printed")
        printer.wait_for_jobs(1)
        driver.screenshot(out / "kiosk-result.png")
        driver.wait(1.6)
        driver.tap(driver.find("Touch to finish"))

        driver.until(lambda: k.screen == Screen.START, what="start again")
        driver.tap(driver.find("I need priority"))
        driver.until(lambda: k.screen == Screen.PRIORITY, what="priority choices")
        driver.screenshot(out / "kiosk-priority.png")
        driver.tap(driver.find("Back"))
        driver.tap(driver.find("I need help"))
        driver.until(lambda: k.help_status is not None and k.help_status.value == "sent", what="help called")
        driver.screenshot(out / "kiosk-help.png")
        driver.press("f1")  # spoken guidance on, then the keys
        driver.press("down")
        driver.press("down")
        driver.screenshot(out / "kiosk-keys-focus.png")
        # The real warning comes 15 s before the timeout; this picture cannot wait 20 minutes for it.
        k._last_touch = k.clock() - (2 * config.idle_timeout_seconds - 14)
        k.tick()
        driver.frames(3)
        driver.screenshot(out / "kiosk-time-warning.png")
        k.extend_time()
        k.back_to_start()

        # A tablet prints through the server: give the branch the (emulated) network printer.
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tokens['admin']}"}) as http:
            settings = http.get("/api/v1/branch").json()["settings"]
            http.patch("/api/v1/branch", json={"settings": {**settings, "printer_url": printer.url}}).raise_for_status()
        web_kiosk_screenshots(server.url, tokens["admin"], out)

        printer.paper = "out"
        driver.until(lambda: k.screen == Screen.START, what="start again")
        driver.tap(driver.find("Passports & ID cards"))
        driver.until(lambda: k.print_status == PrintStatus.FAILED, what="printer fault")
        driver.screenshot(out / "kiosk-printer-fault.png")
        driver.wait(1.6)
        driver.tap(driver.find("Touch to finish"))

        server.stop()
        driver.until(lambda: k.screen == Screen.UNAVAILABLE, what="unavailable")
        driver.screenshot(out / "kiosk-server-down.png")

        driver.tap(driver.find("Riverside Town Hall"), hold=2.3)
        driver.until(lambda: k.screen == Screen.PIN, what="PIN pad")
        for digit in "24":
            driver.tap(driver.find(digit))
        driver.screenshot(out / "kiosk-operator-pin.png")
    finally:
        driver.close()
        printer.stop()
        server.stop()
    for name in sorted(p.name for p in out.glob("kiosk-*.png")):
        print(out / name)  # noqa: T201


if __name__ == "__main__":
    main()
