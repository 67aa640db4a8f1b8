"""A customer's "I need help" on a kiosk reaches the staff pages, and one acknowledge clears it everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Site, open_workspace, sign_in

pytestmark = pytest.mark.browser


def test_help_alert_on_workspace_and_dashboard_acknowledged_once(site: Site, new_context: Any) -> None:
    workspace = new_context().new_page()
    errors: list[str] = []
    workspace.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    open_workspace(workspace, "staff", site.data.counters["1"])
    dashboard = new_context().new_page()
    sign_in(dashboard, "manager", next_path="/dashboard")
    expect(dashboard.locator("#conn")).to_have_text("Live")
    expect(workspace.locator(".help-alert")).to_have_count(0)

    site.post("/api/v1/devices/me/help", who="kiosk")
    for page in (workspace, dashboard):
        alert = page.get_by_role("alert").filter(has_text="Help needed at kiosk")
        expect(alert).to_be_visible()
        expect(alert.get_by_role("button", name="On my way")).to_be_visible()

    # A page opened after the call still shows it.
    late = new_context().new_page()
    sign_in(late, "manager", next_path="/dashboard")
    expect(late.locator(".help-alert")).to_contain_text("Help needed at kiosk")
    late.get_by_role("button", name="Hide").click()  # hides it here only
    expect(late.locator(".help-alert")).to_have_count(0)
    expect(dashboard.locator(".help-alert")).to_have_count(1)

    workspace.get_by_role("button", name="On my way").click()
    expect(workspace.locator(".help-alert")).to_have_count(0)
    expect(dashboard.locator(".help-alert")).to_have_count(0)  # cleared on every staff screen
    assert site.http.get("/api/v1/devices/help", headers=site.auth("staff")).json() == []
    assert errors == []
