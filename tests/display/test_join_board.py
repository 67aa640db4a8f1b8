"""The join QR code on the display board and the phone's language switch, in real Chromium on a live server:
the board shows the branch's code when remote join is on, follows setting changes and key rotation by itself,
keeps the last code through a failed fetch only until it expires, and fits a 1920x1080 TV beside the calls."""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.display.conftest import PHONE, Site
from tests.display.test_browser import open_display
from wins import clock

pytestmark = pytest.mark.browser


def _branch(site: Site, **values: object) -> None:
    r = site.http.patch("/api/v1/branch", json={"settings": values}, headers=site.auth("manager"))
    assert r.status_code == 200, r.text


def _no_overlap(page: Page, a: str, b: str) -> None:
    boxes = [page.locator(sel).bounding_box() for sel in (a, b)]
    first, second = boxes
    assert first and second
    apart = (
        first["x"] + first["width"] <= second["x"]
        or second["x"] + second["width"] <= first["x"]
        or first["y"] + first["height"] <= second["y"]
        or second["y"] + second["height"] <= first["y"]
    )
    assert apart, f"{a} {first} overlaps {b} {second}"


def test_the_board_shows_the_join_code_and_follows_the_settings(new_context: Any, make_site: Any) -> None:
    site: Site = make_site(public_url="https://queue.example.org")
    _branch(site, remote_join=True, join_key_required=True)
    page = open_display(new_context, site)
    expect(page.locator("#join")).to_be_visible()
    expect(page.locator("#join")).to_contain_text("Scan to join the queue from your phone")
    link = site.get("/api/v1/join/link", "display")
    assert link["code"] and page.locator("#join-code").inner_text() == link["code"]
    expect(page.locator("#join-page")).to_have_text("queue.example.org/join")
    assert page.locator("#join-qr").get_attribute("src") == link["qr"]
    # The code someone types by hand is the 6-digit short code of the key the QR link carries: the join page
    # takes it in place of the key.
    assert re.fullmatch(r"\d{3} \d{3}", link["code"]), link["code"]
    typed = site.http.get("/join", params={"k": link["code"]})
    assert typed.status_code == 200 and 'name="k" value="' + link["code"].replace(" ", "") + '"' in typed.text

    # Calls on screen with the QR code: everything fits the TV and nothing covers the called numbers.
    for prefix in "ABCAB":
        site.issue(prefix)
    for counter, who in (("1", "staff"), ("3", "staff2")):
        called = site.call_next(counter, who)
    expect(page.locator("#hero-number")).to_have_text(called["number"], timeout=20000)
    # WINS_SCREENSHOTS=1 writes the documentation's screenshot (docs/display.md); else it stays with the test.
    docs = Path(__file__).parents[2] / "docs" / "screenshots"
    shot = (docs if os.environ.get("WINS_SCREENSHOTS") == "1" else site.settings.data_dir.parent) / "display-join.png"
    page.wait_for_timeout(9000)  # the flash is over: the screenshot shows the board at rest
    page.screenshot(path=str(shot))
    for other in ("#hero", ".recent", "#waiting"):
        _no_overlap(page, "#join", other)
    box = page.locator("#join-qr").bounding_box()
    assert box and box["y"] + box["height"] <= 1080 and box["x"] + box["width"] <= 1920 and box["height"] >= 200
    assert page.evaluate("() => document.documentElement.scrollHeight") <= 1080
    # A full list of recent calls (the default six) still fits above the QR code.
    page.evaluate(
        """() => { const body = document.getElementById("recent");
                   while (body.rows.length < 6) body.appendChild(body.rows[body.rows.length - 1].cloneNode(true)); }"""
    )
    page.screenshot(path=str(site.settings.data_dir.parent / "display-join-six-calls.png"))
    last = page.locator("#recent tr").last.bounding_box()
    panel = page.locator(".recent").bounding_box()
    assert last and panel and last["y"] + last["height"] <= panel["y"] + panel["height"]

    # Switching the key off takes the code away (the QR stays); switching remote join off hides it all, live.
    _branch(site, join_key_required=False)
    expect(page.locator("#join-code-box")).to_be_hidden(timeout=5000)
    expect(page.locator("#join")).to_be_visible()
    _branch(site, remote_join=False)
    expect(page.locator("#join")).to_be_hidden(timeout=5000)
    _branch(site, remote_join=True, join_key_required=True)
    expect(page.locator("#join")).to_be_visible(timeout=5000)

    # Without a key, the code still shows while a service asks for arrival check-in (it is the proof of being on
    # site), and goes when check-in is switched off: live, from the service's remote settings event.
    _branch(site, join_key_required=False)
    expect(page.locator("#join-code-box")).to_be_hidden(timeout=5000)
    for checkin, shown in ((True, True), (False, False)):
        r = site.http.put(
            f"/api/v1/services/{site.data.services['A']}/remote",
            json={"arrival_checkin": checkin},
            headers=site.auth("manager"),
        )
        assert r.status_code == 200, r.text
        if shown:
            expect(page.locator("#join-code-box")).to_be_visible(timeout=5000)
        else:
            expect(page.locator("#join-code-box")).to_be_hidden(timeout=5000)


