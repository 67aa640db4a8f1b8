"""The web kiosk on a tablet: pairing, touch and keys, one ticket per tap whatever the network does, the slip
printed by the server on the branch's printer, the QR code on screen, help, and the timeout warning."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.webkiosk.conftest import IPAD_PORTRAIT, Site

pytestmark = pytest.mark.browser


def qr_loaded(page: Page) -> None:
    """The QR image decoded (polled from here: the page's CSP forbids the eval that wait_for_function uses)."""
    for _ in range(100):
        if page.evaluate("document.getElementById('ticket-qr').naturalWidth") > 0:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the QR code never loaded")


def service_button(page: Page, name: str) -> Any:
    return page.locator("#services button", has_text=name)


def test_pairing_link_gives_an_httponly_cookie_and_no_token_anywhere(site: Site, tablet: Any) -> None:
    page = tablet(pair=False)
    response = page.goto(site.pairing_link(name="kiosk"))
    assert response is not None and response.url == f"{site.url}/kiosk"  # the used code left the address bar
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "wins_kiosk"]
    assert cookie["httpOnly"] and site.data.tokens["kiosk"] not in cookie["value"]
    assert site.data.tokens["kiosk"] not in page.content()  # the page holds no credential
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["cache-control"] == "no-store"
    expect(page.locator("#branch")).to_have_text("Test Branch")
    expect(page.locator("#services button")).to_have_count(3)
    assert page.errors == []

    other = tablet(pair=False)
    by_token = other.goto(f"/kiosk?token={site.data.tokens['kiosk']}")
    assert by_token is not None and by_token.status == 400  # a token in the address is refused
    refused = other.goto(site.pairing_link(name="display").replace("/display?", "/kiosk?"))
    assert refused is not None and refused.status == 403  # a display's link does not pair a kiosk
    expect(other.locator("h1")).to_have_text("This screen cannot be paired")
    unpaired = other.goto("/kiosk")
    assert unpaired is not None and unpaired.status == 401
    expect(other.locator("h1")).to_have_text("Kiosk not paired")
    # The cookie alone (as a cross-site form would send it) cannot issue a ticket; with the header it can.
    body = {"service_id": site.data.services["A"]}
    bare = page.request.post("/api/v1/tickets", data=body)
    assert bare.status == 401
    ok = page.request.post("/api/v1/tickets", data=body, headers={"X-Requested-With": "wins-kiosk"})
    assert ok.status == 201, ok.text()


def test_double_tap_gives_one_ticket_printed_by_the_server_with_its_qr(site: Site, tablet: Any) -> None:
    page = tablet()
    before = site.waiting()
    jobs_before = len(site.printer.jobs)
    button = service_button(page, "Payments")
    box = button.bounding_box()
    assert box is not None and box["height"] > 60  # big targets
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.touchscreen.tap(x, y)
    page.touchscreen.tap(x, y)  # the impatient double tap (on whatever is there by then)
    expect(page.locator("#screen-result")).to_be_visible()
    number = page.locator("#ticket-number").inner_text()
    assert re.fullmatch(r"B\d{3}", number)
    expect(page.locator("#print-status")).to_have_text("Please take your ticket")
    assert sorted(site.waiting()) == sorted([*before, number])  # one ticket
    jobs = site.printer.wait_for_jobs(jobs_before + 1)
    assert number.encode() in jobs[-1]  # the slip's bytes reached the printer
    qr = page.locator("#ticket-qr")
    expect(qr).to_have_attribute("src", re.compile(r"/kiosk/qr/\d+\.svg"))
    qr_loaded(page)
    # The bar says what to do; it is not a button.
    assert page.locator("#print-status").evaluate("e => e.tagName") == "P"
    status = site.get("/api/v1/devices")
    (kiosk,) = [d for d in status if d["kind"] == "kiosk"]
    assert kiosk["status"]["printer"] == "online"  # staff pages see the printer's state
    page.wait_for_timeout(1600)  # a tap right away would be the tail of the double tap
    page.locator("#screen-result").tap()
    expect(page.locator("#screen-start")).to_be_visible()
    assert page.errors == []


