"""The web kiosk in Debian's Chromium at tablet sizes, against a live server that prints on the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from tests.support.browser import launch_chromium
from tests.support.databases import TemplateCache
from tests.support.pairing import pairing_link
from tests.support.printer_emulator import PrinterEmulator
from tests.support.seed import Seeded, seed
from tests.support.server import LiveServer
from wins.config import Settings

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)
# An Android 10" tablet in landscape, and an iPad in portrait.
TABLET = {"width": 1280, "height": 800}
IPAD_PORTRAIT = {"width": 810, "height": 1080}


@pytest.fixture
def printer() -> Iterator[PrinterEmulator]:
    """A network thermal printer (ESC/POS over TCP 9100) for the tests that drive tablet printing in-process."""
    with PrinterEmulator() as emulator:
        yield emulator


@dataclass
class Site:
    server: LiveServer
    data: Seeded
    http: httpx.Client
    printer: PrinterEmulator

    @property
    def url(self) -> str:
        return self.server.url

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.data.tokens[who]}"}

    def get(self, path: str, who: str = "admin") -> Any:
        r = self.http.get(path, headers=self.auth(who))
        assert r.status_code == 200, r.text
        return r.json()

    def pairing_link(self, device_id: int | None = None, name: str = "kiosk") -> str:
        """A one-time pairing path for a web kiosk or display (the seeded kiosk by default), as an admin makes it."""
        return pairing_link(self.http, self.auth("admin"), device_id, name)

    def waiting(self) -> list[str]:
        queue = self.get("/api/v1/queue")
        return [t["number"] for s in queue["services"] for t in s["tickets"]]

    def set_printer(self, url: str | None) -> None:
        branch = self.get("/api/v1/branch")
        settings = {**branch["settings"], "printer_url": url}
        r = self.http.patch("/api/v1/branch", json={"settings": settings}, headers=self.auth("admin"))
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def site(templates: TemplateCache, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("webkiosk")
    with templates.database("sqlite", tmp) as url, PrinterEmulator() as printer:
        settings = Settings(database_url=url, data_dir=tmp / "data", secret_key="k" * 40, log_level="WARNING")
        data = seed(settings)
        env = {
            "WINS_DATABASE_URL": url,
            "WINS_SECRET_KEY": settings.secret_key,
            "WINS_DATA_DIR": str(settings.data_dir),
            "WINS_EVENT_POLL_SECONDS": "0.5",
            "WINS_LOG_LEVEL": "WARNING",
        }
        server = LiveServer(env, log_path=tmp / "server.log").start()
        try:
            with httpx.Client(base_url=server.url, timeout=10) as http:
                s = Site(server, data, http, printer)
                s.set_printer(printer.url)
                yield s
        finally:
            server.stop(kill=True)


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture
def tablet(browser: Browser, site: Site) -> Iterator[Any]:
    """Factory: a paired tablet page (touch screen) at the given viewport."""
    contexts: list[BrowserContext] = []

    def make(viewport: dict[str, int] = TABLET, *, pair: bool = True) -> Page:
        context = browser.new_context(
            base_url=site.url,
            viewport=viewport,  # type: ignore[arg-type]
            has_touch=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors  # type: ignore[attr-defined]
        if pair:
            page.goto(site.pairing_link(name="kiosk"))
            expect(page.locator("#screen-start")).to_be_visible()
        return page

    yield make
    for context in contexts:
        context.close()