def test_the_board_follows_key_rotation_and_hides_an_expired_code_when_offline(
    new_context: Any, make_site: Any
) -> None:
    site: Site = make_site()
    _branch(site, remote_join=True, join_key_required=True)
    real = site.get("/api/v1/join/link", "display")
    # The server answers a key that expires in three seconds, then the next one: the board asks again on its own.
    answers = [
        {**real, "code": "AAAAA 11111", "expires_at": (clock.utcnow() + timedelta(seconds=3)).isoformat()},
        {**real, "code": "BBBBB 22222", "expires_at": (clock.utcnow() + timedelta(seconds=10)).isoformat()},
    ]

    def answer(route: Route) -> None:
        if answers:
            route.fulfill(status=200, content_type="application/json", body=json.dumps(answers.pop(0)))
        else:  # after the second answer the server is out of reach
            route.abort()

    context = new_context(site.url)
    context.route("**/api/v1/join/link", answer)
    page = context.new_page()
    page.goto(site.pairing_link())
    expect(page.locator("#join-code")).to_have_text("AAAAA 11111")
    expect(page.locator("#join-code")).to_have_text("BBBBB 22222", timeout=8000)
    # Out of reach: the last code stays up until it expires, then the board hides it (no stale code on screen).
    page.wait_for_timeout(1000)
    expect(page.locator("#join")).to_be_visible()
    expect(page.locator("#join")).to_be_hidden(timeout=12000)


def test_the_join_page_speaks_the_phones_language_and_has_a_switch(new_context: Any, make_site: Any) -> None:
    site: Site = make_site()
    _branch(site, remote_join=True, join_key_required=False)
    page = new_context(
        site.url, viewport=PHONE, locale="de-DE", extra_http_headers={"Accept-Language": "de-DE,de;q=0.9"}
    ).new_page()
    page.goto("/join")
    expect(page.locator("h1")).to_have_text("In die Warteschlange")
    assert page.locator("html").get_attribute("lang") == "de"
    expect(page.get_by_role("button", name="Nummer ziehen für General")).to_be_visible()
    page.get_by_role("link", name="Español").click()
    expect(page.locator("h1")).to_have_text("Unirse a la cola")
    page.screenshot(path=str(site.settings.data_dir.parent / "join-es.png"), full_page=True)
    page.get_by_role("button", name="Sacar turno para General").click()
    # The ticket was taken in Spanish: its tracking page speaks Spanish too, and has the same switch.
    expect(page.locator("h1.label")).to_have_text("Su turno")
    page.get_by_role("link", name="Italiano").click()
    expect(page.locator("h1.label")).to_have_text("Il suo numero")
    expect(page.get_by_role("button", name="Me ne vado")).to_be_visible()


def test_the_counters_layout_keeps_every_tile_clear_of_the_join_code(new_context: Any, make_site: Any) -> None:
    site: Site = make_site()
    _branch(site, remote_join=True, join_key_required=True)
    body = {"name": "Tiles", "kind": "display", "config": {"layout": "counters"}}
    r = site.http.post("/api/v1/devices", json=body, headers=site.auth("admin"))
    assert r.status_code == 201, r.text
    page = open_display(new_context, site, r.json()["id"])
    expect(page.locator("#join-code")).to_be_visible()
    expect(page.locator(".tile")).to_have_count(4)
    page.screenshot(path=str(site.settings.data_dir.parent / "display-join-counters.png"))
    for index in range(4):
        tile = page.locator(".tile").nth(index)
        _no_overlap(page, "#join", f".tile >> nth={index}")
        assert tile.evaluate("e => e.scrollHeight <= e.clientHeight + 1")  # the tile's text is not cut
