"""Who may open what, CSRF, sign-in and sign-out — from a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Site, sign_in

pytestmark = pytest.mark.browser

MANAGER_PAGES = ["/dashboard", "/reports", "/admin/services", "/admin/counters", "/admin/branch"]
ADMIN_PAGES = ["/admin/users", "/admin/devices"]


def test_anonymous_visitors_are_sent_to_sign_in(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    for path in ["/staff", *MANAGER_PAGES, *ADMIN_PAGES]:
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/login\?next="))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # The API refuses the anonymous browser too, and a form post without a session does nothing.
    status = page.evaluate("fetch('/api/v1/queue').then(r => r.status)")
    assert status == 401
    r = site.http.post("/admin/services", data={"name": "X", "prefix": "X"}, follow_redirects=False)
    assert r.status_code == 401
    assert "Sign in to continue." in r.text


def test_sign_in_goes_back_to_the_page_asked_for_and_sign_out_ends_it(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    page.goto("/reports")
    page.get_by_label("Username").fill("manager")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value("manager")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/reports$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "wins_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/reports")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_staff_cannot_open_manager_or_admin_pages(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "staff")
    expect(page).to_have_url(re.compile(r"/staff$"))
    expect(page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(["Counter"])
    for path in [*MANAGER_PAGES, *ADMIN_PAGES]:
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    # A manager gets the manager pages but not the admin ones.
    assert page.context.browser is not None
    manager = page.context.browser.new_context(base_url=site.url)
    try:
        mpage = manager.new_page()
        sign_in(mpage, "manager")
        for path in MANAGER_PAGES:
            response = mpage.goto(path)
            assert response is not None and response.status == 200, path
        for path in ADMIN_PAGES:
            response = mpage.goto(path)
            assert response is not None and response.status == 403, path
    finally:
        manager.close()


def test_posts_without_the_csrf_token_are_refused(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    sign_in(page, "admin")
    page.goto("/admin/services")
    counter = site.data.counters["1"]
    statuses = page.evaluate(
        """async (counter) => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const post = (url, init) => fetch(url, {method: 'POST', credentials: 'same-origin', ...init})
                .then(r => r.status);
            const form = new URLSearchParams({name: 'Forged', prefix: 'F'});
            return {
                apiWithout: await post(`/api/v1/counters/${counter}/open`),
                apiWrong: await post(`/api/v1/counters/${counter}/open`, {headers: {'X-CSRF-Token': 'nope'}}),
                formWithout: await post('/admin/services', {body: form}),
                formWrong: await post('/admin/services', {body: new URLSearchParams({name: 'Forged', prefix: 'F',
                                                                                  csrf_token: 'nope'})}),
                logoutWithout: await post('/logout'),
                apiWith: await post(`/api/v1/counters/${counter}/close`, {headers: {'X-CSRF-Token': csrf}}),
            };
        }""",
        counter,
    )
    assert statuses == {
        "apiWithout": 403,
        "apiWrong": 403,
        "formWithout": 403,
        "formWrong": 403,
        "logoutWithout": 403,
        "apiWith": 200,
    }
    assert "Forged" not in [s["name"] for s in site.http.get("/api/v1/services", headers=site.auth("admin")).json()]
    # The login form has its own CSRF check (a cross-site login would sign the victim into our account).
    r = site.http.post("/login", data={"username": "admin", "password": "correct-horse-battery"})
    assert r.status_code == 403 and "wins_session" not in r.cookies


def test_repeated_failed_sign_ins_lock_the_account(site: Site, new_context: Any) -> None:
    page = new_context().new_page()
    for _ in range(5):
        sign_in(page, "staff2", password="not-the-password")
        expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    sign_in(page, "staff2")  # even the right password waits now
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
