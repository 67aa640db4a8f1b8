"""Keys pressed faster than the server answers: the next one waits its turn, one that cannot follow is refused.

To make "in flight" last as long as the test needs, the page's first request to one endpoint is held back in
the page (its `fetch`, wrapped) and let through later; the server and the page's code are the real ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Site, open_workspace

pytestmark = pytest.mark.browser

WORKING = re.compile(r"(^|\s)working(\s|$)")
QUEUED = re.compile(r"(^|\s)queued(\s|$)")


# Holds back the page's first request whose path ends so, until released: the page's own `fetch`, wrapped.
HOLD = """(suffix) => {
  const real = window.fetch;
  window.__release = null;
  window.__restore = () => { window.fetch = real; };
  window.fetch = (url, options) => {
    if (window.__release === null && new URL(url, location.href).pathname.endsWith(suffix)) {
      return new Promise((resolve) => { window.__release = () => resolve(real.call(window, url, options)); });
    }
    return real.call(window, url, options);
  };
}"""


class Held:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.released = False

    def release(self) -> None:
        self.page.wait_for_function("window.__release !== null")  # the page has asked
        self.page.evaluate("window.__release()")
        self.released = True


@contextmanager
def holding(page: Page, suffix: str) -> Iterator[Held]:
    """Within the block the page's first request to a path ending in `suffix` stays in flight until released."""
    page.evaluate(HOLD, suffix)
    held = Held(page)
    try:
        yield held
        assert held.released, "release the held request inside the block"
    finally:
        page.evaluate("window.__restore()")


