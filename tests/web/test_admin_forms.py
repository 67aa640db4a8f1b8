"""The set-up forms the browser tests do not click through: saved, refused, and what each writes to the audit log.

Posted with the signed-in browser context's own request client (its session cookie, the page's CSRF token).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import APIResponse, Page

from tests.web.conftest import Site, sign_in

pytestmark = pytest.mark.browser


def post(page: Page, path: str, **fields: str) -> APIResponse:
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert csrf
    return page.request.post(path, form={"csrf_token": csrf, **fields})


def audit_entries(site: Site, action: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(site.server.env["WINS_DATABASE_URL"])
    try:
        with engine.connect() as db:
            rows = db.execute(sa.text("SELECT details FROM audit_log WHERE action = :a ORDER BY id"), {"a": action})
            return [r.details if isinstance(r.details, dict) else json.loads(r.details) for r in rows]
    finally:
        engine.dispose()


def users(site: Site) -> dict[str, dict[str, Any]]:
    return {u["username"]: u for u in site.http.get("/api/v1/users", headers=site.auth("admin")).json()}


def test_user_changes_are_saved_or_refused_with_the_reason(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "admin", next_path="/admin/users")
    staff2 = site.data.users["staff2"]

    r = post(page, f"/admin/users/{staff2}", full_name="Sam Two", role="manager", active="on")
    assert r.status == 200 and r.url.endswith("/admin/users")  # post/redirect/get
    assert "Account staff2 saved." in r.text()
    assert users(site)["staff2"]["role"] == "manager" and users(site)["staff2"]["full_name"] == "Sam Two"
    assert audit_entries(site, "user.update") == [{"user_id": staff2, "fields": ["active", "full_name", "role"]}]

    r = post(page, f"/admin/users/{staff2}", full_name="Nobody", role="boss", active="on")
    assert r.status == 422
    assert "Choose a role: reception, staff, manager or admin." in r.text() and "Staff accounts" in r.text()
    assert users(site)["staff2"]["full_name"] == "Sam Two"  # nothing of it saved
    r = post(page, "/admin/users", username="zed", password="long-enough-password", role="boss")
    assert r.status == 422 and "Choose a role" in r.text()
    assert "zed" not in users(site)
    assert len(audit_entries(site, "user.update")) == 1 and audit_entries(site, "user.create") == []


def test_device_tokens_are_shown_once_and_refusals_explained(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "admin", next_path="/admin/devices")
    kiosk = next(d for d in site.http.get("/api/v1/devices", headers=site.auth("admin")).json() if d["name"] == "kiosk")
    old = {"Authorization": f"Bearer {site.data.tokens['kiosk']}"}
    assert site.http.get("/api/v1/devices/me", headers=old).status_code == 200

    r = post(page, f"/admin/devices/{kiosk['id']}/rotate")
    assert r.status == 200 and r.url.endswith(f"/admin/devices/{kiosk['id']}/rotate")  # shown here, not redirected
    shown = re.search(r'<code id="new-token" class="token">(wdt_[^<]+)</code>', r.text())
    assert shown, r.text()
    token = shown.group(1)
    assert site.http.get("/api/v1/devices/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token != site.data.tokens["kiosk"]  # the old one stops within the principal cache's seconds
    assert audit_entries(site, "device.rotate") == [{"device_id": kiosk["id"]}]

    r = post(page, "/admin/devices/999999/rotate")
    assert r.status == 404 and "Devices" in r.text()
    r = post(page, "/admin/devices", name="Toaster", kind="toaster")
    assert r.status == 422 and "A device is a kiosk or a display." in r.text()
    names = [d["name"] for d in site.http.get("/api/v1/devices", headers=site.auth("admin")).json()]
    assert "Toaster" not in names
    assert len(audit_entries(site, "device.rotate")) == 1 and audit_entries(site, "device.create") == []
