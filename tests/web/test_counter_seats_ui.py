"""Counters never strand a customer, in the browser (issue 13): the workspace asks in a real dialog what happens to
a ticket still at the counter (keyboard: focus moves in, Esc changes nothing), confirms a takeover and tells the
colleague whose counter was taken; the dashboard lists stranded tickets with working Requeue/Reassign buttons; a
manager finds a ticket's whole story on the reports' "Find a ticket" page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from tests.web.conftest import Site, open_workspace, sign_in
from wins.config import Settings
from wins.counters.models import Counter
from wins.db import Database

pytestmark = pytest.mark.browser


def _ticket(site: Site, ticket_id: int) -> Any:
    return site.get(f"/api/v1/tickets/{ticket_id}", "manager")


def test_leaving_with_a_ticket_asks_in_a_dialog(site: Site, new_context: Any, tmp_path: Path) -> None:
    page = new_context().new_page()
    c = site.data.counters
    open_workspace(page, "staff", c["1"])
    ticket = site.issue("A")
    page.get_by_role("button", name="Call next").click()
    expect(page.locator("#current-number")).to_have_text(ticket["number"])

    # Choosing another counter: the dialog names the ticket; focus is inside; Esc changes nothing.
    page.get_by_label("Your counter", exact=True).select_option(str(c["2"]))
    page.get_by_role("button", name="Sit here").click()  # choosing is deliberate (issue 16)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"ticket {ticket['number']} (called) at counter 1")
    expect(page.get_by_label("Done: the visit is finished")).to_be_focused()
    page.screenshot(path=str(tmp_path / "seat-dialog.png"))
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#feedback")).to_contain_text("Nothing changed.")
    expect(page.locator("#current-number")).to_have_text(ticket["number"])
    assert _ticket(site, ticket["id"])["status"] == "called"

    # Leave counter, by keyboard: requeue the customer.
    page.get_by_role("button", name="Leave counter").click()
    expect(dialog).to_be_visible()
    page.keyboard.press("ArrowDown")  # from "Done" to "Requeue" in the radio group
    expect(page.get_by_label("Requeue: back to the front of the queue")).to_be_checked()
    page.keyboard.press("Enter")
    expect(page.locator("#feedback")).to_have_text("You left counter 1.")
    expect(page.locator("#desk")).to_be_hidden()
    moved = _ticket(site, ticket["id"])
    assert (moved["status"], moved["position"]) == ("waiting", 1)


def test_a_takeover_is_confirmed_and_the_colleague_is_told(site: Site, new_context: Any) -> None:
    c = site.data.counters
    first = new_context().new_page()
    open_workspace(first, "staff2", c["3"])
    second = new_context().new_page()
    sign_in(second, "manager", next_path="/staff")
    second.get_by_label("Your counter", exact=True).select_option(str(c["3"]))
    second.get_by_role("button", name="Sit here").click()  # choosing is deliberate (issue 16)
    dialog = second.get_by_role("dialog")
    expect(dialog).to_contain_text("Counter 3 is taken: staff2 sits there.")
    confirm = second.get_by_role("button", name="Take over the counter")
    expect(confirm).to_be_focused()
    confirm.press("Enter")
    expect(second.locator("#feedback")).to_have_text("You are at counter 3.")

    notice = first.locator("#seat-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Counter 3 was taken over by manager")
    expect(first.locator("#desk")).to_be_hidden()
    first.get_by_role("button", name="OK").click()
    expect(first.get_by_label("Your counter", exact=True)).to_be_focused()


def test_the_dashboard_lists_stranded_tickets_and_fixes_them(site: Site, new_context: Any) -> None:
    c = site.data.counters
    one, two = site.issue("C"), site.issue("C")
    assert site.call_next("4", "staff2")["id"] == one["id"]
    # staff2's counter loses its occupant as a database from before this release could leave it.
    settings = Settings(database_url=site.server.env["WINS_DATABASE_URL"], secret_key="w" * 40)
    db = Database(settings)
    with db.session() as session:
        session.execute(update(Counter).where(Counter.id == c["4"]).values(staff_id=None, opened_at=None))
    db.dispose()
    site.post(f"/api/v1/counters/{c['2']}/open", "admin")

    page = new_context().new_page()
    sign_in(page, "manager", next_path="/dashboard")
    row = page.locator(f'#stranded-table tr[data-number="{one["number"]}"]')
    expect(row).to_contain_text("Nobody sits at counter 4 any more")
    row.get_by_label(f"Reassign {one['number']} to", exact=True).select_option(str(c["2"]))
    row.get_by_role("button", name=f"Reassign {one['number']} to the chosen counter").click()
    expect(page.locator("#stranded-feedback")).to_have_text(f"{one['number']} is called to counter 2.")
    expect(page.locator("#stranded")).to_have_count(0)
    handed = _ticket(site, one["id"])
    assert (handed["status"], handed["counter_name"]) == ("called", "2")
    assert two["id"] != one["id"]


def test_find_a_ticket_shows_its_whole_story(site: Site, new_context: Any) -> None:
    ticket = site.issue("B")
    site.post(f"/api/v1/counters/{site.data.counters['1']}/open", "staff2", json={"take_over": True})
    site.post(f"/api/v1/counters/{site.data.counters['1']}/call/{ticket['id']}", "staff2")
    site.act(ticket["id"], "complete", "staff2")

    page = new_context().new_page()
    sign_in(page, "manager", next_path="/reports")
    page.get_by_role("link", name="Find a ticket").first.click()
    page.get_by_label("Ticket number").fill(ticket["number"].lower())
    page.get_by_label("Business day").fill(ticket["business_day"])
    page.get_by_role("button", name="Show its story").click()
    story = page.locator("section.ticket-story")
    expect(story).to_contain_text("Issued at the kiosk kiosk")
    expect(story.locator("tr[data-step]")).to_have_count(3)
    expect(story.locator('tr[data-step="ticket.called"]')).to_contain_text("Called to counter 1")
    expect(story.locator('tr[data-step="ticket.called"]')).to_contain_text("staff2")
    expect(story.locator('tr[data-step="ticket.done"]')).to_contain_text("staff2")

    page.get_by_label("Ticket number").fill("Z999")
    page.get_by_role("button", name="Show its story").click()
    expect(page.locator("#history-error")).to_contain_text("No ticket Z999")


def test_signing_out_with_a_customer_at_the_counter_asks_first(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff2", site.data.counters["1"])  # where the story test left staff2 seated
    site.issue("A")
    page.get_by_role("button", name="Call next").click()
    expect(page.locator("#feedback")).to_contain_text("to counter 1.")
    number = page.locator("#current-number").inner_text()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#logout-error")).to_contain_text(f"Signing out would strand ticket {number}")
    page.get_by_label("Requeue: back to the front of the queue").check()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    general = next(s for s in site.queue()["services"] if s["name"] == "General")
    assert general["tickets"][0]["number"] == number  # back at the front of its queue
