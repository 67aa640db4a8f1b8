"""Stored XSS: script-shaped text in every free-text field a manager or admin (or a kiosk's status report) can
set, then every page that shows it opened in Chromium. Nothing may run (no dialog, no `window.__pwned`, no CSP
violation: the escaping alone must hold, the policy is the second lock) and the text must be shown literally.

The helper itself, and the templates' use of it: tests/security/test_htmlsafe.py."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.security.conftest import Watch, assert_page_headers, watch
from tests.web.conftest import Site, sign_in

pytestmark = pytest.mark.browser

# Each short enough for the tightest field (a counter name: 40 characters).
PAYLOADS = {
    "script": "</script><svg onload=alert(1)>",
    "attr": '"><img src=x onerror=alert(1)>',
    "js": "'-alert(1)-'",
    "iframe": '<iframe srcdoc="<svg onload=alert(1)>">',
    "lines": "L\u2028S\u2029</script><!--",
    "pwned": "<img src=x onerror=__pwned=1>",
    "template": "${alert(1)}{{7*7}}`;alert(1)//",
}
SHORT = PAYLOADS["script"] + PAYLOADS["js"] + PAYLOADS["pwned"]  # 71 characters: fits an 80-character field
LONG = "".join(PAYLOADS.values())  # for the 500-character slip text


# -- planting ----------------------------------------------------------------------------------------------


def _ok(r: Any) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


@pytest.fixture(scope="module")
def planted(site: Site) -> dict[str, Any]:
    """Every free-text field set to payloads through the REST API (the web forms use the same services)."""
    http, data = site.http, site.data

    def call(method: str, path: str, who: str, body: Any) -> Any:
        return _ok(http.request(method, path, json=body, headers=site.auth(who)))

    names = list(PAYLOADS.values())
    service_ids = list(data.services.values())
    for service_id, name in zip(service_ids, names, strict=False):  # A, B, C renamed
        call("PATCH", f"/api/v1/services/{service_id}", "manager", {"name": name})
    for prefix, name in zip("DEFGH", names[len(service_ids) :], strict=False):
        service_ids.append(call("POST", "/api/v1/services", "manager", {"name": name, "prefix": prefix})["id"])
    counter_ids = list(data.counters.values())
    for counter_id, name in zip(counter_ids, names, strict=False):
        call("PATCH", f"/api/v1/counters/{counter_id}", "manager", {"name": name, "service_ids": service_ids})
    for name in names[len(counter_ids) :]:
        created = call("POST", "/api/v1/counters", "manager", {"name": name, "service_ids": service_ids})
        counter_ids.append(created["id"])
    branch = {"name": PAYLOADS["attr"] + SHORT, "settings": {"slip_text": LONG}}
    # Kiosk languages are free text on the branch form; a stricter settings schema may refuse the payload (fine).
    r = http.patch(
        "/api/v1/branch", json={**branch, "settings": {"slip_text": LONG, "kiosk_languages": ["en", PAYLOADS["js"]]}},
        headers=site.auth("manager"),
    )  # fmt: skip
    if r.status_code != 200:
        assert r.status_code == 422, r.text
        call("PATCH", "/api/v1/branch", "manager", branch)
    full_names = {
        "admin": PAYLOADS["script"] + PAYLOADS["attr"],
        "manager": PAYLOADS["iframe"] + PAYLOADS["js"],
        "staff": PAYLOADS["pwned"] + PAYLOADS["lines"],
        "staff2": PAYLOADS["template"] + PAYLOADS["script"],
    }
    for username, full_name in full_names.items():
        call("PATCH", f"/api/v1/users/{data.users[username]}", "admin", {"full_name": full_name})
    devices = {d["name"]: d for d in call("GET", "/api/v1/devices", "admin", None)}
    display_title = SHORT
    call("PATCH", f"/api/v1/devices/{devices['display']['id']}", "admin",
         {"name": PAYLOADS["iframe"], "config": {"title": display_title}})  # fmt: skip
    call("PATCH", f"/api/v1/devices/{devices['kiosk']['id']}", "admin", {"name": PAYLOADS["attr"]})
    for name in names:
        call("POST", "/api/v1/devices", "admin", {"name": name, "kind": "kiosk"})
    # A kiosk reports its printer state; the one free-text field of that report is the printer's message.
    status = {"printer": "error", "printer_message": PAYLOADS["script"]}
    call("POST", "/api/v1/devices/me/status", "kiosk", {"status": status})

    # Tickets in every service; the first called at the first counter and served (reports), the next called.
    tickets = {name: _issue(site, sid) for name, sid in zip(names, service_ids, strict=True)}
    first = call("POST", f"/api/v1/counters/{counter_ids[0]}/call/{tickets[names[0]]['id']}", "staff", None)
    call("POST", f"/api/v1/tickets/{first['id']}/complete", "staff", None)
    called = call("POST", f"/api/v1/counters/{counter_ids[1]}/call/{tickets[names[1]]['id']}", "staff2", None)
    return {
        "tickets": tickets,
        "called": called,
        "counter_ids": counter_ids,
        "full_names": full_names,
        "display_title": display_title,
        "display_id": devices["display"]["id"],
        "branch_name": branch["name"],
    }


def _issue(site: Site, service_id: int) -> dict[str, Any]:
    r = site.http.post("/api/v1/tickets", json={"service_id": service_id}, headers=site.auth("kiosk"))
    return dict(_ok(r))


# -- looking -----------------------------------------------------------------------------------------------


def _everything_shown(page: Page) -> str:
    """The page's text as a person sees it, plus the values in its form fields and its title."""
    return str(
        page.evaluate(
            """() => [document.title, document.body.innerText,
                      ...Array.from(document.querySelectorAll("input, textarea"), (e) => e.value),
                      ...Array.from(document.querySelectorAll("option"), (e) => e.text)].join("\\n")"""
        )
    )


