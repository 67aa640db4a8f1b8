"""The display board and the tracking page in real Chromium against a live server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.display.conftest import PHONE, Site
from wins.auth import Principal
from wins.counters.seating import HeldChoice
from wins.db import Database
from wins.devices.models import Device, DeviceKind
from wins.staff.models import StaffUser
from wins.tickets import calling, issuing

pytestmark = pytest.mark.browser

ANNOUNCEMENTS = "() => window.winsAnnouncements.map(a => ({...a}))"


def open_display(context_factory: Any, site: Site, device_id: int | None = None) -> Page:
    page: Page = context_factory(site.url).new_page()
    page.goto(site.pairing_link(device_id))
    assert page.url.endswith("/display")  # the pairing code left the address bar
    page.wait_for_function("() => window.winsDisplay && window.winsDisplay.state.live")
    expect(page.locator("#conn")).to_be_hidden()
    return page


def announcements(page: Page) -> list[dict[str, Any]]:
    return list(page.evaluate(ANNOUNCEMENTS))


def wait_announced(page: Page, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Wait until `count` announcements have finished; return the log."""
    page.wait_for_function(
        f"() => window.winsAnnouncements.filter(a => a.end !== null).length >= {count}", timeout=timeout * 1000
    )
    return announcements(page)


def test_call_appears_within_a_second_and_is_announced(new_context: Any, site: Site) -> None:
    page = open_display(new_context, site)
    site.issue("A")
    before = time.monotonic()
    called = site.call_next("1")
    expect(page.locator("#hero-number")).to_have_text(called["number"], timeout=1000)
    page.wait_for_function(f"() => window.winsAnnouncements.some(a => a.ticket_id === {called['id']})", timeout=1000)
    assert time.monotonic() - before < 1.5
    expect(page.locator("#recent tr").first).to_contain_text(called["number"])
    expect(page.locator("#hero")).to_have_class("hero flash")
    (entry,) = wait_announced(page, 1)
    assert entry["number"] == called["number"] and entry["counter"] == "1"
    kinds = [(p["kind"], p.get("lang"), p.get("via"), p["ok"]) for p in entry["parts"]]
    assert kinds == [("chime", None, None, True), ("speech", "en", "server", True)]
    assert entry["end"] - entry["start"] > 2500  # chime 1.5 s + the sentence: really played, not skipped


def test_two_quick_calls_are_announced_in_order_neither_cut(new_context: Any, site: Site) -> None:
    page = open_display(new_context, site)
    site.issue("A")
    site.issue("B")
    first = site.call_next("1")
    second = site.call_next("3", "staff2")  # a colleague: staff still holds the first one at counter 1
    log = wait_announced(page, 2, timeout=30)
    assert [a["ticket_id"] for a in log] == [first["id"], second["id"]]
    a, b = log
    assert b["start"] >= a["end"], "the second announcement started before the first had finished"
    assert all(p["ok"] for p in a["parts"] + b["parts"])
    assert b["queued_at"] < a["end"]  # it really waited in the queue
    # A recall is announced again.
    site.act(second["id"], "recall")
    log = wait_announced(page, 3)
    assert log[2]["ticket_id"] == second["id"] and log[2]["type"] == "ticket.recalled"


def test_display_shows_only_its_services(new_context: Any, site: Site) -> None:
    body = {"name": "Payments screen", "kind": "display", "config": {"services": [site.data.services["B"]]}}
    r = site.http.post("/api/v1/devices", json=body, headers=site.auth("admin"))
    assert r.status_code == 201, r.text
    page = open_display(new_context, site, r.json()["id"])
    site.issue("A")
    site.issue("B")
    a = site.call_next("1")  # counter 1 serves A first
    b = site.call_next("3", "staff2")  # counter 3 serves B first
    assert (a["service_id"], b["service_id"]) == (site.data.services["A"], site.data.services["B"])
    wait_announced(page, 1)
    time.sleep(0.5)
    assert [x["ticket_id"] for x in announcements(page)] == [b["id"]]
    expect(page.locator("#hero-number")).to_have_text(b["number"])


DONE = HeldChoice("complete")


def _call_offline(site: Site, prefix: str, counter: str) -> str:
    """Issue and call a ticket straight through the service code while the server is down."""
    db = Database(site.settings)
    try:
        with db.session() as session:
            kiosk = session.scalar(select(Device).where(Device.kind == DeviceKind.kiosk))
            staff = session.scalar(select(StaffUser).where(StaffUser.username == "staff"))
            issuing.issue_ticket(session, service_id=site.data.services[prefix], actor=Principal(device=kiosk))
            # The ticket staff held at their last counter is done (moving on with it held is refused, issue 13).
            called = calling.call_next(
                session, counter_id=site.data.counters[counter], actor=Principal(staff=staff), choice=DONE
            )
            assert called is not None
            return called.number
    finally:
        db.dispose()


