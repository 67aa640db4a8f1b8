"""Browser tests: a live WINS server on a seeded SQLite file and Debian's Chromium driven by Playwright.

One server and one browser per test module (starting them is most of the cost); each test opens its own
browser contexts, so cookies never leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from tests.support.browser import launch_chromium, watch_csp
from tests.support.databases import TemplateCache
from tests.support.pairing import pairing_link
from tests.support.rest import Rest
from tests.support.seed import PASSWORD, Seeded, seed
from tests.support.server import LiveServer
from wins.config import Settings

VIEWPORT = {"width": 1366, "height": 768}
# Generous waits: on a loaded 2-core CI box a redraw can take seconds. Tests that promise a speed ("within a
# second") pass their own timeout.
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


class Site(Rest):
    """The running server, its seeded ids, and the shared REST client (tests.support.rest) on it."""

    http: httpx.Client  # a live server's client

    def __init__(self, server: LiveServer, data: Seeded, http: httpx.Client) -> None:
        super().__init__(http, data)
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    def pairing_link(self, device_id: int | None = None, name: str = "display") -> str:
        """A one-time pairing path for a display or web kiosk (the seeded display by default), as an admin makes it."""
        return pairing_link(self.http, self.auth("admin"), device_id, name)


@pytest.fixture(scope="module")
def site(templates: TemplateCache, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp: Path = tmp_path_factory.mktemp("web")
    with templates.database("sqlite", tmp) as url:
        settings = Settings(database_url=url, data_dir=tmp / "data", secret_key="w" * 40, log_level="WARNING")
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
            with httpx.Client(base_url=server.url) as http:
                yield Site(server, data, http)
        finally:
            # A graceful stop waits for open event sockets to notice (up to their 20 s heartbeat): no need here.
            server.stop(kill=True)


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser: Browser, site: Site) -> Iterator[Any]:
    """Factory of fresh browser contexts (separate cookie jars), closed after the test."""
    contexts: list[BrowserContext] = []
    violations: list[list[str]] = []

    def make() -> BrowserContext:
        context = browser.new_context(base_url=site.url, viewport=VIEWPORT)  # type: ignore[arg-type]
        context.set_default_timeout(TIMEOUT_MS)
        violations.append(watch_csp(context))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    # Every browser test also checks the pages work under the Content-Security-Policy.
    assert not any(violations), f"Content-Security-Policy violations: {violations}"


def sign_in(page: Page, username: str, *, password: str = PASSWORD, next_path: str = "") -> None:
    page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def open_workspace(page: Page, username: str, counter_id: int) -> None:
    """Sign in, open the workspace and sit at a counter (through the page's own counter picker: choose, then
    "Sit here")."""
    sign_in(page, username, next_path="/staff")
    expect(page.locator("#conn")).to_have_text("Live")  # the page's script runs (and sat at a remembered counter)
    page.get_by_label("Your counter", exact=True).select_option(str(counter_id))
    page.get_by_role("button", name="Sit here").click()
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#conn")).to_have_text("Live")
