"""Who may do what: every state-changing route refuses anonymous callers and callers of the wrong role."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.support.seed import PASSWORD

WHO = ["anonymous", "kiosk", "display", "staff", "manager", "admin"]
RANK = {"staff": 1, "manager": 2, "admin": 3}


def _headers(api: Api, who: str) -> dict[str, str]:
    return {} if who == "anonymous" else api.auth(who)


def _routes(api: Api, ticket_id: int) -> list[tuple[str, str, dict[str, Any] | None, set[str]]]:
    s, c = api.data.services, api.data.counters
    staff_up = {"staff", "manager", "admin"}
    manager_up = {"manager", "admin"}
    return [
        ("POST", "/api/v1/tickets", {"service_id": s["A"]}, {"kiosk"} | staff_up),
        ("POST", f"/api/v1/counters/{c['1']}/call-next", None, staff_up),
        ("POST", f"/api/v1/counters/{c['1']}/call/{ticket_id}", None, staff_up),
        ("POST", f"/api/v1/tickets/{ticket_id}/recall", None, staff_up),
        ("POST", f"/api/v1/tickets/{ticket_id}/start", None, staff_up),
        ("POST", f"/api/v1/tickets/{ticket_id}/complete", None, staff_up),
        ("POST", f"/api/v1/tickets/{ticket_id}/no-show", None, staff_up),
        ("POST", f"/api/v1/tickets/{ticket_id}/requeue", None, staff_up),
        ("POST", f"/api/v1/tickets/{ticket_id}/cancel", None, staff_up),
        ("POST", f"/api/v1/tickets/{ticket_id}/transfer", {"service_id": s["B"]}, staff_up),
        ("POST", f"/api/v1/counters/{c['2']}/open", None, staff_up),
        ("POST", f"/api/v1/counters/{c['2']}/close", None, staff_up),
        ("POST", "/api/v1/services", {"name": "New", "prefix": "N"}, manager_up),
        ("PATCH", f"/api/v1/services/{s['C']}", {"colour": "#000000"}, manager_up),
        ("POST", "/api/v1/counters", {"name": "new", "service_ids": [s["A"]]}, manager_up),
        ("PATCH", f"/api/v1/counters/{c['4']}", {"name": "Four"}, manager_up),
        ("PATCH", "/api/v1/branch", {"name": "Renamed"}, manager_up),
        ("POST", "/api/v1/users", {"username": "new", "password": "long-enough-1"}, {"admin"}),
        ("GET", "/api/v1/users", None, {"admin"}),
        ("POST", "/api/v1/devices", {"name": "tv", "kind": "display"}, {"admin"}),
        ("GET", "/api/v1/devices", None, {"admin"}),
    ]


@pytest.mark.parametrize("who", WHO)
def test_route_role_matrix(api: Api, who: str) -> None:
    ticket = api.issue("A")
    for method, path, body, allowed in _routes(api, ticket["id"]):
        r = api.client.request(method, path, json=body, headers=_headers(api, who))
        if who in allowed:
            assert r.status_code not in (401, 403), (method, path, who, r.text)
        elif who == "anonymous":
            assert r.status_code == 401, (method, path, who, r.text)
            assert r.json()["detail"]
        else:
            assert r.status_code == 403, (method, path, who, r.text)


def test_reads_need_a_token_but_public_tracking_does_not(api: Api) -> None:
    t = api.issue("A")
    for path in ("/api/v1/queue", "/api/v1/services", "/api/v1/counters", "/api/v1/events?timeout=0"):
        assert api.client.get(path).status_code == 401
        assert api.client.get(path, headers=api.auth("display")).status_code == 200
    assert api.client.get(f"/api/v1/public/tickets/{t['tracking_token']}").status_code == 200


def test_kiosk_may_read_only_its_own_tickets(api: Api) -> None:
    mine = api.issue("A")
    staffs = api.issue("A", who="staff")
    assert api.client.get(f"/api/v1/tickets/{mine['id']}", headers=api.auth("kiosk")).status_code == 200
    assert api.client.get(f"/api/v1/tickets/{staffs['id']}", headers=api.auth("kiosk")).status_code == 403
    assert api.client.get(f"/api/v1/tickets/{mine['id']}", headers=api.auth("display")).status_code == 403


def test_kiosk_cannot_issue_priority_tickets(api: Api) -> None:
    r = api.client.post(
        "/api/v1/tickets", json={"service_id": api.data.services["A"], "priority": True}, headers=api.auth("kiosk")
    )
    assert r.status_code == 422


def test_password_login_and_lockout(api: Api) -> None:
    ok = api.client.post("/api/v1/auth/token", data={"username": "staff", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["token_type"] == "bearer"
    me = api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {ok.json()['access_token']}"})
    assert me.json()["username"] == "staff"
    for _ in range(5):
        bad = api.client.post("/api/v1/auth/token", data={"username": "staff", "password": "wrong-password"})
        assert bad.status_code == 401
    locked = api.client.post("/api/v1/auth/token", data={"username": "staff", "password": PASSWORD})
    assert locked.status_code == 429 and "Try again" in locked.json()["detail"]
    unknown = api.client.post("/api/v1/auth/token", data={"username": "nobody", "password": "whatever1"})
    assert unknown.status_code == 401


def test_bad_tokens_are_refused(api: Api) -> None:
    for token in ("garbage", "wdt_notarealtoken", api.data.tokens["staff"] + "x"):
        r = api.client.get("/api/v1/queue", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_revoked_device_and_changed_password_stop_working(api: Api) -> None:
    created = api.client.post("/api/v1/devices", json={"name": "tv2", "kind": "display"}, headers=api.auth("admin"))
    assert created.status_code == 201
    device = created.json()
    headers = {"Authorization": f"Bearer {device['token']}"}
    assert api.client.get("/api/v1/queue", headers=headers).status_code == 200
    api.client.app.state.principal_cache.clear()  # type: ignore[attr-defined]
    assert api.client.post(f"/api/v1/devices/{device['id']}/revoke", headers=api.auth("admin")).status_code == 200
    api.client.app.state.principal_cache.clear()  # type: ignore[attr-defined]
    assert api.client.get("/api/v1/queue", headers=headers).status_code == 401
    r = api.client.patch(
        f"/api/v1/users/{api.data.users['staff2']}", json={"password": "a-new-password"}, headers=api.auth("admin")
    )
    assert r.status_code == 200
    api.client.app.state.principal_cache.clear()  # type: ignore[attr-defined]
    assert api.client.get("/api/v1/queue", headers=api.auth("staff2")).status_code == 401


def test_staff_actions_are_audited(api: Api, settings) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from wins.audit.models import AuditEntry
    from wins.db import Database

    t = api.issue("A")
    api.call_next("1")
    api.act(t["id"], "complete")
    db = Database(settings)
    with db.session(write=False) as session:
        rows = session.execute(select(AuditEntry.action, AuditEntry.staff_id, AuditEntry.ticket_id)).all()
    db.dispose()
    assert ("ticket.called", api.data.users["staff"], t["id"]) in rows
    assert ("ticket.done", api.data.users["staff"], t["id"]) in rows


def test_the_last_admin_cannot_be_demoted_or_disabled(api: Api) -> None:
    admin_id = api.data.users["admin"]
    for change in ({"role": "staff"}, {"active": False}):
        r = api.client.patch(f"/api/v1/users/{admin_id}", json=change, headers=api.auth("admin"))
        assert r.status_code == 409
        assert "only active admin" in r.json()["detail"]
    promoted = api.client.patch(
        f"/api/v1/users/{api.data.users['manager']}", json={"role": "admin"}, headers=api.auth("admin")
    )
    assert promoted.status_code == 200
    r = api.client.patch(f"/api/v1/users/{admin_id}", json={"role": "staff"}, headers=api.auth("admin"))
    assert r.status_code == 200
