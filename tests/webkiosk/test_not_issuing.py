"""A service that stopped issuing stays on the web kiosk, named and marked "not issuing", but is no button; an
archived one is gone (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.webkiosk.conftest import Site

pytestmark = pytest.mark.browser


def test_stopped_service_is_shown_not_issuing_and_archived_one_is_gone(site: Site, tablet: Any) -> None:
    payments, documents = site.data.services["B"], site.data.services["C"]
    manager = site.auth("manager")
    try:
        site.http.patch(f"/api/v1/services/{payments}", json={"active": False}, headers=manager).raise_for_status()
        site.http.post(f"/api/v1/services/{documents}/archive", headers=manager).raise_for_status()
        page = tablet()
        stopped = page.locator("#services .tile.off")
        expect(stopped).to_have_text("Payments: not issuing tickets now")
        assert stopped.evaluate("e => e.tagName") == "P"
        expect(page.locator("#services button", has_text="Payments")).to_have_count(0)
        expect(page.locator("#services", has_text="Documents")).to_have_count(0)
        expect(page.locator("#services button", has_text="General")).to_be_visible()
        # Issuing again: the kiosk follows the change by itself.
        site.http.patch(f"/api/v1/services/{payments}", json={"active": True}, headers=manager).raise_for_status()
        expect(page.locator("#services button", has_text="Payments")).to_be_visible()
        expect(stopped).to_have_count(0)
        assert page.errors == []
    finally:
        site.http.patch(f"/api/v1/services/{payments}", json={"active": True}, headers=manager)
        site.http.post(f"/api/v1/services/{documents}/restore", headers=manager)
        site.http.patch(f"/api/v1/services/{documents}", json={"active": True}, headers=manager)
