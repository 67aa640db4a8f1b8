"""Display and tracking tests: a live WINS server on a seeded SQLite file, Debian's Chromium via Playwright.

One server and one browser per module (starting them is most of the cost); tests that stop the server get
their own. Chromium runs with autoplay allowed, as a display TV is set up (see docs/display.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright

from tests.support.browser import launch_chromium, watch_csp
from tests.support.databases import TemplateCache
from tests.support.pairing import pairing_link
from tests.support.rest import Rest
from tests.support.seed import Seeded, seed
from tests.support.server import LiveServer
from wins.config import Settings

TV = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}


class Site(Rest):
    """A live server with a display, its seeded ids, and the shared REST client (tests.support.rest) on it."""

    http: httpx.Client  # a live server's client

    def __init__(self, server: LiveServer, data: Seeded, http: httpx.Client, settings: Settings) -> None:
        super().__init__(http, data)
        self.server = server
        self.settings = settings

    @property
    def url(self) -> str:
        return self.server.url

    def pairing_link(self, device_id: int | None = None, name: str = "display") -> str:
        """A one-time pairing path for a display or web kiosk (the seeded display by default), as an admin makes it."""
        return pairing_link(self.http, self.auth("admin"), device_id, name)


@pytest.fixture(scope="module")
def make_site(templates: TemplateCache, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Factory of seeded live servers (closed at the end of the module)."""
    stack: list[tuple[Any, LiveServer, httpx.Client]] = []

    def make(**settings_extra: Any) -> Site:
        tmp: Path = tmp_path_factory.mktemp("display")
        db_cm = templates.database("sqlite", tmp)
        url = db_cm.__enter__()
        settings = Settings(
            database_url=url, data_dir=tmp / "data", secret_key="d" * 40, log_level="WARNING", **settings_extra
        )
        data = seed(settings)
        env = {
            "WINS_DATABASE_URL": url,
            "WINS_SECRET_KEY": settings.secret_key,
            "WINS_DATA_DIR": str(settings.data_dir),
            "WINS_EVENT_POLL_SECONDS": "0.5",
            "WINS_LOG_LEVEL": "WARNING",
            **{f"WINS_{key.upper()}": str(value) for key, value in settings_extra.items()},
        }
        server = LiveServer(env, log_path=tmp / "server.log").start()
        http = httpx.Client(base_url=server.url, timeout=30)
        stack.append((db_cm, server, http))
        return Site(server, data, http, settings)

    yield make
    for db_cm, server, http in reversed(stack):
        http.close()
        server.stop(kill=True)  # open long-polls would hold a graceful stop for their full timeout
        db_cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def site(make_site: Any) -> Site:
    return make_site()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright, "--autoplay-policy=no-user-gesture-required")
    yield browser
    browser.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Any]:
    """Factory of fresh browser contexts (separate cookie jars), closed after the test."""
    contexts: list[BrowserContext] = []
    violations: list[list[str]] = []

    def make(base_url: str, viewport: dict[str, int] = TV, **kwargs: Any) -> BrowserContext:
        context = browser.new_context(base_url=base_url, viewport=viewport, **kwargs)  # type: ignore[arg-type]
        context.set_default_timeout(8000)
        violations.append(watch_csp(context))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    # Every browser test also checks the pages work under the Content-Security-Policy.
    assert not any(violations), f"Content-Security-Policy violations: {violations}"
