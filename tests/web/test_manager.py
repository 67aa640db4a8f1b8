"""Manager and admin pages in a real browser: live dashboard, reports (charts + CSV), settings forms."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Site, sign_in

pytestmark = pytest.mark.browser


def _csv(page: Page, link: str) -> list[dict[str, str]]:
    with page.expect_download() as info:
        page.get_by_role("link", name=link, exact=True).click()
    path = info.value.path()
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_reports_show_charts_and_the_csv_matches_the_tickets(site: Site, new_context: Any) -> None:
    issued = {t["number"]: t for t in [*(site.issue("A") for _ in range(3)), *(site.issue("B") for _ in range(2))]}
    issued.update({t["number"]: t for t in [site.issue("C")]})
    one, four = site.data.counters["1"], site.data.counters["4"]
    first = site.post(f"/api/v1/counters/{one}/call-next")  # A001
    site.post(f"/api/v1/tickets/{first['id']}/start")
    site.post(f"/api/v1/tickets/{first['id']}/complete")
    second = site.post(f"/api/v1/counters/{one}/call-next")  # A002
    site.post(f"/api/v1/tickets/{second['id']}/no-show")
    third = site.post(f"/api/v1/counters/{one}/call-next")  # A003, done without "start"
    site.post(f"/api/v1/tickets/{third['id']}/complete")
    docs = site.post(f"/api/v1/counters/{four}/call-next", who="staff2")  # C001
    site.post(f"/api/v1/tickets/{docs['id']}/start", who="staff2")
    site.post(f"/api/v1/tickets/{docs['id']}/complete", who="staff2")
    expected_status = {n: "waiting" for n in issued}
    expected_status.update({first["number"]: "done", second["number"]: "no_show", third["number"]: "done"})
    expected_status[docs["number"]] = "done"

    page = new_context().new_page()
    sign_in(page, "manager", next_path="/reports")
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    for name in ("Tickets per hour", "Waiting time", "Service time", "Per staff member"):
        expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(4)
    expect(page.get_by_role("img", name="Tickets issued per hour, by service")).to_be_visible()
    general = page.locator("#report-services tr", has_text="General")
    expect(general.locator("td")).to_have_text(["3", "2", "1", "33 %", *[re.compile(r"^\d+ s$")] * 4])

    rows = _csv(page, "tickets")
    assert {r["number"]: r["status"] for r in rows} == expected_status
    by_number = {r["number"]: r for r in rows}
    assert by_number[first["number"]]["staff"] == "staff"
    assert by_number[docs["number"]]["staff"] == "staff2"
    assert by_number[docs["number"]]["counter"] == "4"
    assert by_number[second["number"]]["service_s"] == ""  # a no-show has no service time
    assert all(by_number[n]["wait_s"] != "" for n in (first["number"], second["number"], third["number"]))

    services = {r["service"]: r for r in _csv(page, "services")}
    assert (services["General"]["issued"], services["General"]["done"], services["General"]["no_show"]) == (
        "3", "2", "1",
    )  # fmt: skip
    assert services["General"]["no_show_rate"] == "0.3333"
    assert services["Payments"]["issued"] == "2" and services["Payments"]["done"] == "0"
    assert services["All services"]["issued"] == "6" and services["All services"]["done"] == "3"
    staff_rows = {r["staff"]: r for r in _csv(page, "staff")}
    assert staff_rows["staff"]["done"] == "2" and staff_rows["staff2"]["done"] == "1"
    hourly = _csv(page, "hourly")
    assert sum(int(r["total"]) for r in hourly) == 6

    # An empty day range says so instead of drawing empty charts.
    page.get_by_label("From").fill("2020-01-01")
    page.get_by_label("To").fill("2020-01-02")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("No tickets were issued on these days.")).to_be_visible()
    # A reversed range is refused in words.
    page.goto("/reports?first=2020-01-05&last=2020-01-01")
    expect(page.locator("main")).to_contain_text("The first day comes after the last day")


def test_dashboard_follows_the_queue_live(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "manager")
    expect(page).to_have_url(re.compile("/dashboard$"))
    expect(page.locator("#conn")).to_have_text("Live")
    waiting = int(page.locator("#tile-waiting").inner_text())
    site.issue("B")
    expect(page.locator("#tile-waiting")).to_have_text(str(waiting + 1))
    site.post(f"/api/v1/counters/{site.data.counters['3']}/call-next", who="staff2")
    row = page.locator("#counter-table tr", has=page.get_by_role("rowheader", name="3", exact=True))
    expect(row).to_contain_text(re.compile(r"staff2\s+B\d+ called"))
    expect(page.locator("#tile-waiting")).to_have_text(str(waiting))


def test_manager_edits_services_counters_and_branch(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "manager", next_path="/admin/services")
    form = page.locator("form[action='/admin/services']")
    page.get_by_label("Name", exact=True).fill("Loans")
    page.get_by_label("Prefix", exact=True).fill("l")
    page.get_by_role("button", name="Add service").click()
    expect(page.get_by_role("status")).to_have_text("Service Loans created: its tickets start with L.")
    expect(form).to_have_count(1)
    page.get_by_label("Name", exact=True).fill("Leasing")
    page.get_by_label("Prefix", exact=True).fill("L")
    page.get_by_role("button", name="Add service").click()
    expect(page.get_by_role("alert")).to_have_text("Prefix L is already used by Loans; pick another letter.")
    page.get_by_label("Priority weight of Loans").fill("5")
    page.get_by_role("button", name="Save Loans").click()
    expect(page.get_by_role("status")).to_have_text("Service Loans saved.")
    services = site.http.get("/api/v1/services", headers=site.auth("manager")).json()
    loans = next(s for s in services if s["prefix"] == "L")
    assert loans["priority_weight"] == 5

    page.goto("/admin/counters")
    page.get_by_label("Order of Loans at counter 2").fill("1")
    page.get_by_label("Order of General at counter 2").fill("2")
    page.get_by_label("Order of Documents at counter 2").fill("")
    page.get_by_role("button", name="Save counter 2").click()
    expect(page.get_by_role("status")).to_have_text("Counter 2 saved.")
    counters = {c["name"]: c for c in site.http.get("/api/v1/counters", headers=site.auth("manager")).json()}
    assert counters["2"]["service_ids"] == [loans["id"], site.data.services["A"]]

    page.goto("/admin/branch")
    page.get_by_label("Text printed on the slip").fill("Welcome! Keep this slip.")
    page.get_by_label("Kiosk languages").fill("")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert")).to_contain_text("Offer at least one language on the kiosk")
    # The time zone is picked from a list; a made-up one sent anyway is refused by the server.
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    fields = {"csrf_token": csrf or "", "name": "Test Branch", "timezone": "Mars/Olympus", "kiosk_languages": "en"}
    refused = page.request.post("/admin/branch", form=fields)
    assert refused.status == 422 and "Unknown time zone" in refused.text() and "Mars/Olympus" in refused.text()
    page.get_by_label("Time zone").select_option("Europe/Paris")
    page.get_by_label("Text printed on the slip").fill("Welcome! Keep this slip.")
    page.get_by_label("Kiosk languages").fill("en, de, ar")
    page.get_by_label("Logo").set_input_files(
        files=[{"name": "logo.png", "mimeType": "image/png", "buffer": _tiny_png()}]
    )
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("Settings of Test Branch saved.")
    branch = site.http.get("/api/v1/branch", headers=site.auth("manager")).json()
    assert branch["settings"]["slip_text"] == "Welcome! Keep this slip."
    assert branch["settings"]["kiosk_languages"] == ["en", "de", "ar"]
    assert branch["settings"]["logo"].startswith("data:image/png;base64,")
    expect(page.get_by_role("img", name="Current logo")).to_be_visible()


def test_admin_manages_users_and_device_tokens(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "admin", next_path="/admin/devices")
    page.get_by_label("Name").fill("Side door kiosk")
    page.get_by_role("button", name="Create device").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("wdt_")
    assert site.http.get("/api/v1/devices/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    page.get_by_role("button", name="Revoke Side door kiosk").click()
    expect(page.get_by_role("status")).to_contain_text("The token of Side door kiosk is revoked")
    expect(page.locator("tr", has_text="Side door kiosk")).to_contain_text("revoked")

    # A display gets a one-time pairing link instead of its token; opening it pairs a screen, once.
    page.get_by_label("Name").fill("Hall screen")
    page.get_by_label("Kind").select_option("display")
    page.get_by_role("button", name="Create device").click()
    link = page.locator("#pairing-link").inner_text()
    assert "/display?pair=wpc_" in link
    expect(page.locator("#new-token")).to_have_count(0)  # no token shown for a display
    screen = new_context().new_page()
    screen.goto(link.replace(site.url, ""))
    assert screen.url.endswith("/display")
    expect(screen.locator("#hero")).to_be_visible()
    again = new_context().new_page()
    again.goto(link.replace(site.url, ""))
    expect(again.locator("body")).to_contain_text("cannot be paired")
    page.get_by_role("button", name="Pairing link for Hall screen").click()
    assert page.locator("#pairing-link").inner_text() != link

    page.goto("/admin/users")
    page.get_by_label("Username", exact=True).fill("nina")
    page.get_by_label("Full name", exact=True).fill("Nina Simone")
    page.get_by_label("Role", exact=True).select_option("manager")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_role("button", name="Add account").click()  # the browser's minlength stops it first
    expect(page.get_by_role("status")).to_have_count(0)
    page.get_by_label("Password", exact=True).fill("a-long-enough-password")
    page.get_by_role("button", name="Add account").click()
    expect(page.get_by_role("status")).to_have_text("Account nina created.")
    users = {u["username"]: u for u in site.http.get("/api/v1/users", headers=site.auth("admin")).json()}
    assert users["nina"]["role"] == "manager" and users["nina"]["full_name"] == "Nina Simone"


def _tiny_png() -> bytes:
    import base64

    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
    )


def test_admin_sets_what_a_display_shows(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "admin", next_path="/admin/devices")
    form = page.get_by_role("form", name="Display settings of display")
    form.get_by_label("Title").fill("Ground floor")
    form.get_by_label("General").check()
    form.get_by_label("Layout").select_option("counters")
    form.get_by_label("Recent calls shown").fill("4")
    form.get_by_role("button", name="Save display settings of display").click()
    expect(page.get_by_text("Display settings of display saved")).to_be_visible()
    devices = site.http.get("/api/v1/devices", headers=site.auth("admin")).json()
    config = next(d for d in devices if d["name"] == "display")["config"]
    assert config["title"] == "Ground floor"
    assert config["services"] == [site.data.services["A"]]
    assert config["counters"] == []
    assert config["layout"] == "counters"
    assert config["history"] == 4
    form = page.get_by_role("form", name="Display settings of display")
    form.get_by_label("Recent calls shown").fill("40")
    form.get_by_role("button", name="Save display settings of display").click()
    # The browser itself refuses an out-of-range number (the service refuses it too: tests/test_devices.py).
    assert form.get_by_label("Recent calls shown").evaluate("el => !el.validity.valid")
    devices = site.http.get("/api/v1/devices", headers=site.auth("admin")).json()
    assert next(d for d in devices if d["name"] == "display")["config"]["history"] == 4