def _norm(text: str) -> str:
    # innerText turns U+2028/2029 into line breaks on some paths; compare with all whitespace folded.
    return re.sub(r"\s+", " ", text)


def _assert_shown(page: Page, *texts: str) -> None:
    shown = _norm(_everything_shown(page))
    missing = [t for t in texts if _norm(t) not in shown]
    assert not missing, f"{page.url}: not shown literally: {missing!r}"


def _assert_nothing_ran(seen: Watch) -> None:
    assert seen.problems(any_console_error=False) == []
    # The payloads' markup never became elements.
    planted = seen.page.evaluate(
        """() => document.querySelectorAll("img[src='x'], svg[onload], iframe[srcdoc], [onerror], [onload]").length"""
    )
    assert planted == 0, seen.page.url


def _open(new_context: Any, who: str | None = None) -> tuple[Page, Watch]:
    page = new_context().new_page()
    seen = watch(page)
    if who:
        sign_in(page, who)
    return page, seen


def test_tracking_pages_show_names_as_text(site: Site, planted: dict[str, Any], new_context: Any) -> None:
    page, seen = _open(new_context)
    for name, ticket in planted["tickets"].items():
        response = page.goto(f"/t/{ticket['tracking_token']}")
        expect(page.locator("#service")).to_have_text(name)
        _assert_nothing_ran(seen)  # first: the escaping alone must hold
        assert_page_headers(response)
    called = planted["called"]
    page.goto(f"/t/{called['tracking_token']}")
    expect(page.locator("#alert")).to_be_visible()
    _assert_shown(page, called["service_name"], called["counter_name"])
    _assert_nothing_ran(seen)


def test_display_shows_names_and_title_as_text(site: Site, planted: dict[str, Any], new_context: Any) -> None:
    page, seen = _open(new_context)
    assert_page_headers(page.goto(site.pairing_link(planted["display_id"])))
    called = planted["called"]
    expect(page.locator("#hero-number")).to_have_text(called["number"])
    expect(page.locator("#title")).to_have_text(planted["display_title"])
    _assert_shown(page, planted["display_title"], called["service_name"], called["counter_name"])
    _assert_nothing_ran(seen)
    # Another call reaches the open page through the event stream and is drawn as text too.
    ticket = planted["tickets"][PAYLOADS["template"]]
    site.http.post(
        # The manager calls: "staff" stays free to sit down in the workspace test (one person, one counter).
        f"/api/v1/counters/{planted['counter_ids'][-1]}/call/{ticket['id']}",
        headers=site.auth("manager"),
    ).raise_for_status()
    expect(page.locator("#hero-number")).to_have_text(ticket["number"])
    expect(page.locator("#hero-service")).to_have_text(PAYLOADS["template"])
    _assert_shown(page, PAYLOADS["template"])
    _assert_nothing_ran(seen)


