"""The day's life-cycle in the browser: the customer's phone page turns to "expired, take a new ticket" when the day
ends under it (no reload), and the manager's opening-hours page saves hours, holidays and the closing time (or says
what is wrong)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Site, sign_in
from tests.web.test_admin_forms import post
from wins.config import Settings
from wins.db import Database
from wins.tickets.expiry import expire_ended_days

pytestmark = pytest.mark.browser


def test_phone_page_says_the_ticket_expired(site: Site, new_context: Any) -> None:
    ticket = site.issue("B")
    page = new_context().new_page()
    page.goto(f"/t/{ticket['tracking_token']}")
    expect(page.locator("#waiting-box")).to_be_visible()
    # The business day ends (as `wins expire-day` would at the rollover): the open page follows by itself.
    db = Database(Settings(database_url=site.server.env["WINS_DATABASE_URL"], secret_key="w" * 40))
    try:
        assert expire_ended_days(db, now=datetime.now(UTC) + timedelta(days=2)) >= 1
    finally:
        db.dispose()
    expect(page.locator("#state-text")).to_have_text(
        "This ticket has expired: the day ended before it was served. Please take a new ticket."
    )
    expect(page.locator("#waiting-box")).to_be_hidden()
    expect(page.locator("#actions")).to_be_hidden()  # no "I'm leaving" on an expired ticket
    expect(page.locator("body")).to_have_attribute("data-status", "expired")
    if site.server.log_path:  # for a person to look at (docs/kiosk.md shows the words)
        page.screenshot(path=str(site.server.log_path.parent / "phone-expired.png"))


def test_opening_hours_page_saves_or_says_what_is_wrong(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "manager", next_path="/admin/hours")
    expect(page.get_by_role("heading", name="Opening hours", level=1)).to_be_visible()
    documents = site.data.services["C"]
    page.get_by_label("Hours of Documents").fill("mon-fri 08:00-12:00, 13:00-17:00; sat 09:00-12:00")
    page.get_by_label("Last ticket (minutes before closing)").nth(2).fill("20")
    page.get_by_role("button", name="Save hours of Documents").click()
    expect(page.get_by_text("Opening hours of Documents saved.")).to_be_visible()
    saved = site.get("/api/v1/services", "manager")
    hours = next(s for s in saved if s["id"] == documents)["hours"]
    assert hours["weekly"]["mon"] == [{"opens": "08:00", "closes": "12:00"}, {"opens": "13:00", "closes": "17:00"}]
    assert hours["weekly"]["sat"] == [{"opens": "09:00", "closes": "12:00"}] and "sun" not in hours["weekly"]
    assert hours["last_ticket_minutes"] == 20
    expect(page.get_by_label("Hours of Documents")).to_have_value("mon-fri 08:00-12:00, 13:00-17:00; sat 09:00-12:00")

    r = post(page, f"/admin/hours/services/{documents}", weekly="mon 12:00-09:00", last_ticket_minutes="0")
    assert r.status == 422 and "must close after it opens" in r.text()
    r = post(page, f"/admin/hours/services/{documents}", weekly="someday 08:00-09:00", last_ticket_minutes="0")
    assert r.status == 422 and "is not a day" in r.text()

    page.get_by_label("Holidays (one date a line, like 2026-12-25)").fill("2026-12-25\n2026-12-24")
    page.get_by_label("Closing time", exact=False).fill("19:00")
    page.get_by_role("button", name="Save holidays and closing time").click()
    expect(page.get_by_text("Holidays and closing time of Test Branch saved.")).to_be_visible()
    settings = site.get("/api/v1/branch", "manager")["settings"]
    assert settings["holidays"] == ["2026-12-24", "2026-12-25"] and settings["closing_time"] == "19:00"
    r = post(page, "/admin/hours/branch", holidays="2026-13-01", closing_time="")
    assert r.status == 422 and "2026-13-01" in r.text()

    # Empty hours: back to taking tickets at any time.
    page.get_by_label("Hours of Documents").fill("")
    page.get_by_role("button", name="Save hours of Documents").click()
    expect(page.get_by_text("Documents now takes tickets at any time.")).to_be_visible()
    post(page, "/admin/hours/branch", holidays="", closing_time="")
