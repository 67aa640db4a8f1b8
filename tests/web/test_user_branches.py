"""Head office manages who works in which branch, with which role (issue 15), in Chromium: the Users page lists
each person's branches; the person's Branches page adds one, changes a role, removes one (never the last:
the page says what to do instead); every change is audited, and a person's open event stream in a branch taken
from them closes at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.web.conftest import Site, sign_in
from tests.web.test_admin_forms import audit_entries, post

pytestmark = pytest.mark.browser


def _read_until_closed(ws: Any) -> None:
    while True:
        ws.recv(timeout=10)  # events, until the server closes the socket (or 10 s pass: TimeoutError)


def _branches(site: Site, user_id: int) -> list[tuple[str, str]]:
    rows = site.http.get(f"/api/v1/users/{user_id}/branches", headers=site.auth("admin")).json()
    return [(r["branch_name"], r["role"]) for r in rows]


def test_head_office_adds_changes_and_removes_a_persons_branches(site: Site, new_context: Any) -> None:
    admin = site.auth("admin")
    north = site.http.post("/api/v1/branches", json={"name": "North", "timezone": "UTC"}, headers=admin)
    assert north.status_code == 201, north.text
    north_id = north.json()["id"]
    home = site.http.get("/api/v1/branch", headers=admin).json()
    staff2 = site.data.users["staff2"]

    # staff2 follows the event stream of the branch they work in.
    ws_url = site.url.replace("http://", "ws://") + "/api/v1/events/ws"
    token = httpx.post(
        f"{site.url}/api/v1/auth/token", data={"username": "staff2", "password": "correct-horse-battery"}
    ).json()["access_token"]
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        assert '"hello"' in str(ws.recv(timeout=10))

        page = new_context().new_page()
        sign_in(page, "admin", next_path="/admin/users")
        row = page.locator("tr", has=page.get_by_text("staff2", exact=True))
        expect(row.locator(".user-branches")).to_contain_text("the first branch, as staff")
        row.get_by_role("link", name="Branches of staff2").click()
        expect(page.get_by_role("heading", name="Branches of staff2")).to_be_visible()

        # Add North as manager: the branch staff2 worked in implicitly stays.
        page.get_by_label("Branch to add").select_option(str(north_id))
        page.get_by_label("Role there").select_option("manager")
        page.get_by_role("button", name="Add branch").click()
        expect(page.get_by_role("status")).to_have_text("staff2 now works in North as manager.")
        assert _branches(site, staff2) == [(home["name"], "staff"), ("North", "manager")]

        # Change the role in the home branch.
        page.get_by_label(f"Role of staff2 in {home['name']}").select_option("reception")
        page.locator(f'tr[data-branch-id="{home["id"]}"]').get_by_role("button", name="Save role").click()
        expect(page.get_by_role("status")).to_have_text(f"staff2 is now reception in {home['name']}.")

        # Remove the home branch: staff2's open stream there closes at once.
        page.get_by_role("button", name=f"Remove {home['name']}").click()
        expect(page.get_by_role("status")).to_have_text(f"staff2 no longer works in {home['name']}.")
        with pytest.raises(ConnectionClosed) as closed:
            _read_until_closed(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert _branches(site, staff2) == [("North", "manager")]

    # The last branch cannot be removed: the button is off, and a forged post says what to do instead.
    expect(page.get_by_role("button", name="Remove North")).to_be_disabled()
    r = post(page, f"/admin/users/{staff2}/branches/{north_id}/remove")
    assert r.status == 409 and "deactivate the account" in r.text()
    assert _branches(site, staff2) == [("North", "manager")]
    # The Users page shows the branches and roles.
    page.goto("/admin/users")
    row = page.locator("tr", has=page.get_by_text("staff2", exact=True))
    expect(row.locator(".user-branches")).to_contain_text("North (manager)")

    changes = [e for e in audit_entries(site, "user.branches") if e["user_id"] == staff2]
    assert [e["branches"] for e in changes] == [
        {str(home["id"]): "staff", str(north_id): "manager"},
        {str(home["id"]): "reception", str(north_id): "manager"},
        {str(north_id): "manager"},
    ]

    # The API does the same, one branch at a time.
    put = site.http.put(f"/api/v1/users/{staff2}/branches/{home['id']}", json={"role": "staff"}, headers=admin)
    assert put.status_code == 200 and len(put.json()) == 2
    gone = site.http.delete(f"/api/v1/users/{staff2}/branches/{home['id']}", headers=admin)
    assert gone.status_code == 200 and [b["branch_name"] for b in gone.json()] == ["North"]
    last = site.http.delete(f"/api/v1/users/{staff2}/branches/{north_id}", headers=admin)
    assert last.status_code == 409 and "only branch of staff2" in last.json()["detail"]
    missing = site.http.put(f"/api/v1/users/{staff2}/branches/999999", json={"role": "staff"}, headers=admin)
    assert missing.status_code == 422 and "does not exist" in missing.json()["detail"]
