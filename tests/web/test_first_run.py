"""A fresh production site in the browser (issue 13), without `wins demo`: the admin made by `wins setup` signs in,
creates a service and a counter in the admin pages, a web-kiosk tablet issues and the counter calls; and an admin
on a site without any branch lands on the first-run page instead of an error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.support.browser import launch_chromium, watch_csp
from tests.support.pairing import pairing_link
from tests.support.server import LiveServer
from tests.web.conftest import TIMEOUT_MS, VIEWPORT

pytestmark = pytest.mark.browser
PASSWORD = "first-admin-password"


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


def _wins(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wins.cli", *args],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _production(tmp: Path) -> dict[str, str]:
    return {
        "WINS_ENV": "production",
        "WINS_SECRET_KEY": "p" * 48,
        "WINS_DATABASE_URL": f"sqlite:///{tmp / 'wins.db'}",
        "WINS_DATA_DIR": str(tmp / "data"),
        "WINS_EVENT_POLL_SECONDS": "0.5",
        "WINS_LOG_LEVEL": "WARNING",
    }


def _page(browser: Browser, server: LiveServer, violations: list[list[str]]) -> Page:
    context = browser.new_context(base_url=server.url, viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    violations.append(watch_csp(context))
    return context.new_page()


def _sign_in(page: Page, username: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_set_up_admin_builds_the_site_in_the_pages_then_issue_and_call(browser: Browser, tmp_path: Path) -> None:
    env = _production(tmp_path)
    _wins(env, "setup", "--branch", "Riverside clinic", "--timezone", "Europe/Paris", "--admin", "boss",
          "--password-stdin")  # fmt: skip
    violations: list[list[str]] = []
    with LiveServer(env, log_path=tmp_path / "server.log") as server:
        page = _page(browser, server, violations)
        _sign_in(page, "boss")
        expect(page).to_have_url(re.compile(r"/dashboard$"))
        page.goto("/admin")
        expect(page).to_have_url(re.compile(r"/admin/services$"))
        expect(page.get_by_text("No services yet")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("Prescriptions")
        page.get_by_label("Prefix", exact=True).fill("P")
        page.get_by_role("button", name="Add service").click()
        expect(page.get_by_text("Service Prescriptions created")).to_be_visible()

        page.goto("/admin/counters")
        page.get_by_label("Counter name").last.fill("Desk 1")
        page.get_by_label("Order of Prescriptions at the new counter").fill("1")
        page.get_by_role("button", name="Add counter").click()
        expect(page.get_by_text("Counter Desk 1 created")).to_be_visible()

        # A web-kiosk tablet, paired as an admin pairs one, issues the first ticket of the site.
        with httpx.Client(base_url=server.url) as http:
            token = http.post("/api/v1/auth/token", data={"username": "boss", "password": PASSWORD}).json()
            admin = {"Authorization": f"Bearer {token['access_token']}"}
            device = http.post("/api/v1/devices", json={"name": "Entrance", "kind": "kiosk"}, headers=admin).json()
            link = pairing_link(http, admin, device["id"])
        tablet = _page(browser, server, violations)
        tablet.goto(link)
        tablet.locator("#services button", has_text="Prescriptions").click()
        expect(tablet.locator("#ticket-number")).to_have_text("P001")

        page.goto("/staff")
        page.get_by_label("Your counter", exact=True).select_option(label="Counter Desk 1")
        page.get_by_role("button", name="Sit here").click()  # choosing is deliberate (issue 16)
        expect(page.locator("#conn")).to_have_text("Live")
        page.get_by_role("button", name="Call next").click()
        expect(page.locator("#desk")).to_contain_text("P001")
        page.screenshot(path=str(tmp_path / "first-call.png"))
    assert not any(violations), f"Content-Security-Policy violations: {violations}"


def test_an_admin_on_a_site_without_a_branch_lands_on_the_first_run_page(browser: Browser, tmp_path: Path) -> None:
    env = _production(tmp_path)
    _wins(env, "db", "upgrade")
    _wins(env, "users", "create", "it-admin", "--role", "admin", "--password-stdin")
    violations: list[list[str]] = []
    with LiveServer(env, log_path=tmp_path / "server.log") as server:
        page = _page(browser, server, violations)
        _sign_in(page, "it-admin")
        expect(page).to_have_url(re.compile(r"/admin/branches$"))
        expect(page.get_by_role("heading", name="Set up your site")).to_be_visible()
        page.get_by_label("Branch name").fill("Harbour office")
        page.get_by_label("Time zone").select_option("America/Toronto")
        page.get_by_label("New day starts at (hour)").fill("3")
        page.get_by_label("Languages").fill("en, fr")
        page.screenshot(path=str(tmp_path / "first-run.png"))
        page.get_by_role("button", name="Create branch").click()
        expect(page).to_have_url(re.compile(r"/admin/services$"))
        expect(page.get_by_text("Branch Harbour office created. Next: add the services")).to_be_visible()
        page.goto("/admin/branch")
        expect(page.get_by_label("Time zone")).to_have_value("America/Toronto")
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/dashboard$"))
    assert not any(violations), f"Content-Security-Policy violations: {violations}"
