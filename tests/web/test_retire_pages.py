"""The retire pages (issue 13): delete a never-used service or counter, archive a used one after deciding about
the people waiting, restore; and where `/` and `/admin` lead each role."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Site, sign_in
from tests.web.test_admin_forms import audit_entries, post

pytestmark = pytest.mark.browser


def services(site: Site, **query: str) -> dict[str, dict[str, Any]]:
    rows = site.http.get("/api/v1/services", params=query, headers=site.auth("manager")).json()
    return {s["prefix"]: s for s in rows}


def test_root_and_admin_lead_each_role_to_its_page(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    sign_in(page, "staff")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/staff$"))
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/staff$"))
    manager = new_context().new_page()
    sign_in(manager, "manager")
    manager.goto("/")
    expect(manager).to_have_url(re.compile(r"/dashboard$"))
    manager.goto("/admin")
    expect(manager).to_have_url(re.compile(r"/admin/services$"))
    # A branch exists: the admin's /admin is the services page too, and /admin/branches lists the branch.
    admin = new_context().new_page()
    sign_in(admin, "admin", next_path="/admin")
    expect(admin).to_have_url(re.compile(r"/admin/services$"))
    admin.goto("/admin/branches")
    expect(admin.get_by_role("cell", name="Test Branch")).to_be_visible()


def test_services_are_deleted_or_archived_with_their_waiting_tickets_moved(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "manager", next_path="/admin/services")
    documents, general, payments = (site.data.services[p] for p in "CAB")

    page.get_by_role("link", name="Delete or archive Documents").click()
    expect(page.get_by_text("No ticket was ever issued for Documents")).to_be_visible()
    page.get_by_role("button", name="Delete Documents").click()
    expect(page.get_by_text("Service Documents deleted.")).to_be_visible()
    assert "C" not in services(site, include_archived="true")

    waiting = [site.issue("A"), site.issue("A")]
    page.goto(f"/admin/services/{general}/retire")
    expect(page.get_by_text("2 tickets are waiting for General now")).to_be_visible()
    r = post(page, f"/admin/services/{general}/archive")  # no choice made: refused, the page says why
    assert r.status == 409 and "2 tickets are still waiting for General" in r.text()
    page.get_by_label("Service that takes the waiting tickets").select_option(str(payments))
    page.get_by_role("button", name="Archive General").click()
    expect(page.get_by_text("Service General archived")).to_be_visible()
    after = [site.get(f"/api/v1/tickets/{t['id']}", "staff") for t in waiting]
    assert [(t["service_id"], t["status"]) for t in after] == [(payments, "waiting"), (payments, "waiting")]
    assert "A" not in services(site) and services(site, include_archived="true")["A"]["archived"] is True
    assert audit_entries(site, "service.archive") == [{"service_id": general, "waiting": 2, "moved_to": payments}]

    page.get_by_text("Archived services (1)").click()
    page.get_by_role("button", name="Restore General").click()
    expect(page.get_by_text("Service General is back, not issuing yet")).to_be_visible()
    assert services(site)["A"]["active"] is False
    site.http.patch(f"/api/v1/services/{general}", json={"active": True}, headers=site.auth("manager"))


def test_counters_are_deleted_or_archived_once_free(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "manager", next_path="/admin/counters")
    four, three = site.data.counters["4"], site.data.counters["3"]
    page.goto(f"/admin/counters/{four}/retire")
    page.get_by_role("button", name="Delete counter 4").click()
    expect(page.get_by_text("Counter 4 deleted.")).to_be_visible()

    site.issue("B")
    called = site.call_next("3")
    page.goto(f"/admin/counters/{three}/retire")
    expect(page.get_by_text(f"It holds ticket {called['number']}")).to_be_visible()
    r = post(page, f"/admin/counters/{three}/archive")
    assert r.status == 409 and called["number"] in r.text()
    site.act(called["id"], "complete")
    page.reload()
    page.get_by_role("button", name="Archive counter 3").click()
    expect(page.get_by_text("Counter 3 archived")).to_be_visible()
    names = [c["name"] for c in site.get("/api/v1/counters", "staff")]
    assert "3" not in names and "4" not in names
    page.get_by_text("Archived counters (1)").click()
    page.get_by_role("button", name="Restore counter 3").click()
    expect(page.get_by_text("Counter 3 is back, switched off")).to_be_visible()