def test_display_reconnects_after_a_server_restart_missing_nothing(new_context: Any, make_site: Any) -> None:
    site: Site = make_site()
    page = open_display(new_context, site)
    site.issue("A")
    before = site.call_next("1")
    wait_announced(page, 1)
    site.server.stop(kill=True)  # a crash or power cut: no goodbye to the open WebSocket
    expect(page.locator("#conn")).to_be_visible(timeout=5000)  # the discreet "reconnecting" mark
    offline = [_call_offline(site, "A", "2"), _call_offline(site, "B", "3")]
    site.server.start()
    site.issue("C")
    after = site.post(f"/api/v1/counters/{site.data.counters['4']}/call-next", json={"held_ticket": "complete"})
    expected = [before["number"], *offline, after["number"]]
    wait_announced(page, 4, timeout=40)
    expect(page.locator("#conn")).to_be_hidden()
    time.sleep(1.5)  # room for a duplicate to show up, if there were one
    log = announcements(page)
    assert [a["number"] for a in log] == expected
    assert len({a["event_id"] for a in log}) == len(log)
    starts_ends = [(a["start"], a["end"]) for a in log]
    assert all(s2 >= e1 for (_, e1), (s2, _) in zip(starts_ends, starts_ends[1:], strict=False))


def test_tracking_page_shows_position_then_the_call(new_context: Any, make_site: Any) -> None:
    site: Site = make_site()
    site.issue("C")
    mine = site.issue("C")
    phone = new_context(site.url, viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    phone.goto(mine["tracking_url"].replace(site.url, ""))
    expect(phone.locator("#number")).to_have_text(mine["number"])
    expect(phone.locator("#position")).to_have_text("2")
    expect(phone.locator("#ahead")).to_have_text("1 person before you")
    expect(phone.locator("#wait")).to_contain_text("min")
    expect(phone.locator("#alert")).to_be_hidden()
    site.call_next("4", "manager")  # the ticket ahead
    expect(phone.locator("#position")).to_have_text("1", timeout=3000)
    expect(phone.locator("#ahead")).to_have_text("You are next")
    site.call_next("4", "manager")  # mine
    expect(phone.locator("#alert")).to_be_visible(timeout=3000)
    expect(phone.locator("#alert-text")).to_have_text("Please go to")
    expect(phone.locator("#alert-counter")).to_have_text("Counter 4")
    expect(phone.locator("#waiting-box")).to_be_hidden()
    expect(phone.locator("#leave")).to_be_hidden()
    alerts = phone.evaluate("() => window.winsTracking.alerts")
    assert len(alerts) == 1 and alerts[0]["counter"] == "4"
    phone.wait_for_function("() => window.winsTracking.alerts[0].sound !== 'pending'")
    assert phone.evaluate("() => window.winsTracking.alerts[0].sound") == "played"


def test_tracking_page_leave_cancels_the_ticket(new_context: Any, make_site: Any) -> None:
    site: Site = make_site()
    ticket = site.issue("B")
    phone = new_context(site.url, viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    phone.goto(f"/t/{ticket['tracking_token']}")
    phone.get_by_role("button", name="I'm leaving").click()
    expect(phone.locator("#confirm")).to_be_visible()
    phone.locator("#confirm-no").click()
    expect(phone.locator("#confirm")).to_be_hidden()
    r = site.http.get(f"/api/v1/public/tickets/{ticket['tracking_token']}")
    assert r.json()["status"] == "waiting"
    phone.get_by_role("button", name="I'm leaving").click()
    phone.locator("#confirm-yes").click()
    expect(phone.locator("#state-text")).to_have_text("You have left the queue. Thank you for letting us know.")
    assert site.http.get(f"/api/v1/public/tickets/{ticket['tracking_token']}").json()["status"] == "cancelled"
    missing = phone.goto("/t/no-such-ticket-token")
    assert missing is not None and missing.status == 404
    expect(phone.get_by_role("heading")).to_have_text("Ticket not found")


def test_display_shows_not_paired_once_revoked_while_open(new_context: Any, make_site: Any) -> None:
    site: Site = make_site(stream_recheck_seconds=300)  # only the revoke's own signal can act in time
    body = {"name": "Lobby screen", "kind": "display"}
    device = site.http.post("/api/v1/devices", json=body, headers=site.auth("admin")).json()
    page = open_display(new_context, site, device["id"])
    r = site.http.post(f"/api/v1/devices/{device['id']}/revoke", headers=site.auth("admin"))
    assert r.status_code == 200
    # The open socket is closed (4401), the page asks for a new ticket, gets 401, reloads: "not paired".
    expect(page.locator("body")).to_contain_text("Display not paired", timeout=5000)
    assert page.url.endswith("/display")
    assert not any(c["name"] == "wins_display" for c in page.context.cookies())
