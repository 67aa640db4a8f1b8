"""Every HTML page carries the strict Content-Security-Policy (and nosniff, no-referrer, DENY), and still works
under it: opened in Chromium, with ordinary data, no page reports a CSP violation, an uncaught error or any
console error, and each shows what it is for (live connection, Swagger UI's operations, the queue …)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.security.conftest import Watch, assert_page_headers, watch
from tests.support.browser import watch_csp
from tests.web.conftest import Site, sign_in

pytestmark = pytest.mark.browser


def _open(new_context: Any, who: str | None = None) -> tuple[Page, Watch]:
    page = new_context().new_page()
    seen = watch(page)
    if who:
        sign_in(page, who)
    return page, seen


def _clean(seen: Watch, *, status: int | None = None) -> None:
    # A page answered with 4xx is logged by Chromium as a failed load of the document itself: that one is expected.
    expected = f"the server responded with a status of {status}" if status else None
    seen.console_errors[:] = [m for m in seen.console_errors if not (expected and expected in m)]
    assert seen.problems(any_console_error=True) == []


def test_headers_on_every_kind_of_page(site: Site) -> None:
    ticket = site.issue("A")
    for path in ("/login", "/display", f"/t/{ticket['tracking_token']}", "/t/no-such-ticket", "/docs", "/staff"):
        r = site.http.get(path, follow_redirects=True)
        assert r.headers["content-type"].startswith("text/html"), path
        from wins.app import CONTENT_SECURITY_POLICY

        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
        assert policy["script-src"] == "'self'" and "unsafe" not in CONTENT_SECURITY_POLICY
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
        assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'"
        assert r.headers["referrer-policy"] == "no-referrer" and r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
    api = site.http.get("/api/v1/queue", headers=site.auth("manager"))
    assert api.headers["content-type"] == "application/json" and api.headers["x-content-type-options"] == "nosniff"


def test_staff_workspace_goes_live_under_the_policy(site: Site, new_context: Any) -> None:
    page, seen = _open(new_context)
    response = page.goto("/login")
    assert_page_headers(response)
    sign_in(page, "staff", next_path="/staff")
    page.get_by_label("Your counter", exact=True).select_option(str(site.data.counters["1"]))
    page.get_by_role("button", name="Sit here").click()  # choosing is deliberate (issue 16)
    expect(page.locator("#conn")).to_have_text("Live")  # the event WebSocket opened (connect-src 'self')
    site.issue("A")
    expect(page.locator("#queues")).to_contain_text("General")
    expect(page.locator("#queues .swatch").first).to_have_css("background-color", "rgb(31, 111, 235)")
    page.get_by_role("button", name="Call next").click()
    expect(page.locator("#current-number")).not_to_have_text("—")
    _clean(seen)


@pytest.mark.parametrize(
    ("who", "path", "ready"),
    [
        ("manager", "/dashboard", "#conn"),
        ("manager", "/reports", "h1"),
        ("manager", "/admin/services", "h1"),
        ("manager", "/admin/counters", "h1"),
        ("manager", "/admin/branch", "h1"),
        ("admin", "/admin/users", "h1"),
        ("admin", "/admin/devices", "h1"),
        ("staff", "/logout", "h1"),
    ],
)
def test_staff_pages_load_cleanly(site: Site, new_context: Any, who: str, path: str, ready: str) -> None:
    site.issue("B")
    page, seen = _open(new_context, who)
    response = page.goto(path)
    assert_page_headers(response)
    expect(page.locator(ready).first).to_be_visible()
    if path == "/dashboard":
        expect(page.locator("#conn")).to_have_text("Live")
    _clean(seen)


def test_error_pages_carry_the_policy(site: Site, new_context: Any) -> None:
    page, seen = _open(new_context, "staff")
    response = page.goto("/admin/users")
    assert response is not None and response.status == 403
    assert_page_headers(response)
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    _clean(seen, status=403)
    page, seen = _open(new_context)
    response = page.goto("/t/no-such-ticket")
    assert response is not None and response.status == 404
    assert_page_headers(response)
    _clean(seen, status=404)
    response = page.goto("/display")
    assert response is not None and response.status == 401
    assert_page_headers(response)
    expect(page.get_by_role("heading", name="Display not paired")).to_be_visible()


def test_display_and_tracking_page_follow_a_call_under_the_policy(site: Site, new_context: Any) -> None:
    ticket = site.issue("C")
    display, display_seen = _open(new_context)
    response = display.goto(site.pairing_link())
    assert_page_headers(response)
    phone, phone_seen = _open(new_context)
    response = phone.goto(f"/t/{ticket['tracking_token']}")
    assert_page_headers(response)
    expect(phone.locator("#service")).to_have_text("Documents")
    expect(display.locator("#waiting")).to_contain_text("Documents")
    # The manager calls: "staff" sits at counter 1 with a ticket from the workspace test (one person, one counter).
    called = site.post(f"/api/v1/counters/{site.data.counters['4']}/call/{ticket['id']}", who="manager")
    assert called["number"] == ticket["number"]
    expect(display.locator("#hero-number")).to_have_text(ticket["number"])
    expect(phone.locator("#alert")).to_be_visible()
    _clean(display_seen)
    _clean(phone_seen)


def test_swagger_ui_runs_from_our_files_under_the_policy(site: Site, new_context: Any) -> None:
    page, seen = _open(new_context)
    response = page.goto("/docs")
    assert_page_headers(response)
    expect(page.locator(".opblock").first).to_be_visible()  # the spec was fetched and drawn
    assert page.locator(".opblock").count() > 20
    expect(page.locator(".validator-badge, img[src*='validator.swagger.io']")).to_have_count(0)
    page.locator(".opblock-summary", has_text="/health").first.click()
    page.get_by_role("button", name="Try it out").first.click()
    page.get_by_role("button", name="Execute").first.click()
    expect(page.locator(".live-responses-table .response-col_status").last).to_contain_text("200")
    _clean(seen)


def test_the_watchers_see_a_violation(site: Site, browser: Browser) -> None:
    """The checks above would notice: script added to a page is refused and reported to both watchers."""
    context = browser.new_context(base_url=site.url)
    try:
        reported = watch_csp(context)
        page = context.new_page()
        seen = watch(page)
        page.goto("/login")
        page.evaluate("""() => {
          const s = document.createElement("script");
          s.textContent = "window.__pwned = 1";
          document.body.append(s);
        }""")
        page.wait_for_function("() => window.__violations.length > 0")
        page.evaluate("() => 0")  # a round trip: the binding call sent before it has been handled
        assert seen.problems(any_console_error=True) and reported
        assert "script-src-elem blocked inline on /login" in reported[0]
    finally:
        context.close()
