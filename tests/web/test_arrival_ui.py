"""Arrival check-in in Chromium (issue 17): the manager's form for a service's phone settings, and "I'm here" on
the customer's phone: typed from the screen's code, and from the waiting room's QR code (its link carries the key)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Site, sign_in
from wins.config import Settings
from wins.join import service as join

pytestmark = pytest.mark.browser
SECRET = "w" * 40  # the site fixture's secret key
MINUTES = Settings.model_fields["join_key_minutes"].default


@pytest.fixture(scope="module", autouse=True)
def _phones_may_join_often() -> Iterator[None]:
    """The live server (started after this, autouse first) lets one address take more phone tickets: every phone
    of these tests is 127.0.0.1."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WINS_JOIN_PER_CLIENT_PER_HOUR", "100")
        yield


def code() -> str:
    return join.short_code(SECRET, 1, minutes=MINUTES)


def key() -> str:
    return join.join_key(SECRET, 1, minutes=MINUTES)


def arrival_on(site: Site, prefix: str) -> None:
    body = {"notify_ahead": 3, "remote_daily_cap": None, "arrival_checkin": True, "checkin_grace_minutes": 10}
    r = site.http.put(f"/api/v1/services/{site.data.services[prefix]}/remote", json=body, headers=site.auth("manager"))
    assert r.status_code == 200, r.text


def take_ticket(page: Page, service: str) -> str:
    """Join from the phone's browser; the ticket's number (the page lands on its tracking page)."""
    page.goto("/join")
    page.get_by_role("button", name=f"Take a ticket for {service}").click()
    page.wait_for_url("**/t/*")
    return page.locator("#number").inner_text()


def test_manager_sets_arrival_check_in_on_the_services_page(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "manager", next_path="/admin/services")
    page.get_by_label("Payments: phone tickets are called only after the customer checks in on arrival").check()
    page.get_by_label("Payments: minutes a ticket at the front may wait for check-in").fill("7")
    page.get_by_label("Payments: tickets from phones per day").fill("40")
    page.get_by_role("button", name="Save phone settings of Payments").click()
    expect(page.get_by_role("status")).to_have_text("Phone settings of Payments saved.")
    saved = site.get(f"/api/v1/services/{site.data.services['B']}/remote", "manager")
    assert saved == {"service_id": site.data.services["B"], "notify_ahead": 3, "remote_daily_cap": 40,
                     "arrival_checkin": True, "checkin_grace_minutes": 7}  # fmt: skip
    expect(page.get_by_label("Payments: minutes a ticket at the front may wait for check-in")).to_have_value("7")
    # switched off again: the box stays unticked after saving
    page.get_by_label("Payments: phone tickets are called only after the customer checks in on arrival").uncheck()
    page.get_by_role("button", name="Save phone settings of Payments").click()
    expect(page.get_by_role("status")).to_have_text("Phone settings of Payments saved.")
    assert site.get(f"/api/v1/services/{site.data.services['B']}/remote", "manager")["arrival_checkin"] is False
    # a reception account cannot reach the form
    other = new_context().new_page()
    sign_in(other, "reception", next_path="/admin/services")
    expect(other.get_by_role("button", name="Save phone settings of Payments")).to_have_count(0)


def test_the_customer_taps_im_here_with_the_code_on_the_screen(site: Site, new_context: Any) -> None:
    arrival_on(site, "C")
    phone = new_context().new_page()
    number = take_ticket(phone, "Documents")
    expect(phone.locator("#checkin-box")).to_be_visible()
    expect(phone.locator("#checkin-text")).to_contain_text("called only after you tap")
    # someone on site behind them is called first; the phone says so, live
    behind = site.issue("C")
    assert site.call_next("4")["number"] == behind["number"]
    expect(phone.locator("#checkin-text")).to_contain_text("we are calling the next person")
    wrong = "000001" if code() != "000001" else "000002"
    phone.get_by_label("Code shown on the waiting-room screen").fill(wrong)
    phone.get_by_role("button", name="I'm here").click()
    expect(phone.locator("#checkin-error")).to_contain_text("Type the 6-digit code shown now on the screen")
    phone.get_by_label("Code shown on the waiting-room screen").fill(code())
    phone.get_by_role("button", name="I'm here").click()
    expect(phone.locator("#checkin-done")).to_have_text("You are checked in: your ticket will be called in its turn.")
    expect(phone.locator("#checkin-box")).to_be_hidden()
    assert site.call_next("4")["number"] == number
    expect(phone.locator("#alert")).to_be_visible()


def test_scanning_the_waiting_rooms_qr_code_checks_in_the_phones_ticket(site: Site, new_context: Any) -> None:
    arrival_on(site, "C")
    phone = new_context().new_page()
    number = take_ticket(phone, "Documents")
    # the QR code on the display board opens /join?k=<key> in the same phone browser
    phone.goto(f"/join?k={key()}")
    phone.get_by_role("button", name=f"I'm here — check in {number}").click()
    phone.wait_for_url("**/t/*")
    expect(phone.locator("#checkin-done")).to_be_visible()
    # a ticket's own link with the key (?k=) checks it in too, and the key leaves the address bar
    other = new_context().new_page()
    take_ticket(other, "Documents")
    other.goto(other.url + f"?k={key()}")
    expect(other.locator("#checkin-done")).to_be_visible()
    assert "k=" not in other.url


def test_reception_marks_a_phone_ticket_arrived_from_the_queue(site: Site, new_context: Any) -> None:
    arrival_on(site, "C")
    phone = new_context().new_page()
    number = take_ticket(phone, "Documents")
    desk = new_context().new_page()
    sign_in(desk, "reception", next_path="/staff")
    row = desk.locator(f"li[data-ticket='{number}']")
    expect(row).to_contain_text("not here yet")
    desk.get_by_role("button", name=f"{number} has arrived (check in)").click()
    expect(desk.locator("#issue-result")).to_have_text(f"{number} checked in: it is called in its turn.")
    expect(row).not_to_contain_text("not here yet")
    expect(phone.locator("#checkin-done")).to_be_visible()  # the phone hears it live


def test_switching_check_in_off_updates_open_phones_and_the_staff_queue_live(site: Site, new_context: Any) -> None:
    arrival_on(site, "C")
    phone = new_context().new_page()
    number = take_ticket(phone, "Documents")
    expect(phone.locator("#checkin-box")).to_be_visible()
    desk = new_context().new_page()
    sign_in(desk, "reception", next_path="/staff")
    row = desk.locator(f"li[data-ticket='{number}']")
    expect(row).to_contain_text("not here yet")
    # The manager switches check-in off: neither page is reloaded, both hear it on their event streams.
    body = {"notify_ahead": 3, "remote_daily_cap": None, "arrival_checkin": False, "checkin_grace_minutes": 10}
    r = site.http.put(f"/api/v1/services/{site.data.services['C']}/remote", json=body, headers=site.auth("manager"))
    assert r.status_code == 200, r.text
    expect(phone.locator("#checkin-box")).to_be_hidden()
    expect(phone.locator("#checkin-done")).to_be_hidden()
    expect(row).not_to_contain_text("not here yet")
    expect(desk.get_by_role("button", name=f"{number} has arrived (check in)")).to_have_count(0)