def test_counter_workspace_shows_names_as_text(site: Site, planted: dict[str, Any], new_context: Any) -> None:
    page, seen = _open(new_context, "staff")
    assert_page_headers(page.goto("/staff"))
    page.get_by_label("Your counter", exact=True).select_option(str(planted["counter_ids"][2]))
    page.get_by_role("button", name="Sit here").click()  # choosing is deliberate (issue 16)
    expect(page.locator("#conn")).to_have_text("Live")
    waiting = [n for n in PAYLOADS.values() if n not in (PAYLOADS["script"], PAYLOADS["attr"], PAYLOADS["template"])]
    for name in waiting:
        expect(page.locator("#queues")).to_contain_text(name.split("\u2028")[0])
    _assert_shown(page, *PAYLOADS.values(), planted["full_names"]["staff"])
    _assert_nothing_ran(seen)


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("manager", "/dashboard"),
        ("manager", "/reports"),
        ("manager", "/admin/services"),
        ("manager", "/admin/counters"),
        ("manager", "/admin/branch"),
        ("admin", "/admin/users"),
        ("admin", "/admin/devices"),
        ("manager", "/logout"),
    ],
)
def test_staff_pages_show_names_as_text(
    site: Site, planted: dict[str, Any], new_context: Any, who: str, path: str
) -> None:
    page, seen = _open(new_context, who)
    assert_page_headers(page.goto(path))
    if path == "/dashboard":
        expect(page.locator("#conn")).to_have_text("Live")
    expected = {
        "/dashboard": [*PAYLOADS.values(), planted["full_names"]["staff2"]],
        "/reports": [*PAYLOADS.values(), planted["full_names"]["staff"]],
        "/admin/services": list(PAYLOADS.values()),
        "/admin/counters": [*PAYLOADS.values(), planted["full_names"]["staff2"]],
        "/admin/branch": [planted["branch_name"], LONG],
        "/admin/users": list(planted["full_names"].values()),
        "/admin/devices": [*PAYLOADS.values(), planted["display_title"]],
        "/logout": [],  # the sign-out question names nobody
    }[path]
    _assert_shown(page, *expected, *([planted["full_names"][who]] if expected else []))
    _assert_nothing_ran(seen)
    if path == "/reports":
        # The charts are inline SVG: names in their <text> and <title> must stay text as well.
        labels = " ".join(page.locator("svg.chart text, svg.chart title").all_text_contents())
        assert PAYLOADS["script"] in labels and PAYLOADS["pwned"] in labels


def test_refused_form_echoes_names_as_text(site: Site, planted: dict[str, Any], new_context: Any) -> None:
    page, seen = _open(new_context, "manager")
    page.goto("/admin/services")
    page.get_by_label("Name", exact=True).fill(PAYLOADS["attr"])
    page.get_by_label("Prefix", exact=True).fill("A")  # taken by the renamed service A
    page.get_by_role("button", name="Add service").click()
    expect(page.locator(".note-err")).to_contain_text("already used by")
    expect(page.locator(".note-err")).to_contain_text(PAYLOADS["script"])
    _assert_nothing_ran(seen)
    # A new device's one-time token box names it.
    page, seen = _open(new_context, "admin")
    page.goto("/admin/devices")
    page.locator("#d-name").fill(PAYLOADS["lines"] + PAYLOADS["pwned"])
    page.get_by_role("button", name="Create device", exact=True).click()
    expect(page.locator(".token-box h2")).to_have_text("Token for " + PAYLOADS["lines"] + PAYLOADS["pwned"])
    _assert_nothing_ran(seen)


def test_sign_in_and_error_pages_echo_input_as_text(site: Site, planted: dict[str, Any], new_context: Any) -> None:
    page, seen = _open(new_context)
    assert_page_headers(page.goto("/login?next=/" + PAYLOADS["attr"]))
    page.get_by_label("Username").fill(PAYLOADS["attr"])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value(PAYLOADS["attr"])
    assert page.locator("input[name=next]").input_value() == "/" + PAYLOADS["attr"]
    _assert_nothing_ran(seen)
    assert_page_headers(page.goto("/t/" + PAYLOADS["attr"].replace("/", "")))
    assert_page_headers(page.goto("/display"))
    _assert_nothing_ran(seen)
    assert_page_headers(page.goto("/docs"))
    expect(page.locator(".opblock").first).to_be_visible()
    _assert_nothing_ran(seen)
    page, seen = _open(new_context, "staff")
    assert_page_headers(page.goto("/admin/users"))  # 403, with the payload-named user in the header
    _assert_shown(page, planted["full_names"]["staff"])
    _assert_nothing_ran(seen)
