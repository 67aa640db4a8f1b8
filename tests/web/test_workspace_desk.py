"""The counter workspace's all-day details in Chromium (issue 16): whom "Call next" takes, Undo (on a server whose
undo window is 3 s), time since the call and the recall count, pausing, reception issuing with a priority category,
wait-target warnings, keyboard and focus, shortcuts that can be turned off, and a focus ring that survives
forced-colours mode."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from tests.support.databases import TemplateCache
from tests.support.seed import seed
from tests.support.server import LiveServer
from tests.web.conftest import Site, open_workspace, sign_in
from wins import clock
from wins.config import Settings
from wins.db import Database
from wins.tickets.models import Ticket

pytestmark = pytest.mark.browser

UNDO_SECONDS = 3
# WINS_SCREENSHOTS=1 also writes the documentation's screenshots (docs/screenshots/staff-*.png) on the way.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TAKE_SCREENSHOTS = os.environ.get("WINS_SCREENSHOTS") == "1"
CATEGORIES = [
    {"key": "elderly", "label": "Over 75", "weight": 5},
    {"key": "urgent", "label": "Urgent", "weight": 10, "on_kiosk": False},
]


@pytest.fixture(scope="module")
def site(templates: TemplateCache, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """This module's own server: the conftest's, with a 3 s undo window (so the window's end is seen quickly)."""
    tmp: Path = tmp_path_factory.mktemp("desk")
    with templates.database("sqlite", tmp) as url:
        settings = Settings(database_url=url, data_dir=tmp / "data", secret_key="d" * 40, log_level="WARNING")
        data = seed(settings)
        env = {
            "WINS_DATABASE_URL": url,
            "WINS_SECRET_KEY": settings.secret_key,
            "WINS_DATA_DIR": str(settings.data_dir),
            "WINS_EVENT_POLL_SECONDS": "0.5",
            "WINS_LOG_LEVEL": "WARNING",
            "WINS_UNDO_SECONDS": str(UNDO_SECONDS),
        }
        # A generous start: on a loaded 2-core box the first start can take most of a minute.
        server = LiveServer(env, log_path=tmp / "server.log").start(timeout=120)
        try:
            with httpx.Client(base_url=server.url) as http:
                site = Site(server, data, http)
                site.http.patch(
                    "/api/v1/branch",
                    json={"settings": {"priority_categories": CATEGORIES}},
                    headers=site.auth("manager"),
                ).raise_for_status()
                site.settings = settings  # type: ignore[attr-defined]
                yield site
        finally:
            server.stop(kill=True)


@pytest.fixture(autouse=True)
def _empty_queue(site: Site) -> Iterator[None]:
    yield
    # Each test leaves no waiting or held ticket and no paused counter behind (they share one server).
    for counter in site.queue()["counters"]:
        if counter["ticket"]:
            site.act(counter["ticket"]["id"], "complete", who="admin")
        if counter["is_paused"]:
            site.post(f"/api/v1/counters/{counter['id']}/resume", who="admin")
    for service in site.queue()["services"]:
        for ticket in service["tickets"]:
            site.act(ticket["id"], "cancel", who="admin")


def backdate(site: Site, ticket_id: int, minutes: int) -> None:
    """The ticket was issued `minutes` ago (a long wait, without waiting for it)."""
    db = Database(site.settings)  # type: ignore[attr-defined]
    try:
        with db.session() as session:
            then = clock.utcnow() - timedelta(minutes=minutes)
            session.execute(update(Ticket).where(Ticket.id == ticket_id).values(issued_at=then, queue_at=then))
    finally:
        db.dispose()


def feedback(page: Page) -> Any:
    return page.locator("#feedback")


def focused_id(page: Page) -> str:
    return str(
        page.evaluate("document.activeElement ? (document.activeElement.id || document.activeElement.tagName) : ''")
    )


# -- whom call-next takes -------------------------------------------------------------------------------


def test_next_marker_shows_the_priority_ticket_of_the_second_service_group(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["1"])  # General (A) first, then Payments (B)
    plain = site.issue("A")
    priority = site.issue("B", who="staff", priority_category="elderly")
    marked = page.locator("li.is-next")
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-ticket", priority["number"])
    expect(marked).to_contain_text("Next")
    expect(marked).to_contain_text("Over 75")
    expect(page.locator("#next-up")).to_have_text(f"Next: {priority['number']} · Payments · priority: Over 75")
    page.keyboard.press("n")
    expect(feedback(page)).to_have_text(f"Called {priority['number']} to counter 1.")
    expect(page.locator("li.is-next")).to_have_attribute("data-ticket", plain["number"])
    if TAKE_SCREENSHOTS:
        site.issue("A")
        site.issue("C")
        page.keyboard.press("r")
        expect(page.locator("#recall-count")).to_have_text("called 2 times")
        page.screenshot(path=str(SCREENSHOTS / "staff-workspace.png"))


# -- undo ----------------------------------------------------------------------------------------------


def test_undo_with_the_key_and_the_window_closing(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["2"])
    ticket = site.issue("A")
    page.keyboard.press("n")
    expect(page.locator("#current-number")).to_have_text(ticket["number"])
    page.keyboard.press("x")
    expect(feedback(page)).to_have_text(f"{ticket['number']} marked as no-show.")
    toast = page.locator("#undo-toast")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text(f"{ticket['number']} marked as no-show.")
    page.keyboard.press("u")
    expect(feedback(page)).to_have_text(f"Undone: {ticket['number']} is back at your counter (called).")
    expect(page.locator("#current-number")).to_have_text(ticket["number"])
    expect(toast).to_be_hidden()
    assert site.get(f"/api/v1/tickets/{ticket['id']}")["status"] == "called"

    # Done, then let the window pass: the offer goes away, and U answers in words.
    page.get_by_role("button", name="Done").click()
    expect(toast).to_be_visible()
    expect(toast).to_be_hidden(timeout=(UNDO_SECONDS + 5) * 1000)
    page.keyboard.press("u")
    expect(feedback(page)).to_contain_text("There is nothing to undo right now")
    assert site.get(f"/api/v1/tickets/{ticket['id']}")["status"] == "done"
    # The server refuses too (the page cannot be tricked into a late undo).
    late = site.post(f"/api/v1/tickets/{ticket['id']}/undo", expect=409)
    assert "Too late to undo" in late["detail"]


# -- time since the call, recall count ------------------------------------------------------------------


def test_time_since_the_call_and_the_recall_count(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["3"])
    ticket = site.issue("B")
    page.get_by_role("button", name="Call next").click()
    expect(page.locator("#called-ago")).to_have_text("Called just now")
    expect(page.locator("#recall-count")).to_be_hidden()
    page.get_by_role("button", name="Recall").click()
    page.get_by_role("button", name="Recall").click()
    expect(page.locator("#recall-count")).to_have_text("called 3 times")
    expect(page.locator("#recall-count")).to_be_visible()
    # The wording as time passes (the same function the 5 s redraw uses).
    words = page.evaluate("[125, 3725].map((s) => WinsDesk.ago(new Date(Date.now() - s * 1000).toISOString(), 0))")
    assert words == ["2 min ago", "1 h 02 min ago"]
    site.act(ticket["id"], "complete")


# -- pause ---------------------------------------------------------------------------------------------


def test_pause_stops_calls_and_says_why(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["4"])
    site.issue("C")
    page.get_by_label("Pause", exact=True).select_option("break")
    page.get_by_role("button", name="Pause this counter").click()
    banner = page.locator("#paused-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Paused (break, since just now)")
    expect(page.get_by_role("button", name="Resume taking customers")).to_be_focused()
    expect(page.locator("#next-up")).to_have_text("Paused: resume to call the next customer.")
    page.locator("body").press("n")  # a key with nothing it may do answers in words
    expect(feedback(page)).to_have_text("Counter 4 is paused (break). Resume it to call customers.")
    assert site.queue()["counters"][3]["ticket"] is None

    manager = new_context().new_page()
    sign_in(manager, "manager", next_path="/dashboard")
    expect(manager.locator("#counter-table")).to_contain_text("paused: break")
    expect(manager.locator("#tile-open")).to_be_visible()

    page.get_by_role("button", name="Resume taking customers").press("Enter")
    expect(feedback(page)).to_have_text("Counter resumed: call the next customer when ready.")
    expect(page.locator("#call-next")).to_be_focused()
    expect(manager.locator("#counter-table")).not_to_contain_text("paused")


# -- reception -------------------------------------------------------------------------------------------


def test_reception_issues_with_a_priority_category_and_cannot_call(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "reception", next_path="/staff")
    expect(page).to_have_title(re.compile("^Reception"))
    expect(page.get_by_role("button", name="Call next")).to_have_count(0)
    expect(page.locator("#counter")).to_have_count(0)
    page.get_by_label("Service", exact=True).select_option(label="Payments")
    page.get_by_label("Priority").select_option(label="Urgent")
    page.get_by_role("button", name="Issue ticket").click()
    result = page.locator("#issue-result")
    expect(result).to_contain_text(re.compile(r"^Issued B\d{3} \(Urgent\) for Payments: 0 ahead\."))
    # No printer on this server: the page says so, and what to do instead.
    no_slip = re.compile("(Slip not printed|prints no slips).*tell the customer their number", re.I)
    expect(result).to_contain_text(no_slip)
    number = result.inner_text().split()[1]
    row = page.locator(f'li[data-ticket="{number}"]')
    expect(row).to_contain_text("Urgent")
    expect(row.get_by_role("button")).to_have_count(0)  # no Call button for reception
    expect(page.get_by_label("Priority")).to_have_value("")  # the next customer starts without priority
    # Keyboard: I jumps to the issuing form.
    page.locator("body").press("i")
    expect(page.get_by_label("Service", exact=True)).to_be_focused()
    if TAKE_SCREENSHOTS:
        page.screenshot(path=str(SCREENSHOTS / "staff-reception.png"))


# -- wait targets ------------------------------------------------------------------------------------------


def test_wait_target_warns_on_the_workspace_and_the_dashboard(site: Site, new_context: Any) -> None:
    service_id = site.data.services["C"]
    r = site.http.patch(
        f"/api/v1/services/{service_id}", json={"target_wait_minutes": 10}, headers=site.auth("manager")
    )
    assert r.status_code == 200, r.text
    try:
        ticket = site.issue("C")
        backdate(site, ticket["id"], 25)
        page = new_context().new_page()
        open_workspace(page, "staff2", site.data.counters["2"])  # General, Documents
        warning = page.locator('section.queue[data-service="Documents"] .over-target')
        expect(warning).to_have_text(re.compile(r"Longest wait 25 min: over the 10 min target\."))
        site.post(f"/api/v1/counters/{site.data.counters['2']}/pause", who="staff2", json={"reason": "paperwork"})
        manager = new_context().new_page()
        sign_in(manager, "manager", next_path="/dashboard")
        expect(manager.locator("#late-alert")).to_contain_text("Documents — longest wait 25 min")
        expect(manager.locator("#late-alert")).to_contain_text("1 counter paused.")
        expect(manager.locator("#counter-table")).to_contain_text("paused: paperwork")
        expect(manager.locator("#late-alert")).to_contain_text("(target 10 min)")
        if TAKE_SCREENSHOTS:
            manager.screenshot(path=str(SCREENSHOTS / "staff-dashboard.png"), full_page=True)
    finally:
        site.http.patch(
            f"/api/v1/services/{service_id}", json={"target_wait_minutes": None}, headers=site.auth("manager")
        ).raise_for_status()


# -- keyboard and focus ------------------------------------------------------------------------------------


def test_focus_stays_on_the_page_and_counter_choice_is_deliberate(site: Site, new_context: Any) -> None:
    other = new_context().new_page()
    open_workspace(other, "staff2", site.data.counters["3"])
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["1"])
    counter_list = page.get_by_label("Your counter", exact=True)
    expect(counter_list.locator("option", has_text="Counter 3")).to_have_text(
        re.compile(r"Counter 3 — taken by staff2")
    )
    expect(counter_list.locator("option", has_text="Counter 1")).to_have_text("Counter 1 — you")

    # Arrowing through the list seats you nowhere: only "Sit here" does.
    opened: list[str] = []
    page.on("request", lambda r: opened.append(r.url) if r.url.endswith("/open") else None)
    counter_list.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#counter-services")).to_have_text("Calls General, Payments")
    assert opened == []
    assert site.queue()["counters"][0]["staff_name"] == "staff"
    counter_list.select_option(str(site.data.counters["1"]))

    # Enter or Space on an action that leaves no ticket: focus goes to "Call next", never to the page body.
    ticket = site.issue("A")
    page.get_by_role("button", name="Call next").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#current-number")).to_have_text(ticket["number"])
    page.get_by_role("button", name="Done").focus()
    page.keyboard.press("Space")
    expect(feedback(page)).to_have_text(f"{ticket['number']} is done.")
    expect(page.locator("#call-next")).to_be_focused()
    assert focused_id(page) == "call-next"

    # A key with nothing to act on answers in words, in a live region.
    page.locator("body").press("d")
    expect(feedback(page)).to_have_text("There is no ticket at your counter. Call one first.")
    expect(feedback(page)).to_have_attribute("role", "alert")