def test_keys_only_with_focus_ring_and_spoken_text(site: Site, tablet: Any) -> None:
    page = tablet()
    before = site.waiting()
    page.keyboard.press("F1")  # spoken guidance on: the screen is read
    expect(page.locator("body")).to_have_attribute(
        "data-spoken",
        re.compile(r"^Test Branch\. Please choose a service\. 3 services: General, Payments, Documents\."),
    )
    page.keyboard.press("ArrowDown")
    focused = page.locator(":focus")
    expect(focused).to_have_text("General")
    expect(page.locator("body")).to_have_attribute("data-spoken", "General. Button 1 of 7.")
    outline = focused.evaluate("e => getComputedStyle(e).outlineStyle + ' ' + getComputedStyle(e).outlineColor")
    assert outline == "solid rgb(255, 224, 102)"  # the visible focus ring
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page.locator("#screen-result")).to_be_visible()
    number = page.locator("#ticket-number").inner_text()
    expect(page.locator("body")).to_have_attribute(
        "data-spoken", re.compile(rf"^Your number is A {int(number[1:])}\. General\.")
    )
    assert sorted(site.waiting()) == sorted([*before, number])
    expect(page.locator(":focus")).to_have_attribute("data-focus", "finish")


def test_lost_answer_is_retried_with_the_same_key_one_ticket(site: Site, tablet: Any) -> None:
    page = tablet(IPAD_PORTRAIT)
    before = site.waiting()
    keys: list[str] = []
    lock = threading.Lock()

    def lose_first_answer(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        with lock:
            first = len(keys) == 1
        if first:
            route.fetch()  # the server issues the ticket…
            route.abort("internetdisconnected")  # …and the answer is lost on the Wi-Fi
        else:
            route.continue_()

    page.route("**/api/v1/tickets", lose_first_answer)
    service_button(page, "Documents").tap()
    expect(page.locator("#screen-result")).to_be_visible()
    number = page.locator("#ticket-number").inner_text()
    assert len(keys) >= 2 and len(set(keys)) == 1  # retried with the same key
    assert sorted(site.waiting()) == sorted([*before, number])  # and still one ticket


def test_offline_tablet_recovers_by_itself(site: Site, tablet: Any) -> None:
    page = tablet()
    page.context.set_offline(True)
    expect(page.locator("#screen-unavailable")).to_be_visible()
    page.context.set_offline(False)
    expect(page.locator("#screen-start")).to_be_visible(timeout=15_000)
    expect(page.locator("#services button")).to_have_count(3)


def test_help_button_and_acknowledge(site: Site, tablet: Any) -> None:
    page = tablet()
    page.get_by_role("button", name="I need help").tap()
    expect(page.locator("#help-banner")).to_have_text("A member of staff has been called. Please wait here.")
    (alert,) = site.get("/api/v1/devices/help", "staff")
    r = site.http.post(f"/api/v1/devices/{alert['device_id']}/help/acknowledge", headers=site.auth("staff"))
    assert r.status_code == 200, r.text
    expect(page.locator("#help-banner")).to_have_text("Someone is coming to help you.")


def test_languages_bigger_text_and_timeout_warning(site: Site, tablet: Any) -> None:
    r = site.http.patch(
        f"/api/v1/devices/{site.get('/api/v1/devices/me', 'kiosk')['id']}",
        json={"config": {"idle_timeout_seconds": 6}},
        headers=site.auth("admin"),
    )
    assert r.status_code == 200, r.text
    try:
        page = tablet()
        page.get_by_role("button", name="Français").tap()
        expect(page.locator("#lead")).to_have_text("Veuillez choisir un service")
        page.get_by_role("button", name=re.compile("Texte plus grand")).tap()
        expect(page.locator("html")).to_have_class(re.compile("big"))
        number_size = page.locator("#serving-rows li").first.evaluate("e => getComputedStyle(e).fontSize")
        assert number_size  # counters and numbers share one size (one rule)
        expect(page.locator("#warning")).to_be_visible(timeout=8000)  # 3 s before the 6 s timeout
        expect(page.locator("#warning-title")).to_have_text("Besoin de plus de temps ?")
        page.get_by_role("button", name="Plus de temps").tap()
        expect(page.locator("#warning")).to_be_hidden()
        # The tap on "More time" did only that: the service button under it issued nothing.
        expect(page.locator("#screen-start")).to_be_visible()
        assert page.evaluate("document.documentElement.lang") == "fr"  # still this customer's session
        expect(page.locator("#warning")).to_be_visible(timeout=8000)
        expect(page.locator("#lead")).to_have_text("Please choose a service", timeout=8000)  # timed out: reset
    finally:
        site.http.patch(
            f"/api/v1/devices/{site.get('/api/v1/devices/me', 'kiosk')['id']}",
            json={"config": {"idle_timeout_seconds": 45}},
            headers=site.auth("admin"),
        )


def test_without_a_printer_the_screen_is_the_ticket(site: Site, tablet: Any) -> None:
    site.set_printer(None)
    try:
        page = tablet()
        jobs_before = len(site.printer.jobs)
        service_button(page, "General").tap()
        expect(page.locator("#screen-result")).to_be_visible()
        expect(page.locator("#finish")).to_be_visible()
        qr_loaded(page)
        page.wait_for_timeout(500)
        assert len(site.printer.jobs) == jobs_before
    finally:
        site.set_printer(site.printer.url)


def test_printer_fault_keeps_the_slip_and_warns_staff(site: Site, tablet: Any) -> None:
    page = tablet()
    site.printer.paper = "out"
    try:
        jobs_before = len(site.printer.jobs)
        service_button(page, "General").tap()
        expect(page.locator("#fault")).to_be_visible()
        number = page.locator("#ticket-number").inner_text()
        expect(page.locator("#fault-note")).to_contain_text(number)
        (kiosk,) = [d for d in site.get("/api/v1/devices") if d["kind"] == "kiosk"]
        assert kiosk["status"]["printer"] == "paper_out" and kiosk["status"]["spooled_slips"] == 1
    finally:
        site.printer.paper = "ok"
    jobs = site.printer.wait_for_jobs(jobs_before + 1, timeout=30)  # the spool prints it once paper is back
    assert number.encode() in jobs[-1]


def test_priority_category_chosen_on_the_tablet_is_recorded(site: Site, tablet: Any) -> None:
    admin = site.auth("admin")
    branch = site.get("/api/v1/branch")
    categories = [
        {"key": "pregnant", "label": {"en": "Pregnant", "fr": "Enceinte"}, "on_kiosk": True},
        {"key": "vip", "label": "VIP", "on_kiosk": False},
    ]
    settings = {**branch["settings"], "priority_categories": categories}
    site.http.patch("/api/v1/branch", json={"settings": settings}, headers=admin).raise_for_status()
    (kiosk,) = [d for d in site.get("/api/v1/devices") if d["kind"] == "kiosk"]
    config = {**(kiosk.get("config") or {}), "allow_priority": True}
    site.http.patch(f"/api/v1/devices/{kiosk['id']}", json={"config": config}, headers=admin).raise_for_status()
    try:
        page = tablet()
        page.locator("#priority").tap()
        choices = page.locator("#priority-choices button")
        expect(choices).to_have_text(["I need priority (Pregnant)"])  # the staff-only one is not offered
        choices.first.tap()
        expect(page.locator("#priority-chosen")).to_have_text("Priority: Pregnant. Now choose a service")
        service_button(page, "General").tap()
        expect(page.locator("#screen-result")).to_be_visible()
        number = page.locator("#ticket-number").inner_text()
        queue = site.get("/api/v1/queue")
        (listed,) = [t for s in queue["services"] for t in s["tickets"] if t["number"] == number]
        assert listed["priority"] is True
        assert listed["priority_category"] == "pregnant" and listed["priority_label"] == "Pregnant"  # staff see why
        # The tablet's own cookie cannot give a category the branch lacks, nor a staff-only one: a clear 422.
        headers = {"X-Requested-With": "wins-kiosk"}
        for key, words in (("nobody", "Unknown priority category 'nobody'"), ("vip", "for staff to give")):
            body = {"service_id": site.data.services["A"], "priority_category": key}
            r = page.request.post("/api/v1/tickets", data=body, headers=headers)
            assert r.status == 422 and words in r.json()["detail"]
        # A category withdrawn while a customer has it chosen: the tablet says so and drops it (none left here).
        page.wait_for_timeout(1600)  # a tap right away would count as the tail of the last one
        page.locator("#screen-result").tap()
        page.locator("#priority").tap()
        page.locator("#priority-choices button").first.tap()
        only_staff = {**branch["settings"], "priority_categories": categories[1:]}
        site.http.patch("/api/v1/branch", json={"settings": only_staff}, headers=admin).raise_for_status()
        service_button(page, "General").tap()
        expect(page.locator("#notice")).to_have_text(
            "This priority is not offered here any more. Please choose again, or ask at the desk."
        )
        expect(page.locator("#priority-chosen")).to_be_hidden()
        expect(page.locator("#priority")).to_be_hidden()  # no category is offered on kiosks now
        # The browser logs the refused request itself; nothing else went wrong.
        assert page.errors == [
            "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
        ]
    finally:
        site.http.patch("/api/v1/branch", json={"settings": branch["settings"]}, headers=admin).raise_for_status()
        config["allow_priority"] = False
        site.http.patch(f"/api/v1/devices/{kiosk['id']}", json={"config": config}, headers=admin).raise_for_status()