def ticket(site: Site, ticket_id: int) -> dict[str, Any]:
    r = site.http.get(f"/api/v1/tickets/{ticket_id}", headers=site.auth("manager"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def press(page: Page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def test_a_key_pressed_while_one_is_in_flight_runs_after_it(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["1"])  # General first
    a, b, c = (site.issue("A") for _ in range(3))
    expect(page.locator('section.queue[data-service="General"] li')).to_have_count(3)

    # N then S while the call is still in flight: the button, the waiting one and the working line show it.
    with holding(page, "/call-next") as held:
        press(page, "n", "s")
        expect(page.locator("#call-next")).to_have_class(WORKING)
        expect(page.locator("#call-next")).to_have_attribute("aria-busy", "true")
        expect(page.locator('[data-action="start"]')).to_have_class(QUEUED)
        expect(page.locator("#working")).to_have_text("Working: Call next… then Start serving.")
        assert ticket(site, a["id"])["status"] == "waiting", "the call was not held back"
        held.release()
    expect(page.locator("#feedback")).to_have_text(f"Serving {a['number']}.")
    expect(page.locator("#working")).to_have_text("")
    expect(page.locator("#call-next")).not_to_have_class(WORKING)
    expect(page.locator('[data-action="start"]')).not_to_have_class(QUEUED)
    assert ticket(site, a["id"])["status"] == "serving"

    # N twice: the first finishes A and calls B, the second finishes B and calls C.
    with holding(page, "/call-next") as held:
        press(page, "n", "n")
        expect(page.locator("#working")).to_have_text("Working: Call next… then Call next.")
        held.release()
    expect(page.locator("#feedback")).to_have_text(f"Called {c['number']} to counter 1.")
    expect(page.locator("#current-number")).to_have_text(c["number"])
    assert [ticket(site, t["id"])["status"] for t in (a, b, c)] == ["done", "done", "called"]
    assert ticket(site, c["id"])["counter_name"] == "1"

    press(page, "d")
    expect(page.locator("#feedback")).to_have_text(f"{c['number']} is done.")


def test_a_key_that_cannot_follow_is_refused_in_words(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["3"])  # Payments first
    first, second, third = (site.issue("B") for _ in range(3))
    press(page, "n")
    expect(page.locator("#feedback")).to_have_text(f"Called {first['number']} to counter 3.")  # over, not just shown
    working = page.locator("#working")

    with holding(page, "/call-next") as held:
        # No-show now would hit the ticket the call brings before anyone has seen it.
        press(page, "n", "x")
        expect(working).to_have_text(
            "Working: Call next… “No-show” was not taken: it came before the ticket Call next was calling showed, "
            "so which ticket it was for is unclear."
        )
        expect(working).to_have_attribute("role", "alert")
        # Start serving is fine (it waits); a third key is one too many.
        press(page, "s", "d")
        expect(working).to_have_text(
            "Working: Call next… then Start serving. “Done” was not taken: one key may wait behind Call next, "
            "and Start serving already does. Press it again if you still need it."
        )
        held.release()
    expect(page.locator("#feedback")).to_have_text(f"Serving {second['number']}.")
    expect(working).to_have_text(re.compile(r"^“Done” was not taken"))  # still there to read afterwards
    assert ticket(site, first["id"])["status"] == "done"
    assert ticket(site, second["id"])["status"] == "serving"  # neither no-show nor done

    # After Done nobody is at the counter: Start serving cannot follow, Call next can.
    with holding(page, "/complete") as held:
        press(page, "d", "s", "n")
        expect(working).to_have_text(
            "Working: Done… then Call next. “Start serving” was not taken: after Done no ticket is at your counter."
        )
        expect(page.locator('[data-action="complete"]')).to_have_class(WORKING)
        expect(page.locator("#call-next")).to_have_class(QUEUED)
        held.release()
    expect(page.locator("#feedback")).to_have_text(f"Called {third['number']} to counter 3.")
    assert ticket(site, second["id"])["status"] == "done"
    assert ticket(site, third["id"])["status"] == "called"

    press(page, "d")
    expect(page.locator("#feedback")).to_have_text(f"{third['number']} is done.")
    expect(working).to_have_text("")  # a new action clears the old refusal


def test_a_refused_action_cancels_the_one_waiting_behind_it(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["4"])  # Documents first
    doc = site.issue("C")
    press(page, "n")
    expect(page.locator("#feedback")).to_have_text(f"Called {doc['number']} to counter 4.")
    press(page, "s")
    expect(page.locator("#feedback")).to_have_text(f"Serving {doc['number']}.")

    # Start again (the server refuses: it is serving already), Recall asked for behind it: not sent.
    with holding(page, "/start") as held:
        press(page, "s", "r")
        expect(page.locator("#working")).to_have_text("Working: Start serving… then Recall.")
        held.release()
    expect(page.locator("#feedback")).to_have_text(
        re.compile(rf"^Cannot start ticket {doc['number']}: .* “Recall” was not done\.$")
    )
    expect(page.locator("#feedback")).to_have_attribute("role", "alert")
    assert ticket(site, doc["id"])["call_count"] == 1  # Recall never reached the server

    press(page, "d")
    expect(page.locator("#feedback")).to_have_text(f"{doc['number']} is done.")


def test_a_key_pressed_while_sitting_down_never_acts_on_the_old_counter(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    open_workspace(page, "staff", site.data.counters["2"])  # General first
    waiting = site.issue("A")

    with holding(page, "/open") as held:
        page.get_by_label("Your counter", exact=True).select_option(str(site.data.counters["1"]))
        page.get_by_role("button", name="Sit here").click()
        expect(page.locator("#desk")).to_be_hidden()  # no counter to act on until the server has seated us
        press(page, "n")
        expect(page.locator("#feedback")).to_have_text("Still sitting down at counter 1: press it again in a moment.")
        assert ticket(site, waiting["id"])["status"] == "waiting"  # not called to counter 2 either
        held.release()
    expect(page.locator("#feedback")).to_have_text("You are at counter 1.")
    expect(page.locator("#counter")).to_have_value(str(site.data.counters["1"]))
    press(page, "n")
    expect(page.locator("#feedback")).to_have_text(f"Called {waiting['number']} to counter 1.")
    assert ticket(site, waiting["id"])["counter_name"] == "1"
    press(page, "d")
    expect(page.locator("#feedback")).to_have_text(f"{waiting['number']} is done.")
