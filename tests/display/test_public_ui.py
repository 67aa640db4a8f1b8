"""Issue 16, the public screens in real Chromium: the board read from five metres (translated, the branch's clock,
counter tiles, the latest-call marker, the flash with and without reduced motion), the phone page for an elderly
customer (a real leave dialog, the live region, forced colours), and the shared stream client's watchdog."""

from __future__ import annotations

import os
import re
import signal
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.display.conftest import PHONE, Site
from tests.display.test_browser import _call_offline, open_display, wait_announced

pytestmark = pytest.mark.browser


def _display_device(site: Site, name: str, config: dict[str, Any]) -> int:
    r = site.http.post(
        "/api/v1/devices", json={"name": name, "kind": "display", "config": config}, headers=site.auth("admin")
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _phone(new_context: Any, site: Site, token: str, **media: Any) -> Page:
    page: Page = new_context(site.url, viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    if media:
        page.emulate_media(**media)
    page.goto(f"/t/{token}")
    page.wait_for_function("() => window.winsTracking.stream && window.winsTracking.stream.state === 'live'")
    return page


# -- display board ------------------------------------------------------------------------------------


def test_board_speaks_the_branch_languages_and_shows_the_branch_clock(new_context: Any, make_site: Any) -> None:
    site: Site = make_site()
    zone = "Pacific/Auckland"  # far from the browser's UTC, so a clock in the wrong zone cannot pass
    body = {"timezone": zone, "settings": {"languages": ["fr", "en"]}}
    assert site.http.patch("/api/v1/branch", json=body, headers=site.auth("admin")).status_code == 200
    context = new_context(site.url, timezone_id="UTC", locale="en-US")
    page = context.new_page()
    page.goto(site.pairing_link())
    page.wait_for_function("() => window.winsDisplay && window.winsDisplay.state.live")
    assert page.locator("html").get_attribute("lang") == "fr"
    expect(page.locator(".hero-label span[lang=fr]")).to_have_text("Appel en cours")
    expect(page.locator(".hero-label .alt")).to_have_text("Now calling")  # the second language, smaller
    expect(page.locator(".recent h2 span[lang=fr]")).to_have_text("Derniers appels")
    expect(page.locator(".recent h2 .alt")).to_have_text("Recent calls")
    local = [datetime.now(UTC).astimezone(ZoneInfo(zone))]
    shown = re.fullmatch(r"(\d{1,2}):(\d{2})", page.locator("#clock").inner_text())  # French: 24-hour clock
    local.append(datetime.now(UTC).astimezone(ZoneInfo(zone)))  # a minute may turn meanwhile
    assert shown is not None and (int(shown[1]), int(shown[2])) in {(t.hour, t.minute) for t in local}
    # The footer says how many wait, in the board's language, large enough to read from the back of the room.
    site.issue("A")
    expect(page.locator("#waiting .queue").first).to_contain_text("1 en attente", timeout=5000)
    size = page.locator("#waiting .queue").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 0.045 * 1080
    # A call: the destination reads "Guichet 1", in large white type; the phrase table came from the server.
    called = site.call_next("1")
    expect(page.locator("#hero-number")).to_have_text(called["number"], timeout=3000)
    expect(page.locator("#hero-counter")).to_have_text("Guichet 1")
    phrase = page.evaluate("() => window.winsDisplay.config.phrases.languages.fr.numbered")
    assert phrase == "Ticket {number}, guichet {counter}"


def test_counters_layout_tiles_read_from_afar(new_context: Any, make_site: Any) -> None:
    site: Site = make_site()
    device = _display_device(site, "Counters board", {"layout": "counters"})
    page = open_display(new_context, site, device)
    tiles = page.locator(".tile")
    count = tiles.count()
    assert count == len(site.data.counters)
    # Idle tiles say so in words, not with a bar.
    for i in range(count):
        expect(tiles.nth(i)).to_have_class(re.compile(r"\bidle\b"))
        assert tiles.nth(i).locator(".number").inner_text() in ("Open", "Closed")
    # Sized to the number of counters: every tile on screen, none scrolled away.
    columns = page.locator("#counters").evaluate("e => getComputedStyle(e).getPropertyValue('--cols')")
    rows = page.locator("#counters").evaluate("e => getComputedStyle(e).getPropertyValue('--rows')")
    assert int(columns) * int(rows) >= count
    for i in range(count):
        box = tiles.nth(i).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 1080
    site.issue("A")
    called = site.call_next("1")
    tile = page.locator(f'.tile[data-counter="{called["counter_id"]}"]')
    expect(tile.locator(".number")).to_have_text(called["number"], timeout=5000)
    expect(tile.locator(".name")).to_have_text("Counter 1")
    name_style = tile.locator(".name").evaluate(
        "e => ({size: parseFloat(getComputedStyle(e).fontSize), color: getComputedStyle(e).color})"
    )
    assert name_style["size"] >= 40  # "Counter 1" is no longer the smallest thing on the tile
    wait_announced(page, 1)
    # After the flash, the latest call keeps its marker (30-60 s).
    expect(tile).to_have_class(re.compile(r"\blatest\b"))
    expect(tile).not_to_have_class(re.compile(r"\bflash\b"), timeout=10000)
    expect(tile).to_have_class(re.compile(r"\blatest\b"))
    expect(tile.locator(".tag")).to_be_visible()
    assert name_style["color"] == "rgb(255, 255, 255)"


@pytest.mark.parametrize("motion", ["no-preference", "reduce"])
def test_the_flash_inverts_and_respects_reduced_motion(new_context: Any, site: Site, motion: str) -> None:
    page = open_display(new_context, site)
    page.emulate_media(reduced_motion=motion)  # type: ignore[arg-type]
    site.issue("B")
    site.call_next("3")
    hero = page.locator("#hero")
    expect(hero).to_have_class(re.compile(r"\bflash\b"), timeout=3000)
    style = hero.evaluate(
        "e => ({name: getComputedStyle(e).animationName, count: getComputedStyle(e).animationIterationCount,"
        " bg: getComputedStyle(e).backgroundColor})"
    )
    if motion == "reduce":
        assert style["name"] == "none"  # no blinking ...
        assert style["bg"] == "rgb(255, 201, 64)"  # ... but the same inverted highlight, held steady
    else:
        assert style["name"] == "invert" and float(style["count"]) >= 8  # 8 s of light/dark inversion


# -- the shared stream client: watchdog ---------------------------------------------------------------


def test_a_dead_link_stops_saying_live_then_recovers_missing_nothing(new_context: Any, make_site: Any) -> None:
    """A Wi-Fi drop leaves no close behind: the server is frozen (SIGSTOP), its sockets stay open and silent. With
    pings every second the pages must drop "Live" within the watchdog (2.25 s) plus slack, then catch up."""
    site: Site = make_site(stream_heartbeat_seconds=1)
    board = open_display(new_context, site)
    staff = new_context(site.url).new_page()
    staff.goto("/login?next=/dashboard")
    staff.get_by_label("Username").fill("manager")
    staff.get_by_label("Password").fill("correct-horse-battery")
    staff.get_by_role("button", name="Sign in").click()
    expect(staff.locator("#conn")).to_have_text("Live", timeout=10000)
    mine = site.issue("C")
    phone = _phone(new_context, site, mine["tracking_token"])
    assert site.server.proc is not None
    pid = site.server.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        expect(board.locator("#conn")).to_be_visible(timeout=6000)
        expect(staff.locator("#conn")).to_have_text("Connection lost — reconnecting…", timeout=6000)
        missed = _call_offline(site, "A", "2")  # happens while the screens cannot hear
    finally:
        os.kill(pid, signal.SIGCONT)
    expect(board.locator("#conn")).to_be_hidden(timeout=20000)
    expect(staff.locator("#conn")).to_have_text("Live", timeout=20000)
    log = wait_announced(board, 1, timeout=30)
    assert [a["number"] for a in log] == [missed]
    # The phone's long-poll: a request on the frozen server times out; it comes back and follows the ticket.
    site.call_next("4", "manager")
    expect(phone.locator("#alert")).to_be_visible(timeout=20000)
    expect(phone.locator("#offline")).to_be_hidden()


# -- phone page -------------------------------------------------------------------------------------


def test_leaving_asks_in_a_real_dialog_with_focus_inside(new_context: Any, site: Site) -> None:
    ticket = site.issue("B")
    phone = _phone(new_context, site, ticket["tracking_token"])
    expect(phone.get_by_role("heading", level=1)).to_have_text("Your ticket")
    leave = phone.get_by_role("button", name="I'm leaving")
    leave.focus()
    phone.keyboard.press("Enter")
    dialog = phone.get_by_role("dialog", name="Leave the queue?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Your ticket {ticket['number']} will be cancelled")
    keep = dialog.get_by_role("button", name="No, keep my place")
    expect(keep).to_be_focused()
    expect(leave).to_be_hidden()  # one "leave" control at a time
    phone.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(leave).to_be_focused()
    assert site.http.get(f"/api/v1/public/tickets/{ticket['tracking_token']}").json()["status"] == "waiting"
    leave.click()
    keep.click()
    expect(dialog).to_be_hidden()
    leave.click()
    dialog.get_by_role("button", name="Yes, leave the queue").click()
    expect(phone.locator("#state-text")).to_have_text("You have left the queue. Thank you for letting us know.")
    assert site.http.get(f"/api/v1/public/tickets/{ticket['tracking_token']}").json()["status"] == "cancelled"


def test_place_and_wait_changes_are_announced_once(new_context: Any, make_site: Any) -> None:
    site: Site = make_site()
    site.issue("C")
    mine = site.issue("C")
    phone = _phone(new_context, site, mine["tracking_token"])
    region = phone.locator("#announce")
    assert region.get_attribute("aria-live") == "polite"
    expect(region).to_have_text("")  # nothing said on load: the page itself is read
    expect(phone.locator("#wait")).to_have_text(mine["estimated_wait_text"])
    site.call_next("4", "manager")
    expect(region).to_have_text(re.compile(r"^You are next\. Estimated wait: .+\.$"), timeout=6000)
    phone.wait_for_timeout(2500)  # further updates with nothing new must not repeat it
    assert len(phone.evaluate("() => window.winsTracking.announcements")) == 1


def test_phone_text_sizes_sentence_case_and_reduced_motion(new_context: Any, make_site: Any) -> None:
    site: Site = make_site()
    mine = site.issue("C")
    phone = _phone(new_context, site, mine["tracking_token"], reduced_motion="reduce")
    small = phone.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.offsetParent !== null && e.childElementCount === 0
              && e.textContent.trim() && !e.closest('.visually-hidden'))
            .map(e => [e.textContent.trim(), parseFloat(getComputedStyle(e).fontSize),
                       getComputedStyle(e).textTransform]).filter(([, size, tt]) => size < 16 || tt === 'uppercase')"""
    )
    assert small == []
    site.call_next("4", "manager")
    alert = phone.locator("#alert")
    expect(alert).to_be_visible(timeout=5000)
    expect(phone.locator("#alert-counter")).to_have_text("Counter 4")
    size = phone.locator("#alert-counter").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 40  # the counter is the biggest thing in the banner
    assert alert.evaluate("e => getComputedStyle(e).animationName") == "none"


def test_phone_boxes_and_buttons_survive_forced_colours(new_context: Any, site: Site) -> None:
    mine = site.issue("A")
    phone = _phone(new_context, site, mine["tracking_token"], forced_colors="active")
    assert phone.evaluate("() => matchMedia('(forced-colors: active)').matches")
    for selector in (".card.ticket", "#waiting-box", "#sound", "#leave"):
        border = phone.locator(selector).evaluate(
            "e => ({w: parseFloat(getComputedStyle(e).borderTopWidth), s: getComputedStyle(e).borderTopStyle,"
            " c: getComputedStyle(e).borderTopColor})"
        )
        assert border["w"] >= 2 and border["s"] == "solid", (selector, border)
        assert border["c"] not in ("rgba(0, 0, 0, 0)", "transparent"), (selector, border)
