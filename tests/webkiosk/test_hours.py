"""The web kiosk outside a service's opening hours: its button says "Closed · opens …" in the kiosk's language,
and a tap on it answers with the kiosk's words for a closed service (the server refuses it: service_closed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.webkiosk.conftest import Site

pytestmark = pytest.mark.browser

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def test_a_closed_service_says_when_it_opens(site: Site, tablet: Any) -> None:
    tomorrow = datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)
    hours = {"weekly": {DAYS[tomorrow.weekday()]: [{"opens": "08:30", "closes": "12:00"}]}}
    documents = site.data.services["C"]
    r = site.http.patch(f"/api/v1/services/{documents}", json={"hours": hours}, headers=site.auth("manager"))
    assert r.status_code == 200, r.text
    try:
        page = tablet()
        button = page.locator("#services button", has_text="Documents")
        when = f"{tomorrow.strftime('%d/%m')} at 08:30"
        expect(button).to_have_text(f"Documents — Closed · opens {when}")
        expect(button).to_have_class("tile service closed")
        before = site.waiting()
        button.tap()
        expect(page.locator("#notice")).to_have_text(
            "This service is closed now. Please come back when it opens, or ask at the desk."
        )
        assert site.waiting() == before
        page.locator("#languages button", has_text="Français").tap()
        expect(button).to_have_text(f"Documents — Fermé · ouvre le {tomorrow.strftime('%d/%m')} à 08:30")
        expect(page.locator("#services button", has_text="General")).not_to_have_class("tile service closed")
        assert [e for e in page.errors if "status of 409" not in e] == []  # the refused tap is logged by Chromium
    finally:
        site.http.patch(f"/api/v1/services/{documents}", json={"hours": None}, headers=site.auth("manager"))