def test_single_letter_shortcuts_can_be_turned_off_and_it_is_remembered(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff2", site.data.counters["2"])
    ticket = site.issue("A")
    page.get_by_text("Keyboard shortcuts").click()
    toggle = page.get_by_label("Single-letter shortcuts on")
    expect(toggle).to_be_checked()
    toggle.uncheck()
    expect(feedback(page)).to_have_text("Single-letter shortcuts are off. Use the buttons, or Tab to them.")
    expect(page.locator("#call-next kbd")).to_be_hidden()
    expect(page.locator("#call-next")).not_to_have_attribute("aria-keyshortcuts", "N")
    page.locator("body").press("n")
    page.reload()  # remembered on the server, for this account
    expect(page.locator("#conn")).to_have_text("Live")
    page.get_by_text("Keyboard shortcuts").click()
    expect(page.get_by_label("Single-letter shortcuts on")).not_to_be_checked()
    page.locator("body").press("n")
    assert site.get(f"/api/v1/tickets/{ticket['id']}")["status"] == "waiting"  # neither N was taken
    page.get_by_label("Single-letter shortcuts on").check()
    expect(feedback(page)).to_have_text("Single-letter shortcuts are on.")
    page.locator("body").press("n")
    expect(page.locator("#current-number")).to_have_text(ticket["number"])


# -- focus ring, forced colours, key hints ------------------------------------------------------------------


def _luminance(rgb: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", rgb)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


STYLE = """(el) => { const s = getComputedStyle(el); return {outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
  colour: s.outlineColor, background: s.backgroundColor, colourText: s.color,
  decoration: s.textDecorationLine, border: s.borderTopStyle}; }"""


def test_focus_ring_is_visible_on_white_on_blue_and_in_forced_colours(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["4"])
    call = page.locator("#call-next")
    call.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focused from the keyboard, so :focus-visible applies
    ring = call.evaluate(STYLE)
    assert ring["outline"] == "solid" and ring["width"] >= 2
    assert contrast(ring["colour"], "rgb(255, 255, 255)") >= 3  # against the white panel around it
    assert contrast(ring["colour"], ring["background"]) >= 3  # against the blue button itself
    # Key hints: the button's own text colour on its background, at least 4.5:1.
    hint = page.locator("#call-next kbd").evaluate(STYLE)
    assert contrast(hint["colourText"], ring["background"]) >= 4.5
    done_hint = page.locator('[data-action="complete"] kbd').evaluate(STYLE)
    assert contrast(done_hint["colourText"], "rgb(255, 255, 255)") >= 4.5

    page.emulate_media(forced_colors="active")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    forced = call.evaluate(STYLE)
    assert forced["outline"] == "solid" and forced["width"] >= 2
    current = page.locator('nav a[aria-current="page"]').evaluate(STYLE)
    assert "underline" in current["decoration"] and current["border"] == "solid"  # not colour alone
    if TAKE_SCREENSHOTS:
        page.screenshot(path=str(SCREENSHOTS / "staff-workspace-forced-colours.png"))
    page.emulate_media(forced_colors="none")
