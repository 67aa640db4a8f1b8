"""The tracking page's "notify me" and the push service worker, in Debian's Chromium."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.support.browser import launch_chromium, watch_csp
from tests.support.rest import Rest
from tests.support.seed import Seeded
from tests.support.server import LiveServer
from wins.config import Settings

pytestmark = pytest.mark.browser


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the browser side does not depend on the database


@pytest.fixture
def live_server(settings: Settings, seeded: Seeded, tmp_path: Path) -> Iterator[LiveServer]:
    """conftest's live server, with time to start on a loaded CI box (importing alone took 40 s at load 38)."""
    env = {
        "WINS_DATABASE_URL": settings.database_url,
        "WINS_SECRET_KEY": settings.secret_key,
        "WINS_DATA_DIR": str(settings.data_dir),
    }
    server = LiveServer(env, log_path=tmp_path / "server.log").start(timeout=120)
    try:
        yield server
    finally:
        server.stop(kill=True)


@pytest.fixture
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


def test_the_page_says_when_push_cannot_work_and_offers_it_when_it_can(
    live_server: LiveServer, seeded: Seeded, browser: Browser
) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        rest = Rest(http, seeded)
        ticket = rest.issue("A")
        context = browser.new_context()
        violations = watch_csp(context)
        page = context.new_page()
        page.goto(f"{live_server.url}/t/{ticket['tracking_token']}")
        expect(page.locator("#push-text")).to_contain_text("no internet connection")
        expect(page.locator("#push-button")).to_be_hidden()
        r = http.patch("/api/v1/branch", json={"settings": {"push_available": True}}, headers=rest.auth("manager"))
        assert r.status_code == 200
        page.reload()
        expect(page.locator("#push-button")).to_have_text("Notify me when it is nearly my turn")
        assert violations == []
        context.close()


def _notifications(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const reg = await navigator.serviceWorker.getRegistration("/push/");
            const list = reg ? await reg.getNotifications() : [];
            return list.map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url}));
        }"""
    )
    return result


def test_the_service_worker_shows_the_notification_a_push_carries(
    live_server: LiveServer, seeded: Seeded, browser: Browser
) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        ticket = Rest(http, seeded).issue("B")
    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=live_server.url)
    page = context.new_page()
    page.goto(f"{live_server.url}/t/{ticket['tracking_token']}")
    cdp = context.new_cdp_session(page)
    registrations: list[str] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(
            r["registrationId"] for r in e["registrations"] if r["scopeURL"].endswith("/push/")
        ),
    )
    cdp.send("ServiceWorker.enable")
    page.evaluate(
        """async () => {
            const reg = await navigator.serviceWorker.register("/push/sw.js", {scope: "/push/"});
            if (!reg.active) await new Promise((ok) => {
                const w = reg.installing || reg.waiting;
                w.addEventListener("statechange", () => { if (w.state === "activated") ok(); });
            });
        }"""
    )
    page.wait_for_function("() => true")  # let the CDP event arrive
    deadline = time.monotonic() + 10
    while not registrations and time.monotonic() < deadline:
        cdp.send("ServiceWorker.enable")
        page.wait_for_timeout(50)
    assert registrations, "the service worker registration never showed up in CDP"
    message = {"title": "B001: it is your turn", "body": "Please go to 2", "url": f"/t/{ticket['tracking_token']}",
               "tag": "wins-B001", "called": True}  # fmt: skip
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live_server.url, "registrationId": registrations[-1], "data": json.dumps(message)},
    )
    page.wait_for_function(
        """async () => {
            const reg = await navigator.serviceWorker.getRegistration("/push/");
            return reg && (await reg.getNotifications()).length > 0;
        }""",
        polling=50,
    )
    shown = _notifications(page)
    assert shown == [{"title": message["title"], "body": message["body"], "tag": "wins-B001", "url": message["url"]}]
    context.close()
