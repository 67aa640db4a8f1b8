"""The tracking page's "Text me when it's nearly my turn" form, in Debian's Chromium, against a real server
process that texts through a gateway the test plays (a local HTTP server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Playwright, expect

from tests.support.browser import launch_chromium, watch_csp
from tests.support.receiver import Receiver
from tests.support.rest import Rest
from tests.support.seed import Seeded
from tests.support.server import LiveServer
from wins.config import Settings

pytestmark = pytest.mark.browser
DIGITS = "7700900123"


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the page does not depend on the database


@pytest.fixture
def provider() -> Iterator[Receiver]:
    with Receiver(answer=lambda _r, _n: 200) as receiver:
        yield receiver


@pytest.fixture
def live_server(settings: Settings, seeded: Seeded, tmp_path: Path, provider: Receiver) -> Iterator[LiveServer]:
    env = {
        "WINS_DATABASE_URL": settings.database_url,
        "WINS_SECRET_KEY": settings.secret_key,
        "WINS_DATA_DIR": str(settings.data_dir),
        "WINS_LOG_LEVEL": "INFO",  # the access log is on: the number must not reach it
        "WINS_SMS_GATEWAY_URL": provider.url + "/sms",
        "WINS_SMS_GATEWAY_BODY": '{"to": "{phone}", "text": "{text}"}',
        "WINS_SMS_GATEWAY_BODY_FORMAT": "json",
        "WINS_SMS_POLL_SECONDS": "0.1",
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


def test_a_customer_asks_for_texts_on_the_tracking_page(
    live_server: LiveServer, seeded: Seeded, browser: Browser, provider: Receiver, tmp_path: Path
) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        rest = Rest(http, seeded)
        ticket = rest.issue("A")
        context = browser.new_context()
        violations = watch_csp(context)
        page = context.new_page()
        page.goto(f"{live_server.url}/t/{ticket['tracking_token']}")
        expect(page.locator("#sms-form")).to_have_count(0)  # the branch has not switched texts on
        r = http.patch("/api/v1/branch", json={"settings": {"sms_available": True}}, headers=rest.auth("manager"))
        assert r.status_code == 200
        page.reload()
        expect(page.get_by_role("heading", name="Text me when it's nearly my turn")).to_be_visible()
        page.get_by_label("Mobile number").fill("7700 900123")
        page.get_by_role("button", name="Text me").click()
        expect(page.locator("#sms-error")).to_contain_text("country code")
        expect(page.get_by_label("Mobile number")).to_have_value("")  # not echoed back
        page.get_by_label("Mobile number").fill("+44 7700 900123")
        page.get_by_role("button", name="Text me").click()
        expect(page.locator("#sms-on")).to_contain_text("ending in 23")
        assert DIGITS not in page.content()
        rest.call_next("1")  # it is my turn: a text with the counter
        got = provider.wait_for(lambda rs: len(rs) >= 1)
        assert json.loads(got[0].body) == {"to": "+447700900123", "text": "A001: it is your turn. Please go to 1."}
        page.reload()
        page.get_by_role("button", name="Stop texts and erase my number").click()
        expect(page.locator("#sms-on")).to_have_count(0)
        assert violations == []
        context.close()
    log = (tmp_path / "server.log").read_text()
    assert "POST /t/" in log and DIGITS not in log  # the access log saw the form, never the number


def test_the_text_me_section_follows_the_ticket_live(live_server: LiveServer, seeded: Seeded, browser: Browser) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        rest = Rest(http, seeded)
        r = http.patch("/api/v1/branch", json={"settings": {"sms_available": True}}, headers=rest.auth("manager"))
        assert r.status_code == 200
        offered, subscribed = rest.issue("A"), rest.issue("A")
        context = browser.new_context()
        violations = watch_csp(context)
        offer = context.new_page()
        offer.goto(f"{live_server.url}/t/{offered['tracking_token']}")
        expect(offer.locator("#sms-form")).to_be_visible()
        on = context.new_page()
        on.goto(f"{live_server.url}/t/{subscribed['tracking_token']}")
        on.get_by_label("Mobile number").fill("+44 7700 900123")
        on.get_by_role("button", name="Text me").click()
        expect(on.locator("#sms-on")).to_be_visible()
        # Called while the page is open: the offer goes at once (no reload), as the server would refuse it now.
        assert rest.call_next("1")["id"] == offered["id"]
        expect(offer.locator("#alert")).to_be_visible()
        expect(offer.locator("#sms")).to_be_hidden()
        # Back in the queue: it may be asked again.
        rest.act(offered["id"], "requeue")
        expect(offer.locator("#sms-form")).to_be_visible()
        # The subscribed one keeps "Stop texts" while called (a recall texts again), and it goes when it ends.
        rest.act(offered["id"], "cancel")
        expect(offer.locator("#sms")).to_be_hidden()
        assert rest.call_next("1")["id"] == subscribed["id"]
        expect(on.locator("#alert")).to_be_visible()
        expect(on.get_by_role("button", name="Stop texts and erase my number")).to_be_visible()
        rest.act(subscribed["id"], "complete")
        expect(on.locator("#sms")).to_be_hidden()
        assert violations == []
        context.close()
