"""The counter workspace in a real browser: every action, live updates, two counters, reconnecting."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Site, open_workspace

pytestmark = pytest.mark.browser


def waiting_list(page: Page, service: str) -> Any:
    return page.locator(f'section.queue[data-service="{service}"] li')


def feedback(page: Page) -> Any:
    return page.locator("#feedback")


def test_counter_actions_show_their_result(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["1"])  # counter 1 calls General (A) then Payments (B)
    expect(page.locator("#counter-services")).to_have_text("Calls General, Payments")
    expect(page.locator('section.queue[data-service="Payments"]')).to_contain_text("No one is waiting for Payments.")

    # Tickets issued through the API appear without a reload.
    numbers = [site.issue("A")["number"] for _ in range(3)]
    expect(waiting_list(page, "General")).to_have_count(3)
    expect(waiting_list(page, "General").first).to_contain_text(numbers[0])
    expect(waiting_list(page, "General").first).to_contain_text("waiting just now")

    page.get_by_role("button", name="Call next").click()
    expect(feedback(page)).to_have_text(f"Called {numbers[0]} to counter 1.")
    expect(page.locator("#current-number")).to_have_text(numbers[0])
    expect(waiting_list(page, "General")).to_have_count(2)

    page.get_by_role("button", name="Recall").click()
    expect(feedback(page)).to_have_text(f"Called {numbers[0]} again.")
    expect(page.locator("#recall-count")).to_have_text("called 2 times")

    page.get_by_role("button", name="Start serving").click()
    expect(feedback(page)).to_have_text(f"Serving {numbers[0]}.")
    expect(page.locator("#current-detail")).to_contain_text("Serving")

    # A refused action is explained in words (the server decides, the page only reports).
    page.get_by_role("button", name="Start serving").click()
    expect(feedback(page)).to_contain_text(f"Cannot start ticket {numbers[0]}: it is serving")
    expect(feedback(page)).to_have_attribute("role", "alert")

    page.get_by_role("button", name="Done").click()
    expect(feedback(page)).to_have_text(f"{numbers[0]} is done.")

    # Keyboard only: N calls the next one, X marks it no-show.
    page.locator("body").press("n")
    expect(page.locator("#current-number")).to_have_text(numbers[1])
    page.locator("body").press("x")
    expect(feedback(page)).to_have_text(f"{numbers[1]} marked as no-show.")
    expect(page.locator("#current-number")).to_have_text("—")

    # Requeue puts the ticket back in the list; calling it by number takes it again.
    page.keyboard.press("n")
    expect(page.locator("#current-number")).to_have_text(numbers[2])
    # Keys pressed while an action is in flight wait their turn or are refused in words: test_typeahead.py.
    expect(feedback(page)).to_have_text(f"Called {numbers[2]} to counter 1.")
    page.keyboard.press("q")
    expect(feedback(page)).to_have_text(f"{numbers[2]} is back in the queue.")
    expect(waiting_list(page, "General")).to_have_count(1)
    page.keyboard.press("f")
    expect(page.get_by_label("Call ticket number")).to_be_focused()
    page.keyboard.type(numbers[2].lower())
    page.keyboard.press("Enter")
    expect(feedback(page)).to_have_text(f"Called {numbers[2]} to counter 1.")

    # Transfer to Payments through the dialog (T, choose, confirm).
    page.locator("body").press("t")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("To service").select_option(label="Payments")
    dialog.get_by_role("button", name="Transfer").click()
    expect(feedback(page)).to_have_text(f"{numbers[2]} sent to Payments.")
    expect(waiting_list(page, "Payments")).to_have_count(1)
    expect(waiting_list(page, "Payments").first).to_contain_text("transferred")

    # Call a specific ticket from the list with its own button.
    page.get_by_role("button", name=f"Call {numbers[2]}").click()
    expect(feedback(page)).to_have_text(f"Called {numbers[2]} to counter 1.")
    page.get_by_role("button", name="Done").click()
    expect(feedback(page)).to_have_text(f"{numbers[2]} is done.")

    # Nobody left: the answer says so in words.
    page.get_by_role("button", name="Call next").click()
    expect(feedback(page)).to_have_text("No one is waiting for General or Payments.")

    # The counter is remembered: a new page load sits at counter 1 again.
    page.reload()
    expect(page.locator("#counter")).to_have_value(str(site.data.counters["1"]))
    expect(page.locator("#desk")).to_be_visible()


def test_two_counters_never_get_the_same_ticket(site: Site, new_context: Any) -> None:
    one, two = new_context().new_page(), new_context().new_page()
    open_workspace(one, "staff", site.data.counters["1"])  # General, Payments
    open_workspace(two, "staff2", site.data.counters["2"])  # General, Documents
    numbers = [site.issue("A")["number"] for _ in range(8)]
    for page in (one, two):
        expect(waiting_list(page, "General")).to_have_count(8)

    one.get_by_role("button", name="Call next").click()
    expect(one.locator("#current-number")).to_have_text(numbers[0])
    started = time.monotonic()
    expect(two.locator(f'li[data-ticket="{numbers[0]}"]')).to_have_count(0, timeout=1000)
    assert time.monotonic() - started < 1.0

    called: list[str] = [numbers[0]]
    for _ in range(3):
        for page in (one, two):
            page.evaluate("document.getElementById('feedback').textContent = ''")
        # Both counters press "Call next" at the same moment.
        one.evaluate("document.getElementById('call-next').click()")
        two.evaluate("document.getElementById('call-next').click()")
        got = []
        for page in (one, two):
            expect(page.locator("#feedback")).to_have_text(re.compile(r"^Called A\d+ to counter \d\.$"))
            number = page.locator("#feedback").inner_text().split()[1]
            expect(page.locator("#current-number")).to_have_text(number)
            got.append(number)
        a, b = got
        assert a != b
        called += [a, b]
        for page in (one, two):  # each sees the other's call vanish from its list
            for number in (a, b):
                expect(page.locator(f'li[data-ticket="{number}"]')).to_have_count(0, timeout=1000)
    assert len(called) == len(set(called)) == 7
    assert sorted(called) == sorted(numbers[:7])
    held = {c["name"]: c["ticket"]["number"] for c in site.queue()["counters"] if c["ticket"]}
    assert held == {"1": called[-2], "2": called[-1]}
    for page in (one, two):  # leave the counters empty for the next test
        page.get_by_role("button", name="Done").click()
        expect(page.locator("#current-number")).to_have_text("—")


def test_reconnects_and_catches_up_after_a_restart(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["3"])  # Payments, General
    before = waiting_list(page, "Payments").count()

    site.server.stop(kill=True)  # a crash; a graceful stop also works but waits for the sockets' heartbeat
    expect(page.locator("#conn")).to_have_text("Connection lost — reconnecting…")
    expect(page.locator("#conn")).to_have_class(re.compile("conn-lost"))
    site.server.start()
    ticket = site.issue("B")  # happens while the page is still waiting to reconnect
    expect(page.locator("#conn")).to_have_text("Live", timeout=15000)
    expect(waiting_list(page, "Payments")).to_have_count(before + 1)
    expect(page.locator(f'li[data-ticket="{ticket["number"]}"]')).to_be_visible()

    # And it keeps following the stream on the new connection.
    second = site.issue("B")
    expect(page.locator(f'li[data-ticket="{second["number"]}"]')).to_be_visible(timeout=2000)


def test_kiosk_printer_status_is_visible(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["4"])
    expect(page.locator("#kiosks")).to_contain_text("kiosk — no report yet")
    r = site.http.post(
        "/api/v1/devices/me/status", json={"status": {"printer": "paper_out"}}, headers=site.auth("kiosk")
    )
    assert r.status_code == 200, r.text
    expect(page.locator("#kiosks li.warn")).to_have_text("kiosk — printer: paper out")


def test_signing_out_in_another_tab_shows_signed_out_and_stops(site: Site, new_context: Any) -> None:
    context = new_context()
    page = context.new_page()
    open_workspace(page, "staff2", site.data.counters["2"])
    sockets: list[Any] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    other = context.new_page()
    other.goto("/logout")
    other.get_by_role("button", name="Sign out").click()
    expect(page.locator("#conn")).to_have_text("Signed out — reload the page to sign in again", timeout=5000)
    expect(page.locator("#conn")).to_have_class(re.compile("conn-ended"))
    time.sleep(2)  # room for a reconnect attempt, if there were one
    assert sockets == []  # it stopped: no new socket after the sign-in ended
